/**
 * One run of the fault-injection campaign (docs/chaos.md): a fresh local stack (seeded, in memory), the
 * same waves of requests, and at the end the evidence a clean run is compared with: each request's
 * outcome, its archive's contents, its certificate's contents, the stores afterwards, and every archive
 * that was ever published checked against its own manifest while the run went on.
 *
 * Each run is a process of its own (`runInChild`): the handlers' SDK clients and configuration are
 * read once per process, as in Lambda, so two stacks cannot share one. Run directly, it reads its
 * RunSpec (JSON) from argv and prints one `CHAOS-RESULT {json}` line.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources, platformStores } from '../config/data-map';
import { STATE_MACHINES } from '../functions/lib/connectors/catalog';
import { VaultReader, vaultKeysFromEnv } from '../functions/lib/erasure/vault';
import { mintToken } from '../local/auth';
import { taskStateNames } from '../local/distributed-map';
import type { ChaosOptions, FaultKind } from '../local/faults';
import { startScratchStack, type LocalStack } from '../local/stack';
import { substitutedDefinition } from '../local/workflows';
import { readZip } from '../test/support/zip';
import {
  labelOf,
  outcomeOf,
  submit,
  TERMINAL,
  waitsForLogJob,
  type CampaignRequest,
} from '../test/support/campaign-requests';

const ROOT = resolve(__dirname, '..');

export interface RunSpec {
  /** Waves run one after the other (an export beside an erasure of someone it shares rooms with would
   * see their data or not by timing, so exports and erasures are separate waves). */
  waves: (readonly CampaignRequest[])[];
  chaos?: ChaosOptions;
  /** How long a wave may take to settle (ms). */
  waveTimeoutMs?: number;
}

/** What the comparison looks at, for one request. */
export interface RequestEvidence {
  label: string;
  status: string;
  outcome: unknown;
  /** path -> normalised content digest (manifest and index pages: their normalised text). */
  archive?: Record<string, string>;
  certificate?: unknown;
}

export interface RunResult {
  requests: RequestEvidence[];
  /** Normalised contents of every platform store and the vault, by store. */
  stores: Record<string, string>;
  /** Objects left in the staging bucket under requests/. */
  staged: number;
  /** Archives seen published whose contents did not match their own manifest (by key). */
  partialArchives: string[];
  faults: Partial<Record<FaultKind, number>>;
  /** Errors the handlers themselves threw (not injected), by `function: error name`. */
  taskErrors: Record<string, number>;
  ms: number;
}

// ---------------------------------------------------------------------------------------------
// Normalising: what differs between two runs by design (ids, times, per-request salts) is replaced.

const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g;
/** A kept log line's record id (erase-logs: a digest of object, request and line), wherever it appears. */
const LOG_RECORD_ID = /((?:VAULT#logs#[a-z-]+#|"recordId":"))[A-Za-z0-9_-]{32}/g;
const READABLE_UTC = /(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC/g;

/** Ids, run times, tombstones and pseudonyms replaced by stable names. */
export function normalise(text: string, ids: Map<string, string>, since: number): string {
  let out = text;
  for (const [id, label] of ids) out = out.split(id).join(`<${label}>`);
  // Pseudonyms come from a per-request salt (and the order of lists sorted by them with it).
  out = out.replace(/person-[0-9a-f]{12}/g, 'person-*');
  out = out.replace(/erased-user-[0-9a-f]{16}/g, 'erased-user-*');
  // Instants of the run itself (requested, planned, erased at...); the seeded data's own dates stay.
  out = out.replace(ISO, (iso) => (Date.parse(iso) >= since - 60_000 ? '<now>' : iso));
  // The same, as the archive's index pages print them ("2026-12-02 15:27:06 UTC").
  out = out.replace(READABLE_UTC, (text, date: string, time: string) =>
    Date.parse(`${date}T${time}Z`) >= since - 60_000 ? '<now>' : text,
  );
  // Dates alone (a retention's end counted from today) and epoch seconds of the run (expiries).
  const day = new Date(since).toISOString().slice(0, 10);
  out = out.split(day).join('<today>');
  out = out.replace(/\b1[7-9]\d{8}\b/g, (n) => (Number(n) * 1000 >= since - 86_400_000 ? '<epoch>' : n));
  return out;
}

/** JSON with object keys sorted and sets as sorted arrays: the same item, the same text. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Set) return [...(v as Set<unknown>)].sort();
    if (v && typeof v === 'object' && !Array.isArray(v))
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
      );
    return v;
  });
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

// ---------------------------------------------------------------------------------------------

async function objectBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** An archive is whole when every file its manifest lists is there with the listed digest. */
async function archiveIsWhole(zip: Buffer): Promise<boolean> {
  try {
    const entries = await readZip(zip);
    const manifest = JSON.parse(entries.get('manifest.json')?.toString('utf8') ?? 'null') as {
      files?: { path: string; sha256: string }[];
    } | null;
    if (!manifest?.files || !entries.has('manifest.jws')) return false;
    return manifest.files.every((f) => {
      const bytes = entries.get(f.path);
      return bytes !== undefined && createHash('sha256').update(bytes).digest('hex') === f.sha256;
    });
  } catch {
    return false;
  }
}

/** Checks every archive as soon as it appears in the exports bucket (and again whenever it changes). */
function watchArchives(s3: S3Client): { stop(): Promise<string[]> } {
  const seen = new Map<string, string>();
  const partial = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: orchestratorResources.exportsBucket, Prefix: 'exports/' }),
        );
        for (const o of page.Contents ?? []) {
          if (!o.Key || seen.get(o.Key) === o.ETag) continue;
          seen.set(o.Key, String(o.ETag));
          let bytes: Buffer;
          try {
            bytes = await objectBytes(s3, orchestratorResources.exportsBucket, o.Key);
          } catch {
            continue; // Replaced or removed between the listing and the read.
          }
          if (!(await archiveIsWhole(bytes))) partial.add(o.Key);
        }
      } catch {
        // The local S3 is busy; the next round looks again.
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return [...partial];
    },
  };
}

