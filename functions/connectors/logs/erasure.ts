/**
 * Logs connector, erasure side. The subject's lines sit among everyone else's in shared day objects, so
 * erasing means rewriting those objects: each is streamed (GetObject -> gunzip -> line filter -> gzip ->
 * multipart-capable upload), never held in memory, a few objects at a time.
 *
 * Which lines are the subject's is what collect exports (subject-lines.ts), so what is exported, counted
 * and erased is one set:
 * - `access-log`: lines with one of the subject's user ids, and signed-out lines (no user id) from one of
 *   their devices. Another signed-in user's line from a shared device is theirs and stays. A signed-out
 *   line from a shared device cannot be told apart; it is exported as the subject's, so it is erased too.
 *   Anchor `recordDate` = the line's `ts`. Erasing drops the whole line (counted `deleted`).
 * - `voice-sessions`: sessions where a participant entry has one of the subject's user ids. Anchor
 *   `sessionDate` = `startedAt`. Erasing removes only the subject's participant entries; the session and
 *   the other participants' entries stay (counted `anonymised`).
 * A line without a usable date is dated by the end of its `dt=` day.
 *
 * The objects read are those collect reads (objects.ts: the ones the subject index names for the subject,
 * and the ones not indexed yet). A rewrite that leaves none of the subject's lines in an object removes
 * the subject's index entries for it.
 *
 * Retention: logs retain in place. A line whose period (plan rule, from its own anchor) still runs is not
 * touched now and is counted `untouched`; it is erased by a later run once its period has ended (then
 * inventory stops counting it). Held categories are not touched at all. Nothing goes to the vault.
 *
 * Writes are conditional: the object is read with its ETag and written with `If-Match`, so a line a log
 * shipper appends between read and write is never lost: on 412/409 the object is read again and the
 * rewrite retried. Other users' lines are copied byte-for-byte (never parsed and re-serialised), in order;
 * only a voice session that loses the subject's entry is re-serialised. Objects with nothing to erase are
 * not written. The logs bucket is not versioned (data map); if it ever were, the old versions would still
 * hold the erased lines and would have to be deleted too.
 */
import { Readable, PassThrough, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type {
  CategoryInventoryView,
  CategoryOutcome,
  EraseContext,
  ErasureContext,
  PlanEntryView,
} from '../../lib/connectors/contract';
import { ConnectorError } from '../../lib/runtime/errors';
import { zeroOutcome } from '../../lib/erasure/erasure-plan';
import { log } from '../../lib/runtime/logger';
import { retentionUntil } from '../../lib/erasure/policy';
import { forEachLimited } from '../../lib/runtime/concurrency';
import type { LogsConfig } from './config';
import {
  filterLines,
  gunzipStream,
  gzipStream,
  type LineStats,
  type LineVerdict,
} from '../../lib/logs/lines';
import { dayOfKey } from '../../lib/logs/day-objects';
import type { LogIndexReader, SubjectLogIds } from '../../lib/logs/subject-objects';
import { objectsToRead } from './objects';
import {
  accessLineMatch,
  isRecord,
  isSubjectParticipant,
  needlesFor,
  type Line,
  type SubjectIds,
} from './subject-lines';

type LogCategory = 'access-log' | 'voice-sessions';

interface CategorySource {
  category: LogCategory;
  prefix: string;
  anchor: 'recordDate' | 'sessionDate';
  /** The line field the anchor is read from. */
  field: 'ts' | 'startedAt';
  needles: Buffer[] | null;
  /** The subject's ids its lines are found by (and its index entries named by). */
  ids: SubjectLogIds;
  isSubjects(line: Line): boolean;
}

interface ObjectJob {
  key: string;
  source: CategorySource;
}

interface ScanStats extends LineStats {
  malformed: number;
  missing: number;
  rewritten: number;
  retries: number;
}

const DEFAULT_ATTEMPTS = 5;
/** Thrown inside the filter to stop a rewrite before anything is written. */
class NothingToErase extends Error {
  override name = 'NothingToErase';
}
class ObjectChanged extends Error {
  override name = 'ObjectChanged';
}

function subjectIds(ctx: ErasureContext): SubjectIds {
  return {
    userIds: new Set(ctx.subject.identifiers.userIds),
    deviceIds: new Set(ctx.subject.identifiers.deviceIds),
  };
}

function sourcesFor(config: LogsConfig, ids: SubjectIds): CategorySource[] {
  const buffers = (needles: string[] | null) => needles?.map((n) => Buffer.from(n, 'utf8')) ?? null;
  const sources: CategorySource[] = [];
  if (ids.userIds.size > 0 || ids.deviceIds.size > 0) {
    sources.push({
      category: 'access-log',
      prefix: config.accessPrefix,
      anchor: 'recordDate',
      field: 'ts',
      needles: buffers(needlesFor([...ids.userIds, ...ids.deviceIds])),
      ids,
      isSubjects: (line) => accessLineMatch(line, ids) !== undefined,
    });
  }
  if (ids.userIds.size > 0) {
    sources.push({
      category: 'voice-sessions',
      prefix: config.voiceSessionsPrefix,
      anchor: 'sessionDate',
      field: 'startedAt',
      needles: buffers(needlesFor(ids.userIds)),
      ids: { userIds: ids.userIds, deviceIds: [] },
      isSubjects: (line) =>
        Array.isArray(line.participants) && line.participants.some((p) => isSubjectParticipant(p, ids)),
    });
  }
  return sources;
}

async function jobsFor(
  s3: S3Client,
  config: LogsConfig,
  index: LogIndexReader | undefined,
  sources: CategorySource[],
): Promise<ObjectJob[]> {
  const jobs: ObjectJob[] = [];
  for (const source of sources) {
    for (const key of await objectsToRead(s3, config, index, source.prefix, source.ids))
      jobs.push({ key, source });
  }
  return jobs;
}

/** The anchor instant of a subject's line: its own date, else the end of its `dt=` day, else `fallback`. */
function anchorOf(line: Line, job: ObjectJob, fallback: number): number {
  const own = line[job.source.field];
  const at = typeof own === 'string' ? Date.parse(own) : NaN;
  if (!Number.isNaN(at)) return at;
  const day = dayOfKey(job.key, job.source.prefix);
  const endOfDay = day ? Date.parse(`${day}T23:59:59.999Z`) : NaN;
  return Number.isNaN(endOfDay) ? fallback : endOfDay;
}

/** The subject's line as parsed, or undefined when it is not theirs (or not a JSON object). */
function subjectLine(bytes: Buffer, job: ObjectJob, stats: ScanStats): Line | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    // Not parseable, so not attributable: left as it is (collect and inventory skip it alike).
    if (bytes.toString('utf8').trim() !== '') stats.malformed += 1;
    return undefined;
  }
  return isRecord(parsed) && job.source.isSubjects(parsed) ? parsed : undefined;
}

