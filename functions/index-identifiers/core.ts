/**
 * Keeps the identifier index (functions/lib/identifiers/identifier-index.ts) current from the accounts
 * table's stream, and builds it for accounts the stream never showed (the backfill).
 *
 * Each stream record is turned into one change per identifier of either image (linked when the new image
 * holds it); each change is a conditional write that only a newer record can override. So a batch can be
 * retried, redelivered or applied out of order (or all at once) and the index still ends as the latest
 * record says.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { platformStores } from '../../config/data-map';
import { scanPages } from '../lib/aws/dynamo-paging';
import { memoizedHasher, type SubjectHasher } from '../lib/crypto/subject-hash';
import { identifiersOf } from '../lib/identifiers/account-identifiers';
import { defaultServiceId } from '../lib/services/profiles';
import {
  entryKeyOf,
  IdentifierIndex,
  indexedIdentifiersOf,
  type IdentifierChange,
  type IndexedIdentifier,
} from '../lib/identifiers/identifier-index';
import { forEachLimited } from '../lib/runtime/concurrency';
import { ConfigError } from '../lib/runtime/config';
import { ContractError } from '../lib/runtime/errors';
import { errorFields, log } from '../lib/runtime/logger';

/** An accounts table the indexer follows: the shared one, or a service's own (its `owner`). */
export interface IndexedAccountsTable {
  tableName: string;
  owner?: string;
}

export interface IndexerDeps {
  doc: DynamoDBDocumentClient;
  hasher: SubjectHasher;
  indexTable: string;
  /** Every accounts table whose stream reaches the indexer, the shared one first (the backfill's default). */
  accountsTables: readonly IndexedAccountsTable[];
  clock?: () => Date;
}

/** The table a stream record comes from, named by its stream's ARN (`...:table/<name>/stream/<label>`). */
export function tableOfRecord(
  deps: Pick<IndexerDeps, 'accountsTables'>,
  record: DynamoDBRecord,
): IndexedAccountsTable {
  const name = /:table\/([^/]+)\/stream\//.exec(record.eventSourceARN ?? '')?.[1];
  const table = deps.accountsTables.find((t) => t.tableName === name);
  if (!table) throw new ConfigError('A stream record comes from an accounts table the indexer does not know');
  return table;
}

/**
 * The service of an account image: its `service`, else the owner of the table it is in, else the
 * deployment's default service (../shared/stores.md). A service this deployment does not serve is kept
 * as named: no request can ask for it, and the account's entries still follow it.
 */
function serviceOfImage(account: Record<string, unknown>, table: IndexedAccountsTable): string {
  const service = account.service;
  return typeof service === 'string' && service !== '' ? service : (table.owner ?? defaultServiceId());
}

/** An index whose hashes are computed once per batch (each is a KMS call in AWS). */
function batchIndex(deps: IndexerDeps): IdentifierIndex {
  return new IdentifierIndex(deps.doc, deps.indexTable, memoizedHasher(deps.hasher), deps.clock);
}

type StreamImage = NonNullable<NonNullable<DynamoDBRecord['dynamodb']>['NewImage']>;

function accountOf(image: StreamImage | undefined): Record<string, unknown> {
  // The Lambda event's attribute values are the service's JSON, which is what the SDK's types describe.
  return image ? unmarshall(image as Record<string, AttributeValue>) : {};
}

/** An image's indexed identifiers, each with the service it is indexed under. */
function entriesOfImage(
  image: StreamImage | undefined,
  table: IndexedAccountsTable,
): { service: string; identifier: IndexedIdentifier; key: string }[] {
  if (!image) return [];
  const account = accountOf(image);
  const service = serviceOfImage(account, table);
  return indexedIdentifiersOf(identifiersOf(account)).map((identifier) => ({
    service,
    identifier,
    key: entryKeyOf(service, identifier),
  }));
}

/**
 * The changes one record makes: every identifier of either image, linked when the new image holds it.
 * None when a MODIFY leaves the identifiers as they were (most do: a device's lastSeen, a consent).
 */
export function changesOf(record: DynamoDBRecord, table: IndexedAccountsTable): IdentifierChange[] {
  const data = record.dynamodb;
  const sequenceNumber = data?.SequenceNumber;
  if (!data || !sequenceNumber) throw new ContractError('A stream record carries no sequence number');
  // Without the old image, identifiers an account lost could not be unlinked: refuse rather than drift.
  if ((record.eventName !== 'INSERT' && !data.OldImage) || (record.eventName !== 'REMOVE' && !data.NewImage))
    throw new ConfigError('The accounts table stream must carry new and old images (NEW_AND_OLD_IMAGES)');
  const userId = accountOf(data.Keys)[platformStores.accounts.table.partitionKey];
  if (typeof userId !== 'string' || userId === '')
    throw new ContractError('A stream record names no account key');

  // An account moved to another service changes every entry's key: the old ones are unlinked.
  const before = entriesOfImage(data.OldImage, table);
  const after = entriesOfImage(data.NewImage, table);
  const afterKeys = new Set(after.map((e) => e.key));
  const beforeKeys = new Set(before.map((e) => e.key));
  if (afterKeys.size === beforeKeys.size && [...afterKeys].every((key) => beforeKeys.has(key))) {
    // Nothing to link or unlink; an INSERT or REMOVE of an account without identifiers lands here too.
    return [];
  }
  const gone = before.filter((e) => !afterKeys.has(e.key));
  return [
    ...after.map(({ service, identifier }) => ({
      userId,
      service,
      identifier,
      linked: true,
      sequenceNumber,
    })),
    ...gone.map(({ service, identifier }) => ({
      userId,
      service,
      identifier,
      linked: false,
      sequenceNumber,
    })),
  ];
}

