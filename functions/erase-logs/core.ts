/**
 * The batched log-erasure job (statemachines/log-erasure.asl.json, docs/erasure.md "Batched log
 * erasure"). Erasing a subject's log lines means rewriting shared day objects; one rewrite per erasure
 * would rewrite the logs once per subject. So the log part of every erasure waits in a queue
 * (lib/erasure/log-queue.ts) and this job takes all of it at once:
 *
 * - `prepare`: takes the job lock, the queued erasures that are partially completed, their identifier
 *   sets (kept on each request by its first run), and through the subject index the union of their
 *   objects plus those not indexed yet; stages the object list (the Distributed Map's ItemReader) and
 *   the subjects (request ids and queued categories only) under `log-erasure-jobs/<jobId>/`.
 * - `rewrite` (the Map's item processor, a batch of objects): rewrites each object once, dropping every
 *   waiting subject's access-log lines and their voice-session participant entries, conditionally on
 *   its ETag (re-read and re-filtered when it changed). A line that statutory retention keeps leaves the
 *   live logs in the same rewrite and goes to the retention vault with its own expiry, written before
 *   the object is. The batch writes nothing to the subject index: it reports the versions it read and
 *   wrote, and the finish carries them over there.
 *   What each rewrite removes is recorded per object before the object is written (an item of the
 *   requests table, lib/erasure/log-queue.ts), so a batch retried after its answer was lost, or a crash
 *   after the write, counts it once all the same.
 * - `finish`: reads the Map's results (ResultWriter), carries the rewrites over in the subject index (each
 *   new version's entries are the old one's without the subjects whose lines it lost: a day merged again
 *   per closed day, no object file per object), records what was done on each request, removes it
 *   from the queue and resumes its erasure, which verifies that none of its lines are left and
 *   certifies; then releases the lock. Nothing is recorded or resumed if any object failed: the job
 *   fails and the queue stays as it was (a rerun finds the objects already done unchanged).
 * - `abandon` (the failure path): releases the lock.
 *
 * Only request ids, object keys, counts and dates cross the workflow; identifiers stay in the requests
 * table and in memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { platformStores } from '../../config/data-map';
import { getJson, listPages, putJson } from '../lib/aws/s3-objects';
import type { SubjectIdentifiers, VaultRecord, VaultWriter } from '../lib/connectors/contract';
import { resumedExecutionName, type LogJobOutcome } from '../lib/erasure/certificate';
import { inputDate } from '../lib/erasure/run';
import { vaultCopy } from '../lib/erasure/erasure-plan';
import {
  addTallies,
  type LogErasureQueue,
  type LogErasureTallies,
  talliesByRequest,
  type ObjectTallies,
  type QueuedLogCategory,
  type QueuedLogErasure,
} from '../lib/erasure/log-queue';
import { covers } from '../lib/erasure/planner';
import { activeHoldsOf, toHoldScope, type HoldRepository } from '../lib/holds/holds';
import type { SubjectHasher } from '../lib/crypto/subject-hash';
import type { RequestRecord } from '../lib/requests/records';
import { recordedService } from '../lib/services/profiles';
import { retentionUntil } from '../lib/erasure/policy';
import type { ResumeStarter } from '../lib/erasure/resume';
import { pickKept } from '../lib/erasure/vault';
import { dayOfKey } from '../lib/logs/day-objects';
import { normalEtag } from '../lib/logs/index-store';
import type { LineVerdict } from '../lib/logs/lines';
import { rewriteLogObject, type RewritePass, type RewriteStats } from '../lib/logs/rewrite';
import type { LogIndexReader, SubjectLogIds } from '../lib/logs/subject-objects';
import { isRecord, lineAnchor, SubjectOwners, type Line } from '../lib/logs/subject-lines';
import { lineCandidates, type LineCandidates } from '../lib/logs/line-candidates';
import type { EventLog } from '../lib/requests/event-log';
import type { RequestRepository } from '../lib/requests/requests';
import { forEachLimited, mapOrderedLimited } from '../lib/runtime/concurrency';
import { AppError, ContractError } from '../lib/runtime/errors';
import { log } from '../lib/runtime/logger';

/** Where the job stages its object list, its subjects and the Map's results (staging bucket). */
export const LOG_ERASURE_JOBS_PREFIX = 'log-erasure-jobs/';
/**
 * How long a job may hold the lock (the state machine's own timeout, infra/constructs/workflows.ts): a
 * round's lock ends with its execution, however late in it the round started.
 */
