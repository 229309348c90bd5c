/**
 * Which status changes the person is told of, and what: every change the repository commits asks here
 * for its notice, which goes into the same transaction (./outbox.ts), as callbacks do. Waiting for
 * verification or payment, refused, an export answered in part, an erasure done (its first run, and
 * the run that completes it).
 */
import type { RequestRecord } from '../requests/records';
import type { ExpiryClock } from '../requests/request-table';
import { proceduresOf } from '../procedures/service-procedures';
import { verificationRuleFor } from '../procedures/verification';
import { noticeItem } from './outbox';
import type { NoticeModel } from './texts';

/** The notice of a request waiting in its current status, or undefined when it does not wait. */
export function waitingNotice(
  record: Pick<RequestRecord, 'type' | 'service' | 'requester' | 'fee' | 'dueAt' | 'status'>,
): NoticeModel | undefined {
  if (record.status === 'awaiting_verification') {
    const rule = verificationRuleFor(record.service, record.type, record.requester?.kind ?? 'subject');
    return {
      kind: 'awaiting_verification',
      requestType: record.type,
      methods: rule?.methods ?? [],
      dueAt: record.dueAt,
    };
  }
  if (record.status === 'awaiting_payment' && record.fee) {
    const currency = record.fee.currency;
    const note = proceduresOf(record.service).fees.find((f) => f.currency === currency)?.note;
    return {
      kind: 'awaiting_payment',
      requestType: record.type,
      fee: record.fee,
      feeNote: note,
      dueAt: record.dueAt,
    };
  }
  return undefined;
}

function outcomeModel(next: RequestRecord, previous: RequestRecord | undefined): NoticeModel | undefined {
  if (previous?.status === next.status) return undefined;
  switch (next.status) {
    case 'awaiting_verification':
    case 'awaiting_payment':
      return waitingNotice(next);
    case 'refused':
      return next.refusal
        ? { kind: 'refused', requestType: next.type, grounds: next.refusal, jurisdiction: next.jurisdiction }
        : undefined;
    case 'completed':
    case 'partially_completed': {
      const restriction = next.type === 'restriction' ? next.restriction : undefined;
      if (restriction?.outcome === 'in_place' || restriction?.outcome === 'lifted') {
        return { kind: 'restriction', state: restriction.outcome, restrictions: [restriction.kind] };
      }
      if (next.type === 'export' && next.exclusions?.length) {
        return {
          kind: 'partial',
          requestType: next.type,
          exclusions: next.exclusions,
          jurisdiction: next.jurisdiction,
        };
      }
      const finished = (next.erasureRuns ?? []).filter((r) => r.finishedAt).length;
      if (next.type === 'erasure' && next.erasurePlan && (finished === 1 || next.status === 'completed')) {
        return { kind: 'erasure_done', plan: next.erasurePlan, complete: next.status === 'completed' };
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The outbox items telling the person of the change from `previous` to `next` (none, or one). */
export function outcomeNoticeItems(
  table: ExpiryClock,
  next: RequestRecord,
  previous: RequestRecord | undefined,
  iso: string,
): Record<string, unknown>[] {
  const model = outcomeModel(next, previous);
  const item = model ? noticeItem(table, next, model, iso) : undefined;
  return item ? [item] : [];
}
