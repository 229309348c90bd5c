/** BuildPlan matches holds on every identifier, stages the plan and records it. */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { loadDefaultPolicy, planningJurisdiction } from '../../functions/lib/erasure/policy';
import { STORE_CATEGORIES, type ErasurePlan, type StoreName } from '../../functions/lib/erasure/types';
import { checkHolds, planErasure } from '../../functions/plan-erasure/core';
import { loadStagedPlan } from '../../functions/lib/erasure/staged-plan';
import type { StagedSubject } from '../../functions/lib/connectors/contract';
import type { Hold } from '../../functions/lib/holds/holds';
import type { RequestRecord } from '../../functions/lib/requests/records';
import type { RequestRepository } from '../../functions/lib/requests/requests';
import { stagingKeys } from '../../functions/lib/aws/s3-objects';
import { LocalSubjectHasher } from '../../functions/lib/crypto/subject-hash';
import { externalAccountKey, identifierKey } from '../../functions/lib/crypto/subject-hash';

const REQ = 'req_' + 'b'.repeat(32);
const hasher = new LocalSubjectHasher(Buffer.alloc(32, 7));

function fakeS3(objects: Map<string, string>): S3Client {
  return {
    send: async (command: unknown) => {
      if (command instanceof GetObjectCommand) {
        const body = objects.get(String(command.input.Key));
        if (body === undefined) throw Object.assign(new Error('missing'), { name: 'NoSuchKey' });
        return { Body: { transformToString: async () => body } };
      }
      if (command instanceof PutObjectCommand) {
        objects.set(String(command.input.Key), String(command.input.Body));
        return {};
      }
      throw new Error('unexpected command');
    },
  } as unknown as S3Client;
}

function setup(initial: Hold[], jurisdiction = 'KR', service?: string) {
  const holds = [...initial];
  const objects = new Map<string, string>();
  const subject: StagedSubject = {
    requestId: REQ,
    subjectHash: 'account-hash',
    found: true,
    identifiers: {
      userIds: ['u-1'],
      emails: ['one@example.com'],
      phones: [],
      deviceIds: ['dev-9'],
      externalAccounts: [{ provider: 'line', providerUserId: 'L1' }],
    },
    pseudonymSalt: 's',
    ...(service ? { service } : {}),
  };
  objects.set(stagingKeys.subject(REQ), JSON.stringify(subject));
  for (const store of Object.keys(STORE_CATEGORIES) as StoreName[]) {
    const inv = Object.fromEntries(STORE_CATEGORIES[store].map((c) => [c, { count: 0 }]));
    if (store === 'chat') inv.messages = { count: 3 };
    if (store === 'accounts') inv.profile = { count: 1 };
    objects.set(stagingKeys.inventory(REQ, store, 'plan'), JSON.stringify(inv));
  }
  const record: RequestRecord = {
    requestId: REQ,
    type: 'erasure',
    status: 'in_progress',
    createdAt: '2026-11-23T00:00:00.000Z',
    updatedAt: '2026-11-23T00:00:00.000Z',
    subjectHash: 'named-hash',
    subject: { userId: 'u-1' },
    jurisdiction,
  };
  const updates: Partial<RequestRecord>[] = [];
  const events: string[] = [];
  const asked: string[][] = [];
  const onceIds = new Set<string>();
  const requests = {
    require: async () => record,
    update: async (_id: string, set: Partial<RequestRecord>, recorded: readonly { type: string }[] = []) => {
      updates.push(set);
      events.push(...recorded.map((e) => e.type));
    },
  } as unknown as RequestRepository;
  const deps = {
    s3: fakeS3(objects),
    stagingBucket: 'staging',
    requests,
    events: {
      append: async (_id: string, event: { type: string }) => {
        events.push(event.type);
      },
      appendOnce: async (_id: string, eventId: string, recorded: readonly { type: string }[]) => {
        if (onceIds.has(eventId)) return false;
        onceIds.add(eventId);
        events.push(...recorded.map((e) => e.type));
        return true;
      },
    },
    holds: {
      activeFor: async (hashes: readonly string[]) => {
        asked.push([...hashes]);
        return holds;
      },
    },
    hasher,
    policy: loadDefaultPolicy(),
    clock: () => new Date('2026-11-23T12:00:00.000Z'),
  };
  return { deps, objects, updates, events, asked, holds };
}

test('holds are looked up by the keyed hash of every identifier and the named one', async () => {
  const t = setup([]);
  await planErasure(t.deps, { requestId: REQ, executionName: REQ });
  const expected = await Promise.all(
    [
      identifierKey('userId', 'u-1'),
      identifierKey('email', 'one@example.com'),
      identifierKey('deviceId', 'dev-9'),
      externalAccountKey({ provider: 'line', providerUserId: 'L1' }),
    ].map((k) => hasher.hash(k)),
  );
  expect(t.asked[0]).toEqual(expect.arrayContaining(['named-hash', ...expected]));
});