export const JOB_LOCK_HOURS = 6;
/**
 * Erasures one round of a job takes at most, oldest first (the rest wait for the next round). It bounds
 * what grows with them: the request ids in the prepare step's output (Step Functions' 256 KB payload) and
 * an object's tallies record (DynamoDB's 400 KB item), about 80 bytes each per subject.
 */
export const MAX_JOB_SUBJECTS = 1_000;

type LogCategory = 'access-log' | 'voice-sessions';

export interface EraseLogsConfig {
  logsBucket: string;
  accessPrefix: string;
  voiceSessionsPrefix: string;
  stagingBucket: string;
  /** `If-Match` writes (S3); false on the local stack (s3rver ignores it: a HeadObject re-check). */
  conditionalWrites: boolean;
  maxWriteAttempts: number;
  /** Objects of a batch rewritten at once. */
  concurrency: number;
  /** Erasures one round takes (default MAX_JOB_SUBJECTS, never more). */
  maxSubjects?: number;
}

export interface EraseLogsDeps {
  s3: S3Client;
  config: EraseLogsConfig;
  requests: Pick<RequestRepository, 'get' | 'update'>;
  events: Pick<EventLog, 'append' | 'appendOnce'>;
  /** Holds are read again at job time: one placed on the logs since the subject was queued wins. */
  holds: Pick<HoldRepository, 'activeFor'>;
  hasher: SubjectHasher;
  queue: Pick<
    LogErasureQueue,
    'list' | 'get' | 'remove' | 'carry' | 'lock' | 'unlock' | 'recordTallies' | 'tallies'
  >;
  index: Pick<LogIndexReader, 'objectsForAll' | 'carryRewrites'>;
  vault: VaultWriter;
  starter: ResumeStarter;
  clock?: () => Date;
}

/** A queued erasure whose request is gone from under the job (completed or failed meanwhile). */
export class LogErasureSubjectGone extends AppError {
  override name = 'LogErasureSubjectGone';
  constructor() {
    super('A queued erasure no longer has its identifier set', 'LOG_ERASURE_SUBJECT_GONE');
  }
}

// ---------------------------------------------------------------------------------------------
// What travels between the steps (no identifiers)

interface StagedSubject {
  requestId: string;
  queuedAt: string;
  categories: QueuedLogCategory[];
  /** Queued categories a hold placed since covers: their lines are kept (the resumed run says held). */
  held?: string[];
  /** What failed jobs already did for it. */
  carried?: LogErasureTallies;
}

/** What a round did: erasures taken, objects done and written, retries, lines removed and vaulted. */
const ROUND_COUNTS = ['requests', 'objects', 'written', 'retries', 'removed', 'vaulted'] as const;
type RoundCounts = Record<(typeof ROUND_COUNTS)[number], number>;
/** What a job's totals count: its rounds, and each round count summed. */
const TOTAL_COUNTS = ['rounds', ...ROUND_COUNTS] as const;

/**
 * What a job's rounds did so far. A job whose queue holds more erasures than a round takes runs rounds
 * until it is drained (statemachines/log-erasure.asl.json): each round a job of its own (its id, lock,
 * staged files), the counts summed here.
 */
export type JobTotals = Record<(typeof TOTAL_COUNTS)[number], number>;

/** Where a round stands in its job's execution (the state machine passes it from step to step). */
interface RoundState {
  /** 1 for the first. */
  round: number;
  /** The rounds before this one (null in the first). */
  totals: JobTotals | null;
}

export interface PrepareOutput extends RoundState {
  /** Queued erasures beyond the cap are left: the state machine runs another round after this one. */
  more: boolean;
  jobId: string;
  asOf: string;
  bucket: string;
  objectsKey: string;
  subjectsKey: string;
  resultsPrefix: string;
  subjects: number;
  objects: number;
  requestIds: string[];
}

/** Per request, per category: lines that left the live logs, and vault copies by expiry. */
type Tallies = Record<string, LogErasureTallies>;

/** A rewrite a batch wrote: the versions (unquoted ETags) it read and wrote. */
interface WrittenVersion {
  key: string;
  from: string;
  to: string;
}

export interface RewriteOutput {
  objects: number;
  written: number;
  unchanged: number;
  missing: number;
  retries: number;
  /**
   * The objects written whose subjects' lines went, for the finish to carry over in the index (a batch's
   * objects at most: its size is bounded by the batch, not by the job's erasures).
   */
  rewrites: WrittenVersion[];
  /** A failed batch attempt's work, read back from its partial file. */
  partial?: boolean;
}

export interface FinishOutput extends RoundCounts {
  round: number;
  /** Another round follows (prepare left queued erasures beyond the cap). */
  more: boolean;
  /** This round's counts added to the rounds' before. */
  totals: JobTotals;
  jobId: string;
  resumed: { requestId: string; run: number }[];
}

