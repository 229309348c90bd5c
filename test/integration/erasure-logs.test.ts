/**
 * Log erasure of the seeded demo data on the real local stores (s3rver behind its guard, DynamoDB Local
 * for the vault): the connector's inventory and erase step through the connector handler's
 * runInventory/runErase, with the real planner and the KR policy, then the log-erasure job's rewrite of
 * the objects (functions/erase-logs) for u-alice, whose lines sit among other users' in the same day
 * objects. The whole job, with its Distributed Map and several subjects: log-erasure-job.test.ts.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { orchestratorResources, platformStores } from '../../config/data-map';
import { seedDemoData } from '../../local/seed';
import { buildDemoData } from '../../local/seed-data';
import { createLogsConnector } from '../../functions/connectors/logs/core';
import { rewriteForSubject } from '../support/log-job';
import { DynamoVault } from '../../functions/lib/erasure/vault';
import { vaultWriterKeys } from '../support/vault-keys';
import { buildPlan } from '../../functions/lib/erasure/planner';
import { loadDefaultPolicy, retentionFor, retentionUntil } from '../../functions/lib/erasure/policy';
import { STORE_CATEGORIES, type HoldScope, type Inventory } from '../../functions/lib/erasure/types';
import {
  runErase,
  runInventory,
  type ConnectorRuntime,
} from '../../functions/lib/connectors/connector-handler';
import type {
  CategoryInventoryView,
  CategoryOutcome,
  PlanEntryView,
  StagedSubject,
  StoreName,
} from '../../functions/lib/connectors/contract';
import { getJson, putJson, stagingKeys } from '../../functions/lib/aws/s3-objects';
import { startTestStores, type TestStores } from '../support/local-stores';

const LOGS = platformStores.logs;
const STAGING = orchestratorResources.stagingBucket;
const policy = loadDefaultPolicy();

let stores: TestStores;
let referenceDate: Date;
let aliceDevices: string[];

beforeAll(async () => {
  process.env.LOG_LEVEL = 'silent';
  stores = await startTestStores();
  const seeded = await seedDemoData({ doc: stores.doc, s3: stores.s3 });
  referenceDate = new Date(seeded.referenceDate);
  aliceDevices = seeded.cases.alice.deviceIds;
}, 120_000);

afterAll(async () => {
  await stores?.stop();
});

const connector = () =>
  createLogsConnector(stores.s3, {
    bucket: LOGS.bucketName,
    accessPrefix: LOGS.accessPrefix,
    voiceSessionsPrefix: LOGS.voiceSessionsPrefix,
  });

function runtime(now: Date): ConnectorRuntime {
  return {
    s3: stores.s3,
    stagingBucket: STAGING,
    clock: () => now,
    vault: {
      put: async () => {
        throw new Error('the erase step keeps nothing: the log-erasure job does');
      },
    },
  };
}

/** The log-erasure job's rewrite of every log object, for alice waiting with the staged plan's log entries. */
async function runJob(requestId: string, now: Date) {
  const plan = await getJson<{ entries: (PlanEntryView & { store: string })[] }>(stores.s3, {
    bucket: STAGING,
    key: stagingKeys.plan(requestId),
  });
  const listed = await stores.s3.send(new ListObjectsV2Command({ Bucket: LOGS.bucketName }));
  return rewriteForSubject(
    {
      s3: stores.s3,
      logsBucket: LOGS.bucketName,
      accessPrefix: LOGS.accessPrefix,
      voiceSessionsPrefix: LOGS.voiceSessionsPrefix,
      stagingBucket: STAGING,
      vault: new DynamoVault(stores.doc, {
        tableName: orchestratorResources.vaultTable.tableName,
        keys: vaultWriterKeys(),
      }),
    },
    {
      requestId,
      userIds: ['u-alice'],
      deviceIds: aliceDevices,
      plan: plan.entries.filter((e) => e.store === 'logs'),
    },
    (listed.Contents ?? []).map((o) => String(o.Key)),
    now,
  );
}

async function stageSubject(requestId: string): Promise<void> {
  const subject: StagedSubject = {
    requestId,
    subjectHash: 'subject-hash-alice',
    found: true,
    pseudonymSalt: 'salt',
    identifiers: {
      userIds: ['u-alice'],
      emails: [],
      phones: [],
      deviceIds: aliceDevices,
      externalAccounts: [],
    },
  };
  await putJson(stores.s3, { bucket: STAGING, key: stagingKeys.subject(requestId) }, subject);
}

