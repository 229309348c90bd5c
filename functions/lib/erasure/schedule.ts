/**
 * The sweep's work list. One item per partially completed erasure (`pk = ERASURE_PENDING#<id>`,
 * kind `erasure-pending`, `createdAt` = its next step, so the byKind index lists them by due date),
 * written when a run ends partially completed and deleted when the request completes.
 */
import { queryPages } from '../aws/dynamo-paging';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { RequestTable } from '../requests/request-table';

const PENDING_KIND = 'erasure-pending';
/** Sorts after every date: a request waiting only for holds. */
const NO_DATE = '9999-12-31T23:59:59.999Z';

export interface PendingErasure {
  requestId: string;
  nextStepAt: string | null;
  heldBy: string[];
}

const pendingKey = (requestId: string) => ({ pk: `ERASURE_PENDING#${requestId}`, sk: 'PENDING' });

export class ErasureSchedule {
  constructor(private readonly table: RequestTable) {}

  /** The Put that schedules `item`, to commit inside the transaction that records the run's outcome. */
  putItem(item: PendingErasure): { Put: { TableName: string; Item: Record<string, unknown> } } {
    return {
      Put: {
        TableName: this.table.tableName,
        Item: {
          ...pendingKey(item.requestId),
          kind: PENDING_KIND,
          createdAt: `${item.nextStepAt ?? NO_DATE}#${item.requestId}`,
          ...item,
        },
      },
    };
  }

  /** The Delete that takes a request off the schedule, likewise. */
  removeItem(requestId: string): { Delete: { TableName: string; Key: Record<string, string> } } {
    return { Delete: { TableName: this.table.tableName, Key: pendingKey(requestId) } };
  }

  async put(item: PendingErasure): Promise<void> {
    await this.table.doc.send(new PutCommand(this.putItem(item).Put));
  }

  async remove(requestId: string): Promise<void> {
    await this.table.doc.send(new DeleteCommand(this.removeItem(requestId).Delete));
  }

  /** Every pending erasure, by next step (those waiting only for holds last). */
  async list(): Promise<PendingErasure[]> {
    const out: PendingErasure[] = [];
    const pages = queryPages(this.table.doc, {
      TableName: this.table.tableName,
      IndexName: 'byKind',
      KeyConditionExpression: '#kind = :kind',
      ExpressionAttributeNames: { '#kind': 'kind' },
      ExpressionAttributeValues: { ':kind': PENDING_KIND },
    });
    for await (const items of pages) {
      for (const item of items) {
        out.push({
          requestId: String(item.requestId),
          nextStepAt: typeof item.nextStepAt === 'string' ? item.nextStepAt : null,
          heldBy: Array.isArray(item.heldBy) ? item.heldBy.map(String) : [],
        });
      }
    }
    return out;
  }
}
