/**
 * The erasure workflow end to end on the real local stack: the erasure of u-alice (KR) with no hold, then the
 * retention end (the sweep run with its clock moved past 5 years).
 * - Afterwards the live stores hold nothing of hers except her log lines, which the certificate lists as
 *   pending (they wait for the batched log-erasure job); the vault holds exactly what it lists as vaulted;
 *   other users' data is byte-for-byte unchanged; the certificate verifies against the JWKS.
 * - The log-erasure job removes her lines (keeping those under retention in the vault) and resumes the
 *   erasure, which certifies the log part.
 * - Past every period: the vault items are destroyed, the log lines erased, the request completed,
 *   the kept identifier set removed, the certificate re-issued.
 */
import { verifyCertificate, type CertificatePayload } from '../../functions/lib/erasure/certificate';
import type { Jwks } from '../../functions/lib/crypto/jws';
import { startTestStack, type TestStack } from '../support/local-stack';
import {
  certCategory,
  checkOthersUntouched,
  identifierTokens,
  mentions,
  rawRequest,
  snapshot,
  sweeper,
  vaultCounts,
  vaultItems,
  type CertCategory,
  type Snapshot,
} from './erasure-helpers';

let stack: TestStack;
let tokens: string[];
let before: Snapshot;
let requestId: string;