function isCode(error: unknown, name: string): boolean {
  return (error as { name?: unknown } | undefined)?.name === name;
}

function isPreconditionFailure(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return (
    isCode(error, 'PreconditionFailed') ||
    isCode(error, 'ConditionalRequestConflict') ||
    status === 412 ||
    status === 409
  );
}

function isZlibError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** GetObject, or undefined when the object is gone (expired by the bucket's lifecycle since listing). */
async function getObject(s3: S3Client, bucket: string, key: string) {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!(out.Body instanceof Readable)) throw new ConnectorError('logs', 'Log object body is not a stream');
    return { ...out, Body: out.Body };
  } catch (error) {
    if (isCode(error, 'NoSuchKey')) return undefined;
    throw error;
  }
}

/** Reads one object through `filterLines`, discarding the output (counting only). */
async function scanObject(
  s3: S3Client,
  config: LogsConfig,
  job: ObjectJob,
  judge: (line: Buffer) => LineVerdict,
  stats: ScanStats,
): Promise<void> {
  const got = await getObject(s3, config.bucket, job.key);
  if (!got) {
    stats.missing += 1;
    return;
  }
  const filter = async (source: AsyncIterable<Buffer>) => {
    for await (const bytes of filterLines(source, { needles: job.source.needles, judge, stats })) void bytes;
  };
  try {
    if (job.key.endsWith('.gz')) await pipeline(got.Body, gunzipStream(), filter);
    else await pipeline(got.Body, filter);
  } catch (error) {
    if (isZlibError(error)) throw new ConnectorError('logs', 'A log object could not be decompressed');
    throw error;
  }
}

interface Tally {
  count: number;
  /** UTC day -> latest anchor instant and count. */
  days: Map<string, { at: number; count: number }>;
}

