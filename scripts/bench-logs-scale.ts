/**
 * Does one request's cost follow the person's data or the platform's? (docs/log-index.md, "Measured at
 * scale"; docs/cost.md). On the local stack:
 *
 *   npm run bench:logs-scale -- [--sizes 0.1,1,4] [--days 90] [--object-mib 8] [--users 2000]
 *                               [--signed-out 0.1] [--subjects 100] [--concurrent 100] [--rounds 3]
 *                               [--heavy-media-mib 256] [--cache-dir /tmp/dsr-bench-logs-scale] [--fresh]
 *                               [--erasure-job]
 *
 * Light subjects (`--subjects`, accounts of their own) each have a few access-log lines in 3 of the
 * `--days` days: in one object of each of those days, among other people's lines (the "subject
 * objects", the same bytes at every size). Around them, other people's logs of `--sizes` GiB raw over
 * the days: day objects of about `--object-mib` raw (a shipper's batch: more volume is more objects, not
 * bigger ones), cut from a few generated templates and gzipped once. For the empty baseline and then each
 * size, with the index brought up to date: a light export and a light erasure through the API (median of
 * `--rounds`, each erasure of another subject), the index's own figures (indexing time, entries, size
 * as a share of the gzip bytes), and, on the empty stores and the largest size, `--concurrent` light
 * exports in flight at once. Targets: export and erasure at the largest size within 1.2x of the
 * smallest; the concurrent exports within 1.2x of the same on empty log stores.
 *
 * Each size's logs are generated once into `--cache-dir` (s3rver's files) and reused by later runs
 * (`--fresh` writes them again); the index (its files dropped first) is built every run, and timed.
 * The subject objects are written again each run, with the light subjects' accounts.
 *
 * With the stack's operation counter (local/op-counts.ts), it also prints what one light export, one
 * light erasure, one heavy export (`--heavy-media-mib` of media), indexing a GB and rewriting a GB cost
 * at list prices (scripts/cost-model.ts).
 *
 * Each light erasure is timed end to end: the request, the log-erasure job that takes its lines (started
 * through the API, as support or the schedule would), and the resumed erasure certifying. Each light
 * export's reads of the logs bucket are counted: a valid run reads the 3 subject objects at every size.
 *
 * `--erasure-job [--job-subjects 50]`: instead of the sizes, one log-erasure job for that many erasures
 * (measureErasureJob): every affected object written exactly once (counted per key), the job against one
 * gunzip+gzip pass over the affected objects on one core, and what the rewrite costs per GB.
 */
import '../local/polyfills';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { orchestratorResources, platformStores } from '../config/data-map';
import { deleteUnder, listPages } from '../functions/lib/aws/s3-objects';
import { documentClient, s3Client } from '../functions/lib/aws/clients';
import { TASK_FUNCTIONS } from '../functions/lib/connectors/catalog';
import { gunzipStream, gzipStream } from '../functions/lib/logs/lines';
import { addStats, type IndexStats } from '../functions/index-logs/core';
import { mintToken } from '../local/auth';
import { seedHeavyUser } from '../local/heavy-user';
import { OperationCounter, type OperationCounts } from '../local/op-counts';
import { othersAccessLine } from '../local/others-log-lines';
import { batchPut, forEachLimit } from '../local/seed';
import { seededRandom } from '../local/seed-data';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../local/stack';
import { findFreePort } from '../local/stores';
import type { LocalWorkflowOptions } from '../local/workflows';
import { flag, numberOption, stringOption } from './cli-options';
import {
  PRICE_SOURCES,
  PRICES_AS_OF,
  REWRITE_TARGET_PER_GB,
  S3_FIND_AND_FORGET_PER_GB,
  costOf,
  cpuBoundMs,
  describeCost,
  memoryOf,
  dollars,
  perUnit,
} from './cost-model';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const DAY_MS = 86_400_000;
/** Bumped when the generated stores change shape: older caches are not reused. */
const CACHE_VERSION = 1;
/** Days before today holding the subjects' lines: 3 of the 90. */
const SUBJECT_DAYS = [9, 39, 69];
const SUBJECT_PART = 'part-09000.jsonl.gz';
const TEMPLATES = 6;
/** Stores start slowly on a loaded machine (Java at a low priority): wait this long. */
const STORE_START_MS = 5 * 60_000;
/** A request still running after this is reported as stuck. */
const REQUEST_TIMEOUT_MS = 15 * 60_000;

interface Options {
  sizes: number[];
  days: number;
  objectBytes: number;
  users: number;
  signedOut: number;
  subjects: number;
  concurrent: number;
  rounds: number;
  heavyMediaMiB: number;
  cacheDir: string;
  fresh: boolean;
}

function readOptions(): Options {
  return {
    sizes: stringOption('sizes', '0.1,1,4')
      .split(',')
      .map(Number)
      .filter((n) => n > 0),
    days: numberOption('days', 90),
    objectBytes: numberOption('object-mib', 8) * MiB,
    users: numberOption('users', 2000),
    signedOut: numberOption('signed-out', 0.1),
    subjects: numberOption('subjects', 100),
    concurrent: numberOption('concurrent', 100),
    rounds: numberOption('rounds', 3),
    heavyMediaMiB: numberOption('heavy-media-mib', 256),
    cacheDir: stringOption('cache-dir', '/tmp/dsr-bench-logs-scale'),
    fresh: flag('fresh'),
  };
}

