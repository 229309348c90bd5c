/**
 * The log indexer (docs/log-index.md): keeps the subject index of the logs bucket current. It indexes
 * objects as they are created (an S3 event through EventBridge), in batches for the backfill (a Step
 * Functions Distributed Map over the bucket listing: statemachines/log-index-backfill.asl.json), and on
 * a schedule it indexes whatever is after the watermark and moves the watermark forward. Every path is
 * idempotent: an object already indexed at its current ETag is skipped, a changed one is indexed again
 * and the entries it no longer needs are removed.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { forEachLimited } from '../lib/runtime/concurrency';
import { dayOfKey, isDayObject, listDayObjectEntries, type DayObject } from '../lib/logs/day-objects';
import type { LogIndexHasher } from '../lib/logs/index-hash';
import { objectFileCount } from '../lib/logs/index-files';
import {
  DAY_MERGE_CONCURRENCY,
  normalEtag,
  type DayMerge,
  type LogIndexStore,
} from '../lib/logs/index-store';
import { gunzipStream } from '../lib/logs/lines';
import { REWRITTEN_FROM_METADATA } from '../lib/logs/rewrite';
import type { LogIdReader } from '../lib/logs/log-ids';
import { collectSubjectIds, type LogKind, type ObjectSubjects } from '../lib/logs/subject-ids';

export interface LogSource {
  prefix: string;
  kind: LogKind;
}

/** Env names of the indexer's settings (infra/constructs/task-functions.ts sets them). */
export const INDEX_LOGS_ENV = {
  openDays: 'LOG_INDEX_OPEN_DAYS',
  concurrency: 'LOG_INDEX_CONCURRENCY',
} as const;

export interface IndexLogsConfig {
  bucket: string;
  sources: readonly LogSource[];
  /** Objects read at once. */
  concurrency: number;
  /**
   * Days (UTC, today included) whose `dt=` partitions may still receive objects: the watermark never
   * passes into them, so a late object there is still found (docs/log-index.md, "Watermark").
   */
  openDays: number;
}

export interface IndexLogsDeps {
  s3: S3Client;
  store: LogIndexStore;
  hasher: () => Promise<LogIndexHasher>;
  config: IndexLogsConfig;
  clock?: () => Date;
}

/** Counts only: what a run did (no key, no id). */
export interface IndexStats {
  /** Objects handed in (or listed). */
  objects: number;
  indexed: number;
  /** Already indexed at their ETag. */
  unchanged: number;
  /**
   * S3 events of a log-erasure job's rewrites of versions indexed: not read, the job carries each over
   * in the index (a rewrite only removes lines, so the old version's entries cover it meanwhile).
   */
  rewrites: number;
  /** Not a day object of a log prefix. */
  ignored: number;
  /** Gone between listing and reading. */
  missing: number;
  /** Bytes read as stored (gzip) and decompressed. */
  bytes: number;
  rawBytes: number;
  lines: number;
  /** Subject hashes written (one per subject and object). */
  entries: number;
  /** Bytes of the object files written. */
  indexBytes: number;
  /** Day files merged (again), and their bytes; span files merged (again). */
  daysMerged: number;
  dayBytes: number;
  spansMerged: number;
  /** Days whose log objects are all gone, their index files removed (a run from the start). */
  daysExpired: number;
  ms: number;
}

export function emptyStats(): IndexStats {
  return {
    objects: 0,
    indexed: 0,
    unchanged: 0,
    rewrites: 0,
    ignored: 0,
    missing: 0,
    bytes: 0,
    rawBytes: 0,
    lines: 0,
    entries: 0,
    indexBytes: 0,
    daysMerged: 0,
    dayBytes: 0,
    spansMerged: 0,
    daysExpired: 0,
    ms: 0,
  };
}

export function addStats(total: IndexStats, more: IndexStats): IndexStats {
  const sum = { ...total };
  for (const key of Object.keys(sum) as (keyof IndexStats)[]) sum[key] += more[key];
  return sum;
}

