/**
 * The batched log-erasure job on the real local stack (DynamoDB Local, s3rver, the log-erasure ASL with its
 * Distributed Map run by the local Map Run runner). Three erasures (u-bob JP, u-carol US, u-dave KR) whose
 * lines share day objects wait for the job; the job rewrites each object once, a new version of one
 * object is written while the job is reading it, and each erasure is certified only after its lines are
 * gone. Then a failed object fails a job and nothing is certified.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { platformStores } from '../../config/data-map';
import { s3Client } from '../../functions/lib/aws/clients';
import type { CertificatePayload } from '../../functions/lib/erasure/certificate';
import { LogErasureQueue } from '../../functions/lib/erasure/log-queue';
import { retentionFor, retentionUntil, loadDefaultPolicy } from '../../functions/lib/erasure/policy';
import { accessLineMatch, isSubjectParticipant } from '../../functions/lib/logs/subject-lines';
import { requestTableFromEnv } from '../../functions/lib/requests/request-table';
import { LambdaCrashError } from '../../local/faults';
import { startTestStack, type TestStack } from '../support/local-stack';
import { certCategory, vaultItems } from './erasure-helpers';

const LOGS = platformStores.logs;
const DAY_MS = 86_400_000;

interface Subject {
  userId: string;
  jurisdiction: string;
  deviceIds: string[];
  requestId?: string;
  /** The guardian who asks for a minor. */
  guardian?: string;
}
const subjects: Subject[] = [
  { userId: 'u-bob', jurisdiction: 'JP', deviceIds: [] },
  { userId: 'u-carol', jurisdiction: 'US', deviceIds: [] },
  { userId: 'u-dave', jurisdiction: 'KR', deviceIds: [] },
];

let stack: TestStack;
const day = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY_MS).toISOString().slice(0, 10);
const RECENT = day(3);
const OLD = day(200);
const SHARED_RECENT = `${LOGS.accessPrefix}dt=${RECENT}/shared-job-0001.jsonl.gz`;
const SHARED_OLD = `${LOGS.accessPrefix}dt=${OLD}/shared-job-0002.jsonl.gz`;
const SHARED_VOICE = `${LOGS.voiceSessionsPrefix}dt=${RECENT}/shared-job-0003.jsonl.gz`;

/** PutObject / CompleteMultipartUpload calls the handlers make to the logs bucket, per key. */
const writes = new Map<string, number>();
let lastLogWriteAt = 0;
/**
 * Rewrite batches still to be "crashed" after their effects: the Lambda wrote its objects and then died
 * (Step Functions sees `Lambda.Unknown` and runs the batch again, finding nothing left to remove).
 */
let crashAfterRewrites = 0;
/** While set, the first job read of this key is followed by a new version of the object. */
let concurrentWrite: { key: string; extra: string[]; done: boolean; written: boolean } | undefined;

function access(ts: string, userId: string | null, deviceId: string, path: string): string {
  return JSON.stringify({ ts, userId, deviceId, ip: '192.0.2.1', method: 'GET', path, status: 200 });
}

async function putLines(key: string, lines: string[]): Promise<void> {
  await stack.s3.send(
    new PutObjectCommand({
      Bucket: LOGS.bucketName,
      Key: key,
      Body: gzipSync(lines.map((l) => `${l}\n`).join('')),
      ContentType: 'application/gzip',
    }),
  );
}

