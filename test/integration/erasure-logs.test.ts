/**
 * The logs connector's erasure on the real local stores (s3rver behind its guard): inventory and erase
 * through the connector handler's runInventory/runErase, with the real planner and the KR policy, on the
 * seeded demo data. u-alice's lines sit among other users' lines in the same day objects.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { orchestratorResources, platformStores } from '../../config/data-map';
import { seedDemoData } from '../../local/seed';
import { buildDemoData } from '../../local/seed-data';
import { createLogsConnector } from '../../functions/connectors/logs/core';
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
  StagedSubject,
  StoreName,
} from '../../functions/lib/connectors/contract';
import { getJson, putJson, stagingKeys } from '../../functions/lib/aws/s3-objects';
import { startTestStores, type TestStores } from '../support/local-stores';

const DAY_MS = 86_400_000;
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
    // s3rver ignores If-Match: the local stack uses the HeadObject re-check.
    conditionalWrites: false,
  });

function runtime(now: Date): ConnectorRuntime {
  return {
    s3: stores.s3,
    stagingBucket: STAGING,
    clock: () => now,
    vault: {
      put: async () => {
        throw new Error('logs retain in place: nothing goes to the vault');
      },
    },
  };
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

test('KR: alice’s expired lines go, lines and sessions under retention stay; held changes nothing; idempotent; later everything goes', async () => {
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

  // Held first: a hold on logs leaves every object as it was.
  const heldId = 'req_0000000000000000000000000000e1a6';
  await stageSubject(heldId);
  const heldPlan = await stagePlan(heldId, planned, now, [
    { holdId: 'hold-1', caseReference: 'CASE-7', stores: ['logs'] },
  ]);
  expect(heldPlan.entries.filter((e) => e.store === 'logs').map((e) => e.action)).toEqual(['held', 'held']);
  const original = await snapshot();
  const heldOutcome = await erase(heldId, now);
  expect(heldOutcome['access-log']).toEqual({
    deleted: 0,
    anonymised: 0,
    retained: 0,
    untouched: seed.lines,
  });
  expect(heldOutcome['voice-sessions']).toEqual({
    deleted: 0,
    anonymised: 0,
    retained: 0,
    untouched: seed.sessions,
  });
  expect(await snapshot()).toEqual(original);

  // Erase at the reference date.
  const plan = await stagePlan(requestId, planned, now);
  expect(plan.entries.filter((e) => e.store === 'logs').map((e) => e.action)).toEqual(['retain', 'retain']);
  const outcome = await erase(requestId, now);
  expect(outcome['access-log']).toEqual({
    deleted: seed.expiredLines,
    anonymised: 0,
    retained: 0,
    untouched: seed.lines - seed.expiredLines,
  });
  expect(outcome['voice-sessions']).toEqual({
    deleted: 0,
    anonymised: 0,
    retained: 0,
    untouched: seed.sessions,
  });
  const afterFirst = await snapshot();
  checkRewrite(original, afterFirst, (category, anchor) => expiredAt(now, category, anchor));
  // Only objects that held an expired line of hers were written.
  const written = [...afterFirst]
    .filter(([key, o]) => o.etag !== original.get(key)?.etag)
    .map(([key]) => key);
  expect(written.length).toBeGreaterThan(0);
  expect(written.every((key) => key.startsWith(LOGS.accessPrefix))).toBe(true);

  // Verification: the retained lines are still counted, the expired ones are not.
  const verified = await inventory(requestId, now, 'verify');
  expect(verified['access-log']?.count).toBe(seed.lines - seed.expiredLines);
  expect(verified['voice-sessions']?.count).toBe(seed.sessions);

  // Idempotent: a re-run changes nothing and reports nothing erased.
  const again = await erase(requestId, now);
  expect(again['access-log']?.deleted).toBe(0);
  expect(await snapshot()).toEqual(afterFirst);

  // Past 12 months, the sweep's run erases the rest: all her lines and her session entries.
  const later = new Date(now.getTime() + 400 * DAY_MS);
  const sweepId = 'req_0000000000000000000000000000e1a7';
  await stageSubject(sweepId);
  const remaining = await inventory(sweepId, later, 'plan');
  const sweepPlan = await stagePlan(sweepId, remaining, later);
  expect(sweepPlan.entries.filter((e) => e.store === 'logs').map((e) => e.action)).toEqual([
    'delete',
    'anonymise',
  ]);
  const swept = await erase(sweepId, later);
  expect(swept['access-log']).toEqual({
    deleted: seed.lines - seed.expiredLines,
    anonymised: 0,
    retained: 0,
    untouched: 0,
  });
  expect(swept['voice-sessions']).toEqual({
    deleted: 0,
    anonymised: seed.sessions,
    retained: 0,
    untouched: 0,
  });
  const afterSweep = await snapshot();
  checkRewrite(afterFirst, afterSweep, () => true);
  checkRewrite(original, afterSweep, () => true);
  expect([...afterSweep.values()].some((o) => o.text.includes('"u-alice"'))).toBe(false);
  expect(await inventory(sweepId, later, 'verify')).toEqual({
    'access-log': { count: 0 },
    'voice-sessions': { count: 0 },
  });

  // The rewritten objects are still valid gzip that S3 serves with their content type.
  const head = await stores.s3.send(new HeadObjectCommand({ Bucket: LOGS.bucketName, Key: written[0] }));
  expect(head.ContentType).toBe('application/gzip');
}, 120_000);
