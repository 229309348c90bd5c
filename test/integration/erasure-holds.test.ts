/**
 * Legal holds on the real local stack.
 * - The holds API: only legal places and releases, support and legal read, auditors do not; strict
 *   validation; every change in the audit trail (who, when) and in affected requests' history.
 * - A hold on chat (placed by email, the erasure asked by user id, jurisdiction JP = no statutory
 *   retention): chat untouched, everything else erased, partially_completed; released + sweep: chat
 *   erased, the certificate re-issued, completed. Processors' signed webhooks and answers recorded.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { platformStores } from '../../config/data-map';
import { verifyDsrCallback, verifyProcessorNotice } from '../../functions/lib/webhooks/signing';
import type { Jwks } from '../../functions/lib/crypto/jws';
import { startReceiver } from '../support/callback-receiver';
import { startTestStack, type TestStack } from '../support/local-stack';
import {
  certCategory,
  checkOthersUntouched,
  expectOnlyChatKept,
  identifierTokens,
  mentions,
  snapshot,
  sweeper,
  waitForCertificate,
  type CertCategory,
} from './erasure-helpers';

let stack: TestStack;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  receiver = await startReceiver();
  // kuore answers; japan-post's address refuses connections; the other processors have no webhook.
  process.env.PROCESSOR_WEBHOOKS = JSON.stringify({
    kuore: `${receiver.url}/kuore`,
    'japan-post': 'http://127.0.0.1:1/none',
  });
  stack = await startTestStack();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
  delete process.env.PROCESSOR_WEBHOOKS;
});

const hold = (body: unknown, role: 'support' | 'legal' | 'auditor' = 'legal') =>
  stack.call('POST', '/v1/holds', { role, body });

describe('holds API', () => {
  test.each([
    [
      'unknown field',
      { subject: { userId: 'u-x' }, caseReference: 'C', reason: 'r', extra: 1 },
      'UNKNOWN_FIELD',
    ],
    ['no case reference', { subject: { userId: 'u-x' }, reason: 'r' }, 'MISSING_FIELD'],
    [
      'two identifiers',
      { subject: { userId: 'u-x', email: 'a@b.c' }, caseReference: 'C', reason: 'r' },
      'MISSING_IDENTIFIER',
    ],
    [
      'unknown store',
      { subject: { userId: 'u-x' }, stores: ['crm'], caseReference: 'C', reason: 'r' },
      'UNKNOWN_STORE',
    ],
    [
      'unknown category',
      { subject: { userId: 'u-x' }, categories: ['diaries'], caseReference: 'C', reason: 'r' },
      'UNKNOWN_CATEGORY',
    ],
    [
      'category not in the held stores',
      {
        subject: { userId: 'u-x' },
        stores: ['chat'],
        categories: ['transactions'],
        caseReference: 'C',
        reason: 'r',
      },
      'UNKNOWN_CATEGORY',
    ],
    [
      'case reference too long',
      { subject: { userId: 'u-x' }, caseReference: 'C'.repeat(129), reason: 'r' },
      'FIELD_TOO_LONG',
    ],
  ])('%s -> 400 %s', async (_name, body, code) => {
    const res = await hold(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
  });

  test('only legal places and releases; support reads; auditors do not; all audited', async () => {
    const body = {
      service: 'klub-outside',
      subject: { userId: 'u-carol' },
      stores: ['media'],
      caseReference: 'CASE-7',
      reason: 'Litigation',
    };
    expect((await hold(body, 'support')).status).toBe(403);
    expect((await hold(body, 'auditor')).status).toBe(403);
    const placed = await hold(body);
    expect(placed.status).toBe(201);
    const holdId = String(placed.body.holdId);
    expect(holdId).toMatch(/^hold_[a-f0-9]{32}$/);
    expect(placed.body).toMatchObject({ status: 'active', stores: ['media'], caseReference: 'CASE-7' });

    const subjectHash = String(placed.body.subjectHash);
    const listed = await stack.call('GET', `/v1/holds?subjectHash=${subjectHash}`, { role: 'support' });
    expect(listed.status).toBe(200);
    expect((listed.body.holds as { holdId: string }[]).map((h) => h.holdId)).toEqual([holdId]);
    expect(
      (await stack.call('GET', `/v1/holds?subjectHash=${subjectHash}`, { role: 'auditor' })).status,
    ).toBe(403);
    expect((await stack.call('GET', '/v1/holds?email=a@b.c', { role: 'legal' })).body.code).toBe(
      'UNKNOWN_PARAMETER',
    );

    expect(
      (await stack.call('POST', `/v1/holds/${holdId}/release`, { role: 'support', body: {} })).status,
    ).toBe(403);
    const released = await stack.call('POST', `/v1/holds/${holdId}/release`, {
      role: 'legal',
      body: { reason: 'Case closed' },
    });
    expect(released.status).toBe(200);
    expect(released.body).toMatchObject({
      status: 'released',
      releaseReason: 'Case closed',
      alreadyReleased: false,
    });
    const again = await stack.call('POST', `/v1/holds/${holdId}/release`, { role: 'legal', body: {} });
    expect(again.body).toMatchObject({ status: 'released', alreadyReleased: true });
    expect(
      (await stack.call('POST', `/v1/holds/hold_${'0'.repeat(32)}/release`, { role: 'legal', body: {} }))
        .status,
    ).toBe(404);

    const audit = await stack.call('GET', '/v1/audit', { role: 'auditor' });
    const records = audit.body.records as {
      action: string;
      actor: string;
      role?: string;
      at: string;
      outcome?: number;
      detail?: Record<string, unknown>;
    }[];
    const mine = records.filter((r) => r.detail?.holdId === holdId);
    expect(mine.map((r) => r.action)).toEqual(['hold.placed', 'hold.released']);
    for (const r of mine)
      expect(r).toMatchObject({ role: 'legal', actor: expect.any(String), at: expect.any(String) });
    expect(records.filter((r) => r.action === 'placeHold').map((r) => r.outcome)).toEqual(
      expect.arrayContaining([403, 201]),
    );
    expect(JSON.stringify(records)).not.toContain('u-carol');
  });
});

test('a hold on chat: chat untouched, the rest erased; released + sweep: chat erased, re-certified', async () => {
  const tokens = await identifierTokens(stack, 'u-alice');
  const { Item: alice } = await stack.doc.send(
    new GetCommand({ TableName: platformStores.accounts.table.tableName, Key: { userId: 'u-alice' } }),
  );
  // Placed by email; the erasure names her by user id: the hold still applies.
  const placed = await hold({
    service: 'klub-outside',
    subject: { email: String(alice?.email) },
    stores: ['chat'],
    caseReference: 'SEOUL-2026-0042',
    reason: 'Fraud investigation',
  });
  expect(placed.status).toBe(201);
  const holdId = String(placed.body.holdId);
  const before = await snapshot(stack);

  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'erasure', service: 'klub-outside', subject: { userId: 'u-alice' }, jurisdiction: 'JP' },
  });
  const requestId = String(created.body.requestId);
  const first = await stack.waitForStatus(requestId, ['completed', 'partially_completed', 'failed'], 60_000);
  expect(first.failure).toBeUndefined();
  expect(first.status).toBe('partially_completed');
  expect((first.erasure as { heldBy: string[] }).heldBy).toEqual([holdId]);
  expect((await stack.call('GET', `/v1/holds?requestId=${requestId}`, { role: 'legal' })).body.holds).toEqual(
    [expect.objectContaining({ holdId, status: 'active' })],
  );

  // Chat: every message and room exactly as before; everything else of hers gone (her log lines wait for
  // the log-erasure job: pending in the certificate below).
  await expectOnlyChatKept(stack, before, tokens, 'u-alice');

  const cert1 = (await stack.call('GET', `/v1/requests/${requestId}/certificate`)).body.payload as {
    stores: { store: string; categories: CertCategory[] }[];
    status: string;
    processors: { processorId: string; status: string }[];
  };
  expect(cert1.status).toBe('partially_completed');
  expect(certCategory(cert1, 'chat', 'messages')).toMatchObject({
    state: 'held',
    held: [{ holdId, caseReference: 'SEOUL-2026-0042' }],
  });
  expect(certCategory(cert1, 'accounts', 'profile')).toMatchObject({ state: 'deleted' });
  expect(certCategory(cert1, 'logs', 'access-log')?.state).toBe('pending');
  // Processors: kuore acknowledged (signed), japan-post unreachable, the rest not configured: all reported.
  const byId = Object.fromEntries(cert1.processors.map((p) => [p.processorId, p.status]));
  expect(byId).toMatchObject({
    kuore: 'acknowledged',
    'japan-post': 'unreachable',
    'sony-payment-services': 'not_configured',
  });
  const jwks = (await stack.call('GET', '/.well-known/jwks.json', { role: null })).body as unknown as Jwks;
  expect(receiver.received.length).toBe(1);
  const sent = receiver.received[0]!;
  const noticeSignature = String(sent.headers['x-dsr-signature']);
  expect(await verifyProcessorNotice(sent.body, noticeSignature, jwks)).toBe(true);
  // A notice is not a status callback: its signature does not pass for one.
  expect(await verifyDsrCallback(sent.body, noticeSignature, jwks)).toBe(false);
  const told = JSON.parse(sent.body.toString('utf8')) as { categories: string[]; requestId: string };
  expect(told).toMatchObject({ requestId, categories: ['accounts/profile'] });
  expect(told.categories).not.toContain('chat/complaints');

  // The sweep does nothing while the hold is active.
  const sweep = sweeper(stack);
  expect((await sweep(new Date())).resumed).toEqual([]);
  const released = await stack.call('POST', `/v1/holds/${holdId}/release`, { role: 'legal', body: {} });
  expect(released.status).toBe(200);
  expect((await sweep(new Date())).resumed).toEqual([{ requestId, run: 1, reasons: ['hold-released'] }]);

  // Chat is erased by run 1; the log lines still wait for the job, which then resumes run 2.
  await waitForCertificate(stack, requestId, 2);
  expect((await stack.runLogErasureJob('logjob-erasure-holds')).status).toBe('SUCCEEDED');
  const done = await stack.waitForStatus(requestId, ['completed', 'failed'], 60_000);
  expect(done.failure).toBeUndefined();
  expect(done.status).toBe('completed');
  const after = await snapshot(stack);
  expect(checkOthersUntouched(before, after, tokens).leftovers).toEqual([]);

  const cert2 = (await stack.call('GET', `/v1/requests/${requestId}/certificate`, { role: 'auditor' })).body
    .payload as typeof cert1 & { number: number; supersedes?: { number: number } };
  expect(cert2).toMatchObject({ number: 3, status: 'completed', supersedes: { number: 2 } });
  expect(certCategory(cert2, 'logs', 'access-log')?.state).toBe('deleted');
  expect(certCategory(cert2, 'chat', 'messages')).toMatchObject({ state: 'deleted' });
  expect(certCategory(cert2, 'chat', 'messages')?.held).toBeUndefined();
  expect(certCategory(cert2, 'accounts', 'profile')).toMatchObject({ state: 'deleted', deleted: 1 });
  // Kuore is told about the held part it received (complaints) only now.
  const second = receiver.received
    .slice(1)
    .map((r) => JSON.parse(r.body.toString('utf8')) as { categories: string[] });
  expect(second).toEqual([expect.objectContaining({ categories: ['chat/complaints'] })]);

  const events = (await stack.call('GET', `/v1/requests/${requestId}/events`)).body.events as {
    type: string;
  }[];
  expect(events.map((e) => e.type)).toEqual(
    expect.arrayContaining([
      'hold.applied',
      'hold.released',
      'erasure.resumed',
      'processor.acknowledged',
      'processor.unreachable',
    ]),
  );
  expect(mentions(JSON.stringify(events), tokens)).toBe(false);
}, 100_000);