const subjectId = (n: number) => `u-light-${String(n).padStart(3, '0')}`;
const today = () => Math.floor(Date.now() / DAY_MS) * DAY_MS;
const dayBefore = (days: number) => new Date(today() - days * DAY_MS).toISOString().slice(0, 10);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Other people's lines, about `rawBytes` of them, as one text. */
function othersText(seed: number, day: string, rawBytes: number, options: Options): string {
  const random = seededRandom(seed);
  const lines: string[] = [];
  let bytes = 0;
  while (bytes < rawBytes) {
    const line = othersAccessLine(random, day, options);
    lines.push(line);
    bytes += line.length + 1;
  }
  return lines.join('\n') + '\n';
}

interface Template {
  gzip: Buffer;
  rawBytes: number;
}

/** A size's day objects: how many a day, and the few templates they are cut from. */
function templatesFor(sizeGiB: number, options: Options): { perDay: number; templates: Template[] } {
  const dayBytes = (sizeGiB * GiB) / options.days;
  const perDay = Math.max(1, Math.round(dayBytes / options.objectBytes));
  const templates = Array.from({ length: TEMPLATES }, (_, n) => {
    const raw = Buffer.from(othersText(0x5ca1e + n, dayBefore(10), dayBytes / perDay, options), 'utf8');
    return { gzip: gzipSync(raw), rawBytes: raw.length };
  });
  return { perDay, templates };
}

/** One subject object: others' lines (`others`, or generated) with 5 lines of each of `ids` that day, and a run line. */
function subjectObject(
  day: string,
  options: Options,
  runTag: string,
  ids: readonly string[] = Array.from({ length: options.subjects }, (_, n) => subjectId(n)),
  othersLines?: readonly string[],
): Buffer {
  const others = othersLines
    ? [...othersLines]
    : othersText(0x5b1ec7 + day.length, day, options.objectBytes, options).split('\n');
  if (others[others.length - 1] === '') others.pop();
  for (const [n, id] of ids.entries()) {
    for (let i = 0; i < 5; i++) {
      const line = JSON.stringify({
        ts: `${day}T${String(8 + i).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}:00.000Z`,
        userId: id,
        ip: `203.0.113.${n % 250}`,
        deviceId: `dev-${id}-phone`,
        userAgent: 'MetaverseApp/4.12.0 (Quest 3; HorizonOS 69)',
        method: 'GET',
        path: `/api/v1/worlds/world-${n}`,
        status: 200,
        referrer: null,
        country: 'US',
        region: 'US-CA',
      });
      // Spread among the others' lines, as a shipper's batch interleaves users.
      others.splice(Math.floor(((n * 5 + i) * others.length) / (ids.length * 5 + 1)), 0, line);
    }
  }
  // Nobody's line naming the run: each run's subject objects are new versions (new ETags), indexed again.
  others.push(JSON.stringify({ ts: `${day}T23:59:59.000Z`, userId: null, deviceId: null, path: runTag }));
  return gzipSync(Buffer.from(others.join('\n') + '\n', 'utf8'));
}

const accountOf = (userId: string) => ({
  userId,
  email: `${userId}@bench.example.com`,
  nickname: userId,
  country: 'US',
  locale: 'en-US',
  createdAt: new Date(today() - 200 * DAY_MS).toISOString(),
  status: 'active',
  devices: [{ deviceId: `dev-${userId}-phone`, platform: 'quest', firstSeen: dayBefore(100) }],
});

/** The light subjects' accounts (again after an erasure removed them) and their subject objects. */
async function putSubjects(stack: LocalStack, options: Options): Promise<number> {
  const accounts = Array.from({ length: options.subjects }, (_, n) => accountOf(subjectId(n)));
  await batchPut(stack.doc, platformStores.accounts.table.tableName, accounts);
  const runTag = `/bench-run/${Date.now()}`;
  // The subject objects of runs on earlier dates sit under other days (keys count back from today):
  // dropped, so that the cached stores hold exactly the subject objects of this run.
  const prefix = platformStores.logs.accessPrefix;
  for await (const page of listPages(stack.s3, platformStores.logs.bucketName, prefix)) {
    for (const { Key } of page) {
      if (Key?.endsWith(`/${SUBJECT_PART}`))
        await stack.s3.send(new DeleteObjectCommand({ Bucket: platformStores.logs.bucketName, Key }));
    }
  }
  let bytes = 0;
  for (const days of SUBJECT_DAYS) {
    const body = subjectObject(dayBefore(days), options, runTag);
    bytes += body.length;
    await stack.s3.send(
      new PutObjectCommand({
        Bucket: platformStores.logs.bucketName,
        Key: `${platformStores.logs.accessPrefix}dt=${dayBefore(days)}/${SUBJECT_PART}`,
        Body: body,
      }),
    );
  }
  return bytes;
}

interface Loaded {
  objects: number;
  gzipBytes: number;
  rawBytes: number;
}

