/**
 * Holds win at any time, on the real local stack (the ASL files, DynamoDB Local, the local S3):
 * - a hold on chat placed between BuildPlan and Erase (the local workflows' interceptor places it through
 *   the API the moment BuildPlan returns): chat untouched, everything else erased, the request partially
 *   completed with chat held, the certificate saying held (never erased); released + sweep: chat erased.
 * - a hold on the logs placed after the subject's log part joined the log-erasure queue (placed the moment
 *   the job starts): the job keeps the subject's lines, the erasure it resumes reports the logs held;
 *   released + sweep + the next job: the lines go and the erasure completes.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { platformStores } from '../../config/data-map';
import { TASK_FUNCTIONS } from '../../functions/lib/connectors/catalog';
import { startTestStack, type TestStack } from '../support/local-stack';
import {
  certCategory,
  checkOthersUntouched,
  expectOnlyChatKept,
  identifierTokens,
  mentions,
  snapshot,
  sweeper,
  waitForCertificate as certificateIssued,
  type CertCategory,
  type Snapshot,
} from './erasure-helpers';

let stack: TestStack;
/** Generous: the machine running the suite is shared and often loaded. */
const WAIT = 150_000;
/** Run once, right after the next BuildPlan returns (before any store's erase). */
let afterBuildPlan: ((requestId: string) => Promise<void>) | undefined;
/** Run once, right before the next log-erasure job prepares. */
let beforeLogJob: (() => Promise<void>) | undefined;

beforeAll(async () => {
  stack = await startTestStack({
    workflows: {
      interceptor: async (functionName, payload, invoke) => {
        const input = (payload ?? {}) as { operation?: string; requestId?: string };
        if (functionName === TASK_FUNCTIONS.eraseLogs.localName && input.operation === 'prepare') {
          const hook = beforeLogJob;
          beforeLogJob = undefined;
          await hook?.();
        }
        const result = await invoke();
        if (functionName === TASK_FUNCTIONS.planErasure.localName && input.operation === undefined) {
          const hook = afterBuildPlan;
          afterBuildPlan = undefined;
          await hook?.(String(input.requestId));
        }
        return result;
      },
    },
  });
}, 600_000);

afterAll(async () => {
  await stack?.stop();
});

type Certificate = {
  number: number;
  status: string;
  stores: { store: string; categories: CertCategory[] }[];
};

const placeHold = async (body: Record<string, unknown>): Promise<string> => {
  const placed = await stack.call('POST', '/v1/holds', { role: 'legal', body });
  expect(placed.status).toBe(201);
  return String(placed.body.holdId);
};

const certificate = async (requestId: string) =>
  (await stack.call('GET', `/v1/requests/${requestId}/certificate`, { role: 'auditor' })).body
    .payload as Certificate;

const waitForCertificate = (requestId: string, number: number) =>
  certificateIssued(stack, requestId, number, WAIT);

const events = async (requestId: string) =>
  (await stack.call('GET', `/v1/requests/${requestId}/events`)).body.events as {
    type: string;
    detail?: Record<string, unknown>;
  }[];

/** Lines of the logs that name the subject. */
const linesOf = (snap: Snapshot, tokens: readonly string[]) =>
  [...snap.logs.values()].flat().filter((l) => mentions(l, tokens));