async function inventory(requestId: string, now: Date, phase: 'plan' | 'verify') {
  const result = await runInventory(connector(), runtime(now), {
    requestId,
    store: 'logs',
    operation: 'inventory',
    phase,
  });
  return getJson<Record<string, CategoryInventoryView>>(stores.s3, result.inventory);
}

/** Plans with the real planner (KR), every other store reporting nothing, and stages the plan. */
async function stagePlan(
  requestId: string,
  logs: Record<string, CategoryInventoryView>,
  now: Date,
  holds: HoldScope[] = [],
) {
  const zeros = (store: StoreName) =>
    Object.fromEntries(STORE_CATEGORIES[store].map((c) => [c, { count: 0 }]));
  // Every other store empty.
  const inv: Inventory = {
    ...Object.fromEntries(
      (Object.keys(STORE_CATEGORIES) as StoreName[]).map((store) => [store, zeros(store)]),
    ),
    logs,
  };
  const plan = buildPlan({ policy, jurisdiction: 'KR', inventory: inv, holds, now });
  await putJson(stores.s3, { bucket: STAGING, key: stagingKeys.plan(requestId) }, plan);
  return plan;
}

async function erase(requestId: string, now: Date): Promise<Record<string, CategoryOutcome>> {
  const result = await runErase(connector(), runtime(now), { requestId, store: 'logs', operation: 'erase' });
  return result.outcome;
}

