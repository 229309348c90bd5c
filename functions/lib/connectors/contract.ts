/**
 * The connector contract: every store of STORE_NAMES (config/data-map.ts) implements `Connector`,
 * and every connector Lambda is the same handler shape (`connectorHandler` in connector-handler.ts).
 * Only pointers, counts and bytes cross the workflow: records and identifiers live in S3 staging,
 * so no personal data reaches Step Functions payloads or execution history. See docs/connectors.md.
 */
import type { StoreName } from '../../../config/data-map';
import type { Exclusion } from '../procedures/records';

export type { StoreName };

export interface S3Pointer {
  bucket: string;
  key: string;
}

/** Everything accounts knows about who the subject is; every connector works from this set. */
export interface SubjectIdentifiers {
  userIds: string[];
  emails: string[];
  phones: string[];
  deviceIds: string[];
  externalAccounts: { provider: string; providerUserId: string }[];
}

/** Staged at `staging/{requestId}/subject.json` by the resolve step; deleted with the staging area. */
export interface StagedSubject {
  requestId: string;
  /** The subject's keyed hash: the only name our own records use. */
  subjectHash: string;
  /** False when no account matched: the export is then empty but valid. */
  found: boolean;
  identifiers: SubjectIdentifiers;
  /** Per-request secret for pseudonyms: same person, same pseudonym within one archive only. */
  pseudonymSalt: string;
  /**
   * The service the subject belongs to (config/services/): the request's, else the account's, else the
   * deployment's default service. Absent on subjects staged before services: the default service.
   */
  service?: string;
  /** The request's jurisdiction (ISO 3166 code, or a region such as EU), when it has one. */
  jurisdiction?: string;
  /** The account's `locale` (e.g. `ja-JP`), when it has one. */
  locale?: string;
  /** Export only: the stores and categories support left out, and why (the archive's manifest says so). */
  leftOut?: Exclusion[];
}

/** A JSON Schema (draft 2020-12) object, describing one record of a collection. */
export type JsonSchema = Record<string, unknown>;

export interface CollectionSpec {
  /** File name stem in the archive: data/<store>/<name>.json */
  name: string;
  /** One line a person can read, shown in index.html. */
  description: string;
  /** Flat records also get a CSV copy. */
  tabular: boolean;
  /** Schema of one record. */
  recordSchema: JsonSchema;
}

export interface StagedCollection extends CollectionSpec {
  /** Staging key of the newline-delimited JSON file. */
  key: string;
  records: number;
  bytes: number;
  /** Top-level keys of the records, in the order first seen (the CSV header, without a second read). */
  keys: string[];
}

/** An original media file, copied into the archive from where it lies (never loaded into memory). */
export interface StagedMedia {
  /** Path under media/<store>/ in the archive: sanitised, relative, unique. */
  archivePath: string;
  source: S3Pointer & { versionId?: string };
  bytes: number;
  contentType?: string;
}

/** What a connector staged, written to `staging/{requestId}/{store}/index.json`. */
export interface StoreIndex {
  formatVersion: 1;
  store: StoreName;
  collections: StagedCollection[];
  media: StagedMedia[];
}

/**
 * collect: export the subject's records into staging.
 * inventory: count what the subject has, per data category (planning, and verification after erasure).
 * erase: carry out this store's part of the staged erasure plan.
 * restrict: set the consents of the staged restriction plan (lib/restrictions/plan.ts).
 */
export type ConnectorOperation = 'collect' | 'inventory' | 'erase' | 'restrict';

/** Input of every connector Lambda (the workflow's Map item). */
export interface ConnectorTaskInput {
  requestId: string;
  store: StoreName;
  operation: ConnectorOperation;
  /** For inventory: which pass ('plan' before erasing, 'verify' after); names the staged file. */
  phase?: 'plan' | 'verify';
}

/** Output of collect: a pointer and counts only. */
export interface CollectResult {
  store: StoreName;
  index: S3Pointer;
  records: number;
  mediaFiles: number;
  bytes: number;
}

/** Writes one collection as NDJSON into staging. */
export interface CollectionWriter {
  write(record: Record<string, unknown>): Promise<void>;
}

