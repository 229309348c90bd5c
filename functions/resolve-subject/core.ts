/**
 * Resolves the subject first: from whichever identifier the request named to the full identifier set
 * held in accounts, staged (not passed through the workflow) for every connector to read. Only the
 * request's service is searched: the same e-mail at another service is another person. Two accounts of
 * the service matching one subject is a conflict, never a merged export.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import type { StagedSubject, StoreName, SubjectIdentifiers } from '../lib/connectors/contract';
import { ContractError, NotFoundError, SubjectConflictError } from '../lib/runtime/errors';
import type { RequestRecord, SubjectInput } from '../lib/requests/records';
import type { EventLog } from '../lib/requests/event-log';
import type { RequestRepository } from '../lib/requests/requests';
import { putJson, stagingKeys } from '../lib/aws/s3-objects';
import { identifierKey, type SubjectHasher } from '../lib/crypto/subject-hash';
import { identifierHashesOf, type HoldRepository } from '../lib/holds/holds';
import { heldStores, serviceProfile } from '../lib/services/profiles';
import { storesAnswered } from '../lib/procedures/refusals';
import type { ServiceStores } from '../lib/services/stores';
import {
  accountsByContact,
  accountsByEmail,
  accountsByUserId,
  accountsLocationOf,
  type Account,
  type AccountsLocation,
} from '../lib/identifiers/account-lookup';
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
  /** Where each service's accounts are (the shared table, or the service's own). */
  stores: Pick<ServiceStores, 'nameFor' | 'keepsOwn'>;
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

/**
 * The accounts of the request's service the named identifier matches: only that service's accounts
 * table (its own, or the shared one filtered to it) and only its entries of the identifier index.
 */
export async function findAccounts(
  deps: ResolveDeps,
  service: string,
  subject: SubjectInput,
): Promise<Account[]> {
  const location = accountsLocationOf(deps.stores, service);
  if ('userId' in subject) return accountsByUserId(deps.doc, location, [subject.userId]);
  if ('email' in subject) return accountsByEmail(deps.doc, location, subject.email);
  if ('phone' in subject) return accountsByContact(deps.doc, location, 'phone', subject.phone.trim());
  return findByIndexedIdentifier(
    deps,
    location,
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
 * The accounts the identifier index links to a device id or linked account at the service, each read
 * from the service's accounts table and kept only if it still holds the identifier: an entry the stream
 * has not yet unlinked never names an account that no longer has it.
 */
async function findByIndexedIdentifier(
  deps: ResolveDeps,
  location: AccountsLocation,
  identifier: IndexedIdentifier,
): Promise<Account[]> {
  const userIds = await deps.identifierIndex.userIdsOf(location.service, identifier);
  const wanted = indexKeyOf(identifier);
  const accounts = await accountsByUserId(deps.doc, location, userIds);
  return accounts.filter((account) =>
    indexedIdentifiersOf(identifiersOf(account)).some((held) => indexKeyOf(held) === wanted),
  );
}

/** The service a request is resolved in: its own, else the deployment's default service. */
function serviceOfRequest(request: RequestRecord): string {
  return serviceProfile(request.service).id;
}

/**
 * What the staged subject carries besides identifiers: the service it was resolved in (the request's,
 * else the deployment's default), the request's jurisdiction and the account's locale.
 */
function subjectContext(
  request: RequestRecord,
  account: Account | undefined,
): Pick<StagedSubject, 'service' | 'jurisdiction' | 'locale' | 'leftOut'> {
  const locale = account?.locale;
  return {
    service: serviceOfRequest(request),
    ...(request.jurisdiction ? { jurisdiction: request.jurisdiction } : {}),
    ...(typeof locale === 'string' && locale !== '' ? { locale } : {}),
    // An export answered in part: the parts support left out (never collected, named in the manifest).
    ...(request.exclusions?.length ? { leftOut: request.exclusions } : {}),
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
  context: Pick<StagedSubject, 'service' | 'jurisdiction' | 'locale' | 'leftOut'>;
}> {
  if (request.resolvedSubject) {
    // The account is gone after the first run: its service was recorded on the request then.
    return { ...request.resolvedSubject, reused: true, context: subjectContext(request, undefined) };
  }
  const accounts = await findAccounts(deps, serviceOfRequest(request), subjectOf(request));
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

  const accounts = await findAccounts(deps, serviceOfRequest(request), subjectOf(request));
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
  context: Pick<StagedSubject, 'service' | 'jurisdiction' | 'locale' | 'leftOut'>,
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
  return { requestId, found: staged.found, stores: storesOf(deps, staged.service, staged.leftOut) };
}

/** The connectors of the stores the service keeps (its profile's `holds`): no other store is read. */
function storesOf(
  deps: ResolveDeps,
  service: string | undefined,
  leftOut: StagedSubject['leftOut'],
): ResolveOutput['stores'] {
  const held = storesAnswered(heldStores(serviceProfile(service)), leftOut);
  return (Object.entries(deps.connectorFunctions) as [StoreName, string][])
    .filter(([store]) => held.includes(store))
    .map(([store, functionName]) => ({ store, functionName }));
}