test('a hold placed between BuildPlan and Erase is honoured; released, the erasure resumes and completes', async () => {
  const tokens = await identifierTokens(stack, 'u-alice');
  const { Item: alice } = await stack.doc.send(
    new GetCommand({ TableName: platformStores.accounts.table.tableName, Key: { userId: 'u-alice' } }),
  );
  const before = await snapshot(stack);
  let holdId = '';
  let plannedFor = '';
  // Placed by email; the erasure names her by user id.
  afterBuildPlan = async (requestId) => {
    plannedFor = requestId;
    holdId = await placeHold({
      service: 'klub-outside',
      subject: { email: String(alice?.email) },
      stores: ['chat'],
      caseReference: 'LATE-2026-0001',
      reason: 'Placed while the erasure ran',
    });
  };

  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'erasure', service: 'klub-outside', subject: { userId: 'u-alice' }, jurisdiction: 'JP' },
  });
  const requestId = String(created.body.requestId);
  const first = await stack.waitForStatus(requestId, ['completed', 'partially_completed', 'failed'], WAIT);
  expect(plannedFor).toBe(requestId);
  expect(first.failure).toBeUndefined();
  expect(first.status).toBe('partially_completed');
  expect((first.erasure as { heldBy: string[] }).heldBy).toEqual([holdId]);

  // The plan knew no hold; the check before chat's erase found it.
  const history = await events(requestId);
  expect(history.find((e) => e.type === 'erasure.planned')?.detail).toMatchObject({ held: 0, holds: 0 });
  expect(history.filter((e) => e.type === 'hold.applied').map((e) => e.detail)).toEqual([
    { holdId, run: 0, store: 'chat', phase: 'erase' },
  ]);

  // Chat exactly as before; everything else of hers gone (her log lines wait for the job).
  await expectOnlyChatKept(stack, before, tokens, 'u-alice');

  // The certificate says held, never erased, for every chat category she has.
  const cert1 = await certificate(requestId);
  expect(cert1.status).toBe('partially_completed');
  expect(certCategory(cert1, 'chat', 'messages')).toMatchObject({
    state: 'held',
    deleted: 0,
    anonymised: 0,
    held: [{ holdId, caseReference: 'LATE-2026-0001' }],
  });
  for (const c of cert1.stores.find((s) => s.store === 'chat')?.categories ?? []) {
    expect(['held', 'none']).toContain(c.state);
    expect(c.deleted + c.anonymised).toBe(0);
  }
  expect(certCategory(cert1, 'accounts', 'profile')).toMatchObject({ state: 'deleted' });
  expect(certCategory(cert1, 'logs', 'access-log')?.state).toBe('pending');

  // The sweep waits for the release, then resumes the held part.
  const sweep = sweeper(stack);
  expect((await sweep(new Date())).resumed).toEqual([]);
  expect((await stack.call('POST', `/v1/holds/${holdId}/release`, { role: 'legal', body: {} })).status).toBe(
    200,
  );
  expect((await sweep(new Date())).resumed).toEqual([{ requestId, run: 1, reasons: ['hold-released'] }]);
  await waitForCertificate(requestId, 2);
  expect(certCategory(await certificate(requestId), 'chat', 'messages')?.state).toBe('deleted');
  expect((await stack.runLogErasureJob('logjob-late-holds-1')).status).toBe('SUCCEEDED');
  const done = await stack.waitForStatus(requestId, ['completed', 'failed'], WAIT);
  expect(done.failure).toBeUndefined();
  expect(done.status).toBe('completed');
  expect(checkOthersUntouched(before, await snapshot(stack), tokens).leftovers).toEqual([]);
}, 600_000);

test("a hold on the logs placed after the subject joined the log queue keeps the subject's lines", async () => {
  const tokens = await identifierTokens(stack, 'u-bob');
  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'erasure', service: 'klub-outside', subject: { userId: 'u-bob' }, jurisdiction: 'JP' },
  });
  const requestId = String(created.body.requestId);
  const first = await stack.waitForStatus(requestId, ['completed', 'partially_completed', 'failed'], WAIT);
  expect(first.status).toBe('partially_completed');
  expect(certCategory(await certificate(requestId), 'logs', 'access-log')?.state).toBe('pending');
  const queued = await snapshot(stack);
  const lines = linesOf(queued, tokens);
  expect(lines.length).toBeGreaterThan(0);

  // Placed as the job starts: the subject is already in its queue.
  let holdId = '';
  beforeLogJob = async () => {
    holdId = await placeHold({
      service: 'klub-outside',
      subject: { userId: 'u-bob' },
      stores: ['logs'],
      caseReference: 'LATE-2026-0002',
      reason: 'Placed after the log part was queued',
    });
  };
  expect((await stack.runLogErasureJob('logjob-late-holds-2')).status).toBe('SUCCEEDED');
  expect(holdId).not.toBe('');
  // The job resumed the erasure (run 1), which reports the logs held.
  const held = await waitForCertificate(requestId, 2);
  expect(held.status).toBe('partially_completed');
  expect((held.erasure as { heldBy: string[] }).heldBy).toEqual([holdId]);
  expect(linesOf(await snapshot(stack), tokens)).toEqual(lines);
  const cert2 = await certificate(requestId);
  for (const category of ['access-log', 'voice-sessions']) {
    const c = certCategory(cert2, 'logs', category);
    if (c?.state === 'none') continue;
    expect(c).toMatchObject({
      state: 'held',
      deleted: 0,
      held: [{ holdId, caseReference: 'LATE-2026-0002' }],
    });
  }
  expect(
    (await events(requestId))
      .filter((e) => e.type === 'hold.applied')
      .map((e) => e.detail)
      .filter((d) => d?.phase === 'log-job'),
  ).toEqual([expect.objectContaining({ holdId, store: 'logs' })]);

  // Released: the sweep resumes it, its log part is queued again, and the next job erases the lines.
  expect((await stack.call('POST', `/v1/holds/${holdId}/release`, { role: 'legal', body: {} })).status).toBe(
    200,
  );
  expect((await sweeper(stack)(new Date())).resumed).toEqual([
    { requestId, run: 2, reasons: ['hold-released'] },
  ]);
  await waitForCertificate(requestId, 3);
  expect((await stack.runLogErasureJob('logjob-late-holds-3')).status).toBe('SUCCEEDED');
  const done = await stack.waitForStatus(requestId, ['completed', 'failed'], WAIT);
  expect(done.status).toBe('completed');
  expect(linesOf(await snapshot(stack), tokens)).toEqual([]);
  expect(certCategory(await certificate(requestId), 'logs', 'access-log')?.state).toBe('deleted');
}, 600_000);
