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
 * (`--fresh` writes them again); the index (DynamoDB Local in memory) is built every run, and timed.
 * The subject objects are written again each run, with the light subjects' accounts.
 *
 * With the stack's operation counter (local/op-counts.ts), it also prints what one light export, one
 * light erasure, one heavy export (`--heavy-media-mib` of media), indexing a GB and rewriting a GB cost
 * at list prices (scripts/cost-model.ts).
 *
 * `--erasure-job`: the batched log-erasure job (many subjects, each object rewritten once) is measured
 * here once that job exists; until then the option only says so.
 */
import '../local/polyfills';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { platformStores } from '../config/data-map';
import { documentClient, s3Client } from '../functions/lib/aws/clients';
import { gunzipStream } from '../functions/lib/logs/lines';
import { addStats, type IndexStats } from '../functions/index-logs/core';
import { mintToken } from '../local/auth';
import { seedHeavyUser } from '../local/heavy-user';
import { OperationCounter, type OperationCounts } from '../local/op-counts';
import { othersAccessLine } from '../local/others-log-lines';
import { batchPut, forEachLimit } from '../local/seed';
import { seededRandom } from '../local/seed-data';
import { startLocalStack, type LocalStack } from '../local/stack';
import { findFreePort } from '../local/stores';
import type { LocalWorkflowOptions } from '../local/workflows';
import { flag, numberOption } from './cli-options';
import {
  PRICE_SOURCES,
  PRICES_AS_OF,
  REWRITE_TARGET_PER_GB,
  S3_FIND_AND_FORGET_PER_GB,
  costOf,
  describeCost,
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

function stringOption(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : (process.argv[at + 1] ?? fallback);
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

/** One subject object: others' lines with each light subject's lines of that day, and a run line. */
function subjectObject(day: string, options: Options, runTag: string): Buffer {
  const others = othersText(0x5b1ec7 + day.length, day, options.objectBytes, options).split('\n');
  others.pop();
  for (let n = 0; n < options.subjects; n++) {
    for (let i = 0; i < 5; i++) {
      const line = JSON.stringify({
        ts: `${day}T${String(8 + i).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}:00.000Z`,
        userId: subjectId(n),
        ip: `203.0.113.${n % 250}`,
        deviceId: `dev-${subjectId(n)}-phone`,
        userAgent: 'MetaverseApp/4.12.0 (Quest 3; HorizonOS 69)',
        method: 'GET',
        path: `/api/v1/worlds/world-${n}`,
        status: 200,
        referrer: null,
        country: 'US',
        region: 'US-CA',
      });
      // Spread among the others' lines, as a shipper's batch interleaves users.
      others.splice(Math.floor(((n * 5 + i) * others.length) / (options.subjects * 5 + 1)), 0, line);
    }
  }
  // Nobody's line naming the run: each run's subject objects are new versions (new ETags), indexed again.
  others.push(JSON.stringify({ ts: `${day}T23:59:59.000Z`, userId: null, deviceId: null, path: runTag }));
  return gzipSync(Buffer.from(others.join('\n') + '\n', 'utf8'));
}

/** The light subjects' accounts (again after an erasure removed them) and their subject objects. */
async function putSubjects(stack: LocalStack, options: Options): Promise<number> {
  const accounts = Array.from({ length: options.subjects }, (_, n) => ({
    userId: subjectId(n),
    email: `${subjectId(n)}@bench.example.com`,
    nickname: subjectId(n),
    country: 'US',
    locale: 'en-US',
    createdAt: new Date(today() - 200 * DAY_MS).toISOString(),
    status: 'active',
    devices: [{ deviceId: `dev-${subjectId(n)}-phone`, platform: 'quest', firstSeen: dayBefore(100) }],
  }));
  await batchPut(stack.doc, platformStores.accounts.table.tableName, accounts);
  const runTag = `/bench-run/${Date.now()}`;
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

/** The API calls a support agent makes: create a request, poll it to its end. */
function apiClient(stack: LocalStack) {
  const headers = {
    authorization: `Bearer ${mintToken(stack.tokenKey, 'support')}`,
    'content-type': 'application/json',
  };
  const run = async (body: unknown): Promise<{ ms: number; status: string }> => {
    const started = Date.now();
    const created = await fetch(`${stack.apiUrl}/v1/requests`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    const { requestId } = (await created.json()) as { requestId?: string };
    if (!requestId) throw new Error(`request not created: HTTP ${created.status}`);
    for (;;) {
      const polled = await fetch(`${stack.apiUrl}/v1/requests/${requestId}`, { headers });
      const state = (await polled.json()) as { status?: string };
      const status = String(state.status);
      if (Date.now() - started > REQUEST_TIMEOUT_MS)
        throw new Error(`request ${requestId} still ${status} after ${seconds(REQUEST_TIMEOUT_MS)}`);
      if (['completed', 'partially_completed', 'failed'].includes(status)) {
        if (status === 'failed') throw new Error(`request ${requestId} failed`);
        return { ms: Date.now() - started, status };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return {
    exportOf: (userId: string) => run({ type: 'export', subject: { userId } }),
    erasureOf: (userId: string) => run({ type: 'erasure', subject: { userId }, jurisdiction: 'US' }),
  };
}

/** Workflow options that feed the counter: state transitions and each task's time. */
function countingWorkflows(counter: OperationCounter): LocalWorkflowOptions {
  return {
    onStateEntered: counter.stateEntered,
    interceptor: async (functionName, _payload, invoke) => {
      const started = performance.now();
      try {
        return await invoke();
      } finally {
        counter.task(functionName, performance.now() - started);
      }
    },
  };
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
  erasureMs: number;
  concurrentMs?: number;
  index?: IndexStats;
  indexMs?: number;
  gunzipMiBs?: number;
}

/** Exports and erasures of light subjects on a stack whose index is up to date. */
async function measureRequests(
  stack: LocalStack,
  options: Options,
  row: Omit<Row, 'exportMs' | 'erasureMs'>,
  concurrent: boolean,
  firstSubject: number,
): Promise<Row> {
  const api = apiClient(stack);
  // Warm: every function loaded once (a Lambda's cold start is not what is measured).
  await api.exportOf('u-nobody');
  const exports: number[] = [];
  for (let round = 0; round < options.rounds; round++) exports.push((await api.exportOf(subjectId(0))).ms);
  const erasures: number[] = [];
  for (let round = 0; round < options.rounds; round++)
    erasures.push((await api.erasureOf(subjectId(firstSubject + round))).ms);
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
  return { ...row, exportMs: median(exports), erasureMs: median(erasures), concurrentMs };
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  const options = readOptions();
  if (options.subjects < options.rounds * 2 + 1) throw new Error('--subjects must exceed twice --rounds');
  if (flag('erasure-job')) {
    // Hook for the batched log-erasure job: 50 subjects' erasures in one job, every affected object
    // written once (counted), the job against one gunzip+gzip pass over those objects on one core.
    console.log('--erasure-job: the batched log-erasure job is not part of this build; nothing measured');
  }
  const counter = new OperationCounter();
  const rows: Row[] = [];
  const costs: { label: string; counts: OperationCounts; per?: number; perLabel?: string }[] = [];
  const largest = Math.max(...options.sizes);
  // One set of ports for every stack of the run: the handlers' SDK clients are made once per process,
  // with the endpoints of the first stack.
  const ports = {
    apiPort: await findFreePort(),
    ddbPort: await findFreePort(),
    s3Port: await findFreePort(),
    sfnPort: await findFreePort(),
  };

  // --- Empty log stores: only the subject objects -----------------------------------------------
  {
    const emptyDir = mkdtempSync(join(tmpdir(), 'dsr-bench-empty-'));
    const stack = await startLocalStack({
      ...ports,
      dataDir: emptyDir,
      persist: false,
      seed: false,
      workflows: countingWorkflows(counter),
    });
    try {
      const subjectBytes = await putSubjects(stack, options);
      await stack.indexLogs();
      const row = await measureRequests(
        stack,
        options,
        { label: 'empty', sizeGiB: 0, objects: SUBJECT_DAYS.length, gzipMiB: subjectBytes / MiB },
        true,
        options.rounds,
      );
      rows.push(row);
      console.log(
        `empty log stores (the ${SUBJECT_DAYS.length} subject objects, ${(subjectBytes / MiB).toFixed(1)} MiB gzip): ` +
          `light export ${seconds(row.exportMs)}, light erasure ${seconds(row.erasureMs)}, ` +
          `${options.concurrent} exports in flight ${seconds(row.concurrentMs ?? 0)}`,
      );

      // Operation counts for the cost model (the stores hold only the subject objects here).
      const api = apiClient(stack);
      const [, lightExport] = await counted(counter, () => api.exportOf(subjectId(1)));
      costs.push({ label: 'light export', counts: lightExport });
      const [, lightErasure] = await counted(counter, () => api.erasureOf(subjectId(options.subjects - 1)));
      costs.push({ label: 'light erasure', counts: lightErasure });
      // The rewrite: the logs connector's part of that erasure, per GB of gzip it rewrote.
      const logs = lightErasure.functions['dsr-connector-logs'];
      if (logs) {
        const rewrite: OperationCounts = {
          ...lightErasure,
          transitions: {},
          functions: { 'dsr-connector-logs': logs },
          requests: lightErasure.s3ByBucket[platformStores.logs.bucketName] ?? {},
          readUnits: 0,
          writeUnits: 0,
        };
        costs.push({
          label: 'log rewrite (inside the erasure)',
          counts: rewrite,
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
    const stack = await startLocalStack({
      ...ports,
      dataDir,
      persist: false,
      seed: false,
      workflows: countingWorkflows(counter),
    });
    try {
      // The logs are kept between runs (s3rver's files); the index (DynamoDB Local, in memory: on disk it
      // writes several times slower) is built again every run, and timed.
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
      const started = Date.now();
      const [reports, indexing] = await counted(counter, () => stack.indexLogs());
      const indexMs = Date.now() - started;
      indexing.functions['dsr-index-logs'] = { invocations: 1, ms: indexMs };
      const stats = reports.map((r) => r.stats).reduce((sum, more) => addStats(sum, more));
      if (sizeGiB === largest)
        costs.push({ label: 'indexing', counts: indexing, per: stats.bytes / 1e9, perLabel: 'GB gzip' });
      const manifest = {
        sizeGiB,
        objects: loaded.objects + SUBJECT_DAYS.length,
        gzipMiB: (loaded.gzipBytes + subjectBytes) / MiB,
        index: stats,
        indexMs,
        gunzipMiBs: await gunzipRate(templates),
      };
      const row = await measureRequests(
        stack,
        options,
        { label: `${sizeGiB} GiB`, ...manifest },
        sizeGiB === largest,
        options.rounds,
      );
      rows.push(row);
      const index = row.index;
      console.log(
        `${sizeGiB} GiB raw (${row.objects} objects, ${row.gzipMiB.toFixed(0)} MiB gzip): light export ${seconds(row.exportMs)}, ` +
          `light erasure ${seconds(row.erasureMs)}` +
          (row.concurrentMs !== undefined
            ? `, ${options.concurrent} exports in flight ${seconds(row.concurrentMs)}`
            : '') +
          (index && row.indexMs
            ? `; index built in ${seconds(row.indexMs)}: ${(index.rawBytes / MiB / (row.indexMs / 1000)).toFixed(0)} MiB/s raw end to end ` +
              `(${(index.rawBytes / MiB / (row.indexMs / 1000) / (row.gunzipMiBs ?? 1)).toFixed(2)}x of one gunzip pass at ${(row.gunzipMiBs ?? 0).toFixed(0)} MiB/s), ` +
              `${index.entries} entries, ${((100 * index.indexBytes) / index.bytes).toFixed(0)}% of the gzip bytes`
            : ''),
      );
    } finally {
      await stack.stop();
    }
  }

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
  if (empty?.concurrentMs && top?.concurrentMs)
    console.log(
      `${options.concurrent} light exports in flight, ${largest} GiB / empty log stores: ` +
        `${(top.concurrentMs / empty.concurrentMs).toFixed(2)}x (target <= 1.2x)`,
    );
  console.log(
    `\ncost at list prices (us-east-1, ${PRICES_AS_OF}; scripts/cost-model.ts, ${PRICE_SOURCES.stepFunctions} and others):`,
  );
  for (const { label, counts, per, perLabel } of costs) {
    const cost = costOf(counts);
    console.log(describeCost(per ? `${label} per ${perLabel}` : label, per ? perUnit(cost, per) : cost));
    if (label.startsWith('log rewrite') && per)
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
