/**
 * A request as the requests table stores it: its types, statuses and the keys of the items that belong
 * to it. The subject's identifiers are stored only in the request item (KMS-encrypted table, never
 * returned by the API); everything else names the subject by keyed hash.
 */
import type { SubjectIdentifiers } from '../connectors/contract';
import type { ErasureRequestFields } from '../erasure/certificate';
import type { ProcedureFields } from '../procedures/records';
import type { RestrictionFields, TransferFields } from '../restrictions/types';

export type RequestType = 'export' | 'erasure' | 'restriction';
export type RequestStatus =
  | 'received'
  | 'in_progress'
  | 'completed'
  | 'partially_completed'
  | 'failed'
  | 'cancelled'
  // Waiting, not started: for the identity verification or the fee its service's procedures require
  // (functions/lib/procedures/); refused: support declined it, with a reason and a legal ground.
  | 'awaiting_verification'
  | 'awaiting_payment'
  | 'refused';

/** Every status, in the order a request passes them (the API's filters and response schemas list them). */
export const REQUEST_STATUSES: readonly RequestStatus[] = [
  'received',
  'in_progress',
  'completed',
  'partially_completed',
  'failed',
  'cancelled',
  'awaiting_verification',
  'awaiting_payment',
  'refused',
];

export const TERMINAL_STATUSES: readonly RequestStatus[] = ['completed', 'failed', 'cancelled', 'refused'];

/** Exactly one identifier names the subject at creation. */
export type SubjectInput =
  | { userId: string }
  | { email: string }
  | { phone: string }
  | { deviceId: string }
  | { externalAccount: { provider: string; providerUserId: string } };

export interface ExportArchive {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
  files: number;
  records: number;
}

export interface RequestFailure {
  code: string;
  store?: string;
}

/** Who asked: the subject, an authorised agent, or a parent or guardian of a minor. */
export interface Requester {
  kind: 'subject' | 'agent' | 'guardian';
  /** The support system's reference to the evidence it checked (power of attorney, guardianship). */
  evidenceRef?: string;
  /** A guardian's own account at the service: it must be the one the minor's account links to. */
  userId?: string;
}

export interface DeadlineExtension {
  reason: string;
  by: string;
  at: string;
  previousDueAt: string;
}

/** Which dialect the request came in through: callbacks are shaped and signed accordingly. */
export type Dialect = 'dsr' | 'opendsr';

/** ErasureRequestFields are the erasure's plan, runs, processors' answers and certificate. */
export interface RequestRecord extends Partial<ErasureRequestFields>, ProcedureFields {
  requestId: string;
  type: RequestType;
  status: RequestStatus;
  createdAt: string;
  updatedAt: string;
  /**
   * The service the request is for (config/services/): named by the caller, or the caller's only one,
   * when the request is opened (functions/api/caller-services.ts). Requests opened before services were
   * recorded get it when their subject is resolved (the account's service, or the default service).
   */
  service?: string;
  /** `EU`, an ISO 3166-1 alpha-2 code, or an ISO 3166-2 subdivision (`US-CA`). */
  jurisdiction?: string;
  /** Where the jurisdiction came from: the caller, the account's country, or the configured default. */
  jurisdictionSource?: 'request' | 'account' | 'default';
  dueAt?: string;
  extension?: DeadlineExtension;
  requester?: Requester;
  callbackUrls?: string[];
  /** Export only: the subject asked for the download link by email (functions/notify/). */
  notify?: boolean;
  /** The policy in force when the request was opened; an erasure's plan also records the one it ran under. */
  policyVersion?: string;
  dialect?: Dialect;
  /** How many callback URLs were given (the URLs themselves go when the request finishes). */
  callbackCount?: number;
  /** OpenDSR's own id for the request (the controller's UUID). */
  externalId?: string;
  /** Client id of the system that created it. */
  createdBy?: string;
  /** Counts status changes: orders callbacks and guards concurrent transitions. */
  version?: number;
  /** Keyed hash of the identifier the request named (duplicate detection, filtering). */
  subjectHash: string;
  /** Keyed hash of the resolved account, once known. */
  accountHash?: string;
  subjectFound?: boolean;
  /** The identifier the request was opened with; removed when it reaches a terminal status. */
  subject?: SubjectInput;
  failure?: RequestFailure;
  export?: ExportArchive;
  /**
   * Erasure only. The identifier set the first run resolved, kept because that run deletes the
   * account the later runs (hold released, retention ended) could resolve it from. Never returned by the
   * API; removed when the request reaches `completed`.
   */
  resolvedSubject?: ResolvedSubject;
  /** Restriction only: the kind and action asked for, then what was done (lib/restrictions/). */
  restriction?: RestrictionFields;
  /**
   * Export only: the other controller's HTTPS endpoint the archive is transmitted to (GDPR Art. 20(2)).
   * Removed with the subject when the request reaches a terminal status; `transfer` keeps its host.
   */
  transmitTo?: string;
  transfer?: TransferFields;
}

/** The identifier set an erasure's first run resolved: see RequestRecord.resolvedSubject. */
export interface ResolvedSubject {
  found: boolean;
  subjectHash: string;
  identifiers: SubjectIdentifiers;
  resolvedAt: string;
}

export const REQUEST_KIND = 'request';
export const OPEN_KIND = 'open';

/** The partition every item of one request shares: the request, its events, outbox and callback lease. */
export const requestPartition = (requestId: string) => `REQ#${requestId}`;

export const requestKey = (requestId: string) => ({ pk: requestPartition(requestId), sk: 'REQUEST' });

/**
 * One item per open request of a type for a subject at a service: a second create finds it instead of
 * starting another. Per service, because the same e-mail at two services is two people, and a caller
 * of one service must never be handed another's request as a duplicate. Requests opened before services
 * were recorded have locks without a service (`service` undefined).
 */
export const openKey = (type: RequestType, subjectHash: string, service: string | undefined) => ({
  pk: service ? `OPEN#${type}#${service}#${subjectHash}` : `OPEN#${type}#${subjectHash}`,
  sk: 'LOCK',
});

/**
 * Points from a dialect's own id for a request (OpenDSR's subject_request_id) to ours, per service:
 * each service's controller chooses its ids, and one service's id says nothing of another's.
 */
export const externalKey = (dialect: Dialect, externalId: string, service: string | undefined) => ({
  pk: service ? `EXT#${dialect}#${service}#${externalId}` : `EXT#${dialect}#${externalId}`,
  sk: 'EXT',
});

/** The request an item of kind `request` holds (its key and kind taken off). */
export function recordFromItem(item: Record<string, unknown>): RequestRecord {
  const { pk: _pk, sk: _sk, kind: _kind, ...record } = item;
  return record as unknown as RequestRecord;
}
