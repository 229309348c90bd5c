/**
 * Log erasure against an in-memory S3 that honours If-Match like S3 does (412 on a stale ETag), streams
 * bodies in small chunks, and can simulate a concurrent log writer: the connector's inventory and erase
 * step (which only reports what waits), and the log-erasure job's rewrite of a batch of objects
 * (functions/erase-logs) for one waiting subject.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { fakeClient } from '../support/fake-client';
import { createLogsConnector, type LogsConfig } from '../../functions/connectors/logs/core';
import { filterLines, type LineVerdict } from '../../functions/lib/logs/lines';
import type { LineCandidates } from '../../functions/lib/logs/line-candidates';
import type {
  CategoryInventoryView,
  EraseContext,
  ErasureContext,
  PlanEntryView,
  StagedSubject,
} from '../../functions/lib/connectors/contract';
import { eraseLogs, type RewriteOutput } from '../../functions/erase-logs/core';
import { rewriteDeps } from '../support/log-job';
import type { VaultRecord } from '../../functions/lib/connectors/contract';
import { talliesByRequest, type ObjectTallies } from '../../functions/lib/erasure/log-queue';
import { planEntriesFor } from '../support/erasure-plans';

type Row = Record<string, unknown>;

const NOW = new Date('2026-11-01T00:00:00.000Z');

const gz = (text: string) => gzipSync(Buffer.from(text, 'utf8'));
const text = (body: Buffer) => gunzipSync(body).toString('utf8');
const etagOf = (body: Buffer) => `"${createHash('md5').update(body).digest('hex')}"`;

interface StoredObject {
  body: Buffer;
  etag: string;
  contentType?: string;
}

/**
 * In-memory S3: List (paged by 2), Get/Head with ETags, Put and multipart uploads that honour If-Match
 * (412 PreconditionFailed on a stale ETag, NoSuchKey when the object is gone). `beforeWrite` runs before a
 * write is judged, to play a concurrent writer.
 */
function fakeS3(initial: Record<string, Buffer>, options: { chunkSize?: number } = {}) {
  const objects = new Map<string, StoredObject>();
  const set = (key: string, body: Buffer, contentType?: string) =>
    objects.set(key, { body, etag: etagOf(body), contentType });
  for (const [key, body] of Object.entries(initial)) set(key, body, 'application/gzip');
  const calls: { command: string; key?: string; ifMatch?: string }[] = [];
  const uploads = new Map<string, { key: string; parts: Map<number, Buffer> }>();
  let beforeWrite: ((key: string) => void) | undefined;
  let failPart = false;
  const chunkSize = options.chunkSize ?? 9;

  const checkCondition = (key: string, ifMatch: string | undefined) => {
    beforeWrite?.(key);
    const current = objects.get(key);
    if (ifMatch !== undefined && !current) throw Object.assign(new Error('gone'), { name: 'NoSuchKey' });
    if (ifMatch !== undefined && current?.etag !== ifMatch) {
      throw Object.assign(new Error('precondition'), {
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      });
    }
  };

  const send = async (command: unknown): Promise<unknown> => {
    if (command instanceof ListObjectsV2Command) {
      const { Prefix = '', ContinuationToken } = command.input;
      calls.push({ command: 'List' });
      const matching = [...objects.keys()].filter((k) => k.startsWith(Prefix)).sort();
      const start = ContinuationToken ? Number(ContinuationToken) : 0;
      const truncated = start + 2 < matching.length;
      return {
        Contents: matching.slice(start, start + 2).map((Key) => ({ Key })),
        IsTruncated: truncated,
        NextContinuationToken: truncated ? String(start + 2) : undefined,
      };
    }
    if (command instanceof GetObjectCommand || command instanceof HeadObjectCommand) {
      const key = String(command.input.Key);
      const isGet = command instanceof GetObjectCommand;
      calls.push({ command: isGet ? 'Get' : 'Head', key });
      const object = objects.get(key);
      if (!object) throw Object.assign(new Error('gone'), { name: isGet ? 'NoSuchKey' : 'NotFound' });
      if (!isGet) return { ETag: object.etag };
      const data = object.body;
      async function* chunks() {
        for (let i = 0; i < data.length; i += chunkSize) {
          await new Promise((resolve) => setImmediate(resolve));
          yield data.subarray(i, i + chunkSize);
        }
      }
      return { Body: Readable.from(chunks()), ETag: object.etag, ContentType: object.contentType };
    }
    if (command instanceof PutObjectCommand) {
      const { Key, IfMatch, Body, ContentType } = command.input;
      calls.push({ command: 'Put', key: String(Key), ifMatch: IfMatch });
      checkCondition(String(Key), IfMatch);
      set(String(Key), Buffer.from(Body as Uint8Array), ContentType);
      return { ETag: objects.get(String(Key))?.etag };
    }
    if (command instanceof CreateMultipartUploadCommand) {
      const id = `upload-${uploads.size + 1}`;
      calls.push({ command: 'CreateMultipart', key: String(command.input.Key) });
      uploads.set(id, { key: String(command.input.Key), parts: new Map() });
      return { UploadId: id };
    }
    if (command instanceof UploadPartCommand) {
      calls.push({ command: 'UploadPart', key: String(command.input.Key) });
      if (failPart) throw Object.assign(new Error('part failed'), { name: 'InternalError' });
      const upload = uploads.get(String(command.input.UploadId));
      const part = Buffer.from(command.input.Body as Uint8Array);
      upload?.parts.set(Number(command.input.PartNumber), part);
      return { ETag: etagOf(part) };
    }
    if (command instanceof CompleteMultipartUploadCommand) {
      const { Key, IfMatch, UploadId } = command.input;
      calls.push({ command: 'Complete', key: String(Key), ifMatch: IfMatch });
      checkCondition(String(Key), IfMatch);
      const upload = uploads.get(String(UploadId));
      const numbers = (command.input.MultipartUpload?.Parts ?? []).map((p) => Number(p.PartNumber));
      set(String(Key), Buffer.concat(numbers.map((n) => upload?.parts.get(n) ?? Buffer.alloc(0))));
      uploads.delete(String(UploadId));
      return {};
    }
    if (command instanceof AbortMultipartUploadCommand) {
      calls.push({ command: 'AbortMultipart', key: String(command.input.Key) });
      uploads.delete(String(command.input.UploadId));
      return {};
    }
    throw new Error(`unexpected command ${String(command)}`);
  };
  // lib-storage's Upload reads a few settings off the client's config.
  const config = {
    endpoint: async () => ({ protocol: 'https:', hostname: 's3.test', path: '/' }),
    forcePathStyle: true,
    requestChecksumCalculation: async () => 'WHEN_REQUIRED',
  };
  return {
    s3: fakeClient(S3Client, { send, config }),
    objects,
    calls,
    body: (key: string) => text(objects.get(key)?.body ?? gz('')),
    setBeforeWrite: (hook: ((key: string) => void) | undefined) => (beforeWrite = hook),
    setFailPart: (fail: boolean) => (failPart = fail),
    put: (key: string, body: Buffer) => set(key, body, 'application/gzip'),
    openUploads: () => uploads.size,
  };
}

