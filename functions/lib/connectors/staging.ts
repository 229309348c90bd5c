/**
 * Staging writer: each collection streams to S3 as newline-delimited JSON through a multipart upload,
 * so a connector's memory stays flat however many records a subject has.
 */
import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Client } from '@aws-sdk/client-s3';
import { pseudonymFor } from '../crypto/pseudonym';
import { sanitizeArchivePath, UniquePaths } from '../export/archive-path';
import { stagingKeys } from '../aws/s3-objects';
import type {
  CollectContext,
  CollectionSpec,
  CollectionWriter,
  StagedCollection,
  StagedMedia,
  StagedSubject,
  StoreIndex,
  StoreName,
} from './contract';
import { ContractError } from '../runtime/errors';

/** Lines are written in batches of about this many characters: one stream write per record is slow. */
const BATCH_CHARS = 64 * 1024;

class NdjsonUpload implements CollectionWriter {
  private readonly stream = new PassThrough();
  private readonly upload: Upload;
  private readonly done: Promise<unknown>;
  private batch = '';
  private readonly seenKeys = new Set<string>();
  records = 0;
  bytes = 0;

  constructor(s3: S3Client, bucket: string, key: string) {
    this.upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: this.stream, ContentType: 'application/x-ndjson' },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    });
    this.done = this.upload.done();
    // Surface upload failures on the next write or on close, not as an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** Top-level keys of the records written, in the order first seen. */
  get keys(): string[] {
    return [...this.seenKeys];
  }

  async write(record: Record<string, unknown>): Promise<void> {
    // As JSON.stringify sees them: a key whose value is undefined is not written, so it is no column.
    for (const key of Object.keys(record)) if (record[key] !== undefined) this.seenKeys.add(key);
    this.batch += `${JSON.stringify(record)}\n`;
    this.records += 1;
    if (this.batch.length >= BATCH_CHARS) await this.flush();
  }

  private async flush(): Promise<void> {
    const chunk = Buffer.from(this.batch, 'utf8');
    this.batch = '';
    this.bytes += chunk.length;
    if (!this.stream.write(chunk)) await Promise.race([once(this.stream, 'drain'), this.done]);
  }

  async close(): Promise<void> {
    if (this.batch !== '') await this.flush();
    this.stream.end();
    await this.done;
  }
}

export class StagingArea {
  private readonly writers = new Map<string, { spec: CollectionSpec; key: string; writer: NdjsonUpload }>();
  private readonly media: StagedMedia[] = [];
  private readonly paths = new UniquePaths();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly store: StoreName,
    private readonly subject: StagedSubject,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  context(): CollectContext {
    return {
      requestId: this.subject.requestId,
      subject: this.subject,
      collection: (spec) => this.collection(spec),
      addMedia: (media) => this.addMedia(media),
      pseudonym: (otherUserId) => pseudonymFor(this.subject.pseudonymSalt, otherUserId),
      now: this.clock,
    };
  }

  private collection(spec: CollectionSpec): CollectionWriter {
    if (!/^[a-z][a-z0-9-]*$/.test(spec.name)) throw new ContractError(`Bad collection name ${spec.name}`);
    const existing = this.writers.get(spec.name);
    if (existing) return existing.writer;
    const key = stagingKeys.collection(this.subject.requestId, this.store, spec.name);
    const writer = new NdjsonUpload(this.s3, this.bucket, key);
    this.writers.set(spec.name, { spec, key, writer });
    return writer;
  }

  private addMedia(media: Omit<StagedMedia, 'archivePath'> & { suggestedPath: string }): string {
    const archivePath = this.paths.claim(sanitizeArchivePath(media.suggestedPath));
    const { suggestedPath: _ignored, ...rest } = media;
    this.media.push({ ...rest, archivePath });
    return archivePath;
  }

  /** Closes every collection (also the ones a connector opened but left empty) and returns the index. */
  async finish(): Promise<StoreIndex> {
    const collections: StagedCollection[] = [];
    for (const { spec, key, writer } of this.writers.values()) {
      await writer.close();
      collections.push({ ...spec, key, records: writer.records, bytes: writer.bytes, keys: writer.keys });
    }
    return { formatVersion: 1, store: this.store, collections, media: this.media };
  }

  /** Stops every upload after a failure, so nothing half-written is left behind as if complete. */
  async abort(): Promise<void> {
    for (const { writer } of this.writers.values()) {
      writer.close().catch(() => undefined);
    }
  }
}