beforeAll(async () => {
  stack = await startTestStack();
  tokens = await identifierTokens(stack, 'u-alice');
  before = await snapshot(stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function certificate(role: 'support' | 'legal' | 'auditor' = 'auditor') {
  const res = await stack.call('GET', `/v1/requests/${requestId}/certificate`, {
    role,
    headers: { accept: 'application/jose' },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/jose');
  const jws = String(res.body.raw);
  const jwks = (await stack.call('GET', '/.well-known/jwks.json', { role: null })).body as unknown as Jwks;
  const verified = await verifyCertificate(jws, jwks);
  if (!verified.ok) throw new Error(`certificate does not verify: ${verified.reason}`);
  return verified.payload;
}

const vaulted = (payload: CertificatePayload) => {
  const out: Record<string, number> = {};
  for (const s of payload.stores)
    for (const c of s.categories as CertCategory[])
      if (c.retained?.location === 'vault' && c.retained.records > 0)
        out[`${s.store}/${c.category}`] = c.retained.records;
  return out;
};

test('no hold, KR: everything of hers goes except what is retained, which the certificate lists', async () => {
  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'erasure', service: 'klub-outside', subject: { userId: 'u-alice' }, jurisdiction: 'KR' },
  });
  expect(created.status).toBe(202);
  requestId = String(created.body.requestId);
  const done = await stack.waitForStatus(requestId, ['completed', 'partially_completed', 'failed'], 80_000);
  expect(done.failure).toBeUndefined();
  expect(done.status).toBe('partially_completed');

  // The request shows the plan with the policy version and hash in force, and when the sweep resumes.
  const policy = await stack.call('GET', '/v1/policy', { role: 'auditor' });
  const erasure = done.erasure as Record<string, unknown>;
  expect(erasure.policy).toEqual({ version: policy.body.version, hash: policy.body.hash });
  expect(typeof erasure.nextStepAt).toBe('string');
  // The kept identifier set never leaves the table.
  expect(mentions(JSON.stringify(done), tokens)).toBe(false);
  expect((await rawRequest(stack, requestId))?.resolvedSubject).toBeDefined();

  const payload = await certificate();
  expect(payload).toMatchObject({
    requestId,
    status: 'partially_completed',
    jurisdiction: { applied: 'KR' },
    verification: { result: 'passed' },
    policy: { version: policy.body.version, hash: policy.body.hash },
  });
  expect(payload.subject.keyedHash).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(mentions(JSON.stringify(payload), tokens)).toBe(false);
  expect(payload.nextStepAt).toBe(erasure.nextStepAt);
  expect(certCategory(payload, 'accounts', 'profile')).toMatchObject({ state: 'deleted', deleted: 1 });
  const txns = certCategory(payload, 'payments', 'transactions');
  expect(txns?.retained).toMatchObject({ location: 'vault' });
  expect(txns?.retained?.records).toBeGreaterThan(0);

  // Live stores: only her log lines remain, all of them, pending for the log-erasure job.
  const after = await snapshot(stack);
  const pending = (category: string) => certCategory(payload, 'logs', category)?.pending?.records ?? 0;
  const { leftovers } = checkOthersUntouched(before, after, tokens, (kind) => kind === 'logs');
  expect(leftovers).toEqual([]);
  const herLines = [...after.logs.entries()].flatMap(([key, lines]) =>
    lines.filter((l) => mentions(l, tokens)).map((l) => ({ key, l })),
  );
  const access = herLines.filter((x) => x.key.startsWith('access/')).length;
  const voice = herLines.filter((x) => x.key.startsWith('voice-sessions/')).length;
  expect(access).toBeGreaterThan(0);
  expect(access).toBe(pending('access-log'));
  expect(voice).toBe(pending('voice-sessions'));
  expect(certCategory(payload, 'logs', 'access-log')?.state).toBe('pending');
  expect(after.accounts.some((a) => a.userId === 'u-alice')).toBe(false);
  expect(after.payments.some((p) => p.userId === 'u-alice')).toBe(false);

  // The vault holds exactly what the certificate lists as vaulted, and never card data.
  expect(await vaultCounts(stack)).toEqual(vaulted(payload));
  for (const item of await vaultItems(stack))
    expect(JSON.stringify(item.data)).not.toMatch(/"(card|cardNumber|cvc|billingAddress)"/);

  // JSON form, readable by support and legal too.
  const asJson = await stack.call('GET', `/v1/requests/${requestId}/certificate`, { role: 'legal' });
  expect(asJson.status).toBe(200);
  expect(asJson.body.payload).toEqual(payload);
}, 100_000);

test('the log-erasure job removes her log lines, keeps those under retention in the vault, and the erasure certifies them', async () => {
  expect((await stack.runLogErasureJob('logjob-erasure-workflow')).status).toBe('SUCCEEDED');
  for (let i = 0; i < 600; i++) {
    const res = await stack.call('GET', `/v1/requests/${requestId}`);
    const cert = (res.body.erasure as { certificate?: { number: number } }).certificate;
    if (cert?.number === 2 && res.body.status !== 'in_progress') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const payload = await certificate();
  expect(payload).toMatchObject({
    number: 2,
    status: 'partially_completed',
    verification: { result: 'passed' },
  });
  expect(payload.runs.map((r) => [r.run, r.trigger, r.outcome])).toEqual([
    [0, 'request', 'partially_completed'],
    [1, 'resumed', 'partially_completed'],
  ]);
  // Nothing of hers in the live logs now; everyone else's lines byte-for-byte.
  const after = await snapshot(stack);
  expect(checkOthersUntouched(before, after, tokens).leftovers).toEqual([]);
  const accessLog = certCategory(payload, 'logs', 'access-log');
  expect(accessLog).toMatchObject({ state: 'retained', retained: { location: 'vault' } });
  expect(accessLog?.deleted).toBeGreaterThan(0);
  // The vault holds exactly what the certificate lists as vaulted, her log lines included.
  expect(await vaultCounts(stack)).toEqual(vaulted(payload));
  expect(vaulted(payload)['logs/access-log']).toBeGreaterThan(0);
}, 100_000);

test('retention end: the sweep past 5 years destroys the vault items and the request completes', async () => {
  const first = await certificate();
  const later = new Date(Date.now() + (5 * 366 + 30) * 86_400_000);
  const sweep = sweeper(stack);
  const report = await sweep(later);
  expect(report.vaultDestroyed).toBe(Object.values(vaulted(first)).reduce((a, b) => a + b, 0));
  expect(report.resumed).toEqual([{ requestId, run: 2, reasons: ['retention-ended'] }]);
  expect(await vaultCounts(stack)).toEqual({});

  const done = await stack.waitForStatus(requestId, ['completed', 'failed'], 60_000);
  expect(done.failure).toBeUndefined();
  expect(done.status).toBe('completed');
  expect((await rawRequest(stack, requestId))?.resolvedSubject).toBeUndefined();

  const payload = await certificate('support');
  expect(payload).toMatchObject({
    number: 3,
    status: 'completed',
    nextStepAt: null,
    asOf: later.toISOString(),
  });
  expect(payload.supersedes?.number).toBe(2);
  expect(payload.runs.map((r) => [r.run, r.trigger, r.outcome])).toEqual([
    [0, 'request', 'partially_completed'],
    [1, 'resumed', 'partially_completed'],
    [2, 'resumed', 'completed'],
  ]);
  expect(certCategory(payload, 'payments', 'transactions')).toMatchObject({
    state: 'deleted',
    retained: { records: 0, destroyed: vaulted(first)['payments/transactions'] },
  });
  const after = await snapshot(stack);
  expect(checkOthersUntouched(before, after, tokens).leftovers).toEqual([]);

  // A second sweep finds nothing more to do.
  expect((await sweep(later)).resumed).toEqual([]);
  const events = await stack.call('GET', `/v1/requests/${requestId}/events`, { role: 'auditor' });
  const types = (events.body.events as { type: string }[]).map((e) => e.type);
  expect(types).toEqual(expect.arrayContaining(['vault.destroyed', 'erasure.resumed', 'erasure.certified']));
  expect(types.filter((t) => t === 'erasure.certified')).toHaveLength(3);
  expect(types).toContain('erasure.logs_erased');
}, 100_000);