/** Every log object: decompressed text and ETag. */
async function snapshot(): Promise<Map<string, { text: string; etag: string }>> {
  const listed = await stores.s3.send(new ListObjectsV2Command({ Bucket: LOGS.bucketName }));
  const out = new Map<string, { text: string; etag: string }>();
  for (const { Key } of listed.Contents ?? []) {
    const got = await stores.s3.send(new GetObjectCommand({ Bucket: LOGS.bucketName, Key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    out.set(Key!, { text: gunzipSync(bytes).toString('utf8'), etag: got.ETag ?? '' });
  }
  return out;
}

const linesOf = (text: string) => text.split(/(?<=\n)/);
const isAlices = (line: string) => {
  const parsed = JSON.parse(line) as { userId?: string | null; deviceId?: string };
  return (
    parsed.userId === 'u-alice' || (parsed.userId == null && aliceDevices.includes(String(parsed.deviceId)))
  );
};

/** True when a record anchored at `anchor` is past its KR retention period at `now`. */
function expiredAt(now: Date, category: 'access-log' | 'voice-sessions', anchor: string): boolean {
  const rule = retentionFor(policy, 'KR', 'logs', category).rule!;
  return retentionUntil(rule, anchor) <= now;
}

/** What the seed says alice has, and which of it is past its KR period at `now`. */
function expectedFromSeed(now: Date) {
  const data = buildDemoData(referenceDate.toISOString());
  const expired = (anchor: string, category: 'access-log' | 'voice-sessions') =>
    expiredAt(now, category, anchor);
  const lines = data.logObjects.flatMap((o) => (o.kind === 'access' ? o.lines : []));
  const sessions = data.logObjects.flatMap((o) => (o.kind === 'voice-sessions' ? o.lines : []));
  const alicesLines = lines.filter(
    (l) => l.userId === 'u-alice' || (l.userId === null && aliceDevices.includes(String(l.deviceId))),
  );
  const alicesSessions = sessions.filter((s) => s.participants.some((p) => p.userId === 'u-alice'));
  return {
    lines: alicesLines.length,
    expiredLines: alicesLines.filter((l) => expired(l.ts, 'access-log')).length,
    sessions: alicesSessions.length,
    expiredSessions: alicesSessions.filter((s) => expired(s.startedAt, 'voice-sessions')).length,
  };
}

/**
 * Checks every object against its earlier state: access objects lose exactly alice's lines that `gone`
 * says, voice objects only alice's participant entries of such sessions; every other line is the same
 * bytes, in the same order.
 */
function checkRewrite(
  before: Map<string, { text: string }>,
  after: Map<string, { text: string }>,
  gone: (category: 'access-log' | 'voice-sessions', anchor: string) => boolean,
) {
  expect([...after.keys()]).toEqual([...before.keys()]);
  for (const [key, { text }] of before) {
    const now = after.get(key)!.text;
    const old = linesOf(text);
    if (key.startsWith(LOGS.accessPrefix)) {
      const kept = old.filter(
        (line) => !(isAlices(line) && gone('access-log', (JSON.parse(line) as { ts: string }).ts)),
      );
      expect({ key, text: now }).toEqual({ key, text: kept.join('') });
    } else {
      const lines = linesOf(now);
      expect(lines).toHaveLength(old.length);
      old.forEach((line, i) => {
        const session = JSON.parse(line) as { startedAt: string; participants: { userId: string }[] };
        const hers = session.participants.some((p) => p.userId === 'u-alice');
        if (!hers || !gone('voice-sessions', session.startedAt)) {
          expect(lines[i]).toBe(line);
          return;
        }
        const rewritten = JSON.parse(lines[i]!) as typeof session;
        expect(rewritten).toEqual({
          ...session,
          participants: session.participants.filter((p) => p.userId !== 'u-alice'),
        });
        expect(rewritten.participants.length).toBeGreaterThan(0);
      });
    }
  }
}

test('KR: the erase step leaves the logs to the job; the job removes every line of hers, keeping the retained ones in the vault', async () => {
  const now = referenceDate;
  const seed = expectedFromSeed(now);
  // The seed has both sides of the 3-month line, and sessions all inside 12 months.
  expect(seed.expiredLines).toBeGreaterThan(0);
  expect(seed.lines - seed.expiredLines).toBeGreaterThan(0);
  expect(seed.sessions).toBeGreaterThan(0);
  expect(seed.expiredSessions).toBe(0);

  // Plan.
  const requestId = 'req_0000000000000000000000000000e1a5';
  await stageSubject(requestId);
  const planned = await inventory(requestId, now, 'plan');
  expect(planned['access-log']?.count).toBe(seed.lines);
  expect(planned['voice-sessions']?.count).toBe(seed.sessions);

  // Held: nothing to do now, and nothing waits for the job either.
  const heldId = 'req_0000000000000000000000000000e1a6';
  await stageSubject(heldId);
  const heldPlan = await stagePlan(heldId, planned, now, [
    { holdId: 'hold-1', caseReference: 'CASE-7', stores: ['logs'] },
  ]);
  expect(heldPlan.entries.filter((e) => e.store === 'logs').map((e) => e.action)).toEqual(['held', 'held']);
  const original = await snapshot();
  expect(await erase(heldId, now)).toEqual({
    'access-log': { deleted: 0, anonymised: 0, retained: 0, untouched: seed.lines },
    'voice-sessions': { deleted: 0, anonymised: 0, retained: 0, untouched: seed.sessions },
  });
  expect(await runJob(heldId, now)).toMatchObject({ written: 0, subjects: {} });
  expect(await snapshot()).toEqual(original);

  // The erase step writes nothing: every line of hers waits for the log-erasure job.
  const plan = await stagePlan(requestId, planned, now);
  expect(plan.entries.filter((e) => e.store === 'logs').map((e) => e.action)).toEqual(['retain', 'retain']);
  expect(await erase(requestId, now)).toEqual({
    'access-log': { deleted: 0, anonymised: 0, retained: 0, untouched: seed.lines },
    'voice-sessions': { deleted: 0, anonymised: 0, retained: 0, untouched: seed.sessions },
  });
  expect(await snapshot()).toEqual(original);

  // The job: all of her lines and session entries leave the live logs, the rest byte-for-byte.
  const out = await runJob(requestId, now);
  expect(out.subjects[requestId]?.['access-log']?.removed).toBe(seed.lines);
  expect(out.subjects[requestId]?.['voice-sessions']?.removed).toBe(seed.sessions);
  const after = await snapshot();
  checkRewrite(original, after, () => true);
  expect([...after.values()].some((o) => o.text.includes('"u-alice"'))).toBe(false);
  const written = [...after].filter(([key, o]) => o.etag !== original.get(key)?.etag).map(([key]) => key);
  expect(written.length).toBe(out.written);
  expect(await inventory(requestId, now, 'verify')).toEqual({
    'access-log': { count: 0 },
    'voice-sessions': { count: 0 },
  });

  // What KR keeps is in the vault, each line until its own period ends: the unexpired access lines
  // (3 months) and every session (12 months).
  const vaulted = out.subjects[requestId];
  const count = (category: string) =>
    Object.values(vaulted?.[category]?.vaulted ?? {}).reduce((n, c) => n + c, 0);
  expect(count('access-log')).toBe(seed.lines - seed.expiredLines);
  expect(count('voice-sessions')).toBe(seed.sessions);

  // Idempotent: a rerun changes nothing and reports nothing.
  const again = await runJob(requestId, now);
  expect(again.written).toBe(0);
  expect(again.subjects).toEqual({});
  expect(await snapshot()).toEqual(after);

  // The rewritten objects are still valid gzip that S3 serves with their content type.
  const head = await stores.s3.send(new HeadObjectCommand({ Bucket: LOGS.bucketName, Key: written[0] }));
  expect(head.ContentType).toBe('application/gzip');
}, 120_000);