/** Every log object's lines (with their line endings). */
async function logLines(): Promise<Map<string, string[]>> {
  const listed = await stack.s3.send(new ListObjectsV2Command({ Bucket: LOGS.bucketName }));
  const out = new Map<string, string[]>();
  for (const { Key } of listed.Contents ?? []) {
    const got = await stack.s3.send(new GetObjectCommand({ Bucket: LOGS.bucketName, Key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    out.set(
      Key!,
      gunzipSync(bytes)
        .toString('utf8')
        .split(/(?<=\n)/),
    );
  }
  return out;
}

const idsOf = (s: Subject) => ({ userIds: new Set([s.userId]), deviceIds: new Set(s.deviceIds) });

/** The subjects (of `among`) a line belongs to, by the connector's own rule. */
function owners(key: string, line: string, among: readonly Subject[]): Subject[] {
  const parsed = JSON.parse(line) as Record<string, unknown>;
  if (key.startsWith(LOGS.accessPrefix)) return among.filter((s) => accessLineMatch(parsed, idsOf(s)));
  const participants = Array.isArray(parsed.participants) ? (parsed.participants as unknown[]) : [];
  return among.filter((s) => participants.some((p) => isSubjectParticipant(p, idsOf(s))));
}

/** What an object should hold once `among` are erased: their access lines gone, their entries out. */
function withoutSubjects(key: string, lines: string[], among: readonly Subject[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const theirs = owners(key, line, among);
    if (theirs.length === 0) {
      out.push(line);
      continue;
    }
    if (key.startsWith(LOGS.accessPrefix)) continue;
    const session = JSON.parse(line) as { participants: { userId?: string }[] };
    const ids = new Set(theirs.map((s) => s.userId));
    const kept = { ...session, participants: session.participants.filter((p) => !ids.has(String(p.userId))) };
    out.push(`${JSON.stringify(kept)}\n`);
  }
  return out;
}

async function certificateOf(requestId: string): Promise<CertificatePayload> {
  const res = await stack.call('GET', `/v1/requests/${requestId}/certificate`, { role: 'auditor' });
  expect(res.status).toBe(200);
  return res.body.payload as unknown as CertificatePayload;
}

/** Waits until the request's certificate `number` is issued and the run has ended. */
async function waitForCertificate(requestId: string, number: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const res = await stack.call('GET', `/v1/requests/${requestId}`);
    const erasure = res.body.erasure as { certificate?: { number: number } } | undefined;
    if (erasure?.certificate?.number === number && res.body.status !== 'in_progress') return res.body;
    if (Date.now() > deadline)
      throw new Error(`certificate ${number} not issued (${String(res.body.status)})`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function erase(subject: Subject): Promise<string> {
  const created = await stack.call('POST', '/v1/requests', {
    body: {
      type: 'erasure',
      service: 'klub-outside',
      subject: { userId: subject.userId },
      jurisdiction: subject.jurisdiction,
      ...(subject.guardian
        ? { requester: { kind: 'guardian', userId: subject.guardian, evidenceRef: 'POA-2' } }
        : {}),
    },
  });
  expect(created.status).toBe(202);
  const requestId = String(created.body.requestId);
  if (subject.guardian) {
    // A minor's erasure comes from the guardian, and klub-outside starts it once support has checked the
    // power of attorney.
    const verified = await stack.call('POST', `/v1/requests/${requestId}/verification`, {
      body: { method: 'power_of_attorney_appendix11', verifiedBy: 'support-agent-3', evidenceRef: 'POA-2' },
    });
    expect(verified.status).toBe(200);
  }
  return requestId;
}

beforeAll(async () => {
  stack = await startTestStack({
    workflows: {
      interceptor: async (fn, payload, invoke) => {
        const result = await invoke();
        const operation = (payload as { operation?: string } | undefined)?.operation;
        if (fn === 'dsr-erase-logs' && operation === 'rewrite' && crashAfterRewrites > 0) {
          crashAfterRewrites -= 1;
          throw new LambdaCrashError();
        }
        return result;
      },
    },
  });
  for (const s of subjects) {
    const account = await stack.doc.send(
      new GetCommand({ TableName: platformStores.accounts.table.tableName, Key: { userId: s.userId } }),
    );
    const devices = (account.Item?.devices ?? []) as { deviceId: string }[];
    s.deviceIds = devices.map((d) => d.deviceId);
    expect(s.deviceIds.length).toBeGreaterThan(0);
  }
  const [bob, carol, dave] = subjects as [Subject, Subject, Subject];
  const ts = (d: string, h: number) => `${d}T${String(h).padStart(2, '0')}:00:00.000Z`;
  // The three subjects' lines share objects with each other and with other users.
  await putLines(SHARED_RECENT, [
    access(ts(RECENT, 1), 'u-alice', 'dev-alice-phone', '/home'),
    access(ts(RECENT, 2), bob.userId, bob.deviceIds[0]!, '/a'),
    access(ts(RECENT, 3), carol.userId, carol.deviceIds[0]!, '/b'),
    access(ts(RECENT, 4), null, carol.deviceIds[0]!, '/signed-out'),
    // Another user signed in on dave's device: theirs, it stays.
    access(ts(RECENT, 5), 'u-minnie', dave.deviceIds[0]!, '/shared-device'),
    access(ts(RECENT, 6), dave.userId, dave.deviceIds[0]!, '/c'),
    access(ts(RECENT, 7), 'u-erin', 'dev-erin', '/d'),
  ]);
  await putLines(SHARED_OLD, [
    access(ts(OLD, 1), dave.userId, dave.deviceIds[0]!, '/old'),
    access(ts(OLD, 2), 'u-alice', 'dev-alice-pc', '/x'),
    access(ts(OLD, 3), bob.userId, bob.deviceIds[0]!, '/old-b'),
  ]);
  await putLines(SHARED_VOICE, [
    JSON.stringify({
      sessionId: 'vs-job-1',
      worldId: 'w-1',
      startedAt: ts(RECENT, 8),
      endedAt: ts(RECENT, 9),
      participants: [
        { userId: bob.userId, ip: '198.51.100.7', joinedAt: ts(RECENT, 8), leftAt: ts(RECENT, 9) },
        { userId: 'u-alice', ip: '203.0.113.1', joinedAt: ts(RECENT, 8), leftAt: ts(RECENT, 9) },
        { userId: carol.userId, ip: '192.0.2.15', joinedAt: ts(RECENT, 8), leftAt: ts(RECENT, 9) },
      ],
    }),
    JSON.stringify({
      sessionId: 'vs-job-2',
      worldId: 'w-1',
      startedAt: ts(RECENT, 10),
      endedAt: null,
      participants: [{ userId: 'u-erin', ip: '203.0.113.9', joinedAt: ts(RECENT, 10), leftAt: null }],
    }),
  ]);
  await stack.indexLogs();

  // Counts the handlers' own writes (the test's writes go through stack.s3, another client).
  s3Client().middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Bucket?: string; Key?: string };
      const result = await next(args);
      if (input.Bucket !== LOGS.bucketName || !input.Key) return result;
      const command = context.commandName;
      if (command === 'PutObjectCommand' || command === 'CompleteMultipartUploadCommand') {
        writes.set(input.Key, (writes.get(input.Key) ?? 0) + 1);
        lastLogWriteAt = Date.now();
      }
      if (command === 'GetObjectCommand' && concurrentWrite?.key === input.Key && !concurrentWrite.done) {
        // A log shipper writes a new version while the job holds the old one (only the first read).
        concurrentWrite.done = true;
        const got = await stack.s3.send(new GetObjectCommand({ Bucket: LOGS.bucketName, Key: input.Key }));
        const current = gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString('utf8');
        await putLines(input.Key, [...current.split('\n').filter((l) => l !== ''), ...concurrentWrite.extra]);
        concurrentWrite.written = true;
      }
      return result;
    },
    { step: 'initialize', name: 'countLogWrites' },
  );
}, 180_000);

afterAll(async () => {
  s3Client().middlewareStack.remove('countLogWrites');
  await stack?.stop();
});

test('three erasures sharing objects: one job rewrites each object once; each is certified after its lines are gone', async () => {
  for (const s of subjects) s.requestId = await erase(s);
  for (const s of subjects) {
    const done = await stack.waitForStatus(
      s.requestId!,
      ['partially_completed', 'completed', 'failed'],
      90_000,
    );
    expect(done.failure).toBeUndefined();
    // The log part waits for the job: the request does not complete, its lines are still there.
    expect(done.status).toBe('partially_completed');
    const first = await certificateOf(s.requestId!);
    expect(first.number).toBe(1);
    expect(certCategory(first, 'logs', 'access-log')).toMatchObject({
      state: 'pending',
      deleted: 0,
      pending: { reason: 'log-erasure-job' },
    });
  }
  const queue = new LogErasureQueue(requestTableFromEnv());
  expect((await queue.list()).map((q) => q.requestId).sort()).toEqual(
    subjects.map((s) => s.requestId).sort(),
  );
  // Nothing written to the logs by the erasures themselves.
  expect(writes.size).toBe(0);

  const before = await logLines();
  const affected = [...before].filter(([key, lines]) =>
    lines.some((l) => owners(key, l, subjects).length > 0),
  );
  expect(affected.map(([key]) => key)).toEqual(
    expect.arrayContaining([SHARED_RECENT, SHARED_OLD, SHARED_VOICE]),
  );
  const [bob] = subjects as [Subject];
  const extra = [
    access(`${RECENT}T20:00:00.000Z`, 'u-erin', 'dev-erin', '/late'),
    access(`${RECENT}T21:00:00.000Z`, bob.userId, bob.deviceIds[0]!, '/late-b'),
  ];
  concurrentWrite = { key: SHARED_RECENT, extra, done: false, written: false };
  crashAfterRewrites = 1;

  const job = await stack.runLogErasureJob('job-three-subjects');
  expect(job.status).toBe('SUCCEEDED');
  // A rewrite batch died after writing: its retry found nothing left, and its lines still count below.
  expect(crashAfterRewrites).toBe(0);
  // The new version was written between the job's read and its write (not before a retried batch).
  expect(concurrentWrite.written).toBe(true);
  const jobDone = Date.now();
  console.log(
    `log job: ${job.ms} ms, ${affected.length} affected objects, writes per object: ${JSON.stringify(Object.fromEntries(writes))}`,
  );

  // Every affected object written exactly once (the concurrent version was re-read, not written twice);
  // nothing else written.
  expect(Object.fromEntries(writes)).toEqual(Object.fromEntries(affected.map(([key]) => [key, 1])));

  const after = await logLines();
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  for (const [key, lines] of before) {
    const source = key === SHARED_RECENT ? [...lines, ...extra.map((l) => `${l}\n`)] : lines;
    // Everyone else's lines byte-for-byte, in order; the subjects' lines (the late one too) gone.
    expect({ key, lines: after.get(key) }).toEqual({ key, lines: withoutSubjects(key, source, subjects) });
  }
  for (const [key, lines] of after) for (const line of lines) expect(owners(key, line, subjects)).toEqual([]);

  // Dave (KR): each of his lines whose period still runs is in the vault until it ends (3 months for
  // access lines, 12 for voice sessions); the older ones are gone. Nobody else's is kept.
  const policy = loadDefaultPolicy();
  const dave = subjects[2]!;
  const expectedVault: string[] = [];
  for (const [key, lines] of before) {
    const category = key.startsWith(LOGS.accessPrefix) ? 'access-log' : 'voice-sessions';
    const rule = retentionFor(policy, 'KR', 'logs', category).rule!;
    for (const line of key === SHARED_RECENT ? [...lines, ...extra] : lines) {
      if (owners(key, line, [dave]).length === 0) continue;
      const parsed = JSON.parse(line) as { ts?: string; startedAt?: string };
      const until = retentionUntil(rule, String(parsed.ts ?? parsed.startedAt));
      if (until.getTime() > Date.now()) expectedVault.push(`${category} ${until.toISOString()}`);
    }
  }
  expect(expectedVault).toContain(
    `access-log ${retentionUntil(retentionFor(policy, 'KR', 'logs', 'access-log').rule!, `${RECENT}T06:00:00.000Z`).toISOString()}`,
  );
  const vaulted = (await vaultItems(stack)).filter((i) => i.store === 'logs');
  expect(vaulted.map((i) => `${String(i.category)} ${String(i.until)}`).sort()).toEqual(expectedVault.sort());

  // Each erasure resumed, verified none of its lines left, and certified after the last write.
  for (const s of subjects) {
    const done = await waitForCertificate(s.requestId!, 2);
    expect(done.failure).toBeUndefined();
    const cert = await certificateOf(s.requestId!);
    expect(Date.parse(cert.issuedAt)).toBeGreaterThanOrEqual(lastLogWriteAt);
    expect(Date.parse(cert.issuedAt)).toBeGreaterThanOrEqual(jobDone - 60_000);
    const accessLog = certCategory(cert, 'logs', 'access-log');
    expect(accessLog?.state).not.toBe('pending');
    expect(accessLog?.pending).toBeUndefined();
    const removed = [...before].reduce(
      (n, [key, lines]) =>
        n +
        (key.startsWith(LOGS.accessPrefix) ? lines.filter((l) => owners(key, l, [s]).length > 0).length : 0),
      0,
    );
    const late = s.userId === bob.userId ? 1 : 0;
    expect(accessLog?.deleted).toBe(removed + late);
    expect(cert.runs.map((r) => r.run)).toEqual([0, 1]);
    expect(done.status).toBe(s.jurisdiction === 'KR' ? 'partially_completed' : 'completed');
  }
  expect(certCategory(await certificateOf(dave.requestId!), 'logs', 'access-log')).toMatchObject({
    state: 'retained',
    retained: { location: 'vault', records: expectedVault.filter((v) => v.startsWith('access-log')).length },
  });
  expect(await queue.list()).toEqual([]);
}, 240_000);

test('a failed object fails the job: nothing is certified and the queue stays; a rerun completes it', async () => {
  const minnie: Subject = { userId: 'u-minnie', jurisdiction: 'JP', deviceIds: [], guardian: 'u-dave' };
  minnie.requestId = await erase(minnie);
  const done = await stack.waitForStatus(
    minnie.requestId,
    ['partially_completed', 'completed', 'failed'],
    90_000,
  );
  expect(done.status).toBe('partially_completed');
  const herLines = [...(await logLines())].reduce(
    (n, [key, lines]) =>
      n +
      (key.startsWith(LOGS.accessPrefix)
        ? lines.filter((l) => owners(key, l, [minnie]).length > 0).length
        : 0),
    0,
  );
  expect(herLines).toBeGreaterThan(0);
  const herSessions = [...(await logLines())].reduce(
    (n, [key, lines]) =>
      n +
      (key.startsWith(LOGS.voiceSessionsPrefix)
        ? lines.filter((l) => owners(key, l, [minnie]).length > 0).length
        : 0),
    0,
  );
  // An object that is not gzip, not indexed yet: the job must read it, and cannot.
  const corrupt = `${LOGS.accessPrefix}dt=${day(1)}/corrupt-0001.jsonl.gz`;
  await stack.s3.send(
    new PutObjectCommand({
      Bucket: LOGS.bucketName,
      Key: corrupt,
      Body: 'not gzip',
      ContentType: 'application/gzip',
    }),
  );
  const failed = await stack.runLogErasureJob('job-with-a-failed-object');
  expect(failed.status).toBe('FAILED');

  const queue = new LogErasureQueue(requestTableFromEnv());
  expect((await queue.list()).map((q) => q.requestId)).toEqual([minnie.requestId]);
  const after = await stack.call('GET', `/v1/requests/${minnie.requestId}`);
  expect(after.body.status).toBe('partially_completed');
  expect((after.body.erasure as { certificate: { number: number } }).certificate.number).toBe(1);
  const cert = await certificateOf(minnie.requestId);
  expect(certCategory(cert, 'logs', 'access-log')?.state).toBe('pending');
  const events = await stack.call('GET', `/v1/requests/${minnie.requestId}/events`, { role: 'auditor' });
  const types = (events.body.events as { type: string }[]).map((e) => e.type);
  expect(types).not.toContain('erasure.logs_erased');
  expect(types).not.toContain('erasure.resumed');

  // The lock was released: once the object is gone, a new job does it.
  await stack.s3.send(new DeleteObjectCommand({ Bucket: LOGS.bucketName, Key: corrupt }));
  // Support starts the job through the API; other roles may not.
  expect((await stack.call('POST', '/v1/log-erasure-jobs', { role: 'auditor' })).status).toBe(403);
  expect((await stack.call('POST', '/v1/log-erasure-jobs', { role: 'legal' })).status).toBe(403);
  const started = await stack.call('POST', '/v1/log-erasure-jobs', { role: 'support' });
  expect(started.status).toBe(202);
  const jobId = String(started.body.jobId);
  expect(started.body.href).toBe(`/v1/log-erasure-jobs/${jobId}`);
  let job: Record<string, unknown> = {};
  for (let i = 0; i < 600; i++) {
    job = (await stack.call('GET', `/v1/log-erasure-jobs/${jobId}`, { role: 'auditor' })).body;
    if (job.status !== 'RUNNING') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(job).toMatchObject({
    jobId,
    status: 'SUCCEEDED',
    // Every line and session entry of hers, whichever job removed it (the failed one did some objects).
    result: {
      requests: 1,
      removed: herLines + herSessions,
      resumed: [{ requestId: minnie.requestId, run: 1 }],
    },
  });
  expect((await stack.call('GET', '/v1/log-erasure-jobs/logjob-20000101T000000-00000000')).status).toBe(404);
  await waitForCertificate(minnie.requestId, 2);
  const second = await certificateOf(minnie.requestId);
  expect(second.status).toBe('completed');
  // Whichever job removed them (the failed one did some objects), every line is counted once.
  expect(certCategory(second, 'logs', 'access-log')).toMatchObject({ state: 'deleted', deleted: herLines });
  for (const [key, lines] of await logLines())
    for (const line of lines) expect(owners(key, line, [minnie])).toEqual([]);
  expect(await queue.list()).toEqual([]);
}, 240_000);
