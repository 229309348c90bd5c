/**
 * A request's history: append-only event items under the request's partition (`sk = EVENT#<at>#...`,
 * kind `event`), read back in time order. A change that records an event together with what it
 * changes puts `eventItem` in its own transaction; `append` records one on its own.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { requestPartition } from './records';
import { requestItemsUnder, type RequestTable } from './request-table';

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
  requestId: string,
  event: Omit<RequestEvent, 'at'>,
  at: string,
): Record<string, unknown> {
  const sk = `EVENT#${at}#${String(sequence++).padStart(6, '0')}#${randomUUID().slice(0, 8)}`;
  return { pk: requestPartition(requestId), sk, kind: 'event', at, type: event.type, detail: event.detail };
}

export class EventLog {
  constructor(private readonly table: RequestTable) {}

  async append(requestId: string, event: Omit<RequestEvent, 'at'>): Promise<void> {
    const at = this.table.clock().toISOString();
    await this.table.doc.send(
      new PutCommand({
        TableName: this.table.tableName,
        Item: eventItem(requestId, event, at),
        // Never overwrites: the log is append-only.
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
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