test('a held category is planned held; the plan is staged and recorded with the policy', async () => {
  const hold: Hold = {
    holdId: 'hold_1',
    subjectHash: 'x',
    stores: ['chat'],
    caseReference: 'CASE-1',
    reason: 'r',
    status: 'active',
    placedBy: 'legal',
    placedAt: '2026-11-01T00:00:00.000Z',
  };
  const t = setup([hold]);
  const out = await planErasure(t.deps, {
    requestId: REQ,
    executionName: `${REQ}-r2`,
    run: { asOf: '2027-01-01T00:00:00.000Z' },
  });
  expect(out).toEqual({ requestId: REQ, entries: expect.any(Number), held: 3, complete: false });
  const staged = JSON.parse(t.objects.get(stagingKeys.plan(REQ))!) as ErasurePlan;
  expect(staged.plannedAt).toBe('2027-01-01T00:00:00.000Z');
  expect(staged.entries.find((e) => e.category === 'messages')).toMatchObject({
    action: 'held',
    holdId: 'hold_1',
  });
  expect(staged.entries.find((e) => e.category === 'profile')).toMatchObject({ action: 'delete' });
  const recorded = t.updates[0]!;
  expect(recorded.erasurePlan?.policyHash).toBe(loadDefaultPolicy().hash);
  expect(recorded.erasureRuns).toEqual([
    expect.objectContaining({ run: 2, trigger: 'resumed', asOf: '2027-01-01T00:00:00.000Z' }),
  ]);
  expect(t.events).toEqual(['erasure.planned', 'hold.applied']);
  // Nothing personal in what is recorded.
  expect(JSON.stringify(t.updates)).not.toMatch(/u-1|example\.com|dev-9|L1/);
});

test('a jurisdiction the policy cannot read plans with the default profile', () => {
  expect(planningJurisdiction('KR')).toBe('KR');
  expect(planningJurisdiction('EU')).toBe('default');
  expect(planningJurisdiction(undefined)).toBe('default');
});

test("only the subject's own service's processors are told to erase", async () => {
  const told = async (service?: string) => {
    const t = setup([], 'JP', service);
    await planErasure(t.deps, { requestId: REQ, executionName: REQ });
    const staged = JSON.parse(t.objects.get(stagingKeys.plan(REQ))!) as ErasurePlan;
    return staged.processors.map((p) => p.processorId);
  };
  // The account profile went to JAPAN POST and Kuore (klub-outside, the default service) and to the
  // Audiostock Artists affiliate (Audiostock); METALIVE names no processor.
  expect(await told()).toEqual(['japan-post', 'kuore']);
  expect(await told('klub-outside')).toEqual(['japan-post', 'kuore']);
  expect(await told('audiostock')).toEqual(['audiostock-artists-affiliate']);
  expect(await told('metalive')).toEqual([]);
});

test('a hold placed after planning holds its store at erase time, once, and only that store', async () => {
  const t = setup([]);
  await planErasure(t.deps, { requestId: REQ, executionName: REQ });
  const check = (store: StoreName) =>
    checkHolds(t.deps, { operation: 'checkHolds', requestId: REQ, store, executionName: REQ });
  expect(await check('chat')).toEqual({ requestId: REQ, store: 'chat', lateHolds: 0, held: 0 });
  // Staged, empty, with the plan: no reader ever asks for a missing object.
  expect(JSON.parse(t.objects.get(stagingKeys.lateHolds(REQ, 'chat'))!)).toMatchObject({ holds: [] });

  t.holds.push({
    holdId: 'hold_late',
    subjectHash: 'x',
    stores: ['chat'],
    caseReference: 'CASE-9',
    reason: 'r',
    status: 'active',
    placedBy: 'legal',
    placedAt: '2026-11-23T12:00:01.000Z',
  });
  // Accounts is not in the hold's scope: its erase goes ahead.
  expect(await check('accounts')).toMatchObject({ lateHolds: 0, held: 0 });
  expect(await check('chat')).toEqual({ requestId: REQ, store: 'chat', lateHolds: 1, held: 3 });
  // A retried check adds nothing and records nothing twice.
  expect(await check('chat')).toEqual({ requestId: REQ, store: 'chat', lateHolds: 0, held: 3 });
  expect(t.events.filter((e) => e === 'hold.applied')).toHaveLength(1);

  const plan = await loadStagedPlan(t.deps.s3, 'staging', REQ);
  expect(plan.entries.find((e) => e.store === 'chat' && e.category === 'messages')).toMatchObject({
    action: 'held',
    holdId: 'hold_late',
    holds: [{ holdId: 'hold_late', caseReference: 'CASE-9' }],
    onRelease: 'delete',
  });
  expect(plan.entries.find((e) => e.category === 'profile')).toMatchObject({ action: 'delete' });
  expect(plan.summary).toMatchObject({ holds: ['hold_late'], complete: false });
  expect(plan.summary.records.held).toBe(3);
  // The staged plan itself is as BuildPlan made it.
  const staged = JSON.parse(t.objects.get(stagingKeys.plan(REQ))!) as ErasurePlan;
  expect(staged.summary.holds).toEqual([]);
});

test('a late-hold record made for an earlier plan of the request does not apply to a new one', async () => {
  const t = setup([]);
  await planErasure(t.deps, { requestId: REQ, executionName: REQ });
  t.objects.set(
    stagingKeys.lateHolds(REQ, 'chat'),
    JSON.stringify({
      formatVersion: 1,
      plannedAt: '2020-01-01T00:00:00.000Z',
      store: 'chat',
      checkedAt: '2020-01-01T00:00:00.000Z',
      holds: [{ holdId: 'hold_old', caseReference: 'OLD' }],
    }),
  );
  const plan = await loadStagedPlan(t.deps.s3, 'staging', REQ);
  expect(plan.summary.holds).toEqual([]);
});