export type EraseLogsInput =
  | ({
      operation: 'prepare';
      jobId: string;
      /** When the execution started (`$$.Execution.StartTime`): the lock ends with it. */
      executionStartedAt?: string;
    } & Partial<RoundState>)
  | { operation: 'rewrite'; jobId: string; asOf: string; subjectsKey: string; objects: { key: string }[] }
  | ({
      operation: 'finish';
      jobId: string;
      subjectsKey: string;
      objects: number;
      results: { Bucket: string; Key: string };
      more?: boolean;
    } & Partial<RoundState>)
  | { operation: 'abandon'; jobId: string };

const jobKeys = (jobId: string) => {
  const base = `${LOG_ERASURE_JOBS_PREFIX}${jobId}/`;
  return {
    objects: `${base}objects.json`,
    subjects: `${base}subjects.json`,
    results: `${base}results/`,
    partial: `${base}partial/`,
  };
};

// ---------------------------------------------------------------------------------------------
// prepare

async function prepare(
  deps: EraseLogsDeps,
  jobId: string,
  state: RoundState,
  executionStartedAt: string | undefined,
): Promise<PrepareOutput> {
  const now = (deps.clock ?? (() => new Date()))();
  const started =
    executionStartedAt === undefined ? now : inputDate(executionStartedAt, 'executionStartedAt');
  const until = Math.min(now.getTime(), started.getTime()) + JOB_LOCK_HOURS * 3_600_000;
  await deps.queue.lock(jobId, now, new Date(until));
  const { config } = deps;
  const subjects: StagedSubject[] = [];
  const access: SubjectLogIds[] = [];
  const voice: SubjectLogIds[] = [];
  const maxSubjects = Math.min(Math.max(1, config.maxSubjects ?? MAX_JOB_SUBJECTS), MAX_JOB_SUBJECTS);
  const queue = await deps.queue.list();
  // Looked up several at once (a request read and its holds each), in windows no larger than the room
  // left, so no erasure beyond the cap is touched (its holds recorded for a job that does not take it).
  let next = 0;
  while (next < queue.length && subjects.length < maxSubjects) {
    const window = queue.slice(next, next + Math.min(PREPARE_CONCURRENCY, maxSubjects - subjects.length));
    next += window.length;
    await mapOrderedLimited(
      window,
      PREPARE_CONCURRENCY,
      (queued) => takeQueued(deps, jobId, queued),
      async (taken) => {
        if (!taken) return;
        const { ids, ...subject } = taken;
        const names = subject.categories.map((c) => c.category).filter((c) => !subject.held?.includes(c));
        if (names.includes('access-log')) access.push({ userIds: ids.userIds, deviceIds: ids.deviceIds });
        if (names.includes('voice-sessions')) voice.push({ userIds: ids.userIds, deviceIds: [] });
        subjects.push(subject);
      },
    );
  }
  const list = async (prefix: string, ids: SubjectLogIds[]) =>
    ids.length === 0 ? [] : deps.index.objectsForAll(deps.s3, config.logsBucket, prefix, ids);
  const keys = [
    ...(await list(config.accessPrefix, access)),
    ...(await list(config.voiceSessionsPrefix, voice)),
  ];
  const staged = jobKeys(jobId);
  const bucket = config.stagingBucket;
  await putJson(
    deps.s3,
    { bucket, key: staged.objects },
    keys.map((key) => ({ key })),
  );
  await putJson(deps.s3, { bucket, key: staged.subjects }, subjects);
  const more = next < queue.length;
  log.info('log erasure: prepared', { jobId, subjects: subjects.length, objects: keys.length, more });
  return {
    ...state,
    more,
    jobId,
    asOf: now.toISOString(),
    bucket,
    objectsKey: staged.objects,
    subjectsKey: staged.subjects,
    resultsPrefix: staged.results,
    subjects: subjects.length,
    objects: keys.length,
    requestIds: subjects.map((s) => s.requestId),
  };
}

/**
 * A queued erasure as the job takes it, with its identifier set; undefined when the job leaves it: gone
 * from the queue if nothing waits any more (completed, cancelled), left there while a run is going (it
 * queues again when it ends) or it failed (an operator re-drives it).
 */
