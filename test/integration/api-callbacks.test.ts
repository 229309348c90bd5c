/**
 * Signed status callbacks from the outbox. Every status change of an export reaches the
 * receiver signed (verified here against the JWKS the API serves); a receiver that fails twice gets
 * every change exactly once, in order; a redirect is not followed; each attempt is in the event history.
 */
import { verifyDsrCallback, DSR_SIGNATURE_HEADER } from '../../functions/lib/webhooks/signing';
import type { Jwks } from '../../functions/lib/crypto/jws';
import { startHarness, type Harness } from '../support/api-harness';
import { startReceiver, waitFor } from '../support/callback-receiver';

let h: Harness;
let jwks: Jwks;

beforeAll(async () => {
  h = await startHarness();
  h.workflows.run = true;
  h.startCallbackPolling();
  const res = await h.call('GET', '/.well-known/jwks.json', { role: null });
  jwks = res.body as unknown as Jwks;
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

test('every status change of an export is delivered, signed with a key from the JWKS', async () => {
  const receiver = await startReceiver();
  try {
    const created = await h.call('POST', '/v1/requests', {
      body: {
        type: 'export',
        service: 'klub-outside',
        subject: { userId: 'u-cb-1' },
        callbackUrls: [`${receiver.url}/hook`],
      },
    });
    expect(created.status).toBe(202);
    await waitFor(() => receiver.received.length >= 3);
    const bodies = receiver.received.map(
      (r) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>,
    );
    expect(bodies.map((b) => b.status)).toEqual(['received', 'in_progress', 'completed']);
    for (const r of receiver.received) {
      const signature = String(r.headers[DSR_SIGNATURE_HEADER]);
      expect(await verifyDsrCallback(r.body, signature, jwks)).toBe(true);
      // A changed byte breaks it.
      const tampered = Buffer.from(r.body.toString('utf8').replace('"status":"', '"status":"x'));
      expect(await verifyDsrCallback(tampered, signature, jwks)).toBe(false);
    }
    expect(bodies.every((b) => b.requestId === created.body.requestId)).toBe(true);
    expect(JSON.stringify(bodies)).not.toContain('u-cb-1');
  } finally {
    await receiver.stop();
  }
});

test('a receiver failing twice, then succeeding, gets every change exactly once and in order', async () => {
  const receiver = await startReceiver((index) => (index < 2 ? 503 : 200));
  try {
    const created = await h.call('POST', '/v1/requests', {
      body: {
        type: 'export',
        service: 'klub-outside',
        subject: { userId: 'u-cb-2' },
        callbackUrls: [`${receiver.url}/flaky`],
      },
    });
    const requestId = String(created.body.requestId);
    await waitFor(() => receiver.received.filter((r) => r.answered === 200).length >= 3);
    await new Promise((r) => setTimeout(r, 500)); // anything extra would arrive by now
    const accepted = receiver.received
      .filter((r) => r.answered === 200)
      .map((r) => JSON.parse(r.body.toString('utf8')) as { status: string; version: number });
    expect(accepted.map((b) => b.status)).toEqual(['received', 'in_progress', 'completed']);
    expect(accepted.map((b) => b.version)).toEqual([1, 2, 3]);
    // The two failures were both the first change, retried (never a later change overtaking it).
    expect(receiver.received.slice(0, 3).map((r) => JSON.parse(r.body.toString('utf8')).status)).toEqual([
      'received',
      'received',
      'received',
    ]);
    const events = await h.call('GET', `/v1/requests/${requestId}/events`);
    const types = (events.body.events as { type: string }[]).map((e) => e.type);
    expect(types.filter((t) => t === 'callback.failed')).toHaveLength(2);
    expect(types.filter((t) => t === 'callback.delivered')).toHaveLength(3);
  } finally {
    await receiver.stop();
  }
});

test('a redirect is not followed and counts as a failure', async () => {
  const receiver = await startReceiver(() => 302);
  try {
    const created = await h.call('POST', '/v1/requests', {
      body: {
        type: 'export',
        service: 'klub-outside',
        subject: { userId: 'u-cb-3' },
        callbackUrls: [`${receiver.url}/moved`],
      },
    });
    const requestId = String(created.body.requestId);
    await waitFor(() => receiver.received.length >= 2);
    expect(receiver.received.every((r) => r.path === '/moved')).toBe(true);
    const events = await h.call('GET', `/v1/requests/${requestId}/events`);
    const failed = (events.body.events as { type: string; detail?: { reason?: string } }[]).find(
      (e) => e.type === 'callback.failed',
    );
    expect(failed?.detail?.reason).toBe('REDIRECT_NOT_FOLLOWED');
  } finally {
    await receiver.stop();
  }
});
