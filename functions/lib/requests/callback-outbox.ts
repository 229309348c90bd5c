/**
 * The callback outbox: a status change queues, in its own transaction, one item per callback URL under
 * the request's partition (`sk = CALLBACK#<urlIndex>#<version>`, kind `callback-pending` until it is
 * delivered or abandoned). The deliverer (functions/callbacks) takes a short lease on a request's
 * callbacks, sends them and settles each one together with the event recording the attempt.
 */
import { PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { eventItem, type RequestEvent } from './event-log';
import { requestPartition, type Dialect, type RequestRecord, type RequestStatus } from './records';
import {
  REQUESTS_TTL_ATTRIBUTE,
  auditExpiry,
  isConditionFailure,
  requestItemsUnder,
  type ExpiryClock,
  type RequestTable,
} from './request-table';

export const CALLBACK_PENDING_KIND = 'callback-pending';

/** A status change waiting to be announced to one callback URL. */
export interface CallbackOutboxItem {
  requestId: string;
  version: number;
  urlIndex: number;
  url: string;
  dialect: Dialect;
  status: RequestStatus;
  previousStatus?: RequestStatus;
  occurredAt: string;
  attempts: number;
  nextAttemptAt: string;
}

/** An outbox item as read back: with its sort key and its kind (pending, delivered or abandoned). */
export type QueuedCallback = CallbackOutboxItem & { kind: string; sk: string };

/** One delivery attempt's outcome, with the event that records it. */
export type CallbackSettlement =
  | { result: 'delivered'; attempts: number; event: Omit<RequestEvent, 'at'> }
  | { result: 'retry'; attempts: number; nextAttemptAt: string; event: Omit<RequestEvent, 'at'> }
  | { result: 'abandoned'; attempts: number; event: Omit<RequestEvent, 'at'> };

const LEASE_SK = 'CALLBACK_LEASE';

/** The outbox items announcing `record`'s current status (changed from `previous` at `iso`), one per URL. */
export function outboxItems(
  table: ExpiryClock,
  record: RequestRecord,
  previous: RequestStatus | undefined,
  iso: string,
): Record<string, unknown>[] {
  const version = record.version ?? 1;
  return (record.callbackUrls ?? []).map((url, urlIndex) => {
    const item: CallbackOutboxItem = {
      requestId: record.requestId,
      version,
      urlIndex,
      url,
      dialect: record.dialect ?? 'dsr',
      status: record.status,
      previousStatus: previous,
      occurredAt: iso,
      attempts: 0,
      nextAttemptAt: iso,
    };
    return {
      pk: requestPartition(record.requestId),
      sk: `CALLBACK#${String(urlIndex).padStart(2, '0')}#${String(version).padStart(6, '0')}`,
      kind: CALLBACK_PENDING_KIND,
      createdAt: `${iso}#${record.requestId}`,
      ...item,
      [REQUESTS_TTL_ATTRIBUTE]: auditExpiry(table, iso),
    };
  });
}

export class CallbackOutbox {
  constructor(private readonly table: RequestTable) {}

  /** The queued callbacks of a request, in delivery order (URL, then version). */
  async list(requestId: string): Promise<QueuedCallback[]> {
    const out: QueuedCallback[] = [];
    for await (const items of requestItemsUnder(this.table, requestId, 'CALLBACK#')) {
      // Stored by outboxItems in this shape; the items are read back as they were written.
      out.push(...(items as unknown as QueuedCallback[]));
    }
    return out;
  }

  /** Records one delivery attempt's outcome on an outbox item (and the matching event). */
  async settle(item: { requestId: string; sk: string }, change: CallbackSettlement): Promise<void> {
    const { doc, tableName, clock } = this.table;
    const iso = clock().toISOString();
    const kind =
      change.result === 'delivered'
        ? 'callback-delivered'
        : change.result === 'abandoned'
          ? 'callback-abandoned'
          : CALLBACK_PENDING_KIND;
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: tableName,
              Key: { pk: requestPartition(item.requestId), sk: item.sk },
              // A settled item keeps no URL: URLs may carry tokens, and nothing is sent to it again.
              UpdateExpression:
                'SET #kind = :kind, attempts = :attempts, nextAttemptAt = :next' +
                (change.result === 'retry' ? '' : ' REMOVE #url'),
              ConditionExpression: '#kind = :pending',
              ExpressionAttributeNames: {
                '#kind': 'kind',
                ...(change.result === 'retry' ? {} : { '#url': 'url' }),
              },
              ExpressionAttributeValues: {
                ':kind': kind,
                ':attempts': change.attempts,
                ':next': change.result === 'retry' ? change.nextAttemptAt : iso,
                ':pending': CALLBACK_PENDING_KIND,
              },
            },
          },
          { Put: { TableName: tableName, Item: eventItem(this.table, item.requestId, change.event, iso) } },
        ],
      }),
    );
  }

  /** Requests with pending callbacks, oldest first (the sweep's work list). */
  async pendingRequests(limit = 100): Promise<string[]> {
    const page = await this.table.doc.send(
      new QueryCommand({
        TableName: this.table.tableName,
        IndexName: 'byKind',
        KeyConditionExpression: '#kind = :kind',
        ExpressionAttributeNames: { '#kind': 'kind' },
        ExpressionAttributeValues: { ':kind': CALLBACK_PENDING_KIND },
        Limit: limit,
      }),
    );
    return [...new Set((page.Items ?? []).map((i) => String(i.requestId)))];
  }

  /**
   * A short lease on a request's callbacks, so two deliverers never send the same one at once.
   * Returns a token to release it with, or undefined when another deliverer holds it.
   */
  async lease(requestId: string, ms: number): Promise<string | undefined> {
    const now = this.table.clock();
    const token = randomUUID();
    try {
      await this.table.doc.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: {
            pk: requestPartition(requestId),
            sk: LEASE_SK,
            token,
            leaseUntil: new Date(now.getTime() + ms).toISOString(),
            [REQUESTS_TTL_ATTRIBUTE]: auditExpiry(this.table, now),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':now': now.toISOString() },
        }),
      );
      return token;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async release(requestId: string, token: string): Promise<void> {
    try {
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
          Key: { pk: requestPartition(requestId), sk: LEASE_SK },
          UpdateExpression: 'SET leaseUntil = :past',
          ConditionExpression: '#token = :token',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':past': '1970-01-01T00:00:00.000Z', ':token': token },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