/** Records applied at once: the conditional writes make their order irrelevant to where the index ends. */
const RECORD_CONCURRENCY = 8;

/**
 * Applies a batch of stream records. The first record that fails is reported (Lambda retries the batch
 * from it; records after it that were applied meanwhile are refused the second time). Logs counts only.
 */
export async function indexStreamRecords(
  deps: IndexerDeps,
  records: readonly DynamoDBRecord[],
): Promise<DynamoDBBatchResponse> {
  const index = batchIndex(deps);
  let applied = 0;
  let overtaken = 0;
  const failures: { position: number; error: unknown }[] = [];
  await forEachLimited(records.entries(), RECORD_CONCURRENCY, async ([position, record]) => {
    try {
      const changes = changesOf(record, tableOfRecord(deps, record));
      const results = await Promise.all(changes.map((change) => index.apply(change)));
      applied += results.filter(Boolean).length;
      overtaken += results.filter((done) => !done).length;
    } catch (error) {
      failures.push({ position, error });
    }
  });
  const [first] = failures.sort((a, b) => a.position - b.position);
  if (first) {
    log.error('identifier index: a stream record failed', {
      ...errorFields(first.error),
      records: records.length,
      failed: failures.length,
    });
    return {
      batchItemFailures: [{ itemIdentifier: records[first.position]?.dynamodb?.SequenceNumber ?? '' }],
    };
  }
  log.info('identifier index: stream batch applied', { records: records.length, applied, overtaken });
  return { batchItemFailures: [] };
}

export interface BackfillOptions {
  /** The accounts table to index (one the indexer follows); the shared one by default. */
  accountsTable?: string;
  /** One segment of a parallel scan (DynamoDB's Segment / TotalSegments); the whole table by default. */
  segment?: number;
  totalSegments?: number;
}

export interface BackfillResult {
  segment: number;
  totalSegments: number;
  accounts: number;
  identifiers: number;
  /** Entries written; the others were already there (from the stream or an earlier backfill). */
  linked: number;
}

/** DynamoDB's own limit on a parallel scan. */
const MAX_SEGMENTS = 1_000_000;
const BACKFILL_CONCURRENCY = 16;

/**
 * Indexes every account of the table (or of one scan segment) that holds device ids or linked accounts,
 * without overriding anything the stream wrote. The one Scan of the accounts table, for a one-off job;
 * safe to rerun, and to run while the stream is being applied.
 */
export async function backfillIdentifierIndex(
  deps: IndexerDeps,
  options: BackfillOptions = {},
): Promise<BackfillResult> {
  const totalSegments = options.totalSegments ?? 1;
  const segment = options.segment ?? 0;
  if (!Number.isInteger(totalSegments) || totalSegments < 1 || totalSegments > MAX_SEGMENTS)
    throw new ContractError(`totalSegments must be a whole number from 1 to ${MAX_SEGMENTS}`);
  if (!Number.isInteger(segment) || segment < 0 || segment >= totalSegments)
    throw new ContractError('segment must be a whole number below totalSegments');

  const table = options.accountsTable
    ? deps.accountsTables.find((t) => t.tableName === options.accountsTable)
    : deps.accountsTables[0];
  if (!table) throw new ContractError('accountsTable is not an accounts table the indexer follows');

  const result: BackfillResult = { segment, totalSegments, accounts: 0, identifiers: 0, linked: 0 };
  const pages = scanPages(deps.doc, {
    TableName: table.tableName,
    ProjectionExpression: '#userId, #service, #devices, #externalAccounts',
    ExpressionAttributeNames: {
      '#userId': platformStores.accounts.table.partitionKey,
      '#service': 'service',
      '#devices': 'devices',
      '#externalAccounts': 'externalAccounts',
    },
    ...(totalSegments > 1 ? { Segment: segment, TotalSegments: totalSegments } : {}),
  });
  for await (const page of pages) {
    const index = batchIndex(deps);
    const links = page.flatMap((account) => {
      const identifiers = identifiersOf(account);
      const userId = identifiers.userIds[0];
      const service = serviceOfImage(account, table);
      return userId
        ? indexedIdentifiersOf(identifiers).map((identifier) => ({ userId, service, identifier }))
        : [];
    });
    result.accounts += page.length;
    result.identifiers += links.length;
    await forEachLimited(links, BACKFILL_CONCURRENCY, async ({ userId, service, identifier }) => {
      if (await index.linkIfNew(service, userId, identifier)) result.linked += 1;
    });
  }
  log.info('identifier index: backfill done', { ...result });
  return result;
}
