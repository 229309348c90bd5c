/**
 * The subject index of the logs (docs/log-index.md), in resources of the orchestrator's own: files in the
 * log index bucket, and the watermark in the log index table.
 *
 *   object file  `objects/<log object key>/<etag>`: that version's subject hashes (index-files.ts), one
 *                PUT per object indexed; the file at the object's current ETag says "indexed"
 *   day file     `days/<prefix>dt=<day>.idx`: the object files of one closed day merged, hash-slotted, so
 *                a request reads a few KiB of it per day whatever the day's volume
 *   span file    `spans/<prefix>through=<day>.idx`: the same, for every day file up to that day, so a
 *                request reads one file for all the closed days, not one per day
 *   watermark    table item pk `w#<prefix>`, sk `watermark`: after (the last key of the prefix indexed,
 *                every closed day before it merged into its day file)
 *
 * Hashes are LogIndexHasher's (no raw identifier anywhere). A day file is only ever derived from the
 * object files at the ETags the logs bucket lists, and checked again after it is written, so a merge
 * racing another's writes is redone rather than left stale.
 */
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isNoSuchObject, listPages } from '../aws/s3-objects';
import { forEachLimited, mapOrderedLimited } from '../runtime/concurrency';
import { classifyAwsError, TransientError } from '../runtime/errors';
import { listDayObjectEntries } from './day-objects';
import {
  encodeDayFile,
  encodeObjectFile,
  hashBytes,
  objectFileCount,
  objectFileHas,
  objectFileWithout,
  namesInDayFile,
} from './index-files';

const WATERMARK_SK = 'watermark';
const OBJECTS = 'objects/';
const DAYS = 'days/';
const SPANS = 'spans/';
/** Merges of one day tried before leaving it to the next run (each is checked after it is written). */
const MERGE_ATTEMPTS = 3;
/** Day files merged at once (each holds its day's object files in memory while it merges). */
export const DAY_MERGE_CONCURRENCY = 4;
/** Files read at once. */
const READ_CONCURRENCY = 16;
/** Keys one DeleteObjects takes at most. */
const DELETE_BATCH = 1_000;

const watermarkPk = (prefix: string) => `w#${prefix}`;

