/**
 * Resolves the subject first: from whichever identifier the request named to the full identifier set
 * held in accounts, staged (not passed through the workflow) for every connector to read.
 * Two accounts matching one subject is a conflict, never a merged export.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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
import { serviceOfAccount } from '../lib/services/profiles';
import { EMPTY_IDENTIFIERS, identifiersOf } from '../lib/identifiers/account-identifiers';
import {
  indexedIdentifiersOf,
  indexKeyOf,
  type IdentifierIndex,
  type IndexedIdentifier,
} from '../lib/identifiers/identifier-index';

/** A finished request has given up its identifier; only an unfinished one is ever resolved. */
function subjectOf(request: RequestRecord): SubjectInput {
  if (!request.subject) throw new ContractError('The request has finished: its subject is no longer kept');
  return request.subject;
}

export interface ResolveDeps {
  doc: DynamoDBDocumentClient;
  s3: S3Client;
  requests: RequestRepository;
  events: Pick<EventLog, 'append'>;
  hasher: SubjectHasher;
  accountsTable: string;
  /** Device ids and linked accounts -> accounts (the accounts table has no index on them). */
  identifierIndex: Pick<IdentifierIndex, 'userIdsOf'>;
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

export async function findAccounts(deps: ResolveDeps, subject: SubjectInput): Promise<Account[]> {
  if ('userId' in subject) return getAccounts(deps, [subject.userId]);
  if ('email' in subject) {
    // Emails are matched as stored and lower-cased, since users type them either way.
    const exact = await queryIndex(deps, 'byEmail', 'email', subject.email.trim());
    const lower = subject.email.trim().toLowerCase();
    const folded = lower === subject.email.trim() ? [] : await queryIndex(deps, 'byEmail', 'email', lower);
    return dedupe([...exact, ...folded]);
  }
  if ('phone' in subject) return queryIndex(deps, 'byPhone', 'phone', subject.phone.trim());
  return findByIndexedIdentifier(
    deps,
    'deviceId' in subject
      ? { kind: 'deviceId', deviceId: subject.deviceId }
      : {
          kind: 'externalAccount',
          provider: subject.externalAccount.provider,
          providerUserId: subject.externalAccount.providerUserId,
        },
  );
}

/**
 * The accounts the identifier index links to a device id or linked account, each read from the accounts
 * table and kept only if it still holds the identifier: an entry the stream has not yet unlinked never
 * names an account that no longer has it.
 */
async function findByIndexedIdentifier(deps: ResolveDeps, identifier: IndexedIdentifier): Promise<Account[]> {
  const userIds = await deps.identifierIndex.userIdsOf(identifier);
  const wanted = indexKeyOf(identifier);
  const accounts = await getAccounts(deps, userIds);
  return accounts.filter((account) =>
    indexedIdentifiersOf(identifiersOf(account)).some((held) => indexKeyOf(held) === wanted),
  );
}

function dedupe(accounts: Account[]): Account[] {
  const seen = new Map<string, Account>();
  for (const account of accounts) seen.set(String(account.userId), account);
  return [...seen.values()];
}

/** The accounts with these keys that exist (strongly consistent reads). */
async function getAccounts(deps: ResolveDeps, userIds: string[]): Promise<Account[]> {
  const accounts: Account[] = [];
  for (const userId of new Set(userIds)) {
    const { Item } = await deps.doc.send(
      new GetCommand({ TableName: deps.accountsTable, Key: { userId }, ConsistentRead: true }),
    );
    if (Item) accounts.push(Item);
  }
  return accounts;
}

/**
 * What the staged subject carries besides identifiers: the service (the request's, else the account's,
 * else the deployment's default), the request's jurisdiction and the account's locale.
 */
function subjectContext(
  request: RequestRecord,
  account: Account | undefined,
): Pick<StagedSubject, 'service' | 'jurisdiction' | 'locale'> {
  const locale = account?.locale;
  return {
    service: request.service ?? serviceOfAccount(account),
    ...(request.jurisdiction ? { jurisdiction: request.jurisdiction } : {}),
    ...(typeof locale === 'string' && locale !== '' ? { locale } : {}),
  };
}

/**
 * Erasure mode: the first run resolves from accounts and keeps the identifier set on the
 * request (KMS-encrypted table, never returned by the API), because that run deletes the account; a
 * resumed run (hold released, retention ended) uses the kept set. It is removed at `completed`.
 */
async function resolveForErasure(
  deps: ResolveDeps,
  request: RequestRecord,
): Promise<{
  found: boolean;
  subjectHash: string;
  identifiers: SubjectIdentifiers;
  reused: boolean;
  context: Pick<StagedSubject, 'service' | 'jurisdiction' | 'locale'>;
}> {
  if (request.resolvedSubject) {
    // The account is gone after the first run: its service was recorded on the request then.
    return { ...request.resolvedSubject, reused: true, context: subjectContext(request, undefined) };
  }
  const accounts = await findAccounts(deps, subjectOf(request));
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
  const context = subjectContext(request, account);
  await deps.requests.update(request.requestId, {
    resolvedSubject: { ...resolved, resolvedAt: new Date().toISOString() },
    accountHash: resolved.subjectHash,
    service: context.service,
  });
  return { ...resolved, reused: false, context };
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
    return stageSubject(deps, input.requestId, resolved, resolved.context, { reused: resolved.reused });
  }

  const accounts = await findAccounts(deps, subjectOf(request));
  if (accounts.length > 1) throw new SubjectConflictError();
  const account = accounts[0];

  const accountHash = account
    ? await deps.hasher.hash(identifierKey('userId', String(account.userId)))
    : request.subjectHash;
  const context = subjectContext(request, account);
  // Recorded on the request so that pages, notices and a later run name the same service.
  if (!request.service) await deps.requests.update(input.requestId, { service: context.service });
  return stageSubject(
    deps,
    input.requestId,
    {
      subjectHash: accountHash,
      found: account !== undefined,
      identifiers: account ? identifiersOf(account) : EMPTY_IDENTIFIERS,
    },
    context,
  );
}

/**
 * Stages the resolved subject for the connectors (with a fresh pseudonym salt), records the event
 * (counts only), and names the connector function of each store.
 */
async function stageSubject(
  deps: ResolveDeps,
  requestId: string,
  subject: Pick<StagedSubject, 'subjectHash' | 'found' | 'identifiers'>,
  context: Pick<StagedSubject, 'service' | 'jurisdiction' | 'locale'>,
  detail: { reused?: boolean } = {},
): Promise<ResolveOutput> {
  const staged: StagedSubject = {
    requestId,
    subjectHash: subject.subjectHash,
    found: subject.found,
    identifiers: subject.identifiers,
    pseudonymSalt: randomBytes(32).toString('base64url'),
    ...context,
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
