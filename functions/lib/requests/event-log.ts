/**
 * A request's history: append-only event items under the request's partition (`sk = EVENT#<at>#...`,
 * kind `event`), read back in time order. A change that records an event together with what it
 * changes puts `eventItem` in its own transaction; `append` records one on its own.
 */
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { requestPartition } from './records';
import {
  REQUESTS_TTL_ATTRIBUTE,
  auditExpiry,
  cancellationCodes,
  isConditionFailure,
  requestItemsUnder,
  type ExpiryClock,
  type RequestTable,
} from './request-table';

export interface RequestEvent {
  at: string;
  type: string;
  /** Non-personal details only: statuses, codes, counts, store names. */
  detail?: Record<string, string | number | boolean>;
}

/** Numbers the events this process writes: two written in the same millisecond keep their order. */
let sequence = 0;

/** The item recording `event` at `at` (an ISO time), to put alone or inside a transaction. */
export function eventItem(
  table: ExpiryClock,
  requestId: string,
  event: Omit<RequestEvent, 'at'>,
  at: string,
): Record<string, unknown> {
  const sk = `EVENT#${at}#${String(sequence++).padStart(6, '0')}#${randomUUID().slice(0, 8)}`;
  return {
    pk: requestPartition(requestId),
    sk,
    kind: 'event',
    at,
    type: event.type,
    detail: event.detail,
    [REQUESTS_TTL_ATTRIBUTE]: auditExpiry(table, at),
  };
}

/**
 * The items recording `event` once under a deterministic `eventId`: a marker (`sk = EVENTID#<id>`) put
 * only if absent, and the event. In a transaction, a retry that finds the marker cancels the whole
 * transaction instead of recording the event twice (the caller treats that as "already done").
 */
export function onceEventItems(
  table: ExpiryClock,
  requestId: string,
  eventId: string,
  event: Omit<RequestEvent, 'at'>,
  at: string,
): { marker: Record<string, unknown>; event: Record<string, unknown> } {
  return {
    marker: {
      pk: requestPartition(requestId),
      sk: `EVENTID#${eventId}`,
      at,
      [REQUESTS_TTL_ATTRIBUTE]: auditExpiry(table, at),
    },
    event: eventItem(table, requestId, event, at),
  };
}

export class EventLog {
  constructor(private readonly table: RequestTable) {}

  async append(requestId: string, event: Omit<RequestEvent, 'at'>): Promise<void> {
    const at = this.table.clock().toISOString();
    try {
      await this.table.doc.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: eventItem(this.table, requestId, event, at),
          // Never overwrites: the log is append-only.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      // The key is this call's own (a random part): an item under it is this very write, landed by an
      // attempt whose answer was lost and retried by the SDK.
      if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * Records `events` in one transaction unless `eventId` was recorded before (a retried step, the next
   * sweep): true when recorded now, false when they were already there.
   */
  async appendOnce(
    requestId: string,
    eventId: string,
    events: readonly Omit<RequestEvent, 'at'>[],
  ): Promise<boolean> {
    const at = this.table.clock().toISOString();
    const TableName = this.table.tableName;
    const [first, ...rest] = events;
    if (!first) return false;
    const { marker, event } = onceEventItems(this.table, requestId, eventId, first, at);
    try {
      await this.table.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName, Item: marker, ConditionExpression: 'attribute_not_exists(pk)' } },
            { Put: { TableName, Item: event } },
            ...rest.map((e) => ({ Put: { TableName, Item: eventItem(this.table, requestId, e, at) } })),
          ],
        }),
      );
      return true;
    } catch (error) {
      if (cancellationCodes(error)?.[0] === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }

  /** A request's events, oldest first. */
  async list(requestId: string): Promise<RequestEvent[]> {
    const events: RequestEvent[] = [];
    for await (const items of requestItemsUnder(this.table, requestId, 'EVENT#')) {
      for (const item of items) {
        events.push({
          at: String(item.at),
          type: String(item.type),
          detail: item.detail as RequestEvent['detail'],
        });
      }
    }
    return events;
  }
}
