/** What the API's routes are given: clients and configuration, built once in handler.ts (or by tests). */
import type { RequestRepository } from '../lib/requests/requests';
import type { EventLog } from '../lib/requests/event-log';
import type { SubjectHasher } from '../lib/crypto/subject-hash';
import type { WorkflowStarter } from './workflows';
import type { AuditLog } from '../lib/audit/audit-log';
import type { DeadlineConfig } from '../lib/requests/deadlines';
import type { AccountDirectory } from './accounts';
import type { JwsSigner } from '../lib/crypto/jws';
import type { ArchiveAccess, DownloadLinks } from '../lib/downloads/download-links';
import type { HoldRepository } from '../lib/holds/holds';
import type { LogErasureJobs } from './routes/log-erasure-jobs';

export interface ApiDeps {
  requests: RequestRepository;
  /** The requests' event histories. */
  events: EventLog;
  hasher: SubjectHasher;
  workflows: WorkflowStarter;
  /** The public signing keys, as a JWKS. */
  jwks: () => Promise<unknown>;
  /** Download links and the exports bucket. */
  downloads: DownloadDeps;
  /** The audit trail: every API action is recorded. */
  audit: AuditLog;
  /** The account's country, for a request's default jurisdiction. */
  accounts: AccountDirectory;
  /** Request settings; defaults in request-settings.ts (DEFAULT_REQUEST_SETTINGS). */
  settings?: Partial<RequestSettings>;
  clock?: () => Date;
  /** Signs OpenDSR responses (the archive signing key). */
  signer: JwsSigner;
  /** Legal holds. */
  holds: HoldRepository;
  /** Reads erasure certificates from the exports bucket. */
  certificates: CertificateReader;
  /** The batched log-erasure job; absent where it is not deployed (the routes answer 501). */
  logErasureJobs?: LogErasureJobs;
}

/** What the download routes need: the links and the exports bucket. */
export interface DownloadDeps {
  links: DownloadLinks;
  archives: ArchiveAccess;
  /** Single-use links a transfer to another controller sends (TRANSFER_LINKS); absent: none served. */
  transfers?: DownloadLinks;
}

/** The stored certificate text (a compact JWS), or undefined when it is not there. */
export interface CertificateReader {
  read(bucket: string, key: string): Promise<string | undefined>;
}

export interface RequestSettings {
  deadlines: DeadlineConfig;
  /** Used when neither the caller nor the account names a jurisdiction. */
  defaultJurisdiction: string;
  /** Local stack only: callbacks to loopback and private addresses (its test receivers). */
  allowPrivateCallbacks: boolean;
  /** The domain OpenDSR callbacks and responses name in X-OpenDSR-Processor-Domain. */
  processorDomain: string;
  /** Public base URL of the API (OpenDSR results_url); derived from the request when unset. */
  publicApiUrl?: string;
}