/** Thrown when a log object cannot be read as gzip: the run fails loudly rather than skip it. */
export class LogObjectUnreadable extends Error {
  override name = 'LogObjectUnreadable';
}

function sourceOf(config: IndexLogsConfig, key: string): LogSource | undefined {
  return config.sources.find((source) => isDayObject(key, source.prefix));
}

/** How objects are handed in. */
interface IndexOptions {
  /**
   * One S3 event's object. A log-erasure job's rewrite of a version the index holds is then left to the
   * job, which carries it over without reading it; a run over a listing indexes it like any (a job that
   * failed before carrying it over never will).
   */
  fromEvent?: boolean;
}

/** Reads one object and writes its object file, unless it is indexed at its ETag already. */
async function indexObject(
  deps: IndexLogsDeps,
  object: DayObject,
  versions: ReadonlySet<string>,
  stats: IndexStats,
  options: IndexOptions,
): Promise<'indexed' | 'skipped'> {
  const { s3, store, config } = deps;
  const source = sourceOf(config, object.key);
  if (!source) {
    stats.ignored += 1;
    return 'skipped';
  }
  let got;
  try {
    got = await s3.send(new GetObjectCommand({ Bucket: config.bucket, Key: object.key }));
  } catch (error) {
    // Expired by the bucket's lifecycle since it was listed: nothing to index.
    if ((error as { name?: string }).name === 'NoSuchKey') {
      stats.missing += 1;
      return 'skipped';
    }
    throw error;
  }
  const body = got.Body;
  if (!(body instanceof Readable) || !got.ETag)
    throw new LogObjectUnreadable('Log object read without a body or ETag');
  if (versions.has(normalEtag(got.ETag))) {
    body.destroy();
    stats.unchanged += 1;
    return 'skipped';
  }
  const rewrittenFrom = got.Metadata?.[REWRITTEN_FROM_METADATA];
  if (options.fromEvent && rewrittenFrom !== undefined && versions.has(normalEtag(rewrittenFrom))) {
    body.destroy();
    stats.rewrites += 1;
    return 'skipped';
  }
  const { file, subjects, stored } = await readObjectFile(body, await deps.hasher(), {
    gzipped: object.key.endsWith('.gz'),
    kind: source.kind,
  });
  // One file per version: written whole, it is what says the object is indexed at this ETag. (Each
  // count is added after its await: other objects' tasks update the same stats meanwhile.)
  const fileBytes = await store.putObjectFile(object.key, got.ETag, file);
  stats.indexBytes += fileBytes;
  stats.indexed += 1;
  stats.entries += objectFileCount(file);
  stats.bytes += stored;
  stats.rawBytes += subjects.bytes;
  stats.lines += subjects.lines;
  return 'indexed';
}

/**
 * The object file of one object (its subjects' hashes), what it read, and its stored bytes. The ids are
 * read with a reader the hasher lends for the object.
 */
export async function readObjectFile(
  body: Readable,
  hasher: LogIndexHasher,
  options: { gzipped: boolean; kind: LogKind },
): Promise<{ file: Buffer; subjects: ObjectSubjects; stored: number }> {
  const reader = hasher.beginObject();
  try {
    const { subjects, stored } = await readObjectSubjects(body, { ...options, reader });
    return { file: hasher.objectFile(subjects), subjects, stored };
  } finally {
    hasher.endObject(reader);
  }
}

/**
 * The subject ids of one object's lines, and its stored bytes, streamed (gunzip in 256 KiB chunks), so
 * memory stays bounded whatever the object's size. (Inflating a whole object in one call was tried: it
 * took more CPU than the stream, docs/log-index.md "Measured".)
 */
async function readObjectSubjects(
  body: Readable,
  options: { gzipped: boolean; kind: LogKind; reader: LogIdReader },
): Promise<{ subjects: ObjectSubjects; stored: number }> {
  let stored = 0;
  const counted = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      stored += chunk.length;
      yield chunk;
    }
  };
  const collect = (s: AsyncIterable<Buffer>) => collectSubjectIds(s, options.kind, options.reader);
  try {
    const subjects = options.gzipped
      ? await pipeline(body, counted, gunzipStream(), collect)
      : await pipeline(body, counted, collect);
    return { subjects, stored };
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('Z_'))
      throw new LogObjectUnreadable('A log object could not be decompressed');
    throw error;
  }
}