const CONFIG: LogsConfig = {
  bucket: 'platform-logs',
  accessPrefix: 'access/',
  voiceSessionsPrefix: 'voice-sessions/',
};
const IDS = { userIds: ['u-alice', 'u-alice-old'], deviceIds: ['dev-alice-phone'] };

function subject(identifiers = IDS): StagedSubject {
  return {
    requestId: 'req_00000000000000000000000000000042',
    subjectHash: 'hash',
    found: true,
    pseudonymSalt: 'salt',
    identifiers: { emails: [], phones: [], externalAccounts: [], ...identifiers },
  };
}

function erasureCtx(now = NOW): ErasureContext {
  return {
    requestId: 'req_00000000000000000000000000000042',
    subject: subject(),
    tombstone: 'erased-user-x',
    now: () => now,
  };
}

const access = (extra: Row) =>
  JSON.stringify({
    ts: '2026-10-30T10:00:00Z',
    userId: null,
    ip: '192.0.2.1',
    deviceId: 'dev-x',
    userAgent: 'App/1.0',
    method: 'GET',
    path: '/worlds',
    status: 200,
    referrer: null,
    country: 'KR',
    region: 'KR-11',
    ...extra,
  });

// A recent day (inside 3 months) with CRLF endings, odd spacing, unicode, a malformed line and no final newline.
const RECENT_ACCESS = [
  access({ userId: 'u-bob', ts: '2026-10-30T01:00:00Z', note: 'u-alice' }), // mentions alice, is bob's
  access({ userId: 'u-alice', ts: '2026-10-30T02:00:00Z', ip: '10.0.0.1' }),
  '{"ts":"2026-10-30T03:00:00Z",   "userId":"u-carol", "path":"/월드/ü"}',
  access({ userId: null, deviceId: 'dev-alice-phone', ts: '2026-10-30T04:00:00Z' }), // alice signed out
  access({ userId: 'u-frank', deviceId: 'dev-alice-phone', ts: '2026-10-30T05:00:00Z' }), // frank on her device
  'not json "u-alice"',
  '',
  access({ userId: 'u-alice-old', ts: '2026-10-30T23:00:00Z' }),
  access({ userId: null, deviceId: 'dev-anon', ts: '2026-10-30T23:30:00Z' }),
].join('\r\n');

