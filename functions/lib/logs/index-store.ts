/**
 * The subject index of the logs (docs/log-index.md), in resources of the orchestrator's own: files in the
 * log index bucket, and the watermark in the log index table, all under the name of the index's hash
 * (`<v>`: LOG_INDEX_VERSION).
 *
 *   object file  `<v>/objects/<log object key>/<etag>`: that version's subject hashes (index-files.ts), one
 *                PUT per object indexed; the file at the object's current ETag says "indexed"
 *   day file     `<v>/days/<prefix>dt=<day>.idx`: the object files of one closed day merged, hash-slotted, so
 *                a request reads a few KiB of it per day whatever the day's volume; it lists each
 *                object's ETag, so it also says "indexed" for the versions it holds (a rewrite the
 *                log-erasure job carried over in the day file, with no object file of its own)
 *   span file    `<v>/spans/<prefix>through=<day>.idx`: the same, for every day file up to that day, so a
 *                request reads one file for all the closed days, not one per day
 *   watermark    table item pk `w#<v>/<prefix>`, sk `watermark`: after (the last key of the prefix indexed,
 *                every closed day before it merged into its day file)
 *
 * Hashes are LogIndexHasher's (no raw identifier anywhere). A deployment whose hash is new starts an index
 * of its own beside the old one, empty: with no watermark, requests read every log object (slower, never
 * short) until the backfill has built it; the old one is then deleted by its prefix.
 *
 * A day file is only ever derived from the versions the logs bucket lists (each from its object file, else
 * from the day file before it, else from a rewrite carried over from one of those), and checked again
 * after it is written, so a merge racing another's writes is redone rather than left stale.
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
import { dayOfKey, listDayObjectEntries } from './day-objects';
import { LOG_INDEX_VERSION } from './index-hash';
import {
  DAY_FILE_FIRST_READ_BYTES,
  dayFileLayout,
  dayFileObjects,
  decodeDayFile,
  encodeDayFile,
  encodeObjectFile,
  objectFileCount,
  objectFileHas,
  objectFileWithout,
  namesInDayFile,
} from './index-files';

const WATERMARK_SK = 'watermark';
const ROOT = `${LOG_INDEX_VERSION}/`;
const OBJECTS = `${ROOT}objects/`;
const DAYS = `${ROOT}days/`;
const SPANS = `${ROOT}spans/`;
/** Merges of one day tried before leaving it to the next run (each is checked after it is written). */
const MERGE_ATTEMPTS = 3;
/** Day files merged at once (each holds its day's object files in memory while it merges). */
export const DAY_MERGE_CONCURRENCY = 4;
/** Files read at once. */
const READ_CONCURRENCY = 16;
/** Keys one DeleteObjects takes at most. */
const DELETE_BATCH = 1_000;

const watermarkPk = (prefix: string) => `w#${ROOT}${prefix}`;