/**
 * Merges (again) the closed days of `keys`, so a late object, a new version, or the first object of a
 * day the watermark has passed already reaches the day file requests read (they read a day file merged
 * after the span file beside it, until advanceWatermarks merges the span again). A day not indexed whole
 * yet is left as it is ('incomplete': nothing written); the watermark merges it when it passes.
 */
async function mergeTouchedDays(
  deps: IndexLogsDeps,
  keys: readonly string[],
  stats: IndexStats,
): Promise<void> {
  const openFrom = firstOpenDay(deps.clock?.() ?? new Date(), deps.config.openDays);
  for (const source of deps.config.sources) {
    const days = new Set<string>();
    for (const key of keys) {
      const day = dayOfKey(key, source.prefix);
      if (day !== undefined && day < openFrom) days.add(day);
    }
    await forEachLimited([...days].sort(), DAY_MERGE_CONCURRENCY, async (day) =>
      addMerge(stats, await deps.store.mergeDay(source.prefix, day)),
    );
  }
}

function addMerge(stats: IndexStats, merge: DayMerge | undefined, span = false): void {
  if (merge === undefined || merge.state === 'incomplete') return;
  if (span) {
    stats.spansMerged += 1;
    return;
  }
  stats.daysMerged += 1;
  stats.dayBytes += merge.bytes;
}

/**
 * Indexes `objects` (a batch of a listing, or the object of an S3 event), a few at a time. Objects the
 * listing shows at the ETag the index holds are skipped with one batched read. Returns counts only.
 * `keepGoing` is asked before each object: false leaves the rest for the next run.
 */
export async function indexObjects(
  deps: IndexLogsDeps,
  objects: readonly DayObject[],
  keepGoing: () => boolean = () => true,
  options: IndexOptions = {},
): Promise<IndexStats & { done: Set<string> }> {
  const started = Date.now();
  const stats = emptyStats();
  stats.objects = objects.length;
  const done = new Set<string>();
  // Only day objects of a log prefix are looked up (anything else is ignored when its turn comes).
  const versions = await deps.store.indexedVersions(objects.filter((o) => sourceOf(deps.config, o.key)));
  const todo: DayObject[] = [];
  for (const object of objects) {
    if (object.etag !== undefined && versions.get(object.key)?.has(normalEtag(object.etag))) {
      stats.unchanged += 1;
      done.add(object.key);
    } else todo.push(object);
  }
  const indexed: string[] = [];
  await forEachLimited(todo, deps.config.concurrency, async (object) => {
    if (!keepGoing()) return;
    const known = versions.get(object.key) ?? new Set<string>();
    if ((await indexObject(deps, object, known, stats, options)) === 'indexed') indexed.push(object.key);
    done.add(object.key);
  });
  // A closed day of an object indexed here is merged (again) now, not only when the watermark passes it.
  await mergeTouchedDays(deps, indexed, stats);
  stats.ms = Date.now() - started;
  return { ...stats, done };
}

export interface WatermarkReport {
  prefix: string;
  /** The watermark after the run (undefined: nothing indexed yet up to a closed partition). */
  watermark?: string;
  stats: IndexStats;
}

/** The first day (YYYY-MM-DD) whose partitions are still open at `now`. */
export function firstOpenDay(now: Date, openDays: number): string {
  const first = new Date(now.getTime() - Math.max(0, openDays - 1) * 86_400_000);
  return first.toISOString().slice(0, 10);
}

export interface AdvanceOptions {
  /** Epoch ms: no object is started after it, so the function returns in time; the rest waits. */
  deadline?: number;
  /**
   * List each prefix from its start, not from the watermark: also finds objects that arrived late in a
   * partition the watermark has passed, or changed there, which only an S3 event would otherwise bring.
   */
  fromStart?: boolean;
}