async function takeQueued(
  deps: EraseLogsDeps,
  jobId: string,
  queued: QueuedLogErasure,
): Promise<(StagedSubject & { ids: SubjectIdentifiers }) | undefined> {
  const request = await deps.requests.get(queued.requestId);
  if (!request || request.status === 'completed' || request.status === 'cancelled') {
    await deps.queue.remove(queued.requestId, queued.queuedAt);
    return undefined;
  }
  if (request.status !== 'partially_completed' || !request.resolvedSubject) return undefined;
  const ids = request.resolvedSubject.identifiers;
  const held = await heldAtJobTime(deps, jobId, queued, request, ids);
  return {
    requestId: queued.requestId,
    queuedAt: queued.queuedAt,
    categories: queued.categories,
    ...(held.length > 0 ? { held } : {}),
    ...(queued.carried ? { carried: queued.carried } : {}),
    ids,
  };
}

/**
 * The queued categories an active hold of the subject covers now (the holds planning reads, matched as
 * planning matches them). Their lines stay; the erasure the job resumes plans them held, so the request
 * reports them like any held part and resumes them when the hold is released. Each hold found is
 * recorded once per job (`hold.applied`, `phase: log-job`).
 */
async function heldAtJobTime(
  deps: EraseLogsDeps,
  jobId: string,
  queued: QueuedLogErasure,
  request: RequestRecord,
  identifiers: SubjectIdentifiers,
): Promise<string[]> {
  const { holds } = await activeHoldsOf(deps, {
    requestHash: request.subjectHash,
    identifiers,
    service: recordedService(request),
  });
  const held = new Set<string>();
  for (const hold of holds.map(toHoldScope)) {
    const covered = queued.categories.filter((c) => covers(hold, 'logs', c.category));
    if (covered.length === 0) continue;
    for (const c of covered) held.add(c.category);
    await deps.events.appendOnce(queued.requestId, `hold.applied#log-job#${jobId}#${hold.holdId}`, [
      { type: 'hold.applied', detail: { holdId: hold.holdId, store: 'logs', phase: 'log-job', jobId } },
    ]);
  }
  return [...held].sort();
}

// ---------------------------------------------------------------------------------------------
// rewrite

interface JobSubject extends StagedSubject {
  ids: { userIds: ReadonlySet<string>; deviceIds: ReadonlySet<string> };
  rules: Map<string, QueuedLogCategory>;
}

interface CategoryMatcher {
  category: LogCategory;
  /** The line field its retention anchor is read from. */
  field: 'ts' | 'startedAt';
  owners: SubjectOwners;
  /** Lines holding one of the owners' ids: the only ones judged. */
  candidates: LineCandidates | null;
}

interface JobContext {
  jobId: string;
  subjects: JobSubject[];
  access: CategoryMatcher;
  voice: CategoryMatcher;
}

/** Erasures the finish resumes at once. */
const RESUME_CONCURRENCY = 8;
/** Queued erasures the prepare step looks up at once. */
const PREPARE_CONCURRENCY = 8;

/** A batch's container reads the job's subjects once (a warm container gets the next batches). */
let cachedContext: { jobId: string; context: Promise<JobContext> } | undefined;

async function loadContext(deps: EraseLogsDeps, jobId: string, subjectsKey: string): Promise<JobContext> {
  const staged = await getJson<StagedSubject[]>(deps.s3, {
    bucket: deps.config.stagingBucket,
    key: subjectsKey,
  });
  const subjects: JobSubject[] = [];
  for (const s of staged) {
    // The identifier set the erasure's first run kept on the request: never copied anywhere else.
    const request = await deps.requests.get(s.requestId);
    const ids = request?.resolvedSubject?.identifiers;
    if (!ids) throw new LogErasureSubjectGone();
    subjects.push({
      ...s,
      ids: { userIds: new Set(ids.userIds), deviceIds: new Set(ids.deviceIds) },
      // A held category's lines are not the job's: no rule, so no line of it matches.
      rules: new Map(s.categories.filter((c) => !s.held?.includes(c.category)).map((c) => [c.category, c])),
    });
  }
  const matcher = (category: LogCategory, field: CategoryMatcher['field']): CategoryMatcher => {
    const owners = new SubjectOwners();
    subjects.forEach((s, i) => {
      if (!s.rules.has(category)) return;
      owners.add(i, { userIds: s.ids.userIds, deviceIds: category === 'access-log' ? s.ids.deviceIds : [] });
    });
    return { category, field, owners, candidates: lineCandidates(owners.ids()) };
  };
  return {
    jobId,
    subjects,
    access: matcher('access-log', 'ts'),
    voice: matcher('voice-sessions', 'startedAt'),
  };
}

function jobContext(deps: EraseLogsDeps, jobId: string, subjectsKey: string): Promise<JobContext> {
  if (cachedContext?.jobId !== jobId) {
    const context = loadContext(deps, jobId, subjectsKey);
    cachedContext = { jobId, context };
    context.catch(() => {
      if (cachedContext?.context === context) cachedContext = undefined;
    });
  }
  return cachedContext.context;
}

