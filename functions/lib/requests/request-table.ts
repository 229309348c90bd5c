/**
 * The requests table as the repositories over it receive it: one document client, the table's name and
 * the clock that stamps what they write. Requests, their event logs and callback outboxes, holds, the
 * erasure schedule, download links and the audit trail all keep their items in this one table, and
 * each repository is given this value rather than reaching into another for it.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV, TTL_ATTRIBUTE } from '../../../config/data-map';
import { documentClient } from '../aws/clients';
import { batchGetAll } from '../aws/dynamo-batch';
import { queryPages } from '../aws/dynamo-paging';
import { intEnv, requireEnv } from '../runtime/config';
import { requestPartition } from './records';

export interface RequestTable {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly clock: () => Date;
  /**
   * How long a finished request is kept (its item and idempotency records expire by TTL then): the
   * audit period. Its raw identifiers go sooner, when it finishes.
   */
  readonly auditPeriodDays: number;
}

/** The audit period unless configured (AUDIT_PERIOD_DAYS): three years. */
export const DEFAULT_AUDIT_PERIOD_DAYS = 3 * 365;
export const AUDIT_PERIOD_ENV = 'AUDIT_PERIOD_DAYS';

/** The TTL attribute of the requests table (seconds since the epoch, as DynamoDB TTL wants). */
export const REQUESTS_TTL_ATTRIBUTE = TTL_ATTRIBUTE;

export function requestTable(
  doc: DynamoDBDocumentClient,
  tableName: string,
  clock: () => Date = () => new Date(),
  auditPeriodDays: number = DEFAULT_AUDIT_PERIOD_DAYS,
): RequestTable {
  return { doc, tableName, clock, auditPeriodDays };
}

/**
 * The TTL value of something finished or recorded at `at`: kept for the audit period, then removed.
 * Every item of the table carries one, so nothing outlives the audit period by being forgotten.
 */
export function auditExpiry(table: Pick<RequestTable, 'auditPeriodDays'>, at: Date | string): number {
  const time = typeof at === 'string' ? Date.parse(at) : at.getTime();
  return Math.floor(time / 1000) + table.auditPeriodDays * 86_400;
}

/** The table's settings an item builder needs to stamp an expiry. */
export type ExpiryClock = Pick<RequestTable, 'auditPeriodDays'>;

/** The table a Lambda is configured with (REQUESTS_TABLE), over the shared document client. */
export function requestTableFromEnv(): RequestTable {
  return requestTable(
    documentClient(),
    requireEnv(ENV.requestsTable),
    undefined,
    intEnv(AUDIT_PERIOD_ENV, DEFAULT_AUDIT_PERIOD_DAYS),
  );
}

/** One item by its key, read consistently. */
export async function readItem(
  table: RequestTable,
  key: Record<string, string>,
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await table.doc.send(
    new GetCommand({ TableName: table.tableName, Key: key, ConsistentRead: true }),
  );
  return Item;
}

/**
 * The items an index query found, read from the table (consistently) by the keys the index gives, in
 * the query's order. The requests table's indexes project keys and filters only (config/data-map.ts), so
 * a reader needing the whole item fetches it here. Items gone since, or no longer of `kind` when one is
 * given (a notice sent meanwhile), are left out.
 */
export async function itemsOf(
  table: RequestTable,
  found: readonly Record<string, unknown>[],
  kind?: string,
): Promise<Record<string, unknown>[]> {
  const keys = found.map((item) => ({ pk: item.pk, sk: item.sk }));
  const items = await batchGetAll(table.doc, table.tableName, keys, { consistentRead: true });
  return items.filter(
    (item): item is Record<string, unknown> =>
      item !== undefined && (kind === undefined || item.kind === kind),
  );
}

/** A request's items whose sort key starts with `prefix`, read consistently, page by page. */
export function requestItemsUnder(
  table: RequestTable,
  requestId: string,
  prefix: string,
): AsyncGenerator<Record<string, unknown>[]> {
  return queryPages(table.doc, {
    TableName: table.tableName,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': requestPartition(requestId), ':prefix': prefix },
    ConsistentRead: true,
  });
}

export function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string }).name === 'ConditionalCheckFailedException';
}

/** The cancellation reason codes of a failed transaction, by item index. */
export function cancellationCodes(error: unknown): string[] | undefined {
  const err = error as { name?: string; CancellationReasons?: { Code?: string }[] };
  if (err.name !== 'TransactionCanceledException') return undefined;
  return (err.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
}

/** Which services' items a listing keeps (the caller's); items stored without `service` are the default's. */
export interface ServiceSelection {
  services: readonly string[];
  defaultService: string;
}

/**
 * A FilterExpression keeping the items of the selected services, adding its names and values to the
 * query's. Items written before services were recorded have no `service`: they belong to the default.
 */
export function serviceFilter(
  selection: ServiceSelection,
  names: Record<string, string>,
  values: Record<string, unknown>,
): string {
  names['#service'] = 'service';
  selection.services.forEach((service, i) => (values[`:svc${i}`] = service));
  const named = selection.services.length
    ? `#service IN (${selection.services.map((_, i) => `:svc${i}`).join(', ')})`
    : 'attribute_exists(#service) AND attribute_not_exists(#service)';
  return selection.services.includes(selection.defaultService)
    ? `(${named} OR attribute_not_exists(#service))`
    : `(${named})`;
}