// An old day (past 3 months): alice's lines there have outlived the access-log retention.
const OLD_ACCESS =
  [
    access({ userId: 'u-alice', ts: '2026-07-01T08:00:00Z' }),
    access({ userId: 'u-bob', ts: '2026-07-01T09:00:00Z' }),
    access({ userId: 'u-alice', ts: '2026-07-01T10:00:00Z' }),
  ].join('\n') + '\n';

const OTHERS_ONLY = access({ userId: 'u-bob', ts: '2026-10-29T10:00:00Z' }) + '\n';

const session = (id: string, startedAt: string, users: string[]) =>
  JSON.stringify({
    sessionId: id,
    worldId: 'world-1',
    startedAt,
    endedAt: startedAt,
    participants: users.map((userId, i) => ({ userId, ip: `198.51.100.${i + 1}`, joinedAt: startedAt })),
  });

const RECENT_VOICE =
  [
    session('vs-1', '2026-10-30T19:00:00Z', ['u-alice', 'u-bob']),
    session('vs-2', '2026-10-30T20:00:00Z', ['u-bob', 'u-carol']),
    session('vs-3', '2026-10-30T21:00:00Z', ['u-carol', 'u-alice', 'u-dave', 'u-alice-old']),
  ].join('\n') + '\n';
const OLD_VOICE = session('vs-0', '2025-09-01T19:00:00Z', ['u-bob', 'u-alice']) + '\n';

const KEYS = {
  recent: 'access/dt=2026-10-30/part-00000.jsonl.gz',
  old: 'access/dt=2026-07-01/part-00000.jsonl.gz',
  others: 'access/dt=2026-10-29/part-00000.jsonl.gz',
  recentVoice: 'voice-sessions/dt=2026-10-30/part-00000.jsonl.gz',
  oldVoice: 'voice-sessions/dt=2025-09-01/part-00000.jsonl.gz',
};

function seeded() {
  return fakeS3({
    [KEYS.recent]: gz(RECENT_ACCESS),
    [KEYS.old]: gz(OLD_ACCESS),
    [KEYS.others]: gz(OTHERS_ONLY),
    [KEYS.recentVoice]: gz(RECENT_VOICE),
    [KEYS.oldVoice]: gz(OLD_VOICE),
  });
}

async function inventoryOf(s3: S3Client, config: LogsConfig = CONFIG, now = NOW) {
  const inventory = await createLogsConnector(s3, config).inventory?.(erasureCtx(now));
  if (!inventory) throw new Error('no inventory');
  return inventory;
}

/** The plan's entries for logs, from the real planner and policy (other stores report nothing). */
function planFor(
  logs: Record<string, CategoryInventoryView>,
  jurisdiction: string,
  now = NOW,
  holds: { holdId: string; caseReference: string; stores?: ['logs'] }[] = [],
): PlanEntryView[] {
  return planEntriesFor('logs', logs, { jurisdiction, holds, now });
}

const REQUEST = 'req_00000000000000000000000000000042';
const SUBJECTS_KEY = 'log-erasure-jobs/job/subjects.json';
let jobs = 0;
const unused = () => {
  throw new Error('not used by a rewrite');
};

interface JobOptions {
  conditionalWrites?: boolean;
  maxWriteAttempts?: number;
  concurrency?: number;
  /** The job's object list (default: every key of the seeded bucket). */
  keys?: string[];
}

/**
 * The log-erasure job's rewrite of every object of the bucket, for the subject waiting with `plan`'s log
 * entries: per category what left the live logs, and the vault copies made.
 */