/**
 * For each log prefix: indexes every object after the watermark (or every object, `fromStart`) not
 * indexed at its ETag, then moves the watermark over the leading run of closed days now indexed whole,
 * merging each into its day file first (requests read the day files of the days the watermark passed).
 * From the start, it also merges again any day file older than one of its day's object files.
 */
export async function advanceWatermarks(
  deps: IndexLogsDeps,
  options: AdvanceOptions = {},
): Promise<WatermarkReport[]> {
  const now = deps.clock?.() ?? new Date();
  const openFrom = firstOpenDay(now, deps.config.openDays);
  const { deadline } = options;
  const reports: WatermarkReport[] = [];
  for (const source of deps.config.sources) {
    const { prefix } = source;
    const after = await deps.store.watermark(prefix);
    const listed = await listDayObjectEntries(
      deps.s3,
      deps.config.bucket,
      prefix,
      options.fromStart ? undefined : after,
    );
    const inTime = () => deadline === undefined || Date.now() < deadline;
    const { done, ...stats } = await indexObjects(deps, listed, inTime);
    const merged = await deps.store.dayFiles(prefix);
    const newest = options.fromStart
      ? newestObjectFiles(await deps.store.objectFilesUnder(prefix), prefix)
      : undefined;
    if (newest)
      stats.daysExpired = await removeExpiredDays(
        deps,
        prefix,
        listed,
        [...newest.keys(), ...merged.keys()],
        openFrom,
      );
    let last: string | undefined;
    for (const [day, keys] of byDay(listed, prefix)) {
      if (day >= openFrom || !keys.every((key) => done.has(key)) || !inTime()) break;
      const mergedAt = merged.get(day);
      if (mergedAt === undefined || (newest?.get(day) ?? 0) > mergedAt) {
        const merge = await deps.store.mergeDay(prefix, day);
        addMerge(stats, merge);
        if (merge.state === 'incomplete') break;
      }
      last = keys[keys.length - 1];
    }
    const moved = last !== undefined && (after === undefined || last > after);
    if (moved) await deps.store.advanceWatermark(prefix, last!, now);
    const watermark = moved ? last : after;
    // The span file: every day file before the watermark's day, merged (written again only if older
    // than one of them, or when the watermark moved into another day).
    const watermarkDay = watermark === undefined ? undefined : dayOfKey(watermark, prefix);
    if (watermarkDay !== undefined) {
      const span = await deps.store.refreshSpan(prefix, watermarkDay, { daysRemoved: stats.daysExpired > 0 });
      addMerge(stats, span, true);
    }
    reports.push({ prefix, watermark, stats });
  }
  return reports;
}

/**
 * Removes the index files of the leading closed days that no longer hold any log object (the logs
 * bucket's lifecycle expired them): the index of expired logs would otherwise keep naming their subjects,
 * by keyed hash, for as long as it exists. Only days before the first listed object's day, so an object
 * arriving meanwhile is never taken for a gone one. Returns the days removed.
 */
async function removeExpiredDays(
  deps: IndexLogsDeps,
  prefix: string,
  listed: readonly DayObject[],
  indexedDays: readonly string[],
  openFrom: string,
): Promise<number> {
  const listedDays = listed.map((object) => dayOfKey(object.key, prefix)).filter((day) => day !== undefined);
  const firstListed = listedDays.length === 0 ? undefined : listedDays.reduce((a, b) => (b < a ? b : a));
  let removed = 0;
  for (const day of [...new Set(indexedDays)].sort()) {
    if (day >= openFrom || (firstListed !== undefined && day >= firstListed)) break;
    await deps.store.removeDay(prefix, day);
    removed += 1;
  }
  return removed;
}

/** The listed keys grouped by day, in key order. */
function byDay(listed: readonly DayObject[], prefix: string): Map<string, string[]> {
  const days = new Map<string, string[]>();
  for (const { key } of listed) {
    const day = dayOfKey(key, prefix);
    if (day === undefined) continue;
    const keys = days.get(day) ?? [];
    keys.push(key);
    days.set(day, keys);
  }
  return days;
}

