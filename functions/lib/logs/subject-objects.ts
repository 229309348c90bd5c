/**
 * Which log objects a request reads, through the subject index (docs/log-index.md): for the closed days
 * before the watermark's day, the objects the span file names for any of the subject's hashes (a few
 * ranged reads), and those of the day files it does not cover or that were merged after it; from the
 * watermark's day on, the objects whose object files name them; and the
 * objects after the watermark not indexed at their current ETag (new, or changed since). So a request
 * reads the objects holding the subject and the few not indexed yet, however much of everyone else's log
 * the bucket keeps.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { forEachLimited } from '../runtime/concurrency';
import { dayOfKey, isDayObject, listDayObjectEntries } from './day-objects';
import { hashBytes } from './index-files';
import type { LogIndexHasher } from './index-hash';
import { normalEtag, type CarriedRewrites, type LogIndexStore } from './index-store';

export interface SubjectLogIds {
  userIds: Iterable<string>;
  deviceIds: Iterable<string>;
}

/** A rewrite of a log object: the versions read and written, and the subjects whose lines it removed. */
export interface LogRewrite {
  key: string;
  from: string;
  to: string;
  subjects: readonly SubjectLogIds[];
}

/** Day files read at once. */
const DAY_CONCURRENCY = 16;

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
    const strings = new Set((await Promise.all(subjects.map((ids) => this.hashesOf(ids)))).flat());
    const hashes = [...strings].map(hashBytes);
    const watermark = await this.store.watermark(prefix);
    const watermarkDay = watermark === undefined ? undefined : dayOfKey(watermark, prefix);
    const [dayFiles, span, listedAfter, objectFiles] = await Promise.all([
      watermarkDay === undefined ? new Map<string, number>() : this.store.dayFiles(prefix),
      watermarkDay === undefined ? undefined : this.store.span(prefix),
      listDayObjectEntries(s3, bucket, prefix, watermark),
      this.store.objectFilesUnder(prefix, watermarkDay),
    ]);
    const keys = new Set<string>();
    if (hashes.length > 0) {
      // The span file covers the closed days up to its day, as their day files were when it was written;
      // a day file merged again since (a late object, a rewrite) is read as well, and the days after it.
      const useSpan = span !== undefined && watermarkDay !== undefined && span.through < watermarkDay;
      const named = useSpan ? await this.store.namedInSpan(prefix, span.through, hashes) : undefined;
      for (const key of named ?? []) keys.add(key);
      const covered = (day: string, modified: number) =>
        named !== undefined && span !== undefined && day <= span.through && modified < span.modified;
      const closedDays = [...dayFiles.entries()]
        .filter(
          ([day, modified]) => watermarkDay !== undefined && day < watermarkDay && !covered(day, modified),
        )
        .map(([day]) => day);
      await forEachLimited(closedDays, DAY_CONCURRENCY, async (day) => {
        for (const key of (await this.store.namedInDay(prefix, day, hashes)) ?? []) keys.add(key);
      });
      for (const key of await this.store.namedInObjectFiles(objectFiles, hashes)) keys.add(key);
    }
    const indexed = new Set(objectFiles.map((file) => `${file.key}/${file.etag}`));
    for (const object of listedAfter) {
      if (object.etag === undefined || !indexed.has(`${object.key}/${normalEtag(object.etag)}`))
        keys.add(object.key);
    }
    return [...keys].filter((key) => isDayObject(key, prefix)).sort();
  }

  /**
   * After the log-erasure job rewrote objects under `prefix`, each leaving none of its subjects' lines:
   * the index carries each rewrite over, the new version's entries being the old one's without those
   * subjects' hashes (LogIndexStore.applyRewrites: closed days merged again with them, object files
   * elsewhere), so the indexer need not read the objects again and no file names those subjects for
   * them once the span is merged again.
   */
  async carryRewrites(prefix: string, rewrites: readonly LogRewrite[]): Promise<CarriedRewrites> {
    const carries = await Promise.all(
      rewrites.map(async ({ key, from, to, subjects }) => ({
        key,
        from: normalEtag(from),
        to: normalEtag(to),
        remove: (await Promise.all(subjects.map((ids) => this.hashesOf(ids)))).flat().map(hashBytes),
      })),
    );
    return this.store.applyRewrites(prefix, carries);
  }
}