/** Every item of every platform store and the vault, and every object of the data buckets. */
async function storeContents(
  doc: DynamoDBDocumentClient,
  s3: S3Client,
  ids: Map<string, string>,
  since: number,
): Promise<Record<string, string>> {
  const tables: Record<string, string> = {
    accounts: platformStores.accounts.table.tableName,
    payments: platformStores.payments.table.tableName,
    messages: platformStores.chat.messagesTable.tableName,
    rooms: platformStores.chat.roomsTable.tableName,
    marketing: platformStores.marketing.table.tableName,
    vault: orchestratorResources.vaultTable.tableName,
  };
  const out: Record<string, string> = {};
  const vault = new VaultReader(doc, { tableName: tables.vault ?? '', keys: vaultKeysFromEnv('read') });
  for (const [name, table] of Object.entries(tables)) {
    const items: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey }));
      for (const item of page.Items ?? []) {
        // Sealed kept data differs by its random data key and nonce: compared opened. A kept log line's
        // record id is a digest of the request id (the run's own): compared by the line it keeps.
        const comparable =
          name === 'vault' && 'sealed' in item ? { ...item, sealed: await vault.openItem(item) } : item;
        let text = normalise(canonicalJson(comparable), ids, since);
        if (name === 'vault' && item.store === 'logs') text = text.replace(LOG_RECORD_ID, '$1<line>');
        // A suppression is named by the subject's keyed hash, under the stack's own key.
        if (name === 'vault' && item.kind === 'suppression')
          text = text.split(String(item.subjectHash)).join('<hash>');
        items.push(text);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    out[name] = items.sort().join('\n');
  }
  for (const [name, bucket] of [
    ['media', platformStores.media.bucketName],
    ['logs', platformStores.logs.bucketName],
  ] as const) {
    const objects: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const bytes = await objectBytes(s3, bucket, o.Key!);
        objects.push(`${o.Key} ${digest(normalise(bytes.toString('latin1'), ids, since))}`);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    out[name] = objects.sort().join('\n');
  }
  return out;
}

async function countStaged(s3: S3Client): Promise<number> {
  const page = await s3.send(
    new ListObjectsV2Command({ Bucket: orchestratorResources.stagingBucket, Prefix: 'requests/' }),
  );
  return page.KeyCount ?? 0;
}

/** Every Task state of the workflows, retried after 20 ms instead of seconds: faults cost little time. */
function quickRetries(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const spec of Object.values(STATE_MACHINES))
    for (const name of taskStateNames(substitutedDefinition(spec.file))) out[name] = 20;
  return out;
}

