/**
 * Resolves the subject first: from whichever identifier the request named to the full identifier set
 * held in accounts, staged (not passed through the workflow) for every connector to read.
 * Two accounts matching one subject is a conflict, never a merged export.
 */
import { GetCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { queryPages } from '../lib/aws/dynamo-paging';
import { randomBytes } from 'node:crypto';
import type { StagedSubject, StoreName, SubjectIdentifiers } from '../lib/connectors/contract';
import { ContractError, NotFoundError, SubjectConflictError } from '../lib/runtime/errors';
import type { RequestRecord, SubjectInput } from '../lib/requests/records';
import type { EventLog } from '../lib/requests/event-log';
import type { RequestRepository } from '../lib/requests/requests';
import { putJson, stagingKeys } from '../lib/aws/s3-objects';
import { identifierKey, type SubjectHasher } from '../lib/crypto/subject-hash';
import { identifierHashesOf, type HoldRepository } from '../lib/holds/holds';

export interface ResolveDeps {
  doc: DynamoDBDocumentClient;
  s3: S3Client;
  requests: RequestRepository;
  events: Pick<EventLog, 'append'>;
  hasher: SubjectHasher;
  accountsTable: string;
  stagingBucket: string;
  /** store -> connector function name, in the order the archive lists stores. */
  connectorFunctions: Partial<Record<StoreName, string>>;
  /** Erasure mode writes keyed-hash pointers to the request (holds find it by any identifier). */
  holds?: Pick<HoldRepository, 'putSubjectRefs'>;
}

export interface ResolveOutput {
  requestId: string;
  found: boolean;
  stores: { store: StoreName; functionName: string }[];
}

type Account = Record<string, unknown>;

async function queryIndex(
  deps: ResolveDeps,
  indexName: string,
  attribute: string,
  value: string,
): Promise<Account[]> {
  const items: Account[] = [];
  const pages = queryPages(deps.doc, {
    TableName: deps.accountsTable,
    IndexName: indexName,
    KeyConditionExpression: '#a = :v',
    ExpressionAttributeNames: { '#a': attribute },
    ExpressionAttributeValues: { ':v': value },
  });
  for await (const page of pages) items.push(...page);
  return items;
}

/**
 * Device ids and linked accounts have no index in the accounts table (its shape is the platform's),
 * so they are found by a filtered, paged scan. Costly on a big table: documented in docs/data-stores.md.
 */
async function scanAccounts(deps: ResolveDeps, matches: (account: Account) => boolean): Promise<Account[]> {
  const items: Account[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await deps.doc.send(
      new ScanCommand({
        TableName: deps.accountsTable,
        ProjectionExpression: 'userId, devices, externalAccounts',
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []).filter(matches));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

function listOf(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null)
    : [];
}

async function findAccounts(deps: ResolveDeps, subject: SubjectInput): Promise<Account[]> {
  if ('userId' in subject) {
    const { Item } = await deps.doc.send(
      new GetCommand({
        TableName: deps.accountsTable,
        Key: { userId: subject.userId },
        ConsistentRead: true,
      }),
    );
    return Item ? [Item] : [];
  }
  if ('email' in subject) {
    // Emails are matched as stored and lower-cased, since users type them either way.
    const exact = await queryIndex(deps, 'byEmail', 'email', subject.email.trim());
    const lower = subject.email.trim().toLowerCase();
    const folded = lower === subject.email.trim() ? [] : await queryIndex(deps, 'byEmail', 'email', lower);
    return dedupe([...exact, ...folded]);
  }
  if ('phone' in subject) return queryIndex(deps, 'byPhone', 'phone', subject.phone.trim());
  if ('deviceId' in subject) {
    const keys = await scanAccounts(deps, (a) =>
      listOf(a.devices).some((d) => d.deviceId === subject.deviceId),
    );
    return fetchFull(deps, keys);
  }
  const { provider, providerUserId } = subject.externalAccount;
  const keys = await scanAccounts(deps, (a) =>
    listOf(a.externalAccounts).some((x) => x.provider === provider && x.providerUserId === providerUserId),
  );
  return fetchFull(deps, keys);
}

function dedupe(accounts: Account[]): Account[] {
  const seen = new Map<string, Account>();
  for (const account of accounts) seen.set(String(account.userId), account);
  return [...seen.values()];
}

async function fetchFull(deps: ResolveDeps, keys: Account[]): Promise<Account[]> {
  const accounts: Account[] = [];
  for (const key of dedupe(keys)) {
    const { Item } = await deps.doc.send(
      new GetCommand({ TableName: deps.accountsTable, Key: { userId: key.userId }, ConsistentRead: true }),
    );
    if (Item) accounts.push(Item);
  }
  return accounts;
}

function identifiersOf(account: Account): SubjectIdentifiers {
  const text = (v: unknown): string[] => (typeof v === 'string' && v !== '' ? [v] : []);
  return {
    userIds: text(account.userId),
    emails: text(account.email),
    phones: text(account.phone),
    deviceIds: listOf(account.devices).flatMap((d) => text(d.deviceId)),
    externalAccounts: listOf(account.externalAccounts).flatMap((x) =>
      typeof x.provider === 'string' && typeof x.providerUserId === 'string'
        ? [{ provider: x.provider, providerUserId: x.providerUserId }]
        : [],
    ),
  };
}

const EMPTY_IDENTIFIERS: SubjectIdentifiers = {
  userIds: [],
  emails: [],
  phones: [],
  deviceIds: [],
  externalAccounts: [],
};

/**
 * Erasure mode: the first run resolves from accounts and keeps the identifier set on the
 * request (KMS-encrypted table, never returned by the API), because that run deletes the account; a
 * resumed run (hold released, retention ended) uses the kept set. It is removed at `completed`.
 */
async function resolveForErasure(
  deps: ResolveDeps,
  request: RequestRecord,
): Promise<{ found: boolean; subjectHash: string; identifiers: SubjectIdentifiers; reused: boolean }> {
  if (request.resolvedSubject) return { ...request.resolvedSubject, reused: true };
  const accounts = await findAccounts(deps, request.subject);
  if (accounts.length > 1) throw new SubjectConflictError();
  const account = accounts[0];
  const resolved = {
    found: account !== undefined,
    subjectHash: account
      ? await deps.hasher.hash(identifierKey('userId', String(account.userId)))
      : request.subjectHash,
    identifiers: account ? identifiersOf(account) : EMPTY_IDENTIFIERS,
  };
  await deps.holds?.putSubjectRefs(request.requestId, [
    request.subjectHash,
    ...(await identifierHashesOf(deps.hasher, resolved.identifiers)),
  ]);
  await deps.requests.update(request.requestId, {
    resolvedSubject: { ...resolved, resolvedAt: new Date().toISOString() },
    accountHash: resolved.subjectHash,
  });
  return { ...resolved, reused: false };
}

export async function resolveSubject(
  deps: ResolveDeps,
  input: { requestId: string; mode?: 'export' | 'erasure' },
): Promise<ResolveOutput> {
  if (!input?.requestId) throw new ContractError('requestId is required');
  const request = await deps.requests.get(input.requestId);
  if (!request) throw new NotFoundError('No such request');

  if (input.mode === 'erasure') {
    if (request.type !== 'erasure') throw new ContractError('Erasure mode on a request of another type');
    const resolved = await resolveForErasure(deps, request);
    return stageSubject(deps, input.requestId, resolved, { reused: resolved.reused });
  }

  const accounts = await findAccounts(deps, request.subject);
  if (accounts.length > 1) throw new SubjectConflictError();
  const account = accounts[0];

  const accountHash = account
    ? await deps.hasher.hash(identifierKey('userId', String(account.userId)))
    : request.subjectHash;
  return stageSubject(deps, input.requestId, {
    subjectHash: accountHash,
    found: account !== undefined,
    identifiers: account ? identifiersOf(account) : EMPTY_IDENTIFIERS,
  });
}

/**
 * Stages the resolved subject for the connectors (with a fresh pseudonym salt), records the event
 * (counts only), and names the connector function of each store.
 */
async function stageSubject(
  deps: ResolveDeps,
  requestId: string,
  subject: Pick<StagedSubject, 'subjectHash' | 'found' | 'identifiers'>,
  detail: { reused?: boolean } = {},
): Promise<ResolveOutput> {
  const staged: StagedSubject = {
    requestId,
    subjectHash: subject.subjectHash,
    found: subject.found,
    identifiers: subject.identifiers,
    pseudonymSalt: randomBytes(32).toString('base64url'),
  };
  await putJson(deps.s3, { bucket: deps.stagingBucket, key: stagingKeys.subject(requestId) }, staged);
  await deps.events.append(requestId, {
    type: 'subject.resolved',
    detail: { found: staged.found, identifiers: Object.values(staged.identifiers).flat().length, ...detail },
  });
  return { requestId, found: staged.found, stores: storesOf(deps) };
}

function storesOf(deps: ResolveDeps): ResolveOutput['stores'] {
  return (Object.entries(deps.connectorFunctions) as [StoreName, string][]).map(([store, functionName]) => ({
    store,
    functionName,
  }));
}
