/**
 * The notice outbox: a state change that the person must be told of writes, in its own transaction, one
 * item under the request's partition (`sk = NOTICE#<at>#<kind>`, kind `notice-pending`) holding the
 * rendered message and the address. A lost answer, a crash after the commit, never loses the e-mail:
 * the deliverer (functions/deliver-notices, and the local stack's poller) sends what is pending, then
 * marks it sent and drops the address, with an event, in one transaction.
 */
import { QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { eventItem } from '../requests/event-log';
import { requestPartition, type RequestRecord } from '../requests/records';
import {
  REQUESTS_TTL_ATTRIBUTE,
  auditExpiry,
  itemsOf,
  type ExpiryClock,
  type RequestTable,
} from '../requests/request-table';
import { errorFields, log } from '../runtime/logger';
import { pollEvery } from '../runtime/polling';
import type { Mailer } from './mailer';
import { toMime } from './mime';
import { renderNotice, type NoticeModel } from './texts';

export const NOTICE_PENDING_KIND = 'notice-pending';
export const NOTICE_SENT_KIND = 'notice-sent';

/**
 * The outbox item telling the person of `model`, or undefined when the request has no address to tell
 * (opened without one, or the account had none): its event then says so.
 */
export function noticeItem(
  table: ExpiryClock,
  record: Pick<RequestRecord, 'requestId' | 'service' | 'noticeContact'>,
  model: NoticeModel,
  iso: string,
): Record<string, unknown> | undefined {
  const contact = record.noticeContact;
  if (!contact?.email) return undefined;
  const content = renderNotice(model, { service: record.service, language: contact.language });
  return {
    pk: requestPartition(record.requestId),
    sk: `NOTICE#${iso}#${model.kind}`,
    kind: NOTICE_PENDING_KIND,
    // byKind's sort key: the oldest pending notice first.
    createdAt: `${iso}#${record.requestId}`,
    requestId: record.requestId,
    notice: model.kind,
    language: contact.language,
    to: contact.email,
    subject: content.subject,
    text: content.text,
    attempts: 0,
    // The record of what the person was told lasts the audit period, like the request's events.
    [REQUESTS_TTL_ATTRIBUTE]: auditExpiry(table, iso),
  };
}

/** The Put of a notice in a transaction, or nothing when there is none. */
export function noticePuts(
  tableName: string,
  item: Record<string, unknown> | undefined,
): Record<string, unknown>[] {
  return item ? [{ Put: { TableName: tableName, Item: item } }] : [];
}

interface PendingNotice {
  pk: string;
  sk: string;
  requestId: string;
  notice: string;
  language: string;
  to: string;
  subject: string;
  text: string;
  attempts: number;
}

export interface NoticeDeliveryDeps {
  table: RequestTable;
  mailer: Mailer;
  from: string;
  /** Attempts before a notice is given up (recorded as an event); default 10. */
  maxAttempts?: number;
}

/** Sends every pending notice, oldest first; returns how many were sent. */
export async function deliverPendingNotices(deps: NoticeDeliveryDeps, limit = 50): Promise<number> {
  const { table } = deps;
  const page = await table.doc.send(
    new QueryCommand({
      TableName: table.tableName,
      IndexName: 'byKind',
      KeyConditionExpression: '#kind = :kind',
      ExpressionAttributeNames: { '#kind': 'kind' },
      ExpressionAttributeValues: { ':kind': NOTICE_PENDING_KIND },
      Limit: limit,
    }),
  );
  let sent = 0;
  // The index holds no address nor message: each notice still pending is read from the table.
  const pending = await itemsOf(table, page.Items ?? [], NOTICE_PENDING_KIND);
  for (const item of pending as unknown as PendingNotice[]) {
    if (await deliverOne(deps, item)) sent += 1;
  }
  return sent;
}

async function deliverOne(deps: NoticeDeliveryDeps, notice: PendingNotice): Promise<boolean> {
  const { table } = deps;
  const now = table.clock();
  const iso = now.toISOString();
  const key = { pk: notice.pk, sk: notice.sk };
  try {
    const raw = toMime({
      from: deps.from,
      to: notice.to,
      content: { subject: notice.subject, text: notice.text },
      locale: notice.language,
      date: now,
    });
    await deps.mailer.send({ requestId: notice.requestId, from: deps.from, to: notice.to, raw });
  } catch (error) {
    const attempts = notice.attempts + 1;
    const abandon = attempts >= (deps.maxAttempts ?? 10);
    log.warn('notice delivery failed', { requestId: notice.requestId, attempts, ...errorFields(error) });
    await table.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: table.tableName,
              Key: key,
              UpdateExpression: abandon
                ? 'SET attempts = :a, #kind = :abandoned REMOVE #to'
                : 'SET attempts = :a',
              ConditionExpression: '#kind = :pending',
              ExpressionAttributeNames: abandon ? { '#kind': 'kind', '#to': 'to' } : { '#kind': 'kind' },
              ExpressionAttributeValues: {
                ':a': attempts,
                ':pending': NOTICE_PENDING_KIND,
                ...(abandon ? { ':abandoned': 'notice-abandoned' } : {}),
              },
            },
          },
          ...(abandon
            ? [
                {
                  Put: {
                    TableName: table.tableName,
                    Item: eventItem(
                      table,
                      notice.requestId,
                      { type: 'notice.abandoned', detail: { notice: notice.notice } },
                      iso,
                    ),
                  },
                },
              ]
            : []),
        ],
      }),
    );
    return false;
  }
  // Sent: the address goes, the rest stays as the record of what the person was told.
  await table.doc.send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: table.tableName,
            Key: key,
            UpdateExpression: 'SET #kind = :sent, sentAt = :now REMOVE #to',
            ConditionExpression: '#kind = :pending',
            ExpressionAttributeNames: { '#kind': 'kind', '#to': 'to' },
            ExpressionAttributeValues: {
              ':sent': NOTICE_SENT_KIND,
              ':pending': NOTICE_PENDING_KIND,
              ':now': iso,
            },
          },
        },
        {
          Put: {
            TableName: table.tableName,
            Item: eventItem(
              table,
              notice.requestId,
              { type: 'notice.sent', detail: { notice: notice.notice, language: notice.language } },
              iso,
            ),
          },
        },
      ],
    }),
  );
  log.info('notice sent', { requestId: notice.requestId, notice: notice.notice });
  return true;
}

/** Polls the outbox every `intervalMs` (the local stack; a schedule in AWS). */
export function startNoticePolling(deps: NoticeDeliveryDeps, intervalMs: number): { stop(): Promise<void> } {
  return pollEvery(() => deliverPendingNotices(deps), intervalMs);
}