/** One pass over an object: decides each line for every waiting subject, counting per subject. */
class ErasePass implements RewritePass {
  readonly tallies = new Map<number, { removed: number; vaulted: Map<string, number> }>();
  private readonly copies: VaultRecord[] = [];

  constructor(
    private readonly key: string,
    private readonly day: string | undefined,
    private readonly matcher: CategoryMatcher,
    private readonly subjects: readonly JobSubject[],
    private readonly now: Date,
    private readonly vault: VaultWriter,
    /** Records what this pass removes, before the object is written. */
    private readonly record: (subjects: Tallies) => Promise<void>,
  ) {}

  changed(): boolean {
    return this.tallies.size > 0;
  }

  async beforeWrite(): Promise<void> {
    // The vault holds every retained line before the object without it is written.
    await Promise.all(this.copies.map((copy) => this.vault.put(copy)));
    const subjects: Tallies = {};
    for (const [owner, tally] of this.tallies) {
      const subject = this.subjects[owner];
      if (!subject) continue;
      (subjects[subject.requestId] ??= {})[this.matcher.category] = {
        removed: tally.removed,
        vaulted: Object.fromEntries(tally.vaulted),
      };
    }
    await this.record(subjects);
  }

  judge(bytes: Buffer): LineVerdict {
    let line: unknown;
    try {
      line = JSON.parse(bytes.toString('utf8'));
    } catch {
      return 'keep'; // not attributable to anyone: left as it is (collect and inventory skip it alike)
    }
    if (!isRecord(line)) return 'keep';
    if (this.matcher.category === 'access-log') {
      const owners = this.matcher.owners.ofAccessLine(line);
      if (owners.length === 0) return 'keep';
      for (const owner of owners) this.take(owner, line, bytes, () => false);
      return 'drop';
    }
    const participants = Array.isArray(line.participants) ? (line.participants as unknown[]) : [];
    const owners = new Set(participants.flatMap((p) => this.matcher.owners.ofParticipant(p)));
    if (owners.size === 0) return 'keep';
    for (const owner of owners) {
      const ids = this.subjects[owner]?.ids;
      this.take(
        owner,
        line,
        bytes,
        (p) => isRecord(p) && typeof p.userId === 'string' && !!ids?.userIds.has(p.userId),
      );
    }
    // Only the waiting subjects' own entries go; the session and everyone else's entries stay, in order.
    const kept = participants.filter((p) => this.matcher.owners.ofParticipant(p).length === 0);
    return { replace: JSON.stringify({ ...line, participants: kept }) };
  }

  /** Counts one subject's line, and keeps its vault copy when the rule's period still runs. */
  private take(owner: number, line: Line, bytes: Buffer, isOwnEntry: (entry: unknown) => boolean): void {
    const subject = this.subjects[owner];
    const queued = subject?.rules.get(this.matcher.category);
    if (!subject || !queued) return;
    const tally = this.tallies.get(owner) ?? { removed: 0, vaulted: new Map<string, number>() };
    this.tallies.set(owner, tally);
    tally.removed += 1;
    const rule = queued.rule;
    if (!rule) return;
    const anchor = lineAnchor(line, this.matcher.field, this.day, this.now.getTime());
    if (retentionUntil(rule, new Date(anchor)) <= this.now) return;
    const copy = vaultCopy(rule, new Date(anchor), this.now, {
      store: 'logs',
      category: this.matcher.category,
      // Stable across retries and reruns: the same line of the same object for the same request.
      recordId: createHash('sha256')
        .update(`${this.key}\n${subject.requestId}\n`)
        .update(bytes)
        .digest('base64url')
        .slice(0, 32),
      data: (keep) => pickKept(line, keep, { isSubjectElement: isOwnEntry }),
    });
    if (!copy) return;
    this.copies.push(copy);
    tally.vaulted.set(copy.until, (tally.vaulted.get(copy.until) ?? 0) + 1);
  }
}

