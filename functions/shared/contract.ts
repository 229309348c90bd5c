/**
 * The connector contract: every store (accounts, payments, chat, media, logs) implements `Connector`,
 * and every connector Lambda is the same handler shape (`connectorHandler` in connector-handler.ts).
 * Only pointers, counts and bytes cross the workflow: records and identifiers live in S3 staging,
 * so no personal data reaches Step Functions payloads or execution history. See docs/connectors.md.
 */
import type { StoreName } from '../../config/data-map';

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

export type ConnectorOperation = 'collect';

/** Input of every connector Lambda (the workflow's Map item). */
export interface ConnectorTaskInput {
  requestId: string;
  store: StoreName;
  operation: ConnectorOperation;
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
}

export interface Connector {
  readonly store: StoreName;
  /** Streams every record of the subject in this store into the context's collections. */
  collect(ctx: CollectContext): Promise<void>;
}
