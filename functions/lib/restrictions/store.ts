/**
 * Restriction records: one item per kind per person per service in the requests table (pk
 * `RESTRICTION#<service>#<accountHash>`, sk the kind), naming the person by the keyed hash of their
 * account only. An item says whether the restriction is in place, which request applied it, the
 * consents as they were before (so lifting gives back the person's own choice), and when and by which
 * request it was lifted. No `createdAt`: the items stay out of the index that lists requests.
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RequestTable } from '../requests/request-table';
import type { Consents, RestrictionKind } from './kinds';

export interface RestrictionRecord {
  service: string;
  accountHash: string;
  kind: RestrictionKind;
  state: 'in_place' | 'lifted';
  appliedAt: string;
  appliedByRequestId: string;
  previousConsents?: Consents;
  liftedAt?: string;
  liftedByRequestId?: string;
}

const partition = (service: string, accountHash: string) => `RESTRICTION#${service}#${accountHash}`;

function strip(item: Record<string, unknown>): RestrictionRecord {
  const { pk: _pk, sk: _sk, kind: _kind, restrictionKind, ...rest } = item;
  return { ...(rest as Omit<RestrictionRecord, 'kind'>), kind: restrictionKind as RestrictionKind };
}

export class RestrictionStore {
  constructor(private readonly table: RequestTable) {}

  /** Every kind ever recorded for the person at the service (in place or lifted). */
  async list(service: string, accountHash: string): Promise<RestrictionRecord[]> {
    const out = await this.table.doc.send(
      new QueryCommand({
        TableName: this.table.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': partition(service, accountHash) },
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map(strip);
  }

  async get(
    service: string,
    accountHash: string,
    kind: RestrictionKind,
  ): Promise<RestrictionRecord | undefined> {
    const out = await this.table.doc.send(
      new GetCommand({
        TableName: this.table.tableName,
        Key: { pk: partition(service, accountHash), sk: kind },
        ConsistentRead: true,
      }),
    );
    return out.Item ? strip(out.Item) : undefined;
  }

  /**
   * Records a restriction as in place. Applying one already in place keeps its first request and the
   * consents from before it: those are what a lift gives back.
   */
  async apply(record: Omit<RestrictionRecord, 'state'>): Promise<RestrictionRecord> {
    const current = await this.get(record.service, record.accountHash, record.kind);
    if (current?.state === 'in_place') return current;
    const { kind, ...rest } = record;
    const item = { ...rest, restrictionKind: kind, state: 'in_place' as const };
    await this.table.doc.send(
      new PutCommand({
        TableName: this.table.tableName,
        Item: { pk: partition(record.service, record.accountHash), sk: kind, kind: 'restriction', ...item },
      }),
    );
    return { ...record, state: 'in_place' };
  }

  /** Marks a restriction lifted (idempotent: a second lift by the same request changes nothing). */
  async lift(
    service: string,
    accountHash: string,
    kind: RestrictionKind,
    by: { requestId: string; at: string },
  ): Promise<void> {
    await this.table.doc.send(
      new UpdateCommand({
        TableName: this.table.tableName,
        Key: { pk: partition(service, accountHash), sk: kind },
        UpdateExpression: 'SET #state = :lifted, liftedAt = :at, liftedByRequestId = :by',
        ConditionExpression: 'attribute_exists(pk) AND (#state = :inPlace OR liftedByRequestId = :by)',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':lifted': 'lifted',
          ':inPlace': 'in_place',
          ':at': by.at,
          ':by': by.requestId,
        },
      }),
    );
  }
}