async function rewrite(
  deps: EraseLogsDeps,
  input: Extract<EraseLogsInput, { operation: 'rewrite' }>,
): Promise<RewriteOutput> {
  const { config } = deps;
  const context = await jobContext(deps, input.jobId, input.subjectsKey);
  const now = inputDate(input.asOf, 'asOf');
  const stats: RewriteStats = { oversized: 0, rewritten: 0, retries: 0 };
  // Counts only: what each object lost is its tallies item (recordTallies), which the finish reads; per
  // subject here, a batch's output would grow with the job's erasures towards Step Functions' 256 KB.
  const out: RewriteOutput = {
    objects: 0,
    written: 0,
    unchanged: 0,
    missing: 0,
    retries: 0,
    rewrites: [],
  };
  let failure: unknown;
  await forEachLimited(input.objects ?? [], config.concurrency, async ({ key }) => {
    // One object failing fails the batch, but only once the others are done and counted.
    if (failure === undefined) await rewriteOne(key).catch((error: unknown) => (failure ??= error));
  });
  out.retries = stats.retries;
  if (failure !== undefined) {
    // What the other objects of the failed batch did is kept for the job that completes the erasures.
    const partial = `${jobKeys(input.jobId).partial}${randomUUID()}.json`;
    await putJson(deps.s3, { bucket: config.stagingBucket, key: partial }, out);
    throw failure;
  }
  return out;

  async function rewriteOne(key: string): Promise<void> {
    const prefix = key.startsWith(config.accessPrefix) ? config.accessPrefix : config.voiceSessionsPrefix;
    if (!key.startsWith(prefix)) throw new ContractError('An object outside the log prefixes');
    const matcher = prefix === config.accessPrefix ? context.access : context.voice;
    const day = dayOfKey(key, prefix);
    const result = await rewriteLogObject(
      deps.s3,
      config.logsBucket,
      key,
      (fromEtag) =>
        new ErasePass(key, day, matcher, context.subjects, now, deps.vault, (subjects) =>
          deps.queue.recordTallies(input.jobId, { key, fromEtag, subjects }),
        ),
      {
        conditional: config.conditionalWrites,
        maxAttempts: config.maxWriteAttempts,
        candidates: matcher.candidates,
        stats,
      },
    );
    out.objects += 1;
    if (result.state === 'missing') {
      out.missing += 1;
      return;
    }
    out[result.state] += 1;
    // The new version's index entries are carried over by the finish, from the old one's without the
    // subjects whose lines went (without the written ETag, the indexer indexes the new version instead).
    if (result.state === 'written' && result.writtenEtag && result.pass.tallies.size > 0)
      out.rewrites.push({ key, from: normalEtag(result.etag), to: normalEtag(result.writtenEtag) });
  }
}

// ---------------------------------------------------------------------------------------------
// finish

interface ResultManifest {
  ResultFiles?: { SUCCEEDED?: { Key: string }[]; FAILED?: { Key: string }[] };
}

/** The item processor's outputs, from the files ResultWriter wrote (the succeeded batches'). */
async function readResults(
  deps: EraseLogsDeps,
  results: { Bucket: string; Key: string },
  options: { allSucceeded: boolean },
): Promise<RewriteOutput[]> {
  const manifest = await getJson<ResultManifest>(deps.s3, { bucket: results.Bucket, key: results.Key });
  if (options.allSucceeded && (manifest.ResultFiles?.FAILED ?? []).length > 0)
    throw new ContractError('The map reported failed batches');
  const outputs: RewriteOutput[] = [];
  for (const file of manifest.ResultFiles?.SUCCEEDED ?? []) {
    const children = await getJson<{ Output?: string }[]>(deps.s3, { bucket: results.Bucket, key: file.Key });
    for (const child of children) if (child.Output) outputs.push(JSON.parse(child.Output) as RewriteOutput);
  }
  return outputs;
}