/** When each day's newest object file was written (epoch ms). */
function newestObjectFiles(
  files: readonly { key: string; modified: number }[],
  prefix: string,
): Map<string, number> {
  const newest = new Map<string, number>();
  for (const file of files) {
    const day = dayOfKey(file.key, prefix);
    if (day !== undefined) newest.set(day, Math.max(newest.get(day) ?? 0, file.modified));
  }
  return newest;
}

/** What the backfill state machine reads first: where to list, and where its Distributed Maps write results. */
export interface BackfillPlan {
  bucket: string;
  accessPrefix: string;
  voiceSessionsPrefix: string;
  resultsBucket: string;
  resultsPrefix: string;
}

/** Where Distributed Map results of the backfill go in the staging bucket (its lifecycle expires them). */
export const BACKFILL_RESULTS_PREFIX = 'log-index-backfill/';

/** The events the indexer is invoked with. */
export type IndexLogsEvent =
  /** A batch of the backfill's Distributed Map: S3 listing entries (ItemReader listObjectsV2). */
  | { Items: { Key?: string; Etag?: string; ETag?: string; Size?: number }[]; BatchInput?: unknown }
  /** S3 "Object Created" through EventBridge. */
  | {
      source: 'aws.s3';
      'detail-type'?: string;
      detail?: { bucket?: { name?: string }; object?: { key?: string; etag?: string; size?: number } };
    }
  /** The backfill's first and last steps. */
  | { action: 'describeBackfill' }
  | { action: 'advanceWatermarks'; fromStart?: boolean }
  /** The schedule (EventBridge Scheduled Event): same as advanceWatermarks. */
  | { source: 'aws.events'; 'detail-type'?: string };

export type IndexLogsResult = IndexStats | BackfillPlan | { prefixes: WatermarkReport[] };

function withoutDone({ done: _done, ...stats }: IndexStats & { done: Set<string> }): IndexStats {
  return stats;
}

/** Routes one invocation. `remainingMs` is the time the function has left. */
export async function handleIndexLogsEvent(
  deps: IndexLogsDeps,
  event: IndexLogsEvent,
  options: { remainingMs: () => number; stagingBucket: string },
): Promise<IndexLogsResult> {
  if ('Items' in event) {
    const objects = event.Items.flatMap((item): DayObject[] =>
      typeof item.Key === 'string' ? [{ key: item.Key, etag: item.Etag ?? item.ETag, size: item.Size }] : [],
    );
    return withoutDone(await indexObjects(deps, objects));
  }
  if ('action' in event && event.action === 'describeBackfill') {
    const prefixOf = (kind: LogKind) => deps.config.sources.find((s) => s.kind === kind)?.prefix ?? '';
    return {
      bucket: deps.config.bucket,
      accessPrefix: prefixOf('access'),
      voiceSessionsPrefix: prefixOf('voice-sessions'),
      resultsBucket: options.stagingBucket,
      resultsPrefix: BACKFILL_RESULTS_PREFIX,
    };
  }
  if ('source' in event && event.source === 'aws.s3') {
    const object = event.detail?.object;
    // Another bucket's event (a misrouted rule) is not ours to index.
    if (event.detail?.bucket?.name !== deps.config.bucket || typeof object?.key !== 'string')
      return { ...emptyStats(), ignored: 1 };
    const created = { key: object.key, etag: object.etag, size: object.size };
    return withoutDone(await indexObjects(deps, [created], () => true, { fromEvent: true }));
  }
  // advanceWatermarks, or the schedule: stop starting objects a minute before the function's time is up.
  const deadline = Date.now() + Math.max(0, options.remainingMs() - 60_000);
  const fromStart = 'action' in event && event.action === 'advanceWatermarks' && event.fromStart === true;
  return { prefixes: await advanceWatermarks(deps, { deadline, fromStart }) };
}