/** What a connector's collect receives: the subject, and where to put what it finds. */
export interface CollectContext {
  requestId: string;
  subject: StagedSubject;
  /** Opens a collection; the writer is closed by the framework after collect returns. */
  collection(spec: CollectionSpec): CollectionWriter;
  /** Registers an original file to be copied into the archive. */
  addMedia(media: Omit<StagedMedia, 'archivePath'> & { suggestedPath: string }): string;
  /** Stable pseudonym for another person (same input, same output within this request). */
  pseudonym(otherUserId: string): string;
  now(): Date;
  /** Called by the connector after each batch it read or wrote (see BetweenBatchesHook). */
  betweenBatches?(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Erasure: inventory (locate) and erase. Category names and plan entries are the planner's
// (functions/erasure/types.ts): STORE_CATEGORIES lists every category a connector reports.

/** What a connector's inventory and erase receive. */
export interface ErasureContext {
  requestId: string;
  subject: StagedSubject;
  /** The replacement for the subject's id in records that stay (others' messages, shared sessions). */
  tombstone: string;
  now(): Date;
  /**
   * Called by the connector after each batch it read or wrote, before the next: the point where a
   * Lambda can die with part of the work done. A no-op unless a hook is set (fault injection).
   */
  betweenBatches?(): Promise<void>;
}

/**
 * What runs at each `betweenBatches()` of a connector: the local stack's fault injection sets one
 * (setBetweenBatchesHook in connector-handler.ts); in AWS none is set. It may throw, as a Lambda dying
 * there would.
 */
export type BetweenBatchesHook = (point: {
  requestId: string;
  store: StoreName;
  operation: ConnectorOperation;
}) => Promise<void>;

/** Output of inventory: a pointer to the staged per-category counts, and the total. */
export interface InventoryResult {
  store: StoreName;
  phase: 'plan' | 'verify';
  inventory: S3Pointer;
  records: number;
}

/** A record moving to the retention vault: only the fields the rule keeps, with its own expiry. */
export interface VaultRecord {
  store: StoreName;
  category: string;
  /** Stable id within the store (txnId, messageId, ...): writing it twice is harmless. */
  recordId: string;
  /** ISO time the retention period ends; the sweep destroys the record then. */
  until: string;
  /** The legal basis, as cited by the rule (law and provision). */
  basis: string;
  /** The kept fields, nothing else. */
  data: Record<string, unknown>;
}

export interface VaultWriter {
  put(record: VaultRecord): Promise<void>;
}

export interface EraseContext extends ErasureContext {
  /** This store's entries of the plan (one per category). */
  plan: readonly PlanEntryView[];
  vault: VaultWriter;
}

/** The part of a plan entry a connector acts on (see PlanEntry in functions/erasure/types.ts). */
export interface PlanEntryView {
  category: string;
  action: 'delete' | 'anonymise' | 'retain' | 'held' | 'none';
  /** What happens in the live store to what is not held (retained records: after the vault copy). */
  liveAction: 'delete' | 'anonymise';
  /** The subject's records the plan counted in this category. */
  count?: number;
  rule?: { period: string; from: string; keep: readonly string[]; basis: { law: string; provision: string } };
}

/** Per category: what the erase step did. */
export interface CategoryOutcome {
  deleted: number;
  anonymised: number;
  retained: number;
  /** Left in place: held, or under a retention rule that keeps it in place (logs) until its period ends. */
  untouched: number;
}

export interface EraseResult {
  store: StoreName;
  outcome: Record<string, CategoryOutcome>;
}

export interface Connector {
  readonly store: StoreName;
  /** Streams every record of the subject in this store into the context's collections. */
  collect(ctx: CollectContext): Promise<void>;
  /** Counts the subject's records per category (every category of the store, zeros included). */
  inventory?(ctx: ErasureContext): Promise<Record<string, CategoryInventoryView>>;
  /**
   * True when the store's erase step only reports what waits for the batched log-erasure job (logs:
   * lines inside shared objects, rewritten once for every waiting subject), so it needs no vault itself.
   */
  readonly erasedByLogJob?: boolean;
  /** Carries out the plan for this store. Idempotent: a re-run after a partial run completes it. */
  erase?(ctx: EraseContext): Promise<Record<string, CategoryOutcome>>;
  /**
   * Sets the subject's consents (a restriction of use, or its lifting): only the names given, the others
   * as they are. Returns how many accounts changed and the consents before the first change.
   */
  restrict?(ctx: RestrictContext): Promise<RestrictOutcome>;
}

export interface RestrictContext {
  requestId: string;
  subject: StagedSubject;
  consents: Partial<Record<'marketingEmail' | 'personalizedAds', boolean>>;
  now(): Date;
}

export interface RestrictOutcome {
  accounts: number;
  previous?: Partial<Record<'marketingEmail' | 'personalizedAds', boolean>>;
}

/** Output of restrict: the store and a count only (what was before stays in staging). */
export interface RestrictResult {
  store: StoreName;
  accounts: number;
}

/** Counts and record dates of one category (CategoryInventory in functions/erasure/types.ts). */
export interface CategoryInventoryView {
  count: number;
  dates?: Partial<
    Record<
      'transactionDate' | 'sessionDate' | 'recordDate' | 'complaintDate',
      { at: string; count: number }[]
    >
  >;
}