/** Others' day objects of one size, from its templates. */
async function putOthers(
  stack: LocalStack,
  perDay: number,
  templates: readonly Template[],
  options: Options,
): Promise<Loaded> {
  const keys: { key: string; template: Template }[] = [];
  for (let d = 1; d <= options.days; d++) {
    for (let p = 0; p < perDay; p++) {
      keys.push({
        key: `${platformStores.logs.accessPrefix}dt=${dayBefore(d)}/part-${String(p).padStart(5, '0')}.jsonl.gz`,
        template: templates[(d * perDay + p) % templates.length] as Template,
      });
    }
  }
  let gzipBytes = 0;
  let rawBytes = 0;
  await forEachLimit(keys, 8, async ({ key, template }) => {
    await stack.s3.send(
      new PutObjectCommand({ Bucket: platformStores.logs.bucketName, Key: key, Body: template.gzip }),
    );
    gzipBytes += template.gzip.length;
    rawBytes += template.rawBytes;
  });
  return { objects: keys.length, gzipBytes, rawBytes };
}

/** One gunzip pass over `templates`, CPU time of this process: raw MiB a second on one core. */
async function gunzipRate(templates: readonly Template[]): Promise<number> {
  const cpu = process.cpuUsage();
  let raw = 0;
  for (let round = 0; round < 3; round++) {
    for (const template of templates) {
      await pipeline(
        Readable.from([template.gzip]),
        gunzipStream(),
        async (source: AsyncIterable<Buffer>) => {
          for await (const chunk of source) raw += chunk.length;
        },
      );
    }
  }
  const used = process.cpuUsage(cpu);
  return raw / MiB / ((used.user + used.system) / 1e6);
}

const TERMINAL = ['completed', 'partially_completed', 'failed'];
const SERVICE = 'klub-outside';