/** Counts the subject's records per category, with their anchor dates grouped per UTC day. */
export async function inventoryLogs(
  s3: S3Client,
  config: LogsConfig,
  ctx: ErasureContext,
  index?: LogIndexReader,
): Promise<Record<string, CategoryInventoryView>> {
  const sources = sourcesFor(config, subjectIds(ctx));
  const jobs = await jobsFor(s3, config, index, sources);
  const fallback = ctx.now().getTime();
  const tallies = new Map<LogCategory, Tally>(
    sources.map((s) => [s.category, { count: 0, days: new Map() }]),
  );
  const stats: ScanStats = { oversized: 0, malformed: 0, missing: 0, rewritten: 0, retries: 0 };

  await forEachLimited(jobs, config.concurrency ?? 4, async (job) => {
    const tally = tallies.get(job.source.category);
    if (!tally) return;
    await scanObject(
      s3,
      config,
      job,
      (bytes) => {
        const line = subjectLine(bytes, job, stats);
        if (!line) return 'keep';
        const at = anchorOf(line, job, fallback);
        const day = new Date(at).toISOString().slice(0, 10);
        const group = tally.days.get(day);
        if (group) {
          group.count += 1;
          group.at = Math.max(group.at, at);
        } else tally.days.set(day, { at, count: 1 });
        tally.count += 1;
        return 'keep';
      },
      stats,
    );
  });
  if (stats.malformed + stats.oversized + stats.missing > 0) {
    log.warn('logs inventory: lines or objects skipped', { objects: jobs.length, ...stats });
  }

  const inventory: Record<string, CategoryInventoryView> = {};
  for (const source of sources) {
    const tally = tallies.get(source.category);
    if (!tally || tally.count === 0) continue;
    const groups = [...tally.days.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, g]) => ({ at: new Date(g.at).toISOString(), count: g.count }));
    inventory[source.category] = { count: tally.count, dates: { [source.anchor]: groups } };
  }
  return inventory;
}

/** What erase does to one of the subject's lines, given the plan. */
type Fate = 'erase' | 'leave';

function fateDecider(plan: readonly PlanEntryView[], now: Date) {
  const entries = new Map(plan.map((e) => [e.category, e]));
  return (category: LogCategory, anchorAt: number): Fate => {
    const entry = entries.get(category);
    if (!entry || entry.action === 'held' || entry.action === 'none') return 'leave';
    // Logs retain in place: a line whose own period still runs stays until a later run erases it.
    if (entry.rule && retentionUntil(entry.rule, new Date(anchorAt)).getTime() > now.getTime())
      return 'leave';
    return 'erase';
  };
}

interface ObjectCounts {
  erased: number;
  left: number;
  /** The ETag of the version a rewrite replaced. */
  rewroteEtag?: string;
}

/**
 * The judge for one pass over an object: decides each line and counts (fresh counts per pass). When not
 * `rewriting`, it only counts and keeps every line.
 */
function eraseJudge(
  job: ObjectJob,
  ids: SubjectIds,
  fate: (category: LogCategory, anchorAt: number) => Fate,
  fallback: number,
  stats: ScanStats,
  rewriting: boolean,
) {
  const counts: ObjectCounts = { erased: 0, left: 0 };
  const judge = (bytes: Buffer): LineVerdict => {
    const line = subjectLine(bytes, job, stats);
    if (!line) return 'keep';
    if (fate(job.source.category, anchorOf(line, job, fallback)) === 'leave') {
      counts.left += 1;
      return 'keep';
    }
    counts.erased += 1;
    if (!rewriting) return 'keep';
    if (job.source.category === 'access-log') return 'drop';
    // Only the subject's own entries go; the others stay as they were, in order.
    const participants = (line.participants as unknown[]).filter((p) => !isSubjectParticipant(p, ids));
    return { replace: JSON.stringify({ ...line, participants }) };
  };
  return { counts, judge };
}

/**
 * Rewrites one object without the lines to erase, conditionally on it not having changed since it was
 * read; re-reads and retries when it did. Returns what the successful pass did.
 */