async function erase(s3: S3Client, plan: PlanEntryView[], options: JobOptions = {}, now = NOW) {
  const categories = plan
    .filter((e) => e.action === 'delete' || e.action === 'anonymise' || e.action === 'retain')
    .map((e) => ({ category: e.category, action: e.action, liveAction: e.liveAction, rule: e.rule }));
  const staged = JSON.stringify([{ requestId: REQUEST, queuedAt: 'q', categories }]);
  const send = s3.send.bind(s3);
  // The staged subjects (request ids and categories) beside the logs; everything else goes to the logs.
  const client = fakeClient(S3Client, {
    config: (s3 as unknown as { config: unknown }).config,
    send: async (command: unknown) => {
      if (command instanceof GetObjectCommand && command.input.Key === SUBJECTS_KEY)
        return { Body: { transformToString: async () => staged } };
      if (command instanceof PutObjectCommand) order.push(`write ${command.input.Key}`);
      return send(command as never);
    },
  });
  // Tallies records and object writes, in the order they happened.
  const order: string[] = [];
  const recorded: ObjectTallies[] = [];
  const vaulted: VaultRecord[] = [];
  const deps = rewriteDeps({
    s3: client,
    config: {
      logsBucket: CONFIG.bucket,
      accessPrefix: CONFIG.accessPrefix,
      voiceSessionsPrefix: CONFIG.voiceSessionsPrefix,
      stagingBucket: 'staging',
      conditionalWrites: options.conditionalWrites ?? true,
      maxWriteAttempts: options.maxWriteAttempts ?? 5,
      concurrency: options.concurrency ?? 4,
    },
    identifiers: subject().identifiers,
    vault: { put: async (record) => void vaulted.push(record) },
    // What a rewrite removes is recorded before the object is written (the job's finish reads it).
    recordTallies: async (_jobId, record) => {
      order.push(`record ${record.key}`);
      recorded.push(record);
    },
  });
  const keys = options.keys ?? Object.values(KEYS);
  const queued = new Set(categories.map((c) => c.category));
  const objects = keys
    .filter((key) => queued.has(key.startsWith(CONFIG.accessPrefix) ? 'access-log' : 'voice-sessions'))
    .map((key) => ({ key }));
  jobs += 1;
  const out = (await eraseLogs(deps, {
    operation: 'rewrite',
    jobId: `job-${jobs}`,
    asOf: now.toISOString(),
    subjectsKey: SUBJECTS_KEY,
    objects,
  })) as RewriteOutput;
  // What the finish reads: the last record of each object.
  const removed = (category: string) =>
    talliesByRequest([...new Map(recorded.map((r) => [r.key, r])).values()])[REQUEST]?.[category]?.removed ??
    0;
  return { out, vaulted, removed, recorded, order };
}

const lines = (body: string) => body.split(/(?<=\n)/);
/** `before` minus the lines at `dropped` (0-based, as split keeping endings). */
const without = (before: string, dropped: number[]) =>
  lines(before)
    .filter((_, i) => !dropped.includes(i))
    .join('');

describe('logs inventory', () => {
  test('counts the subject’s access lines (user ids, and signed-out lines from their devices) and sessions per day', async () => {
    const bucket = seeded();
    const inventory = await inventoryOf(bucket.s3);
    // recent: alice 02:00, signed-out dev-alice-phone 04:00, u-alice-old 23:00 (not bob's mention, not
    // frank on her device, not the malformed line); old: two.
    expect(inventory['access-log']).toEqual({
      count: 5,
      dates: {
        recordDate: [
          { at: '2026-07-01T10:00:00.000Z', count: 2 },
          { at: '2026-10-30T23:00:00.000Z', count: 3 },
        ],
      },
    });
    expect(inventory['voice-sessions']).toEqual({
      count: 3,
      dates: {
        sessionDate: [
          { at: '2025-09-01T19:00:00.000Z', count: 1 },
          { at: '2026-10-30T21:00:00.000Z', count: 2 },
        ],
      },
    });
    // The planner accepts it as it is.
    const plan = planFor(inventory, 'KR');
    expect(plan.map((e) => [e.category, e.action])).toEqual([
      ['access-log', 'retain'],
      ['voice-sessions', 'retain'],
    ]);
    expect(bucket.calls.some((c) => c.command === 'Put')).toBe(false);
  });

  test('a line without a usable date is dated by the end of its dt= day', async () => {
    const bucket = fakeS3({
      'access/dt=2026-10-02/part-00000.jsonl.gz': gz(access({ userId: 'u-alice', ts: 'yesterday' })),
    });
    const inventory = await inventoryOf(bucket.s3);
    expect(inventory['access-log']?.dates?.recordDate).toEqual([
      { at: '2026-10-02T23:59:59.999Z', count: 1 },
    ]);
  });

  test('a subject with no ids has nothing, and nothing is read', async () => {
    const bucket = seeded();
    const inventory = await createLogsConnector(bucket.s3, CONFIG).inventory?.({
      ...erasureCtx(),
      subject: subject({ userIds: [], deviceIds: [] }),
    });
    expect(inventory).toEqual({});
    expect(bucket.calls).toEqual([]);
  });
});

describe('logs erase step', () => {
  test('rewrites nothing: it reports what waits for the log-erasure job', async () => {
    const bucket = seeded();
    const plan = planFor(await inventoryOf(bucket.s3), 'default').map((e, i) => ({ ...e, count: [5, 3][i] }));
    const ctx: EraseContext = { ...erasureCtx(), plan, vault: { put: unused } };
    bucket.calls.length = 0;
    const outcome = await createLogsConnector(bucket.s3, CONFIG).erase?.(ctx);
    expect(outcome).toEqual({
      'access-log': { deleted: 0, anonymised: 0, retained: 0, untouched: 5 },
      'voice-sessions': { deleted: 0, anonymised: 0, retained: 0, untouched: 3 },
    });
    expect(bucket.calls).toEqual([]);
  });
});