export async function runOnce(spec: RunSpec): Promise<RunResult> {
  const started = Date.now();
  process.env.LOG_LEVEL ??= 'silent';
  const taskErrors: Record<string, number> = {};
  const stack: LocalStack = await startScratchStack({
    seed: true,
    workflows: {
      retryIntervalOverrides: quickRetries(),
      // Inside the fault injection: sees only what the handlers threw themselves.
      interceptor: async (fn, _payload, invoke) => {
        try {
          return await invoke();
        } catch (error) {
          const key = `${fn}: ${(error as { name?: string }).name ?? 'Error'}`;
          taskErrors[key] = (taskErrors[key] ?? 0) + 1;
          throw error;
        }
      },
    },
    ...(spec.chaos ? { chaos: spec.chaos } : {}),
  });
  try {
    const token = mintToken(stack.tokenKey, 'support');
    /** A client as a support system is one: it retries what failed in transit or with a 5xx. */
    const call = async (method: string, path: string, body?: unknown, key?: string) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const res = await fetch(`${stack.apiUrl}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${token}`,
              ...(body ? { 'content-type': 'application/json' } : {}),
              ...(key ? { 'idempotency-key': key } : {}),
            },
            body: body ? JSON.stringify(body) : undefined,
          });
          const text = await res.text();
          if (res.status < 500 || attempt >= 20)
            return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
        } catch (error) {
          if (attempt >= 20) throw error;
        }
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    };
    const ids = new Map<string, string>();
    const requests: RequestEvidence[] = [];
    const partialArchives: string[] = [];
    /**
     * What is compared of one request, read as soon as its wave settled (with the faults off): a later
     * erasure of the same person deletes their archive.
     */
    const evidenceOf = async (id: string, label: string): Promise<RequestEvidence> => {
      const body = (await call('GET', `/v1/requests/${id}`)).body;
      const evidence: RequestEvidence = { label, status: String(body.status), outcome: outcomeOf(body) };
      const exported = body.export as { key?: string } | undefined;
      if (exported?.key) {
        const zip = await objectBytes(stack.s3, orchestratorResources.exportsBucket, exported.key);
        if (!(await archiveIsWhole(zip))) partialArchives.push(exported.key);
        const archive: Record<string, string> = {};
        for (const [path, bytes] of await readZip(zip)) {
          if (path === 'manifest.jws') continue;
          const text = normalise(bytes.toString('utf8'), ids, started);
          // The manifest lists every file's digest (of the run's own bytes): compared by paths.
          archive[path] =
            path === 'manifest.json'
              ? digest(
                  ((JSON.parse(text) as { files: { path: string }[] }).files ?? []).map((f) => f.path).join(),
                )
              : digest(text);
        }
        evidence.archive = archive;
      }
      if (label.startsWith('erasure:')) {
        const cert = await call('GET', `/v1/requests/${id}/certificate`);
        evidence.certificate =
          cert.status === 200
            ? certificateContents(cert.body.payload ?? cert.body, ids, started)
            : { status: cert.status };
      }
      return evidence;
    };
    const watcher = watchArchives(stack.s3);
    stack.chaos?.setEnabled(true);
    const deadline = (ms: number) => Date.now() + ms;
    for (const wave of spec.waves) {
      const mine: [string, string][] = [];
      for (const r of wave) {
        const id = await submit((path, body) => call('POST', path, body, randomUUID()), r);
        ids.set(id, labelOf(r));
        mine.push([id, labelOf(r)]);
      }
      const until = deadline(spec.waveTimeoutMs ?? 180_000);
      const settled = async () => {
        for (const [id] of mine) {
          const res = await call('GET', `/v1/requests/${id}`);
          if (!TERMINAL.includes(String(res.body.status))) return false;
        }
        return true;
      };
      while (!(await settled()) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      // An erasure's log part is done by the batched log-erasure job (as its schedule would run it);
      // a job that failed under faults is run again, as the next scheduled run would.
      for (let job = 1; job <= 5 && Date.now() < until; job++) {
        const waiting: string[] = [];
        for (const [id] of mine) {
          const res = await call('GET', `/v1/requests/${id}`);
          if (res.body.status === 'partially_completed' && waitsForLogJob(res.body)) waiting.push(id);
        }
        if (waiting.length === 0) break;
        const arn = stack.workflows.arnOf(STATE_MACHINES.logErasure.localName);
        await stack.workflows.startExecution(arn, `chaos-logjob-${job}-${Date.now()}`, {}).done;
        const resumed = async () => {
          for (const id of waiting) {
            const res = await call('GET', `/v1/requests/${id}`);
            if (!TERMINAL.includes(String(res.body.status)) || waitsForLogJob(res.body)) return false;
          }
          return true;
        };
        const jobUntil = Math.min(until, Date.now() + 60_000);
        while (!(await resumed()) && Date.now() < jobUntil) await new Promise((r) => setTimeout(r, 200));
      }
      stack.chaos?.setEnabled(false);
      for (const [id, label] of mine) requests.push(await evidenceOf(id, label));
      stack.chaos?.setEnabled(true);
    }
    stack.chaos?.setEnabled(false);
    await stack.workflows.idle();
    partialArchives.push(...(await watcher.stop()));

    const faults: Partial<Record<FaultKind, number>> = Object.fromEntries(stack.chaos?.injector.counts ?? []);
    return {
      requests,
      stores: await storeContents(stack.doc, stack.s3, ids, started),
      staged: await countStaged(stack.s3),
      partialArchives: [...new Set(partialArchives)],
      faults,
      taskErrors,
      ms: Date.now() - started,
    };
  } finally {
    await stack.stop();
  }
}