async function rewriteObject(
  s3: S3Client,
  config: LogsConfig,
  job: ObjectJob,
  newJudge: () => { counts: ObjectCounts; judge: (line: Buffer) => LineVerdict },
  stats: ScanStats,
): Promise<ObjectCounts> {
  const conditional = config.conditionalWrites ?? true;
  const attempts = Math.max(1, config.maxWriteAttempts ?? DEFAULT_ATTEMPTS);
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) {
      stats.retries += 1;
      await sleep(20 * 2 ** attempt + Math.floor(Math.random() * 20));
    }
    const got = await getObject(s3, config.bucket, job.key);
    if (!got) return { erased: 0, left: 0 };
    const etag = got.ETag;
    if (!etag) throw new ConnectorError('logs', 'A log object was read without an ETag');
    const { counts, judge } = newJudge();
    const gzipped = job.key.endsWith('.gz');
    const output: Transform = gzipped ? gzipStream() : new PassThrough();
    const upload = new Upload({
      client: s3,
      queueSize: 2,
      params: {
        Bucket: config.bucket,
        Key: job.key,
        Body: output,
        ContentType: got.ContentType,
        ContentEncoding: got.ContentEncoding,
        CacheControl: got.CacheControl,
        Metadata: got.Metadata,
        ...(conditional ? { IfMatch: etag } : {}),
      },
    });
    const beforeEnd = async () => {
      // Nothing of the subject's left to erase (changed since the scan): write nothing.
      if (counts.erased === 0) throw new NothingToErase();
      if (!conditional) {
        // Weaker stand-in where If-Match is not honoured (the local s3rver): a change between this
        // check and the write can still be lost. S3 itself always gets the real condition.
        const head = await s3.send(new HeadObjectCommand({ Bucket: config.bucket, Key: job.key }));
        if (head.ETag !== etag) throw new ObjectChanged();
      }
    };
    const filter = (source: AsyncIterable<Buffer>) =>
      filterLines(source, { needles: job.source.needles, judge, stats, beforeEnd });
    const stop = new AbortController();
    const piping = gzipped
      ? pipeline(got.Body, gunzipStream(), filter, output, { signal: stop.signal })
      : pipeline(got.Body, filter, output, { signal: stop.signal });
    // A failed upload stops reading: abort the pipeline so it does not wait on a full buffer forever.
    const uploading = upload.done().catch((error: unknown) => {
      stop.abort();
      throw error;
    });
    const [piped, uploaded] = await Promise.allSettled([piping, uploading]);
    if (piped.status === 'fulfilled' && uploaded.status === 'fulfilled') {
      stats.rewritten += 1;
      return { ...counts, rewroteEtag: etag };
    }
    const pipeError = piped.status === 'rejected' ? (piped.reason as unknown) : undefined;
    const uploadError = uploaded.status === 'rejected' ? (uploaded.reason as unknown) : undefined;
    if (pipeError instanceof NothingToErase) return counts;
    if (pipeError instanceof ObjectChanged || isPreconditionFailure(uploadError)) continue;
    if (isCode(uploadError, 'NoSuchKey')) return { erased: 0, left: 0 };
    if (isZlibError(pipeError)) throw new ConnectorError('logs', 'A log object could not be decompressed');
    const aborted = isCode(pipeError, 'AbortError');
    throw (aborted ? uploadError : pipeError) ?? uploadError;
  }
  throw new ConnectorError('logs', 'A log object kept changing while it was being rewritten');
}

/** Carries out the plan for the logs store (see the module comment). Idempotent. */
export async function eraseLogs(
  s3: S3Client,
  config: LogsConfig,
  ctx: EraseContext,
  index?: LogIndexReader,
): Promise<Record<string, CategoryOutcome>> {
  const ids = subjectIds(ctx);
  const now = ctx.now();
  const fallback = now.getTime();
  const fate = fateDecider(ctx.plan, now);
  const outcome: Record<string, CategoryOutcome> = {};
  for (const entry of ctx.plan) outcome[entry.category] = zeroOutcome();
  const sources = sourcesFor(config, ids);
  const jobs = await jobsFor(s3, config, index, sources);
  const stats: ScanStats = { oversized: 0, malformed: 0, missing: 0, rewritten: 0, retries: 0 };

  await forEachLimited(jobs, config.concurrency ?? 4, async (job) => {
    const category = job.source.category;
    // A first, read-only pass: most objects hold nothing of the subject's and are never written.
    const scan = eraseJudge(job, ids, fate, fallback, stats, false);
    await scanObject(s3, config, job, scan.judge, stats);
    const counts =
      scan.counts.erased === 0
        ? scan.counts
        : await rewriteObject(
            s3,
            config,
            job,
            () => eraseJudge(job, ids, fate, fallback, stats, true),
            stats,
          );
    // The rewrite left nothing of the subject's in the object: the index no longer names them for it.
    if (index && counts.rewroteEtag && counts.left === 0)
      await index.forget(job.key, counts.rewroteEtag, job.source.ids);
    const target = (outcome[category] ??= zeroOutcome());
    if (category === 'access-log') target.deleted += counts.erased;
    else target.anonymised += counts.erased;
    target.untouched += counts.left;
  });
  log.info('logs erase: objects processed', {
    objects: jobs.length,
    rewritten: stats.rewritten,
    retries: stats.retries,
    malformed: stats.malformed,
    oversized: stats.oversized,
    missing: stats.missing,
  });
  return outcome;
}