describe('log-erasure job: rewriting objects', () => {
  test('no retention (default profile): every line of the subject goes, others stay byte-for-byte, in order', async () => {
    const bucket = seeded();
    const before = Object.fromEntries([...bucket.objects].map(([k, o]) => [k, o.body]));
    const plan = planFor(await inventoryOf(bucket.s3), 'default');
    expect(plan.map((e) => e.action)).toEqual(['delete', 'anonymise']);

    const erasing = bucket.calls.length;
    const { out, removed, vaulted, recorded, order } = await erase(bucket.s3, plan);
    expect([removed('access-log'), removed('voice-sessions')]).toEqual([5, 3]);
    expect(vaulted).toEqual([]);
    expect(out).toMatchObject({ objects: 5, written: 4, unchanged: 1, missing: 0 });
    // recent: lines 1 (alice), 3 (signed out on her device) and 7 (old id) dropped; CRLF kept.
    expect(bucket.body(KEYS.recent)).toBe(without(RECENT_ACCESS, [1, 3, 7]));
    expect(bucket.body(KEYS.old)).toBe(without(OLD_ACCESS, [0, 2]));
    // An object without the subject is never written.
    expect(bucket.objects.get(KEYS.others)?.body).toBe(before[KEYS.others]);
    const isJobRecord = (key: string) => key.startsWith('log-erasure-jobs/');
    const puts = () => bucket.calls.filter((c) => c.command === 'Put' && !isJobRecord(String(c.key)));
    expect(
      puts()
        .map((c) => c.key)
        .sort(),
    ).toEqual([KEYS.old, KEYS.oldVoice, KEYS.recent, KEYS.recentVoice].sort());
    // What each written object lost is recorded before it is written: one record per object, whose
    // counts add up to what the batch reports.
    expect(recorded.map((r) => r.key).sort()).toEqual(
      puts()
        .map((c) => c.key)
        .sort(),
    );
    for (const { key } of recorded)
      expect(order.indexOf(`record ${key}`)).toBeLessThan(order.indexOf(`write ${key}`));
    const recordedRemoved = (category: string) =>
      recorded.reduce((n, r) => n + (r.subjects[REQUEST]?.[category]?.removed ?? 0), 0);
    expect([recordedRemoved('access-log'), recordedRemoved('voice-sessions')]).toEqual([5, 3]);
    // Every write was conditional on the ETag read, and each object read once.
    for (const put of puts()) expect(put.ifMatch).toMatch(/^"[0-9a-f]{32}"$/);
    expect(bucket.calls.slice(erasing).filter((c) => c.command === 'Get')).toHaveLength(5);
    // Each version written is reported, read and written ETags, for the finish to carry over in the
    // index without her (the batch itself writes nothing there).
    expect(out.rewrites.map((r) => r.key).sort()).toEqual(
      [KEYS.old, KEYS.oldVoice, KEYS.recent, KEYS.recentVoice].sort(),
    );
    for (const rewrite of out.rewrites) {
      expect(rewrite.from).toMatch(/^[0-9a-f]{32}$/);
      expect(rewrite.to).toMatch(/^[0-9a-f]{32}$/);
      expect(rewrite.to).not.toBe(rewrite.from);
    }

    // Voice: only the subject's entries go; other sessions' lines are byte-for-byte the same.
    const voice = lines(bucket.body(KEYS.recentVoice));
    expect(voice[1]).toBe(lines(RECENT_VOICE)[1]);
    const vs1 = JSON.parse(voice[0] ?? '') as { participants: Row[] };
    const vs3 = JSON.parse(voice[2] ?? '') as { participants: Row[]; sessionId: string };
    expect(vs1.participants.map((p) => p.userId)).toEqual(['u-bob']);
    expect(vs3.participants).toEqual([
      { userId: 'u-carol', ip: '198.51.100.1', joinedAt: '2026-10-30T21:00:00Z' },
      { userId: 'u-dave', ip: '198.51.100.3', joinedAt: '2026-10-30T21:00:00Z' },
    ]);
    expect(vs3.sessionId).toBe('vs-3');
    expect(bucket.body(KEYS.oldVoice)).not.toContain('u-alice');

    // Verification: nothing left; a rerun writes nothing and reports nothing.
    expect(await inventoryOf(bucket.s3)).toEqual({});
    const written = puts().length;
    const again = await erase(bucket.s3, plan);
    expect([again.removed('access-log'), again.removed('voice-sessions')]).toEqual([0, 0]);
    expect(puts().length).toBe(written);
  });

  test('KR: lines under retention leave the live logs in the same rewrite and go to the vault with their expiry', async () => {
    const bucket = seeded();
    const plan = planFor(await inventoryOf(bucket.s3), 'KR');
    expect(plan.map((e) => e.action)).toEqual(['retain', 'retain']);
    const { removed, vaulted } = await erase(bucket.s3, plan);
    expect([removed('access-log'), removed('voice-sessions')]).toEqual([5, 3]);
    // Recent access lines (3 months from their ts) and recent sessions (12 months) are kept; the old
    // access lines and the 2025 session had outlived their periods.
    expect(vaulted.map((v) => [v.category, v.until]).sort()).toEqual(
      [
        ['access-log', '2027-01-30T02:00:00.000Z'],
        ['access-log', '2027-01-30T04:00:00.000Z'],
        ['access-log', '2027-01-30T23:00:00.000Z'],
        ['voice-sessions', '2027-10-30T19:00:00.000Z'],
        ['voice-sessions', '2027-10-30T21:00:00.000Z'],
      ].sort(),
    );
    // Only the rule's fields: of a session, who took part, and only her own address and times.
    for (const v of vaulted) {
      expect(JSON.stringify(v.data)).not.toMatch(/userAgent|country|referrer/);
      for (const p of (v.data.participants ?? []) as Row[])
        if ('ip' in p) expect(IDS.userIds).toContain(p.userId);
    }
    const vs1 = vaulted.find((v) => v.until === '2027-10-30T19:00:00.000Z')?.data as { participants: Row[] };
    expect(vs1.participants).toEqual([
      { userId: 'u-alice', ip: '198.51.100.1', joinedAt: '2026-10-30T19:00:00Z' },
      { userId: 'u-bob' },
    ]);
    expect(bucket.body(KEYS.recent)).toBe(without(RECENT_ACCESS, [1, 3, 7]));
    expect(bucket.body(KEYS.old)).toBe(without(OLD_ACCESS, [0, 2]));
    expect(await inventoryOf(bucket.s3)).toEqual({});
    // Stable record ids: a rerun of the same lines would write the same vault items.
    expect(new Set(vaulted.map((v) => v.recordId)).size).toBe(vaulted.length);
  });

  test('a category not queued (held) is not touched', async () => {
    const bucket = seeded();
    const before = new Map([...bucket.objects].map(([k, o]) => [k, o.etag]));
    const plan = planFor(await inventoryOf(bucket.s3), 'default', NOW, [
      { holdId: 'hold-1', caseReference: 'CASE-1', stores: ['logs'] },
    ]);
    expect(plan.map((e) => e.action)).toEqual(['held', 'held']);
    const { out } = await erase(bucket.s3, plan);
    expect(out.objects).toBe(0);
    expect(new Map([...bucket.objects].map(([k, o]) => [k, o.etag]))).toEqual(before);
    expect(bucket.calls.some((c) => c.command === 'Put')).toBe(false);
  });

  test('a concurrent write between read and write (412) is retried on the new content and survives', async () => {
    const bucket = seeded();
    const plan = planFor(await inventoryOf(bucket.s3), 'default');
    const erasing = bucket.calls.length;
    const appended = access({ userId: 'u-dave', ts: '2026-07-01T23:00:00Z', path: '/late' }) + '\n';
    let raced = false;
    bucket.setBeforeWrite((key) => {
      if (key !== KEYS.old || raced) return;
      raced = true;
      // A log shipper appends to the object after our read: the write with the old ETag must fail.
      bucket.put(key, gz(OLD_ACCESS + appended));
    });
    const { removed, out } = await erase(bucket.s3, plan, { concurrency: 1 });
    expect(removed('access-log')).toBe(5);
    expect(out.retries).toBe(1);
    const puts = bucket.calls.filter((c) => c.command === 'Put' && c.key === KEYS.old);
    expect(puts).toHaveLength(2);
    expect(puts[0]?.ifMatch).not.toBe(puts[1]?.ifMatch);
    // First read, re-read after the 412.
    expect(bucket.calls.slice(erasing).filter((c) => c.command === 'Get' && c.key === KEYS.old)).toHaveLength(
      2,
    );
    expect(bucket.body(KEYS.old)).toBe(without(OLD_ACCESS, [0, 2]) + appended);
  });

  test('local mode (no If-Match): a changed ETag seen by HeadObject before the write retries', async () => {
    const bucket = seeded();
    const plan = planFor(await inventoryOf(bucket.s3), 'default');
    const appended = access({ userId: 'u-dave', ts: '2026-07-01T23:00:00Z' }) + '\n';
    let changes = 0;
    // The change lands while the object is being filtered, before the pre-write check.
    const send = bucket.s3.send.bind(bucket.s3);
    const s3 = fakeClient(S3Client, {
      config: (bucket.s3 as unknown as { config: unknown }).config,
      send: async (command: unknown) => {
        if (command instanceof HeadObjectCommand && command.input.Key === KEYS.old && changes === 0) {
          changes += 1;
          bucket.put(KEYS.old, gz(OLD_ACCESS + appended));
        }
        return send(command as never);
      },
    });
    await erase(s3, plan, { conditionalWrites: false, concurrency: 1 });
    const puts = bucket.calls.filter((c) => c.command === 'Put');
    expect(puts.length).toBeGreaterThan(0);
    expect(puts.every((c) => c.ifMatch === undefined)).toBe(true);
    expect(bucket.calls.filter((c) => c.command === 'Put' && c.key === KEYS.old)).toHaveLength(1);
    expect(bucket.body(KEYS.old)).toBe(without(OLD_ACCESS, [0, 2]) + appended);
  });

  test('an object that keeps changing fails the batch after the last attempt, naming no one', async () => {
    const bucket = seeded();
    const plan = planFor(await inventoryOf(bucket.s3), 'default');
    let n = 0;
    bucket.setBeforeWrite((key) => {
      if (key === KEYS.old) bucket.put(key, gz(OLD_ACCESS + access({ userId: 'u-bob', n: n++ }) + '\n'));
    });
    const failure = erase(bucket.s3, plan, { maxWriteAttempts: 3, concurrency: 1, keys: [KEYS.old] });
    await expect(failure).rejects.toThrow(/kept changing/);
    await expect(failure).rejects.not.toThrow(/alice/);
    expect(bucket.calls.filter((c) => c.command === 'Put' && c.key === KEYS.old)).toHaveLength(3);
  });

  test('lines already gone (erased since the object was listed): nothing is written', async () => {
    const bucket = seeded();
    const plan = planFor(await inventoryOf(bucket.s3), 'default');
    bucket.put(KEYS.old, gz(without(OLD_ACCESS, [0, 2])));
    const { removed, out } = await erase(bucket.s3, plan, { keys: [KEYS.old] });
    expect(removed('access-log')).toBe(0);
    expect(out).toMatchObject({ objects: 1, unchanged: 1, written: 0 });
    expect(bucket.calls.filter((c) => c.command === 'Put' && c.key === KEYS.old)).toHaveLength(0);
  });

  test('an object gone between listing and reading is skipped; a corrupt one fails loudly', async () => {
    const bucket = seeded();
    const plan = planFor(await inventoryOf(bucket.s3), 'default');
    bucket.objects.delete(KEYS.old);
    const { removed, out } = await erase(bucket.s3, plan);
    expect(removed('access-log')).toBe(3);
    expect(out.missing).toBe(1);

    const corrupt = fakeS3({
      [KEYS.recent]: Buffer.concat([gz(RECENT_ACCESS).subarray(0, 40), Buffer.from('junk')]),
    });
    await expect(erase(corrupt.s3, plan, { keys: [KEYS.recent] })).rejects.toThrow(
      /could not be decompressed/,
    );
    expect(corrupt.calls.some((c) => c.command === 'Put' && c.key === KEYS.recent)).toBe(false);
  });

  /** A log object whose gzip output spans two 5 MiB parts (random hex barely compresses). Built once. */
  let big: { rows: string[]; body: Buffer } | undefined;
  function bigObject() {
    if (big) return big;
    const noise = randomBytes(60_000 * 96);
    const rows = Array.from({ length: 60_000 }, (_, i) =>
      access({
        userId: i % 10_000 === 5 ? 'u-alice' : `u-${i % 97}`,
        ts: '2026-07-01T10:00:00Z',
        path: `/${noise.toString('hex', i * 96, (i + 1) * 96)}`,
      }),
    );
    big = { rows, body: gzipSync(Buffer.from(rows.join('\n') + '\n'), { level: 1 }) };
    return big;
  }

  test('a large object is streamed through a multipart upload, conditional on its ETag at completion', async () => {
    const { rows, body } = bigObject();
    const key = 'access/dt=2026-07-01/part-00007.jsonl.gz';
    const bucket = fakeS3({ [key]: body }, { chunkSize: 64 * 1024 });
    const plan = planFor(await inventoryOf(bucket.s3), 'KR');
    const { removed, vaulted } = await erase(bucket.s3, plan, { keys: [key] });
    expect(removed('access-log')).toBe(6);
    expect(vaulted).toEqual([]);
    const complete = bucket.calls.filter((c) => c.command === 'Complete');
    expect(complete).toHaveLength(1);
    expect(complete[0]?.ifMatch).toMatch(/^"[0-9a-f]{32}"$/);
    expect(bucket.calls.filter((c) => c.command === 'UploadPart').length).toBeGreaterThan(1);
    expect(bucket.body(key)).toBe(rows.filter((r) => !r.includes('"u-alice"')).join('\n') + '\n');
  }, 60_000);

  test('a failing part upload aborts the multipart upload and fails the batch (no hang)', async () => {
    const { body } = bigObject();
    const key = 'access/dt=2026-07-01/part-00008.jsonl.gz';
    const bucket = fakeS3({ [key]: body }, { chunkSize: 64 * 1024 });
    const plan = planFor(await inventoryOf(bucket.s3), 'default');
    bucket.setFailPart(true);
    await expect(erase(bucket.s3, plan, { keys: [key] })).rejects.toThrow(/part failed/);
    expect(bucket.calls.some((c) => c.command === 'AbortMultipart')).toBe(true);
    expect(bucket.openUploads()).toBe(0);
    expect(bucket.objects.get(key)?.body).toBe(body);
  }, 60_000);
});

