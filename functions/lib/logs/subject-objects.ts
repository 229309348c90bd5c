/**
 * Which log objects a request reads, through the subject index (docs/log-index.md): the objects the index
 * names for any of the subject's hashes, plus those after the watermark that the index does not hold at
 * their current ETag (new, or changed since). An object after the watermark that is indexed at its ETag
 * is covered by the index like any other. So a request reads the objects holding the subject and the few
 * not yet indexed, however much of everyone else's log the bucket keeps.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { isDayObject, listDayObjectEntries } from './day-objects';
import type { LogIndexHasher } from './index-hash';
import { normalEtag, versionOf, type LogIndexStore } from './index-store';

export interface SubjectLogIds {
  userIds: Iterable<string>;
  deviceIds: Iterable<string>;
}

export class LogIndexReader {
  constructor(
    private readonly store: LogIndexStore,
    private readonly hasher: () => Promise<LogIndexHasher>,
  ) {}

  private async hashesOf(ids: SubjectLogIds): Promise<string[]> {
    const hasher = await this.hasher();
    return [
      ...[...ids.userIds].map((id) => hasher.user(id)),
      ...[...ids.deviceIds].map((id) => hasher.device(id)),
    ];
  }

  /** Keys of the day objects under `prefix` to read for a subject with these ids, in key order. */
  objectsFor(s3: S3Client, bucket: string, prefix: string, ids: SubjectLogIds): Promise<string[]> {
    return this.objectsForAll(s3, bucket, prefix, [ids]);
  }

  /**
   * The union for several subjects (the log-erasure job): every object the index names for any of them,
   * and those not indexed yet, listed once.
   */
  async objectsForAll(
    s3: S3Client,
    bucket: string,
    prefix: string,
    subjects: readonly SubjectLogIds[],
  ): Promise<string[]> {
    const hashes = [...new Set((await Promise.all(subjects.map((ids) => this.hashesOf(ids)))).flat())];
    const [named, unindexed] = await Promise.all([
      Promise.all(hashes.map((hash) => this.store.objectsNaming(hash, prefix))),
      this.unindexedAfterWatermark(s3, bucket, prefix),
    ]);
    const keys = new Set<string>(unindexed);
    for (const list of named) for (const key of list) if (isDayObject(key, prefix)) keys.add(key);
    return [...keys].sort();
  }

  /** The objects after the watermark the index does not hold at the ETag they are listed with. */
  private async unindexedAfterWatermark(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
    const after = await this.store.watermark(prefix);
    const listed = await listDayObjectEntries(s3, bucket, prefix, after);
    const indexed = await this.store.indexedEtags(listed.map((o) => o.key));
    return listed
      .filter((o) => o.etag === undefined || indexed.get(o.key) !== normalEtag(o.etag))
      .map((o) => o.key);
  }

  /**
   * After an erasure rewrote `key` (read at `etag`) and left none of the subject's lines in it: removes
   * the entries naming the subject for it, those written for that version only.
   */
  async forget(key: string, etag: string, ids: SubjectLogIds): Promise<void> {
    await this.store.removeEntries(key, versionOf(etag), await this.hashesOf(ids));
  }
}