/** An ETag as S3 gives it, quoted or not, without the quotes (listings and GetObject may differ). */
export function normalEtag(etag: string): string {
  return etag.replace(/"/g, '');
}

export const objectFileKey = (key: string, etag: string) => `${OBJECTS}${key}/${normalEtag(etag)}`;
export const dayFileKey = (prefix: string, day: string) => `${DAYS}${prefix}dt=${day}.idx`;
export const spanFileKey = (prefix: string, through: string) => `${SPANS}${prefix}through=${through}.idx`;
const dayObjectsPrefix = (prefix: string, day: string) => `${prefix}dt=${day}/`;

/** The day file of a `dt=` folder of the logs bucket (`dayObjectsPrefix`'s form), if it is one. */
function dayFileOfFolder(folder: string): string | undefined {
  const match = /^(.*)dt=(\d{4}-\d{2}-\d{2})\/$/.exec(folder);
  return match ? dayFileKey(match[1] ?? '', match[2] ?? '') : undefined;
}

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

/**
 * A rewrite of a log object to carry over in the index (the log-erasure job's): the version it read and
 * the one it wrote (unquoted ETags), and the hashes of the subjects none of whose lines are left in it.
 * The new version's hashes are the old one's without those.
 */
export interface IndexCarry {
  key: string;
  from: string;
  to: string;
  remove: readonly Buffer[];
}

/** One log object of a merge: the version listed, and where its hashes are taken from. */
interface MergeInput {
  key: string;
  etag: string;
  /** An object file to read: the version's own, or the base of a carry. */
  fileKey?: string;
  /** The hashes, taken from the day file before this merge. */
  hashes?: Buffer;
  /** A carry's hashes to leave out of its base. */
  remove?: readonly Buffer[];
}

/** What applyRewrites did: days merged with their rewrites, object files carried, rewrites left. */
export interface CarriedRewrites {
  daysMerged: number;
  objectFiles: number;
  /** Rewrites with no base in the index (nothing named them): the indexer indexes them. */
  left: number;
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

  /**
   * The versions (ETags, unquoted) each of `objects` (day objects, with the ETag listed if known) is
   * indexed at: its object files, and where one's listed ETag has none, the versions its day file holds.
   * Keys never indexed are absent.
   */
  async indexedVersions(
    objects: readonly { key: string; etag?: string }[],
  ): Promise<Map<string, Set<string>>> {
    const folders = new Map<string, { key: string; etag?: string }[]>();
    for (const object of objects) {
      const folder = object.key.slice(0, object.key.lastIndexOf('/') + 1);
      const list = folders.get(folder) ?? [];
      list.push(object);
      folders.set(folder, list);
    }
    const versions = new Map<string, Set<string>>();
    const add = (key: string, etag: string) => {
      const set = versions.get(key) ?? new Set<string>();
      set.add(etag);
      versions.set(key, set);
    };
    await forEachLimited([...folders], READ_CONCURRENCY, async ([folder, wanted]) => {
      const keys = new Set(wanted.map((object) => object.key));
      for (const file of await this.listObjectFiles(`${OBJECTS}${folder}`))
        if (keys.has(file.key)) add(file.key, file.etag);
      const unmatched = wanted.some(
        (o) => o.etag === undefined || !versions.get(o.key)?.has(normalEtag(o.etag)),
      );
      const dayFile = dayFileOfFolder(folder);
      if (!unmatched || dayFile === undefined) return;
      for (const object of await this.dayFileVersions(dayFile))
        if (keys.has(object.key) && object.etag !== undefined) add(object.key, object.etag);
    });
    return versions;
  }

  /** The objects a day file lists, with their versions, from its key list alone; none when it is not there. */
  private async dayFileVersions(fileKey: string): Promise<{ key: string; etag?: string }[]> {
    const start = await this.read(fileKey, { from: 0, to: DAY_FILE_FIRST_READ_BYTES });
    if (!start) return [];
    const layout = dayFileLayout(start);
    const keyList =
      layout.entriesAt <= start.length
        ? start.subarray(layout.keysAt, layout.entriesAt)
        : await this.read(fileKey, { from: layout.keysAt, to: layout.entriesAt });
    return keyList ? dayFileObjects(keyList) : [];
  }

  /**
   * The hashes a day file holds for one version (`<key>/<etag>`, format 02), read whole the first time
   * it is asked (only when an object has no object file at the version wanted), then from memory.
   */
  private dayFileReader(prefix: string, day: string): (version: string) => Promise<Buffer | undefined> {
    let objects: Promise<Map<string, Buffer>> | undefined;
    const load = async () => {
      const file = await this.read(dayFileKey(prefix, day));
      const hashes = new Map<string, Buffer>();
      for (const object of file ? decodeDayFile(file) : [])
        if (object.etag !== undefined) hashes.set(`${object.key}/${object.etag}`, object.file);
      return hashes;
    };
    return async (version) => (await (objects ??= load())).get(version);
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
   * A rewrite carried over as an object file: the new version's is the old one's without the removed
   * hashes (the object need not be read again), the old one's taken from its object file, else from its
   * day file. Returns false when the old version is indexed in neither (the indexer then indexes the new
   * one).
   */
  private async carryObjectFile(
    carry: IndexCarry,
    fromDayFile: (version: string) => Promise<Buffer | undefined>,
  ): Promise<boolean> {
    const base =
      (await this.objectFile(carry.key, carry.from)) ??
      (await fromDayFile(`${carry.key}/${normalEtag(carry.from)}`));
    if (!base) return false;
    await this.putObjectFile(carry.key, carry.to, objectFileWithout(base, carry.remove), carry.from);
    return true;
  }

  /**
   * Carries the log-erasure job's rewrites over in the index of `prefix`, so the indexer need not read a
   * rewritten object again and no file names the subjects for it any more. A closed day before the
   * watermark's day (requests read it through its day file and the span) is merged again with its
   * rewrites, which writes no object file at all: one day file per day, however many objects the job
   * rewrote in it. A rewrite in any other day (requests read object files there), or in a day that cannot
   * be merged whole now, gets the new version's object file. The span file is merged again at the
   * indexer's next run; until then requests read the day files merged after it.
   */
  async applyRewrites(prefix: string, carries: readonly IndexCarry[]): Promise<CarriedRewrites> {
    const [watermark, dayFiles] = await Promise.all([this.watermark(prefix), this.dayFiles(prefix)]);
    const watermarkDay = watermark === undefined ? undefined : dayOfKey(watermark, prefix);
    const byDay = new Map<string, IndexCarry[]>();
    for (const carry of carries) {
      const day = dayOfKey(carry.key, prefix);
      if (day === undefined) continue;
      const list = byDay.get(day) ?? [];
      list.push(carry);
      byDay.set(day, list);
    }
    const done: CarriedRewrites = { daysMerged: 0, objectFiles: 0, left: 0 };
    await forEachLimited([...byDay].sort(), DAY_MERGE_CONCURRENCY, async ([day, rewrites]) => {
      const inDayFile = watermarkDay !== undefined && day < watermarkDay && dayFiles.has(day);
      if (inDayFile && (await this.mergeDay(prefix, day, rewrites)).state !== 'incomplete') {
        done.daysMerged += 1;
        return;
      }
      const fromDayFile = this.dayFileReader(prefix, day);
      await forEachLimited(rewrites, READ_CONCURRENCY, async (carry) => {
        if (await this.carryObjectFile(carry, fromDayFile)) done.objectFiles += 1;
        else done.left += 1;
      });
      if (!inDayFile && dayFiles.has(day) && (await this.mergeDay(prefix, day)).state !== 'incomplete')
        done.daysMerged += 1;
    });
    return done;
  }

  /** The day files of `prefix`, by day, with when each was written (epoch ms). */
  async dayFiles(prefix: string): Promise<Map<string, number>> {
    const days = await this.listFiles(`${DAYS}${prefix}`, (key, modified) => {
      const day = /dt=(\d{4}-\d{2}-\d{2})\.idx$/.exec(key)?.[1];
      return day === undefined ? undefined : ([day, modified] as const);
    });
    return new Map(days);
  }

  /**
   * What a merge of these days takes, one input per log object at its listed ETag: its object file;
   * else a carry to that version (`carries`), from its base's object file or day file entry; else its
   * entry in the day file before this merge. `complete` is false when an object has none of these.
   */
  private async mergeInputs(
    prefix: string,
    days: readonly string[],
    carries: readonly IndexCarry[] = [],
  ): Promise<{ inputs: MergeInput[]; complete: boolean; listed: string }> {
    const carried = new Map(carries.map((carry) => [`${carry.key}/${normalEtag(carry.to)}`, carry]));
    const perDay: { inputs: MergeInput[]; complete: boolean; listed: string[] }[] = [];
    await mapOrderedLimited(
      [...days].sort(),
      READ_CONCURRENCY,
      async (day) => {
        const [objects, files] = await Promise.all([
          this.send(() => listDayObjectEntries(this.s3, this.location.logsBucket, prefix, undefined, day)),
          this.dayObjectFiles(prefix, day),
        ]);
        const byVersion = new Map(files.map((file) => [`${file.key}/${file.etag}`, file]));
        const fromDayFile = this.dayFileReader(prefix, day);
        const inputs: MergeInput[] = [];
        let complete = true;
        for (const object of objects) {
          const etag = normalEtag(object.etag ?? '');
          const input = await this.mergeInput(object.key, etag, byVersion, carried, fromDayFile);
          if (input) inputs.push(input);
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
   * Where a merge takes one listed version from: its object file; else a carry to it, from its base's
   * object file, else from its base's entry in the day file; else the version's own entry in the day file
   * (a carry merged already, by an earlier attempt). Undefined when none has it.
   */
  private async mergeInput(
    key: string,
    etag: string,
    byVersion: ReadonlyMap<string, ObjectFileEntry>,
    carried: ReadonlyMap<string, IndexCarry>,
    fromDayFile: (version: string) => Promise<Buffer | undefined>,
  ): Promise<MergeInput | undefined> {
    const version = `${key}/${etag}`;
    const own = byVersion.get(version);
    if (own) return { key, etag, fileKey: own.fileKey };
    const carry = carried.get(version);
    if (carry) {
      const base = `${key}/${normalEtag(carry.from)}`;
      const baseFile = byVersion.get(base);
      if (baseFile) return { key, etag, fileKey: baseFile.fileKey, remove: carry.remove };
      const hashes = await fromDayFile(base);
      if (hashes) return { key, etag, hashes, remove: carry.remove };
    }
    const hashes = await fromDayFile(version);
    return hashes && { key, etag, hashes };
  }

  /**
   * Merges the object files of one day of `prefix` into its day file, when every object of the day is
   * indexed at its current ETag ('incomplete' otherwise: nothing written). See mergeInto. With `carries`
   * (rewrites of the day's objects), the rewritten versions are merged from their old ones without the
   * removed hashes, and the old versions' object files, which still name those subjects, are removed.
   */
  async mergeDay(prefix: string, day: string, carries: readonly IndexCarry[] = []): Promise<DayMerge> {
    const merge = await this.mergeInto(prefix, [day], dayFileKey(prefix, day), carries);
    if (merge.state !== 'incomplete' && carries.length > 0)
      await this.remove(carries.map((carry) => objectFileKey(carry.key, carry.from)));
    return merge;
  }

  /**
   * Writes the merge of the object files of `days` to `target`. Checked after writing: if the days' object
   * files changed meanwhile, merged again, so the file always ends up matching a listing taken after it;
   * days that keep changing fail the merge (TransientError: the caller's retry merges them again). The
   * check lists the object files only: a log object that changes has no object file at its new version
   * until the indexer writes one, and the indexer merges its day again after writing it.
   */
  private async mergeInto(
    prefix: string,
    days: readonly string[],
    target: string,
    carries: readonly IndexCarry[] = [],
  ): Promise<DayMerge> {
    let { inputs, complete, listed } = await this.mergeInputs(prefix, days, carries);
    for (let attempt = 1; attempt <= MERGE_ATTEMPTS; attempt++) {
      if (!complete) return { state: 'incomplete', objects: inputs.length, entries: 0, bytes: 0 };
      // In key order: the object numbers of the file are the positions in this list.
      const files: { key: string; etag: string; file: Buffer | undefined }[] = [];
      await mapOrderedLimited(
        inputs,
        READ_CONCURRENCY,
        async (input) => {
          const file = input.fileKey === undefined ? input.hashes : await this.read(input.fileKey);
          return {
            key: input.key,
            etag: input.etag,
            file: file && input.remove ? objectFileWithout(file, input.remove) : file,
          };
        },
        async (read) => void files.push(read),
      );
      if (files.some((read) => read.file === undefined)) {
        // Replaced by a newer version since the listing: list again.
        ({ inputs, complete, listed } = await this.mergeInputs(prefix, days, carries));
        continue;
      }
      const read = files as { key: string; etag: string; file: Buffer }[];
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
      ({ inputs, complete, listed } = await this.mergeInputs(prefix, days, carries));
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
   * their objects); removed when no day file is left, or when `daysRemoved` and those days cannot be
   * merged whole. A span that cannot be merged again now (an object rewritten by a log-erasure job not
   * finished yet) stays as it is: requests read the day files merged after it beside it. Returns what was
   * merged, if anything.
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
    if (!written && !options.daysRemoved) return merge;
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