/** An ETag as S3 gives it, quoted or not, without the quotes (listings and GetObject may differ). */
export function normalEtag(etag: string): string {
  return etag.replace(/"/g, '');
}

export const objectFileKey = (key: string, etag: string) => `${OBJECTS}${key}/${normalEtag(etag)}`;
export const dayFileKey = (prefix: string, day: string) => `${DAYS}${prefix}dt=${day}.idx`;
export const spanFileKey = (prefix: string, through: string) => `${SPANS}${prefix}through=${through}.idx`;
const dayObjectsPrefix = (prefix: string, day: string) => `${prefix}dt=${day}/`;

/** A listed object file: which log object version it indexes. */
export interface ObjectFileEntry {
  key: string;
  etag: string;
  fileKey: string;
  modified: number;
}

function parseObjectFileKey(fileKey: string): { key: string; etag: string } | undefined {
  const slash = fileKey.lastIndexOf('/');
  if (!fileKey.startsWith(OBJECTS) || slash <= OBJECTS.length) return undefined;
  return { key: fileKey.slice(OBJECTS.length, slash), etag: fileKey.slice(slash + 1) };
}

/** A day file not there (never merged, or gone since it was listed). */
class DayFileMissing extends Error {
  override name = 'DayFileMissing';
}

/** What a merge of one day did. */
export interface DayMerge {
  state: 'merged' | 'incomplete' | 'empty';
  objects: number;
  entries: number;
  bytes: number;
}

export interface LogIndexLocation {
  /** The log index bucket (object, day and span files). */
  bucket: string;
  /** The log index table (watermarks). */
  table: string;
  /** The platform's logs bucket (listed, to merge a day at the objects' current ETags). */
  logsBucket: string;
}

export class LogIndexStore {
  constructor(
    private readonly s3: S3Client,
    private readonly doc: DynamoDBDocumentClient,
    readonly location: LogIndexLocation,
  ) {}

  private async send<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classifyAwsError(error);
    }
  }

  /** The index files under `prefix` that `parse` recognises by key, given when each was written. */
  private async listFiles<T>(
    prefix: string,
    parse: (key: string, modified: number) => T | undefined,
    startAfter?: string,
  ): Promise<T[]> {
    const files: T[] = [];
    const listed = listPages(this.s3, this.location.bucket, prefix, startAfter);
    await this.send(async () => {
      for await (const page of listed) {
        for (const entry of page) {
          const file = parse(entry.Key, entry.LastModified?.getTime() ?? 0);
          if (file !== undefined) files.push(file);
        }
      }
    });
    return files;
  }

  private listObjectFiles(prefix: string, startAfter?: string): Promise<ObjectFileEntry[]> {
    return this.listFiles(
      prefix,
      (fileKey, modified) => {
        const parsed = parseObjectFileKey(fileKey);
        return parsed && { ...parsed, fileKey, modified };
      },
      startAfter,
    );
  }

  private async write(key: string, body: Buffer): Promise<void> {
    await this.send(() =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: this.location.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/octet-stream',
        }),
      ),
    );
  }

  private async remove(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    // One key: a DELETE (free), not a multi-object delete (a POST).
    const [only] = keys;
    if (keys.length === 1 && only !== undefined) {
      await this.send(() =>
        this.s3.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: only })),
      );
      return;
    }
    for (let from = 0; from < keys.length; from += DELETE_BATCH) {
      const batch = keys.slice(from, from + DELETE_BATCH);
      await this.send(() =>
        this.s3.send(
          new DeleteObjectsCommand({
            Bucket: this.location.bucket,
            Delete: { Objects: batch.map((key) => ({ Key: key })), Quiet: true },
          }),
        ),
      );
    }
  }

  /**
   * Removes a day's index files, its object files and its day file: every log object of the day is gone
   * (the logs bucket's lifecycle expired it), and the index keeps no trace of whom it named. Returns the
   * object files removed.
   */
  async removeDay(prefix: string, day: string): Promise<number> {
    const files = await this.dayObjectFiles(prefix, day);
    await this.remove([...files.map((file) => file.fileKey), dayFileKey(prefix, day)]);
    return files.length;
  }

  /** The object files of one day of `prefix`, in key order. */
  private dayObjectFiles(prefix: string, day: string): Promise<ObjectFileEntry[]> {
    return this.listObjectFiles(`${OBJECTS}${dayObjectsPrefix(prefix, day)}`);
  }

  /** The object files of the log objects under `logPrefix` (a `dt=` folder, a prefix), in key order. */
  objectFilesUnder(logPrefix: string, fromDay?: string): Promise<ObjectFileEntry[]> {
    const prefix = `${OBJECTS}${logPrefix}`;
    return this.listObjectFiles(prefix, fromDay === undefined ? undefined : `${prefix}dt=${fromDay}`);
  }

  /** The versions (ETags, unquoted) each of `keys` is indexed at; keys never indexed are absent. */
  async indexedVersions(keys: readonly string[]): Promise<Map<string, Set<string>>> {
    const folders = new Set(keys.map((key) => key.slice(0, key.lastIndexOf('/') + 1)));
    const wanted = new Set(keys);
    const versions = new Map<string, Set<string>>();
    await forEachLimited([...folders], READ_CONCURRENCY, async (folder) => {
      for (const file of await this.listObjectFiles(`${OBJECTS}${folder}`)) {
        if (!wanted.has(file.key)) continue;
        const set = versions.get(file.key) ?? new Set<string>();
        set.add(file.etag);
        versions.set(file.key, set);
      }
    });
    return versions;
  }

  /**
   * Writes the object file of `key` at `etag`, then removes the files of its other versions: `replaced`
   * when the caller knows the one version it replaces (a rewrite: no listing), else all it lists. Returns
   * the file's bytes.
   */
  async putObjectFile(
    key: string,
    etag: string,
    hashes: readonly string[] | Buffer,
    replaced?: string,
  ): Promise<number> {
    const body = Buffer.isBuffer(hashes) ? hashes : encodeObjectFile(hashes);
    const keep = objectFileKey(key, etag);
    await this.write(keep, body);
    const others =
      replaced !== undefined
        ? [objectFileKey(key, replaced)]
        : (await this.listObjectFiles(`${OBJECTS}${key}/`))
            .filter((file) => file.key === key)
            .map((file) => file.fileKey);
    await this.remove(others.filter((fileKey) => fileKey !== keep));
    return body.length;
  }

  /** The object file of `key` at `etag`, or undefined when that version was never indexed. */
  async objectFile(key: string, etag: string): Promise<Buffer | undefined> {
    return this.read(objectFileKey(key, etag));
  }

  private async read(fileKey: string, range?: { from: number; to: number }): Promise<Buffer | undefined> {
    try {
      const out = await this.s3.send(
        new GetObjectCommand({
          Bucket: this.location.bucket,
          Key: fileKey,
          ...(range ? { Range: `bytes=${range.from}-${range.to - 1}` } : {}),
        }),
      );
      return out.Body ? Buffer.from(await out.Body.transformToByteArray()) : Buffer.alloc(0);
    } catch (error) {
      if (isNoSuchObject(error)) return undefined;
      throw classifyAwsError(error);
    }
  }

  /**
   * After a rewrite of `key` from `readEtag` to `writtenEtag` that left none of `hashes` in it: the
   * object file of the new version is the old one without them (the object need not be read again).
   * Returns false when the old version was never indexed (the indexer then indexes the new one).
   */
  async carryObjectFile(
    key: string,
    readEtag: string,
    writtenEtag: string,
    hashes: readonly string[],
  ): Promise<boolean> {
    const file = await this.objectFile(key, readEtag);
    if (!file) return false;
    await this.putObjectFile(key, writtenEtag, objectFileWithout(file, hashes.map(hashBytes)), readEtag);
    return true;
  }

  /** The day files of `prefix`, by day, with when each was written (epoch ms). */
  async dayFiles(prefix: string): Promise<Map<string, number>> {
    const days = await this.listFiles(`${DAYS}${prefix}`, (key, modified) => {
      const day = /dt=(\d{4}-\d{2}-\d{2})\.idx$/.exec(key)?.[1];
      return day === undefined ? undefined : ([day, modified] as const);
    });
    return new Map(days);
  }

  /** The object files a merge of these days would take: one per log object, at its listed ETag. */
  private async mergeInputs(
    prefix: string,
    days: readonly string[],
  ): Promise<{ inputs: ObjectFileEntry[]; complete: boolean; listed: string }> {
    const perDay: { inputs: ObjectFileEntry[]; complete: boolean; listed: string[] }[] = [];
    await mapOrderedLimited(
      [...days].sort(),
      READ_CONCURRENCY,
      async (day) => {
        const [objects, files] = await Promise.all([
          this.send(() => listDayObjectEntries(this.s3, this.location.logsBucket, prefix, undefined, day)),
          this.dayObjectFiles(prefix, day),
        ]);
        const byVersion = new Map(files.map((file) => [`${file.key}/${file.etag}`, file]));
        const inputs: ObjectFileEntry[] = [];
        let complete = true;
        for (const object of objects) {
          const file = byVersion.get(`${object.key}/${normalEtag(object.etag ?? '')}`);
          if (file) inputs.push(file);
          else complete = false;
        }
        return { inputs, complete, listed: files.map((file) => file.fileKey) };
      },
      async (day) => void perDay.push(day),
    );
    return {
      inputs: perDay.flatMap((day) => day.inputs),
      complete: perDay.every((day) => day.complete),
      listed: perDay.flatMap((day) => day.listed).join('\n'),
    };
  }

  /** Every object file of these days, as mergeInputs lists them (`listed`). */
  private async listedObjectFiles(prefix: string, days: readonly string[]): Promise<string> {
    const perDay: string[][] = [];
    await mapOrderedLimited(
      [...days].sort(),
      READ_CONCURRENCY,
      async (day) => (await this.dayObjectFiles(prefix, day)).map((f) => f.fileKey),
      async (files) => void perDay.push(files),
    );
    return perDay.flat().join('\n');
  }

  /**
   * Merges the object files of one day of `prefix` into its day file, when every object of the day is
   * indexed at its current ETag ('incomplete' otherwise: nothing written). See mergeInto.
   */
  mergeDay(prefix: string, day: string): Promise<DayMerge> {
    return this.mergeInto(prefix, [day], dayFileKey(prefix, day));
  }

  /**
   * Writes the merge of the object files of `days` to `target`. Checked after writing: if the days' object
   * files changed meanwhile, merged again, so the file always ends up matching a listing taken after it;
   * days that keep changing fail the merge (TransientError: the caller's retry merges them again). The
   * check lists the object files only: a log object that changes has no object file at its new version
   * until the indexer writes one, and the indexer merges its day again after writing it.
   */
  private async mergeInto(prefix: string, days: readonly string[], target: string): Promise<DayMerge> {
    let { inputs, complete, listed } = await this.mergeInputs(prefix, days);
    for (let attempt = 1; attempt <= MERGE_ATTEMPTS; attempt++) {
      if (!complete) return { state: 'incomplete', objects: inputs.length, entries: 0, bytes: 0 };
      // In key order: the object numbers of the file are the positions in this list.
      const files: { key: string; file: Buffer | undefined }[] = [];
      await mapOrderedLimited(
        inputs,
        READ_CONCURRENCY,
        async (input) => ({ key: input.key, file: await this.read(input.fileKey) }),
        async (read) => void files.push(read),
      );
      if (files.some((read) => read.file === undefined)) {
        // Replaced by a newer version since the listing: list again.
        ({ inputs, complete, listed } = await this.mergeInputs(prefix, days));
        continue;
      }
      const read = files as { key: string; file: Buffer }[];
      const body = encodeDayFile(read);
      await this.write(target, body);
      if ((await this.listedObjectFiles(prefix, days)) === listed) {
        return {
          state: inputs.length === 0 ? 'empty' : 'merged',
          objects: inputs.length,
          entries: read.reduce((n, f) => n + objectFileCount(f.file), 0),
          bytes: body.length,
        };
      }
      ({ inputs, complete, listed } = await this.mergeInputs(prefix, days));
    }
    throw new TransientError('A log index day kept changing while it was merged');
  }

  /** The span files of `prefix` (normally one): the last day each covers, when it was written, its key. */
  private async spanFiles(prefix: string): Promise<{ through: string; modified: number; key: string }[]> {
    const spans = await this.listFiles(`${SPANS}${prefix}`, (key, modified) => {
      const through = /through=(\d{4}-\d{2}-\d{2})\.idx$/.exec(key)?.[1];
      return through === undefined ? undefined : { through, modified, key };
    });
    return spans.sort((a, b) => (a.through < b.through ? -1 : a.through > b.through ? 1 : 0));
  }

  /** The span file of `prefix`: the last day it covers (every day file up to it), when it was written. */
  async span(prefix: string): Promise<{ through: string; modified: number } | undefined> {
    return (await this.spanFiles(prefix)).pop();
  }

  /**
   * Keeps the span file of `prefix` the merge of every day file before `beforeDay` (the watermark's day):
   * written again when it is older than one of them, covers another day, or `daysRemoved` (it still names
   * their objects), removed when those days cannot be merged whole (requests then read the day files), or
   * when no day file is left. Returns what was merged, if anything.
   */
  async refreshSpan(
    prefix: string,
    beforeDay: string,
    options: { daysRemoved?: boolean } = {},
  ): Promise<DayMerge | undefined> {
    const [spans, dayFiles] = await Promise.all([this.spanFiles(prefix), this.dayFiles(prefix)]);
    const days = [...dayFiles.keys()].filter((day) => day < beforeDay).sort();
    const last = days[days.length - 1];
    if (last === undefined) {
      await this.remove(spans.map((span) => span.key));
      return undefined;
    }
    const current = spans[spans.length - 1];
    const newest = Math.max(0, ...days.map((day) => dayFiles.get(day) ?? 0));
    const upToDate = current?.through === last && spans.length === 1 && current.modified > newest;
    if (upToDate && !options.daysRemoved) return undefined;
    const target = spanFileKey(prefix, last);
    const merge = await this.mergeInto(prefix, days, target);
    const written = merge.state !== 'incomplete';
    await this.remove(spans.filter((span) => !(written && span.key === target)).map((span) => span.key));
    return merge;
  }

  /** The keys the span file of `prefix` names for any of `hashes`; undefined when it is gone. */
  namedInSpan(prefix: string, through: string, hashes: readonly Buffer[]): Promise<string[] | undefined> {
    return this.namedIn(spanFileKey(prefix, through), hashes);
  }

  /**
   * The keys the day file of `prefix`'s `day` names for any of `hashes` (a few small ranged reads,
   * index-files.ts namesInDayFile); undefined when the day has no day file.
   */
  namedInDay(prefix: string, day: string, hashes: readonly Buffer[]): Promise<string[] | undefined> {
    return this.namedIn(dayFileKey(prefix, day), hashes);
  }

  private async namedIn(fileKey: string, hashes: readonly Buffer[]): Promise<string[] | undefined> {
    try {
      return await namesInDayFile(async (from, to) => {
        const bytes = await this.read(fileKey, { from, to });
        if (!bytes) throw new DayFileMissing();
        return bytes;
      }, hashes);
    } catch (error) {
      if (error instanceof DayFileMissing) return undefined;
      throw error;
    }
  }

  /** The keys among `files` (object files) that name any of `hashes`. */
  async namedInObjectFiles(files: readonly ObjectFileEntry[], hashes: readonly Buffer[]): Promise<string[]> {
    const names = new Set<string>();
    await forEachLimited(files, READ_CONCURRENCY, async (entry) => {
      const file = await this.read(entry.fileKey);
      if (file && hashes.some((hash) => objectFileHas(file, hash))) names.add(entry.key);
    });
    return [...names];
  }

  /** The last key of `prefix` up to which every object is indexed, if any. */
  async watermark(prefix: string): Promise<string | undefined> {
    const out = await this.send(() =>
      this.doc.send(
        new GetCommand({
          TableName: this.location.table,
          Key: { pk: watermarkPk(prefix), sk: WATERMARK_SK },
          ConsistentRead: true,
        }),
      ),
    );
    return typeof out.Item?.after === 'string' ? out.Item.after : undefined;
  }

  /** Moves the watermark of `prefix` forward to `after` (never back: a slower run cannot undo a faster). */
  async advanceWatermark(prefix: string, after: string, at: Date): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.location.table,
          Item: { pk: watermarkPk(prefix), sk: WATERMARK_SK, after, advancedAt: at.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk) OR #after < :after',
          ExpressionAttributeNames: { '#after': 'after' },
          ExpressionAttributeValues: { ':after': after },
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException')
        throw classifyAwsError(error);
    }
  }
}
