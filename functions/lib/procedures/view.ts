/** What callers see of a request's procedures: no address, no document, references only. */
import type { RequestRecord } from '../requests/records';

export function procedureView(record: RequestRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  if (record.verification) {
    const { method, verifiedAt, verifiedBy, evidenceRef } = record.verification;
    view.verification = { method, verifiedAt, verifiedBy, ...(evidenceRef ? { evidenceRef } : {}) };
  }
  if (record.fee) view.fee = record.fee;
  if (record.refusal) view.refusal = record.refusal;
  if (record.exclusions?.length) view.exclusions = record.exclusions;
  if (record.deadlinePaused) view.deadlinePaused = true;
  return view;
}