describe('filterLines', () => {
  const judgeMarked = (line: Buffer): LineVerdict => {
    const s = line.toString('latin1');
    if (s.includes('DROP')) return 'drop';
    if (s.includes('SWAP')) return { replace: 'swapped' };
    return 'keep';
  };

  /** Candidates by substring: the filter must judge the lines they point at, and only those. */
  const containing = (words: string[]): LineCandidates => ({
    search: (chunk, end) => ({
      next(from) {
        const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        const hits = words.map((word) => bytes.indexOf(word, from)).filter((at) => at !== -1 && at < end);
        return hits.length > 0 ? Math.min(...hits) : -1;
      },
    }),
  });

  async function run(input: Buffer, chunk: number, candidates: LineCandidates | null, maxLineBytes?: number) {
    async function* chunks() {
      for (let i = 0; i < input.length; i += chunk) yield input.subarray(i, i + chunk);
    }
    const out: Buffer[] = [];
    let ended = 0;
    for await (const piece of filterLines(chunks(), {
      candidates,
      judge: judgeMarked,
      maxLineBytes,
      beforeEnd: async () => {
        ended += 1;
      },
    }))
      out.push(piece);
    expect(ended).toBe(1);
    return Buffer.concat(out);
  }

  /** The expected output, line by line (endings: \n, \r\n, or none on the last line). */
  function expected(input: Buffer): Buffer {
    const out: Buffer[] = [];
    let start = 0;
    while (start < input.length) {
      const nl = input.indexOf(0x0a, start);
      const end = nl === -1 ? input.length : nl;
      const line = input.subarray(start, end);
      const verdict = judgeMarked(line);
      const ending = nl === -1 ? '' : line[line.length - 1] === 0x0d ? '\r\n' : '\n';
      if (verdict === 'keep') out.push(input.subarray(start, nl === -1 ? end : nl + 1));
      else if (verdict !== 'drop') out.push(Buffer.from(verdict.replace + ending));
      start = end + 1;
    }
    return Buffer.concat(out);
  }

  test('keeps every other byte as it is, whatever the chunking (property)', async () => {
    const lineArb = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }).map((s) => s.replace(/\n/g, '')),
      fc.constantFrom('DROP me', 'x DROP', 'SWAP this', ''),
      fc
        .uint8Array({ maxLength: 20 })
        .map((a) => Buffer.from(a.filter((b) => b !== 0x0a)).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(lineArb, fc.constantFrom('\n', '\r\n')), { maxLength: 25 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        async (rows, finalNewline, chunk, useCandidates) => {
          const parts = rows.map(([line, eol], i) =>
            Buffer.concat([
              Buffer.from(line, 'latin1'),
              Buffer.from(i === rows.length - 1 && !finalNewline ? '' : eol),
            ]),
          );
          const input = Buffer.concat(parts);
          const candidates = useCandidates ? containing(['DROP', 'SWAP']) : null;
          expect((await run(input, chunk, candidates)).equals(expected(input))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('a line longer than the limit is copied through unjudged', async () => {
    const long = 'DROP' + 'x'.repeat(100);
    const input = Buffer.from(`a\n${long}\nDROP\nb`);
    const stats = { oversized: 0 };
    const out: Buffer[] = [];
    async function* chunks() {
      for (let i = 0; i < input.length; i += 7) yield input.subarray(i, i + 7);
    }
    for await (const piece of filterLines(chunks(), {
      candidates: null,
      judge: judgeMarked,
      maxLineBytes: 32,
      stats,
    }))
      out.push(piece);
    expect(Buffer.concat(out).toString()).toBe(`a\n${long}\nb`);
    expect(stats.oversized).toBe(1);
  });
});