async function finish(
  deps: EraseLogsDeps,
  input: Extract<EraseLogsInput, { operation: 'finish' }>,
): Promise<FinishOutput> {
  const now = (deps.clock ?? (() => new Date()))();
  // A batch retried after a failure left what its first attempt did in a partial file.
  const outputs = [
    ...(await readResults(deps, input.results, { allSucceeded: true })),
    ...(await partialOutputs(deps, input.jobId)),
  ];
  const done = outputs.reduce((n, o) => n + o.objects, 0) - partialObjects(outputs);
  // Every listed object must have been done: a batch missing from the results is a failure, not a zero.
  if (done !== input.objects) throw new ContractError('The map results do not cover every object');
  const subjects = await getJson<StagedSubject[]>(deps.s3, {
    bucket: deps.config.stagingBucket,
    key: input.subjectsKey,
  });
  const rewritten = await objectTallies(deps, input.jobId, { writtenOnly: false });
  // Before any erasure resumes: no file of the index it reads names it for an object rewritten here.
  await carryRewrites(deps, outputs, rewritten);
  const report: FinishOutput = {
    jobId: input.jobId,
    requests: subjects.length,
    objects: done,
    written: outputs.reduce((n, o) => n + o.written, 0),
    retries: outputs.reduce((n, o) => n + o.retries, 0),
    removed: 0,
    vaulted: 0,
    resumed: [],
    round: input.round ?? 1,
    more: input.more === true,
    totals: input.totals ?? zeroTotals(),
  };
  // Each erasure resumed on its own (a few requests each), several at once: one after another, a job of
  // hundreds of erasures spent most of its finish waiting on round trips.
  const resumed = new Map<string, { requestId: string; run: number }>();
  const byRequest = talliesByRequest(rewritten);
  await forEachLimited(subjects, RESUME_CONCURRENCY, async (subject) => {
    const outcome: LogJobOutcome = {
      jobId: input.jobId,
      finishedAt: now.toISOString(),
      categories: subject.categories.map((c) => {
        const tally = addTallies(subject.carried ?? {}, byRequest[subject.requestId] ?? {})[c.category];
        const removed = tally?.removed ?? 0;
        report.removed += removed;
        const schedule = Object.entries(tally?.vaulted ?? {})
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([until, count]) => ({ until, count }));
        report.vaulted += schedule.reduce((n, s) => n + s.count, 0);
        return {
          store: 'logs' as const,
          category: c.category,
          liveAction: c.liveAction,
          removed,
          vaulted: schedule,
          ...(c.rule ? { rule: c.rule } : {}),
        };
      }),
    };
    const request = await deps.requests.get(subject.requestId);
    if (request?.status !== 'partially_completed') return;
    await deps.requests.update(
      subject.requestId,
      { logErasure: outcome },
      {
        type: 'erasure.logs_erased',
        detail: {
          jobId: input.jobId,
          removed: outcome.categories.reduce((n, c) => n + c.removed, 0),
          vaulted: outcome.categories.reduce((n, c) => n + c.vaulted.reduce((m, s) => m + s.count, 0), 0),
        },
      },
    );
    await deps.queue.remove(subject.requestId, subject.queuedAt);
    // The erasure resumes: it verifies that none of its lines are left, and certifies.
    const run = Math.max(0, ...(request.erasureRuns ?? []).map((r) => r.run)) + 1;
    const started = await deps.starter.start(resumedExecutionName(subject.requestId, run), {
      requestId: subject.requestId,
      asOf: now.toISOString(),
    });
    if (!started) return;
    await deps.events.append(subject.requestId, {
      type: 'erasure.resumed',
      detail: { run, reasons: 'log-job', asOf: now.toISOString() },
    });
    resumed.set(subject.requestId, { requestId: subject.requestId, run });
  });
  // In the staged order, whatever order they finished in.
  for (const subject of subjects) {
    const entry = resumed.get(subject.requestId);
    if (entry) report.resumed.push(entry);
  }
  const totals = report.totals;
  totals.rounds += 1;
  for (const count of ROUND_COUNTS) totals[count] += report[count];
  await deps.queue.unlock(input.jobId);
  log.info('log erasure: finished', {
    jobId: input.jobId,
    requests: report.requests,
    objects: report.objects,
    written: report.written,
    retries: report.retries,
    resumed: report.resumed.length,
  });
  return report;
}

/**
 * Carries the batches' rewrites over in the subject index: each one's subjects are those its object's
 * tallies record names (recorded by the same pass), their identifier sets as their requests keep them.
 * A subject whose set is gone (its request ended meanwhile) stays named: a later read, never a miss.
 */
export async function carryRewrites(
  deps: Pick<EraseLogsDeps, 'config' | 'requests' | 'index'>,
  outputs: readonly RewriteOutput[],
  records: readonly ObjectTallies[],
): Promise<void> {
  const { accessPrefix, voiceSessionsPrefix } = deps.config;
  const recordOf = new Map(records.map((r) => [`${r.key}/${normalEtag(r.fromEtag)}`, r]));
  const identifiers = new Map<string, SubjectIdentifiers>();
  const requestIds = [...new Set(records.flatMap((record) => Object.keys(record.subjects)))];
  await forEachLimited(requestIds, RESUME_CONCURRENCY, async (requestId) => {
    const ids = (await deps.requests.get(requestId))?.resolvedSubject?.identifiers;
    if (ids) identifiers.set(requestId, ids);
  });
  const written = outputs.flatMap((output) => output.rewrites ?? []);
  for (const prefix of [accessPrefix, voiceSessionsPrefix]) {
    const rewrites = written
      .filter((version) => version.key.startsWith(prefix))
      .map((version) => {
        const record = recordOf.get(`${version.key}/${version.from}`);
        const subjects = Object.keys(record?.subjects ?? {}).flatMap((requestId) => {
          const ids = identifiers.get(requestId);
          if (!ids) return [];
          return [{ userIds: ids.userIds, deviceIds: prefix === accessPrefix ? ids.deviceIds : [] }];
        });
        return { ...version, subjects };
      });
    if (rewrites.length > 0) await deps.index.carryRewrites(prefix, rewrites);
  }
}