/**
 * Runs `runOnce` in a process of its own (nice'd if asked). A stack whose stores did not start in time
 * (a busy machine: DynamoDB Local's JVM is slow to answer) is started again, up to twice.
 */
export async function runInChild(spec: RunSpec, options: { nice?: boolean } = {}): Promise<RunResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runChildOnce(spec, options);
    } catch (error) {
      if (attempt >= 3 || !String(error).includes('StoreStartError')) throw error;
    }
  }
}

function runChildOnce(spec: RunSpec, options: { nice?: boolean }): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    // The result goes through a file: on stdout, output of the stack's own child processes could land
    // inside its line (a long line was seen cut that way).
    const resultFile = join(tmpdir(), `chaos-result-${randomUUID()}.json`);
    const args = [
      '--import',
      'tsx',
      resolve(ROOT, 'scripts', 'chaos-run.ts'),
      JSON.stringify(spec),
      resultFile,
    ];
    const child = options.nice
      ? spawn('nice', ['-n', '10', process.execPath, ...args], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const text = code === 0 && existsSync(resultFile) ? readFileSync(resultFile, 'utf8') : undefined;
      rmSync(resultFile, { force: true });
      if (text === undefined)
        return reject(
          new Error(`chaos run failed (exit ${code}):\n${withoutRuntimeWarnings(err || out).slice(-4000)}`),
        );
      resolveRun(JSON.parse(text) as RunResult);
    });
  });
}

/** The child's output without Node's and the SDK's warnings about the runtime (they hide the error). */
function withoutRuntimeWarnings(text: string): string {
  return text.replace(/\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?trace-warnings[^\n]*\n/g, '');
}

/** A certificate without what is the run's own: the stack's hash key, the previous one's digest. */
function certificateContents(payload: unknown, ids: Map<string, string>, since: number): unknown {
  const parsed = JSON.parse(normalise(JSON.stringify(payload), ids, since)) as Record<string, unknown>;
  const subject = parsed.subject as Record<string, unknown> | undefined;
  if (subject) delete subject.keyedHash;
  const supersedes = parsed.supersedes as Record<string, unknown> | undefined;
  if (supersedes) delete supersedes.sha256;
  return parsed;
}

/** Of two objects, the entries (archive files, certificate fields) that differ; else both, cut short. */
function detail(a: unknown, b: unknown, depth = 0): string {
  const text = (v: unknown) => JSON.stringify(v ?? null).slice(0, 400);
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object' || depth > 3)
    return `${text(a)} / ${text(b)}`;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  // Down to the entries that differ (array elements by index), so a long list shows where.
  return [...new Set([...Object.keys(left), ...Object.keys(right)])]
    .filter((k) => JSON.stringify(left[k]) !== JSON.stringify(right[k]))
    .map((k) => `${k}: ${detail(left[k], right[k], depth + 1)}`)
    .join('; ');
}

/** Every way `run` differs from `clean`, one line each (empty: the same). */
export function differences(clean: RunResult, run: RunResult): string[] {
  const out: string[] = [];
  const byLabel = new Map(clean.requests.map((r) => [r.label, r]));
  for (const r of run.requests) {
    const c = byLabel.get(r.label);
    if (!c) {
      out.push(`${r.label}: not in the clean run`);
      continue;
    }
    for (const field of ['status', 'outcome', 'archive', 'certificate'] as const) {
      const a = (c[field] ?? null) as unknown;
      const b = (r[field] ?? null) as unknown;
      if (JSON.stringify(a) !== JSON.stringify(b))
        out.push(`${r.label}: ${field} differs (clean / run): ${detail(a, b)}`);
    }
  }
  for (const [store, contents] of Object.entries(clean.stores)) {
    if (run.stores[store] === contents) continue;
    const a = new Set(contents.split('\n'));
    const b = new Set((run.stores[store] ?? '').split('\n'));
    const missing = [...a].filter((x) => !b.has(x));
    const extra = [...b].filter((x) => !a.has(x));
    out.push(
      `store ${store} differs: ${missing.length} missing, ${extra.length} extra; e.g. -${(missing[0] ?? '').slice(0, 200)} +${(extra[0] ?? '').slice(0, 200)}`,
    );
  }
  if (run.staged !== clean.staged)
    out.push(`staging: ${run.staged} objects left (clean run: ${clean.staged})`);
  return out;
}

if (require.main === module) {
  runOnce(JSON.parse(process.argv[2] ?? '{}') as RunSpec).then(
    (result) => {
      writeFileSync(process.argv[3] ?? 'chaos-result.json', JSON.stringify(result));
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
