/**
 * Transmission to another controller (GDPR Art. 20(2)) on the real local stack: an export naming
 * `transmitTo` completes as usual, and the recipient (a local receiver) gets a notice signed as a
 * transfer (`dsr-transfer+jws`, checked with the JWKS), whose link downloads the archive once: the archive
 * verifies as `npm run verify` checks it, and a second download is refused (410). The request records
 * the transfer; an erasure of the person revokes a transfer link not yet used.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Jwks } from '../../functions/lib/crypto/jws';
import { JWS_TYPES } from '../../functions/lib/crypto/jws';
import { verifyArchive } from '../../functions/lib/export/verify-archive';
import { verifyDsrMessage } from '../../functions/lib/webhooks/signing';
import { startReceiver, waitFor } from '../support/callback-receiver';
import { startTestStack, type TestStack } from '../support/local-stack';

let stack: TestStack;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let jwks: Jwks;
let dir: string;

beforeAll(async () => {
  receiver = await startReceiver();
  dir = await mkdtemp(join(tmpdir(), 'dsr-transfer-'));
  stack = await startTestStack();
  jwks = (await stack.call('GET', '/.well-known/jwks.json', { role: null })).body as unknown as Jwks;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Notice {
  type: string;
  requestId: string;
  service: string;
  archive: { url: string; expiresAt: string; maxDownloads: number; sha256: string; bytes: number };
}

async function transmit(
  userId: string,
  path: string,
): Promise<{ view: Record<string, unknown>; notice: Notice }> {
  const res = await stack.call('POST', '/v1/requests', {
    body: {
      type: 'export',
      service: 'klub-outside',
      subject: { userId },
      transmitTo: `${receiver.url}${path}`,
    },
  });
  expect(res.status).toBe(202);
  const requestId = String(res.body.requestId);
  await stack.waitForStatus(requestId, ['completed'], 90_000);
  const received = await waitFor(() => receiver.received.find((r) => r.path === path), 30_000);
  const signature = String(received.headers['x-dsr-signature']);
  expect(await verifyDsrMessage(received.body, signature, jwks, JWS_TYPES.transferNotice)).toBe(true);
  // Not a status callback, nor a processor's deletion order.
  expect(await verifyDsrMessage(received.body, signature, jwks, JWS_TYPES.callback)).toBe(false);
  expect(await verifyDsrMessage(received.body, signature, jwks, JWS_TYPES.processorNotice)).toBe(false);
  const notice = JSON.parse(received.body.toString('utf8')) as Notice;
  // The transfer is recorded once the notice is answered.
  let current: Record<string, unknown> = {};
  for (let i = 0; i < 100; i++) {
    current = (await stack.call('GET', `/v1/requests/${requestId}`)).body;
    if ((current.transfer as { status?: string } | undefined)?.status) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { view: current, notice };
}

test('the recipient gets a signed notice, downloads the archive once, it verifies; a second download is refused', async () => {
  const { view, notice } = await transmit('u-alice', '/inbox');
  expect(notice).toMatchObject({
    type: 'transfer.archive_available',
    requestId: view.requestId,
    service: 'klub-outside',
    archive: { maxDownloads: 1 },
  });
  expect(notice.archive.url).toContain('/v1/transfers/');
  expect(view.transfer).toMatchObject({
    recipientHost: new URL(receiver.url).host,
    status: 'delivered',
    httpStatus: 200,
    attempts: 1,
  });
  expect(typeof (view.transfer as { sentAt?: unknown }).sentAt).toBe('string');
  // The endpoint itself is not kept on the request, nor shown.
  expect(JSON.stringify(view)).not.toContain('/inbox');

  const first = await fetch(notice.archive.url);
  expect(first.status).toBe(200);
  const bytes = Buffer.from(await first.arrayBuffer());
  expect(bytes.length).toBe(notice.archive.bytes);
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(notice.archive.sha256);
  const file = join(dir, 'transferred.zip');
  await writeFile(file, bytes);
  const verdict = await verifyArchive(file, { jwks });
  expect(verdict.ok).toBe(true);

  const second = await fetch(notice.archive.url, { headers: { accept: 'application/json' } });
  expect(second.status).toBe(410);
  expect(((await second.json()) as { code?: string }).code).toBe('LINK_USED');

  // The subject's own link is untouched by the recipient's download.
  const own = await stack.call('GET', `/v1/requests/${String(view.requestId)}`);
  expect(own.body.download).toMatchObject({ status: 'active' });
}, 120_000);

test('an erasure of the person revokes a transfer link not yet used', async () => {
  const { notice } = await transmit('u-erin', '/erin');
  const erasure = await stack.call('POST', '/v1/requests', {
    body: { type: 'erasure', service: 'klub-outside', subject: { userId: 'u-erin' }, jurisdiction: 'JP' },
  });
  expect(erasure.status).toBe(202);
  await stack.waitForStatus(
    String(erasure.body.requestId),
    ['completed', 'partially_completed', 'failed'],
    90_000,
  );
  const res = await fetch(notice.archive.url, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(404);
  expect(((await res.json()) as { code?: string }).code).toBe('LINK_NOT_FOUND');
}, 150_000);