/** The API calls a support agent makes: create a request, poll it; start the log-erasure job, follow it. */
function apiClient(stack: LocalStack) {
  const headers = {
    authorization: `Bearer ${mintToken(stack.tokenKey, 'support')}`,
    'content-type': 'application/json',
  };
  const getJson = async (path: string) =>
    (await (await fetch(`${stack.apiUrl}${path}`, { headers })).json()) as Record<string, unknown>;
  /** Polls the request until `done` says its status is final, or it failed. */
  const waitFor = async (requestId: string, started: number, done: (status: string) => boolean) => {
    for (;;) {
      const status = String((await getJson(`/v1/requests/${requestId}`)).status);
      if (status === 'failed') throw new Error(`request ${requestId} failed`);
      if (done(status)) return status;
      if (Date.now() - started > REQUEST_TIMEOUT_MS)
        throw new Error(`request ${requestId} still ${status} after ${seconds(REQUEST_TIMEOUT_MS)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const create = async (body: unknown): Promise<string> => {
    const created = await fetch(`${stack.apiUrl}/v1/requests`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    const { requestId } = (await created.json()) as { requestId?: string };
    if (!requestId) throw new Error(`request not created: HTTP ${created.status}`);
    return requestId;
  };
  const run = async (body: unknown): Promise<{ ms: number; status: string; requestId: string }> => {
    const started = Date.now();
    const requestId = await create(body);
    const status = await waitFor(requestId, started, (s) => TERMINAL.includes(s));
    return { ms: Date.now() - started, status, requestId };
  };
  /** Starts the log-erasure job and waits for it: its wall time and result. */
  const logJob = async (): Promise<{ ms: number; result: Record<string, unknown> }> => {
    const started = Date.now();
    const res = await fetch(`${stack.apiUrl}/v1/log-erasure-jobs`, { method: 'POST', headers });
    const { jobId } = (await res.json()) as { jobId?: string };
    if (!jobId) throw new Error(`log-erasure job not started: HTTP ${res.status}`);
    for (;;) {
      const job = await getJson(`/v1/log-erasure-jobs/${jobId}`);
      if (job.status !== 'RUNNING') {
        if (job.status !== 'SUCCEEDED')
          throw new Error(`log-erasure job ${String(job.status)}: ${String(job.error)}`);
        return { ms: Date.now() - started, result: (job.result ?? {}) as Record<string, unknown> };
      }
      if (Date.now() - started > REQUEST_TIMEOUT_MS) throw new Error('log-erasure job still running');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  // The platform's shared stores (the logs among them) are klub-outside's.
  const erasureBody = (userId: string) => ({
    type: 'erasure',
    service: SERVICE,
    subject: { userId },
    jurisdiction: 'US',
  });
  return {
    exportOf: (userId: string) => run({ type: 'export', service: SERVICE, subject: { userId } }),
    /** Up to its log part waiting for the job (partially completed), or completed. */
    erasureOf: (userId: string) => run(erasureBody(userId)),
    logJob,
    /**
     * An erasure end to end: the request, the log-erasure job that takes its log lines (as the schedule
     * or support starts it), and the resumed erasure verifying and certifying them.
     */
    fullErasureOf: async (userId: string): Promise<{ ms: number; jobMs: number }> => {
      const started = Date.now();
      const first = await run(erasureBody(userId));
      if (first.status === 'completed') return { ms: first.ms, jobMs: 0 };
      const job = await logJob();
      await waitFor(first.requestId, started, (s) => s === 'completed');
      return { ms: Date.now() - started, jobMs: job.ms };
    },
    waitCompleted: (requestId: string) => waitFor(requestId, Date.now(), (s) => s === 'completed'),
  };
}

/**
 * While set, every task but the log-erasure job's waits for it. The job's finish resumes each erasure
 * (StartExecution), and in AWS the resumed run verifies in Lambdas of its own; here it would share this
 * process and the machine's two cores with the job's finish, and the job's time would include 50
 * verifications that are not the job's. `measureErasureJob` holds them until the job has ended, then
 * times them apart.
 */
const otherTasksHeld: { until?: Promise<void> } = {};

/** Workflow options that feed the counter: state transitions and each task's time. */
function countingWorkflows(counter: OperationCounter): LocalWorkflowOptions {
  return {
    onStateEntered: counter.stateEntered,
    interceptor: async (functionName, payload, invoke) => {
      if (otherTasksHeld.until && functionName !== TASK_FUNCTIONS.eraseLogs.localName)
        await otherTasksHeld.until;
      const started = performance.now();
      // A function of several operations (the log-erasure job's prepare, rewrite, finish) counts each apart.
      const operation = (payload as { operation?: unknown } | null)?.operation;
      try {
        return await counter.within(
          typeof operation === 'string' ? `${functionName}:${operation}` : functionName,
          invoke,
        );
      } finally {
        counter.task(functionName, performance.now() - started);
      }
    },
  };
}

/**
 * A stack of the run: DynamoDB in memory, no seed, counted workflows, and no indexing at start (each
 * measurement builds the index itself, timed, over every object, cached ones too).
 */
function benchStack(ports: Ports, dataDir: string, counter: OperationCounter): Promise<LocalStack> {
  return startLocalStack({
    ...ports,
    dataDir,
    persist: false,
    seed: false,
    indexLogsAtStart: false,
    storeStartTimeoutMs: STORE_START_MS,
    workflows: countingWorkflows(counter),
  });
}

/** Counts what `work` does, with the handlers' clients counted (they exist once the stack has started). */
async function counted<T>(counter: OperationCounter, work: () => Promise<T>): Promise<[T, OperationCounts]> {
  counter.countDynamo(documentClient());
  counter.countS3(s3Client());
  counter.reset();
  counter.active = true;
  try {
    return [await work(), counter.take()];
  } finally {
    counter.active = false;
  }
}

interface Row {
  label: string;
  sizeGiB: number;
  objects: number;
  gzipMiB: number;
  exportMs: number;
  /** An erasure end to end: request, log-erasure job, resumed erasure certified. */
  erasureMs: number;
  /** The log-erasure job's part of it. */
  jobMs: number;
  /** Log objects one light export read (GetObject on the logs bucket): the subject objects only. */
  logObjectsRead: number;
  concurrentMs?: number;
  index?: IndexStats;
  indexMs?: number;
  gunzipMiBs?: number;
}

/**
 * What a log rewrite is billed for: the log-erasure job's rewrite batches (its Map), not its prepare and
 * finish, which are per erasure (reading the queue and the index for each subject; updating and resuming
 * each request) and counted in the job's per-erasure line, nor the erasures it resumes. The function as
 * long as the CPU time it took needs on Lambda (an upper bound: every thread of this process while
 * rewrite batches ran, the local S3 serving them included), the Map's state transitions, and the
 * requests and units the batches used, in every bucket and table (the index's files included). The day
 * files the finish merges again for the rewritten objects are index upkeep; measureErasureJob prints
 * them apart, with the prepare's.
 */
function rewriteCounts(counts: OperationCounts, invocations: number): OperationCounts {
  // The Map's child executions (`<job machine>/RewriteObjects`); the job's own states are per job.
  const job = Object.entries(counts.transitions).filter(([machine]) => machine.includes('log-erasure/'));
  const batches = 'dsr-erase-logs:rewrite';
  // The process's CPU while rewrite batches ran (s3rver's beside them: an upper bound).
  const cpuMs = counts.cpuMsByFunction[batches] ?? 0;
  return {
    ...counts,
    transitions: Object.fromEntries(job),
    functions: { 'dsr-erase-logs': { invocations, ms: cpuBoundMs(cpuMs, memoryOf('dsr-erase-logs')) } },
    requests: counts.requestsByFunction[batches] ?? {},
    readUnits: counts.unitsByFunction[batches]?.read ?? 0,
    writeUnits: counts.unitsByFunction[batches]?.write ?? 0,
  };
}

const logsGets = (counts: OperationCounts) =>
  counts.s3ByBucket[platformStores.logs.bucketName]?.['S3.GetObject'] ?? 0;

/** Exports and erasures of light subjects on a stack whose index is up to date. */
async function measureRequests(
  stack: LocalStack,
  counter: OperationCounter,
  options: Options,
  row: Omit<Row, 'exportMs' | 'erasureMs' | 'jobMs' | 'logObjectsRead'>,
  concurrent: boolean,
  firstSubject: number,
): Promise<Row> {
  const api = apiClient(stack);
  // Warm: every function loaded once (a Lambda's cold start is not what is measured).
  await api.exportOf('u-nobody');
  const exports: number[] = [];
  let logObjectsRead = 0;
  for (let round = 0; round < options.rounds; round++) {
    const [run, counts] = await counted(counter, () => api.exportOf(subjectId(0)));
    exports.push(run.ms);
    logObjectsRead = Math.max(logObjectsRead, logsGets(counts));
  }
  const erasures: number[] = [];
  const jobs: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const run = await api.fullErasureOf(subjectId(firstSubject + round));
    erasures.push(run.ms);
    jobs.push(run.jobMs);
  }
  let concurrentMs: number | undefined;
  if (concurrent && options.concurrent > 0) {
    const started = Date.now();
    // Subjects not erased above: every export finds its lines.
    const ids = Array.from({ length: options.concurrent }, (_, n) =>
      subjectId(options.rounds * 2 + (n % (options.subjects - options.rounds * 2))),
    );
    await Promise.all(ids.map((id) => api.exportOf(id)));
    concurrentMs = Date.now() - started;
  }
  await stack.workflows.idle();
  return {
    ...row,
    exportMs: median(exports),
    erasureMs: median(erasures),
    jobMs: median(jobs),
    logObjectsRead,
    concurrentMs,
  };
}

/**
 * Brings the index up to date, timed and counted, and checks it covers every log object: a benchmark
 * over a partly indexed store would read the unindexed objects in every request and measure that.
 */
async function buildIndex(
  stack: LocalStack,
  counter: OperationCounter,
  expectedObjects: number,
): Promise<{ stats: IndexStats; ms: number; cpuMs: number; counts: OperationCounts }> {
  // The index's files persist with the logs (s3rver's files): dropped, so the index is built again.
  await deleteUnder(stack.s3, orchestratorResources.logIndexBucket, '');
  const started = Date.now();
  const cpu = process.cpuUsage();
  const [reports, counts] = await counted(counter, () => stack.indexLogs());
  const used = process.cpuUsage(cpu);
  const ms = Date.now() - started;
  const stats = reports.map((r) => r.stats).reduce((sum, more) => addStats(sum, more));
  if (stats.indexed !== expectedObjects || stats.unchanged !== 0)
    throw new Error(
      `index not built over every object: ${stats.indexed} indexed, ${stats.unchanged} already, ${expectedObjects} expected`,
    );
  // In AWS each object is indexed by its own invocation (its S3 event).
  counts.functions['dsr-index-logs'] = { invocations: stats.indexed, ms };
  return { stats, ms, cpuMs: (used.user + used.system) / 1000, counts };
}

type Costs = {
  label: string;
  counts: OperationCounts;
  per?: number;
  perLabel?: string;
  /** Compared with the rewrite target (the batched job's rewrite, what the target is set for). */
  rewriteTarget?: boolean;
}[];

/** One pass of gunzip and gzip (the rewrite's own streams) over `objects`, one after another: ms. */
async function gunzipGzipPass(objects: readonly Buffer[]): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const gzip of objects) {
    await pipeline(
      Readable.from([gzip]),
      gunzipStream(),
      gzipStream(),
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) void chunk;
      },
    );
  }
  const used = process.cpuUsage(cpu);
  return { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

/**
 * `--erasure-job`: `--job-subjects` erasures (each subject's lines in 3 of the days, in one object of
 * each, shared with other subjects and other people) wait for one log-erasure job, among objects of no
 * subject. The job must write each affected object exactly once and no other (counted per key), take no
 * more than 1.3x one gunzip+gzip pass over the affected objects on one core, and leave none of the
 * subjects' lines; then every erasure completes.
 */
async function measureErasureJob(
  options: Options,
  ports: Ports,
  counter: OperationCounter,
  costs: Costs,
): Promise<void> {
  const subjects = numberOption('job-subjects', 50);
  const dir = mkdtempSync(join(tmpdir(), 'dsr-bench-job-'));
  const stack = await benchStack(ports, dir, counter);
  try {
    const ids = Array.from({ length: subjects }, (_, n) => `u-job-${String(n).padStart(3, '0')}`);
    await batchPut(stack.doc, platformStores.accounts.table.tableName, ids.map(accountOf));
    // Each subject in 3 days of the `--days`, at random: days shared by several subjects.
    const random = seededRandom(0x10b5);
    const byDay = new Map<number, string[]>();
    for (const id of ids) {
      const days = new Set<number>();
      while (days.size < SUBJECT_DAYS.length) days.add(1 + Math.floor(random() * (options.days - 1)));
      for (const d of days) byDay.set(d, [...(byDay.get(d) ?? []), id]);
    }
    const bases = Array.from({ length: TEMPLATES }, (_, n) =>
      othersText(0x10b0 + n, dayBefore(10), options.objectBytes, options).split('\n'),
    );
    const generated = Date.now();
    const runTag = `/bench-job/${Date.now()}`;
    const affected: string[] = [];
    let affectedBytes = 0;
    for (const [d, dayIds] of [...byDay].sort((a, b) => a[0] - b[0])) {
      const key = `${platformStores.logs.accessPrefix}dt=${dayBefore(d)}/${SUBJECT_PART}`;
      const body = subjectObject(dayBefore(d), options, runTag, dayIds, bases[d % bases.length]);
      await stack.s3.send(
        new PutObjectCommand({ Bucket: platformStores.logs.bucketName, Key: key, Body: body }),
      );
      affected.push(key);
      affectedBytes += body.length;
    }
    // Objects of nobody erased, one every third day: the job must not write them.
    const plain = gzipSync(Buffer.from((bases[0] ?? []).join('\n') + '\n', 'utf8'));
    let plainObjects = 0;
    for (let d = 1; d <= options.days; d += 3) {
      await stack.s3.send(
        new PutObjectCommand({
          Bucket: platformStores.logs.bucketName,
          Key: `${platformStores.logs.accessPrefix}dt=${dayBefore(d)}/part-00000.jsonl.gz`,
          Body: plain,
        }),
      );
      plainObjects += 1;
    }
    console.log(
      `erasure job: ${subjects} subjects in ${affected.length} objects (${(affectedBytes / MiB).toFixed(1)} MiB gzip), ` +
        `${plainObjects} objects of nobody erased; written in ${seconds(Date.now() - generated)}`,
    );
    await buildIndex(stack, counter, affected.length + plainObjects);

    // Every erasure up to its log part waiting for the job.
    const api = apiClient(stack);
    const requests: string[] = [];
    await forEachLimit(ids, 10, async (id) => {
      const run = await api.erasureOf(id);
      if (run.status !== 'partially_completed')
        throw new Error(`an erasure did not wait for the log job: ${run.status}`);
      requests.push(run.requestId);
    });
    await stack.workflows.idle();

    // The baseline: one gunzip+gzip pass over the affected objects as they are now, on one core.
    const before: Buffer[] = [];
    for (const key of affected) {
      const got = await stack.s3.send(
        new GetObjectCommand({ Bucket: platformStores.logs.bucketName, Key: key }),
      );
      before.push(
        Buffer.from(
          await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        ),
      );
    }
    const pass = await gunzipGzipPass(before);

    let releaseOthers = () => {};
    otherTasksHeld.until = new Promise<void>((resolve) => (releaseOthers = resolve));
    const cpu = process.cpuUsage();
    let job: Awaited<ReturnType<typeof api.logJob>>;
    let counts: OperationCounts;
    try {
      [job, counts] = await counted(counter, () => api.logJob());
    } finally {
      otherTasksHeld.until = undefined;
      releaseOthers();
    }
    const used = process.cpuUsage(cpu);
    const jobCpuMs = (used.user + used.system) / 1000;
    const resumedStarted = Date.now();
    for (const requestId of requests) await api.waitCompleted(requestId);
    const resumedMs = Date.now() - resumedStarted;

    // Each affected object written once, no other log object written.
    const logsPrefix = `${platformStores.logs.bucketName}/`;
    const writes = Object.entries(counts.s3WritesByKey).filter(([key]) => key.startsWith(logsPrefix));
    const writtenKeys = new Map(writes.map(([key, n]) => [key.slice(logsPrefix.length), n]));
    const once = affected.filter((key) => writtenKeys.get(key) === 1).length;
    const others = [...writtenKeys.keys()].filter((key) => !affected.includes(key)).length;
    // None of the subjects' lines left.
    let left = 0;
    for (const key of affected) {
      const got = await stack.s3.send(
        new GetObjectCommand({ Bucket: platformStores.logs.bucketName, Key: key }),
      );
      const raw = gunzipSync(
        Buffer.from(
          await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        ),
      );
      for (let at = raw.indexOf('"u-job-'); at !== -1; at = raw.indexOf('"u-job-', at + 1)) left += 1;
    }
    console.log(
      `erasure job: ${seconds(job.ms)} for ${subjects} erasures; ${once} of ${affected.length} affected objects written ` +
        `exactly once (${writes.reduce((sum, [, n]) => sum + n, 0)} writes to the logs bucket, ${others} to other objects); ` +
        `${left} subject lines left; one gunzip+gzip pass over them on one core ${seconds(pass.wallMs)} ` +
        `(CPU ${seconds(pass.cpuMs)}): job ${(job.ms / pass.wallMs).toFixed(2)}x of the pass wall time, ` +
        `${(job.ms / pass.cpuMs).toFixed(2)}x of its CPU time (target <= 1.3x); job CPU ${seconds(jobCpuMs)} = ` +
        `${(jobCpuMs / pass.cpuMs).toFixed(2)}x of the pass CPU; the ${requests.length} resumed erasures ` +
        `(held until the job ended) then verified and certified in ${seconds(resumedMs)}`,
    );
    for (const operation of ['prepare', 'rewrite', 'finish']) {
      const name = `dsr-erase-logs:${operation}`;
      console.log(
        `erasure job ${operation}: requests ${JSON.stringify(counts.requestsByFunction[name] ?? {})}, ` +
          `DynamoDB units ${JSON.stringify(counts.unitsByFunction[name] ?? {})}, ` +
          `process CPU while it ran ${seconds(counts.cpuMsByFunction[name] ?? 0)}`,
      );
    }
    if (once !== affected.length || others !== 0 || left !== 0)
      throw new Error('the erasure job did not write each affected object exactly once, or left lines');
    const fn = counts.functions['dsr-erase-logs'];
    costs.push({
      label: `log rewrite (a log-erasure job of ${subjects} erasures, ${affected.length} objects)`,
      counts: rewriteCounts(counts, fn?.invocations ?? 0),
      per: affectedBytes / 1e9,
      perLabel: 'GB gzip',
      rewriteTarget: true,
    });
    costs.push({
      label: `log-erasure job of ${subjects} erasures, per erasure`,
      counts,
      per: subjects,
      perLabel: 'erasure',
    });
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Every stack of the run gets the keys of the first: the handlers derive their hashers once per process,
 * from the first stack's key files, so a stack with keys of its own would index under hashes that no
 * request asks for (and every export would find nothing).
 */
function copyKeys(fromDataDir: string, toDataDir: string): void {
  cpSync(join(fromDataDir, 'keys'), join(toDataDir, 'keys'), { recursive: true, force: true });
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  // The bench measures the workflows, not the API's per-caller throttle (50 a second, bursts of 100):
  // 100 requests in flight, each polled for its status, are one caller far over it.
  process.env.LOCAL_API_RATE ??= '100000';
  process.env.LOCAL_API_BURST ??= '100000';
  const options = readOptions();
  if (options.subjects < options.rounds * 2 + 1) throw new Error('--subjects must exceed twice --rounds');
  const counter = new OperationCounter();
  const costs: Costs = [];
  // One set of ports for every stack of the run: the handlers' SDK clients are made once per process,
  // with the endpoints of the first stack.
  const ports = {
    apiPort: await findFreePort(),
    ddbPort: await findFreePort(),
    s3Port: await findFreePort(),
    sfnPort: await findFreePort(),
  };
  if (flag('erasure-job')) await measureErasureJob(options, ports, counter, costs);
  else await measureSizes(options, ports, counter, costs);
  printCosts(costs);
}

type Ports = Pick<LocalStackOptions, 'apiPort' | 'ddbPort' | 's3Port' | 'sfnPort'>;

/** The empty log stores, then each size: light requests, the index, 100 exports in flight. */
async function measureSizes(options: Options, ports: Ports, counter: OperationCounter, costs: Costs) {
  const rows: Row[] = [];
  const largest = Math.max(...options.sizes);

  const runKeys = mkdtempSync(join(tmpdir(), 'dsr-bench-keys-'));
  // --- Empty log stores: only the subject objects -----------------------------------------------
  {
    const emptyDir = mkdtempSync(join(tmpdir(), 'dsr-bench-empty-'));
    const stack = await benchStack(ports, emptyDir, counter);
    copyKeys(emptyDir, runKeys);
    try {
      const subjectBytes = await putSubjects(stack, options);
      await buildIndex(stack, counter, SUBJECT_DAYS.length);
      const row = await measureRequests(
        stack,
        counter,
        options,
        { label: 'empty', sizeGiB: 0, objects: SUBJECT_DAYS.length, gzipMiB: subjectBytes / MiB },
        true,
        options.rounds,
      );
      rows.push(row);
      console.log(
        `empty log stores (the ${SUBJECT_DAYS.length} subject objects, ${(subjectBytes / MiB).toFixed(1)} MiB gzip): ` +
          `light export ${seconds(row.exportMs)} (${row.logObjectsRead} log objects read), ` +
          `light erasure ${seconds(row.erasureMs)} (log-erasure job ${seconds(row.jobMs)}), ` +
          `${options.concurrent} exports in flight ${seconds(row.concurrentMs ?? 0)}`,
      );

      // Operation counts for the cost model (the stores hold only the subject objects here).
      const api = apiClient(stack);
      const [, lightExport] = await counted(counter, () => api.exportOf(subjectId(1)));
      costs.push({ label: 'light export', counts: lightExport });
      // The erasure end to end, with a log-erasure job of its own (a batched job shares one among many).
      const [, lightErasure] = await counted(counter, () =>
        api.fullErasureOf(subjectId(options.subjects - 1)),
      );
      costs.push({ label: 'light erasure (with a log-erasure job of its own)', counts: lightErasure });
      // The rewrite: the job's function and its requests to the logs bucket, per GB of gzip rewritten.
      // The job is CPU-bound: billed by this process's CPU time while it rewrote, at Lambda's CPU per MB.
      const job = lightErasure.functions['dsr-erase-logs'];
      if (job) {
        costs.push({
          // A job of its own for the subject's few objects: a child execution for those alone, not one
          // per 25 objects (the target is for the batched job: `--erasure-job`).
          label: `log rewrite (a one-subject log-erasure job of ${SUBJECT_DAYS.length} objects, not batched)`,
          counts: rewriteCounts(lightErasure, job.invocations),
          per: subjectBytes / 1e9,
          perLabel: 'GB gzip',
        });
      }
      const heavy = await seedHeavyUser(
        { doc: stack.doc, s3: stack.s3 },
        { userId: 'u-heavy', mediaBytes: options.heavyMediaMiB * MiB, mediaFiles: 50 },
      );
      await stack.indexLogs();
      const [, heavyExport] = await counted(counter, () => api.exportOf(heavy.userId));
      costs.push({
        label: `heavy export (${options.heavyMediaMiB} MiB media, 20,000 messages, 100,000 log lines)`,
        counts: heavyExport,
      });
    } finally {
      await stack.stop();
      rmSync(emptyDir, { recursive: true, force: true });
    }
  }

  // --- Each size: generated once into the cache ------------------------------------------------
  for (const sizeGiB of [...options.sizes].sort((a, b) => a - b)) {
    const tag = `v${CACHE_VERSION}-${sizeGiB}GiB-${options.days}d-${options.objectBytes / MiB}MiB-${options.users}u-${options.signedOut}s-${options.subjects}p`;
    const dataDir = join(options.cacheDir, tag);
    const manifestFile = join(dataDir, 'bench-manifest.json');
    if (options.fresh) rmSync(dataDir, { recursive: true, force: true });
    const cached = existsSync(manifestFile);
    mkdirSync(dataDir, { recursive: true });
    copyKeys(runKeys, dataDir);
    const stack = await benchStack(ports, dataDir, counter);
    try {
      // The logs are kept between runs (s3rver's files); the index is built again every run, and timed.
      const { perDay, templates } = templatesFor(sizeGiB, options);
      const subjectBytes = await putSubjects(stack, options);
      let loaded: Loaded;
      if (cached) {
        loaded = JSON.parse(readFileSync(manifestFile, 'utf8')) as typeof loaded;
      } else {
        const generated = Date.now();
        loaded = await putOthers(stack, perDay, templates, options);
        writeFileSync(manifestFile, JSON.stringify(loaded));
        console.log(
          `${sizeGiB} GiB: ${loaded.objects} objects of others' logs, ${(loaded.rawBytes / GiB).toFixed(2)} GiB raw, ` +
            `${(loaded.gzipBytes / MiB).toFixed(0)} MiB gzip, written in ${seconds(Date.now() - generated)}`,
        );
      }
      const totalObjects = loaded.objects + SUBJECT_DAYS.length;
      const { stats, ms: indexMs, counts: indexing, cpuMs } = await buildIndex(stack, counter, totalObjects);
      if (sizeGiB === largest) {
        // Indexing is CPU-bound: billed by the CPU time it took here, at Lambda's CPU per MB.
        const fn = indexing.functions['dsr-index-logs'];
        if (fn) fn.ms = cpuBoundMs(cpuMs, memoryOf('dsr-index-logs'));
        costs.push({ label: 'indexing', counts: indexing, per: stats.bytes / 1e9, perLabel: 'GB gzip' });
      }
      const manifest = {
        sizeGiB,
        objects: totalObjects,
        gzipMiB: (loaded.gzipBytes + subjectBytes) / MiB,
        index: stats,
        indexMs,
        gunzipMiBs: await gunzipRate(templates),
      };
      const row = await measureRequests(
        stack,
        counter,
        options,
        { label: `${sizeGiB} GiB`, ...manifest },
        sizeGiB === largest,
        options.rounds,
      );
      rows.push(row);
      const index = row.index;
      console.log(
        `${sizeGiB} GiB raw (${row.objects} objects, ${row.gzipMiB.toFixed(0)} MiB gzip): light export ${seconds(row.exportMs)} ` +
          `(${row.logObjectsRead} log objects read), light erasure ${seconds(row.erasureMs)} (log-erasure job ${seconds(row.jobMs)})` +
          (row.concurrentMs !== undefined
            ? `, ${options.concurrent} exports in flight ${seconds(row.concurrentMs)}`
            : '') +
          (index && row.indexMs
            ? `; index built over ${index.indexed} objects in ${seconds(row.indexMs)}: ${(index.rawBytes / MiB / (row.indexMs / 1000)).toFixed(0)} MiB/s raw end to end ` +
              `(${(index.rawBytes / MiB / (row.indexMs / 1000) / (row.gunzipMiBs ?? 1)).toFixed(2)}x of one gunzip pass at ${(row.gunzipMiBs ?? 0).toFixed(0)} MiB/s), ` +
              `${index.entries} subject hashes, object files ${((100 * index.indexBytes) / index.bytes).toFixed(1)}% and ` +
              `day files ${((100 * index.dayBytes) / index.bytes).toFixed(1)}% of the gzip bytes`
            : ''),
      );
    } finally {
      await stack.stop();
    }
  }

  rmSync(runKeys, { recursive: true, force: true });

  // --- Summary ----------------------------------------------------------------------------------
  const smallest = rows.find((r) => r.sizeGiB > 0);
  const top = rows.find((r) => r.sizeGiB === largest);
  const empty = rows[0];
  if (smallest && top) {
    console.log(
      `light export at ${largest} GiB / ${smallest.sizeGiB} GiB: ${(top.exportMs / smallest.exportMs).toFixed(2)}x (target <= 1.2x); ` +
        `light erasure: ${(top.erasureMs / smallest.erasureMs).toFixed(2)}x (target <= 1.2x)`,
    );
  }
  // Valid only if the index spared every size the others' objects: an export reads the subject objects.
  for (const row of rows)
    if (row.logObjectsRead !== SUBJECT_DAYS.length)
      console.log(
        `INVALID: a light export at ${row.label} read ${row.logObjectsRead} log objects, not the ${SUBJECT_DAYS.length} holding the subject`,
      );
  if (empty?.concurrentMs && top?.concurrentMs)
    console.log(
      `${options.concurrent} light exports in flight, ${largest} GiB / empty log stores: ` +
        `${(top.concurrentMs / empty.concurrentMs).toFixed(2)}x (target <= 1.2x)`,
    );
}

function printCosts(costs: Costs): void {
  console.log(
    `\ncost at list prices (us-east-1, ${PRICES_AS_OF}; scripts/cost-model.ts, ${PRICE_SOURCES.stepFunctions} and others):`,
  );
  for (const { label, counts, per, perLabel, rewriteTarget } of costs) {
    const cost = costOf(counts);
    console.log(describeCost(per ? `${label} per ${perLabel}` : label, per ? perUnit(cost, per) : cost));
    if (rewriteTarget && per)
      console.log(
        `  rewrite ${dollars(cost.total / per)} per GB gzip against the target ${dollars(REWRITE_TARGET_PER_GB)} ` +
          `and S3 Find and Forget's ${dollars(S3_FIND_AND_FORGET_PER_GB)}`,
      );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