/** What failed batch attempts did before they failed (their other objects). */
async function partialOutputs(deps: EraseLogsDeps, jobId: string): Promise<RewriteOutput[]> {
  const bucket = deps.config.stagingBucket;
  const outputs: RewriteOutput[] = [];
  for await (const page of listPages(deps.s3, bucket, jobKeys(jobId).partial)) {
    for (const entry of page) {
      const output = await getJson<RewriteOutput>(deps.s3, { bucket, key: entry.Key });
      outputs.push({ ...output, partial: true });
    }
  }
  return outputs;
}

/** Objects counted by partial outputs (their batches ran again and counted every object). */
function partialObjects(outputs: readonly RewriteOutput[]): number {
  return outputs.filter((o) => o.partial).reduce((n, o) => n + o.objects, 0);
}

/**
 * What the job's rewrites removed, one record per object. With `writtenOnly`, only objects whose write
 * happened (no longer at the version the rewrite read): a failed job may have recorded a rewrite whose
 * write then failed. Every object of a finished job was written or left unchanged (no record).
 */
async function objectTallies(
  deps: EraseLogsDeps,
  jobId: string,
  options: { writtenOnly: boolean },
): Promise<ObjectTallies[]> {
  const records: ObjectTallies[] = [];
  for (const record of await deps.queue.tallies(jobId)) {
    if (options.writtenOnly && (await currentEtag(deps, record.key)) === normalEtag(record.fromEtag))
      continue;
    records.push(record);
  }
  return records;
}

async function currentEtag(deps: EraseLogsDeps, key: string): Promise<string | undefined> {
  try {
    const head = await deps.s3.send(new HeadObjectCommand({ Bucket: deps.config.logsBucket, Key: key }));
    return head.ETag === undefined ? undefined : normalEtag(head.ETag);
  } catch (error) {
    if ((error as { name?: string }).name === 'NotFound') return undefined;
    throw error;
  }
}

/**
 * A failed job may have rewritten some objects before another failed (their lines are gone, their vault
 * copies kept): what those rewrites removed is carried on each queued part, for the job that completes
 * it to count.
 */
async function carryPartialWork(deps: EraseLogsDeps, jobId: string): Promise<void> {
  const tallies = talliesByRequest(await objectTallies(deps, jobId, { writtenOnly: true }));
  for (const [requestId, t] of Object.entries(tallies)) {
    const entry = await deps.queue.get(requestId);
    if (entry) await deps.queue.carry(entry, jobId, t);
  }
}

export async function eraseLogs(
  deps: EraseLogsDeps,
  input: EraseLogsInput,
): Promise<PrepareOutput | RewriteOutput | FinishOutput | { jobId: string; released: true }> {
  if (!input?.jobId || !/^[A-Za-z0-9_-]{1,80}$/.test(input.jobId))
    throw new ContractError('jobId is required');
  switch (input.operation) {
    case 'prepare':
      return prepare(deps, input.jobId, roundState(input), input.executionStartedAt);
    case 'rewrite':
      return rewrite(deps, input);
    case 'finish':
      return finish(deps, { ...input, ...roundState(input) });
    case 'abandon':
      await carryPartialWork(deps, input.jobId);
      await deps.queue.unlock(input.jobId);
      return { jobId: input.jobId, released: true };
    default:
      throw new ContractError('Unknown log erasure operation');
  }
}

const zeroTotals = (): JobTotals => Object.fromEntries(TOTAL_COUNTS.map((count) => [count, 0])) as JobTotals;

/** The round a step belongs to, checked (a step called outside the state machine's rounds is round 1). */
function roundState(input: Partial<RoundState>): RoundState {
  const round = input.round ?? 1;
  if (!Number.isInteger(round) || round < 1) throw new ContractError('round must be a positive integer');
  const totals = input.totals ?? null;
  if (totals !== null) {
    if (typeof totals !== 'object' || TOTAL_COUNTS.some((count) => !Number.isInteger(totals[count])))
      throw new ContractError('totals must hold every count of the rounds before');
  }
  return { round, totals: totals && { ...totals } };
}

/** The data map's log prefixes: what the job reads and rewrites. */
export const LOG_PREFIXES = {
  accessPrefix: platformStores.logs.accessPrefix,
  voiceSessionsPrefix: platformStores.logs.voiceSessionsPrefix,
};
