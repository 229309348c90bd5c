import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callbackUrlProblem, isPrivateAddress } from '../../functions/lib/webhooks/url-policy';
import { CallbackDelivery } from '../../functions/callbacks/core';
import { openDsrStatus } from '../../functions/lib/requests/opendsr-status';
import {
  dsrSignatureHeaders,
  openDsrSignatureHeaders,
  verifyDsrCallback,
  verifyOpenDsrCallback,
} from '../../functions/lib/webhooks/signing';
import { keyFromJwk } from '../../functions/lib/crypto/jws';
import { LocalSigner } from '../../functions/lib/crypto/signing';
import type { CallbackOutbox, QueuedCallback } from '../../functions/lib/requests/callback-outbox';
import type { RequestRepository } from '../../functions/lib/requests/requests';

test.each([
  ['127.0.0.1', true],
  ['10.1.2.3', true],
  ['172.31.255.255', true],
  ['192.168.0.1', true],
  ['169.254.169.254', true],
  ['100.64.0.1', true],
  ['0.0.0.0', true],
  ['::1', true],
  ['fe80::1', true],
  ['fd00::1', true],
  ['::ffff:127.0.0.1', true],
  ['::ffff:7f00:1', true],
  ['::', true],
  ['::7f00:1', true],
  ['::127.0.0.1', true],
  ['64:ff9b::a00:1', true],
  ['64:ff9b:1::a00:1', true],
  ['2002:a00:1::1', true],
  ['2002:808:808::1', true],
  ['fec0::1', true],
  ['feff::1', true],
  ['::ffff:8.8.8.8', false],
  ['2001:4860:4860::8888', false],
  ['8.8.8.8', false],
  ['2606:4700:4700::1111', false],
])('isPrivateAddress(%s) = %s', (address, expected) => {
  expect(isPrivateAddress(address)).toBe(expected);
});

test.each([
  ['https://receiver.example/cb', undefined],
  ['http://receiver.example/cb', 'CALLBACK_URL_NOT_HTTPS'],
  ['https://127.0.0.1/cb', 'CALLBACK_URL_PRIVATE'],
  ['https://[::1]/cb', 'CALLBACK_URL_PRIVATE'],
  ['https://[2002:7f00:1::1]/cb', 'CALLBACK_URL_PRIVATE'],
  ['https://[64:ff9b:1::a9fe:a9fe]/cb', 'CALLBACK_URL_PRIVATE'],
  ['https://[fec0::1]/cb', 'CALLBACK_URL_PRIVATE'],
  ['https://[::a9fe:a9fe]/cb', 'CALLBACK_URL_PRIVATE'],
  ['https://169.254.169.254/latest/meta-data', 'CALLBACK_URL_PRIVATE'],
  ['https://localhost/cb', 'CALLBACK_URL_PRIVATE'],
  ['https://2130706433/cb', 'CALLBACK_URL_PRIVATE'],
  ['https://user:pw@receiver.example/cb', 'CALLBACK_URL_HAS_CREDENTIALS'],
  ['ftp://receiver.example/cb', 'CALLBACK_URL_NOT_HTTPS'],
  ['not a url', 'CALLBACK_URL_INVALID'],
])('callbackUrlProblem(%s) = %s (AWS)', (url, expected) => {
  expect(callbackUrlProblem(url, false)).toBe(expected);
});

test('the local stack may call loopback receivers over http', () => {
  expect(callbackUrlProblem('http://127.0.0.1:8080/cb', true)).toBeUndefined();
});

test('backoff grows exponentially, capped, with jitter in the upper half', () => {
  const delivery = new CallbackDelivery({
    requests: {} as RequestRepository,
    outbox: {} as CallbackOutbox,
    signer: { keyId: async () => 'k', sign: async () => Buffer.alloc(64) },
    transport: async () => ({ status: 200 }),
    config: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 5000, processorDomain: 'x' },
    random: () => 1,
  });
  expect([1, 2, 3, 4, 5].map((n) => delivery.backoffMs(n))).toEqual([1000, 2000, 4000, 5000, 5000]);
});

describe('a slow receiver does not hold up the others', () => {
  function outboxFake(urls: Record<string, string>) {
    const items = new Map<string, QueuedCallback>(
      Object.entries(urls).map(([requestId, url]) => [
        requestId,
        {
          requestId,
          version: 1,
          urlIndex: 0,
          url,
          dialect: 'dsr',
          status: 'completed',
          occurredAt: '2026-01-01T00:00:00.000Z',
          attempts: 0,
          nextAttemptAt: '2026-01-01T00:00:00.000Z',
          kind: 'callback-pending',
          sk: 'CALLBACK#00#000001',
        },
      ]),
    );
    const settled: string[] = [];
    const outbox = {
      lease: async () => 'lease',
      release: async () => undefined,
      list: async (requestId: string) => [items.get(requestId)!],
      settle: async (item: { requestId: string }, change: { result: string }) => {
        if (change.result !== 'delivered') return;
        settled.push(item.requestId);
        items.get(item.requestId)!.kind = 'callback-delivered';
      },
      pendingRequests: async () =>
        [...items.values()].filter((i) => i.kind === 'callback-pending').map((i) => i.requestId),
    } as unknown as CallbackOutbox;
    const requests = {
      get: async (requestId: string) => ({ requestId, type: 'export', status: 'completed' }),
    } as unknown as RequestRepository;
    return { outbox, requests, settled };
  }

  test('fast receivers are served while a slow one is still answering, and the slow one gets few slots', async () => {
    const urls: Record<string, string> = {};
    for (let i = 0; i < 4; i++) urls[`req_slow${i}`] = `https://slow.example/cb/${i}`;
    for (let i = 0; i < 12; i++) urls[`req_fast${i}`] = `https://fast${i}.example/cb`;
    const { outbox, requests, settled } = outboxFake(urls);
    let release: () => void = () => undefined;
    const slowGate = new Promise<void>((resolve) => (release = resolve));
    let slowInFlight = 0;
    let slowPeak = 0;
    const delivery = new CallbackDelivery({
      requests,
      outbox,
      signer: { keyId: async () => 'k', sign: async () => Buffer.alloc(64) },
      transport: async (url) => {
        if (!url.startsWith('https://slow.example/')) return { status: 200 };
        slowInFlight += 1;
        slowPeak = Math.max(slowPeak, slowInFlight);
        await slowGate;
        slowInFlight -= 1;
        return { status: 200 };
      },
      config: {
        maxAttempts: 5,
        baseDelayMs: 1000,
        maxDelayMs: 5000,
        processorDomain: 'x',
        concurrency: 4,
        perReceiverConcurrency: 2,
      },
      clock: () => new Date('2026-01-01T00:01:00.000Z'),
    });
    const sweep = delivery.sweep();
    // Every fast receiver is delivered while the slow receiver has not answered at all.
    for (let i = 0; i < 200 && settled.length < 12; i++) await new Promise((r) => setImmediate(r));
    expect([...settled].sort()).toEqual(
      Object.keys(urls)
        .filter((id) => id.includes('fast'))
        .sort(),
    );
    expect(slowPeak).toBe(2);
    release();
    await sweep;
    // The two over the receiver's limit stay due for a later pass, which sends them.
    expect(settled.filter((id) => id.includes('slow'))).toHaveLength(2);
    await delivery.sweep();
    expect(settled.filter((id) => id.includes('slow'))).toHaveLength(4);
  });
});

test('OpenDSR status mapping', () => {
  expect(openDsrStatus('received')).toBe('pending');
  expect(openDsrStatus('in_progress')).toBe('in_progress');
  expect(openDsrStatus('completed')).toBe('completed');
  expect(openDsrStatus('cancelled')).toBe('cancelled');
});

describe('signatures a receiver can check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsr-cb-'));
  const signer = new LocalSigner(join(dir, 'keys'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('native: detached JWS verifies with the JWKS, fails on a changed body', async () => {
    const body = Buffer.from('{"requestId":"req_1","status":"completed"}');
    const headers = await dsrSignatureHeaders(body, signer);
    const jwks = await signer.publicJwks();
    expect(await verifyDsrCallback(body, headers['x-dsr-signature']!, jwks)).toBe(true);
    expect(
      await verifyDsrCallback(Buffer.from('{"requestId":"req_2"}'), headers['x-dsr-signature']!, jwks),
    ).toBe(false);
    expect(headers['x-dsr-key-id']).toBe(jwks.keys[0]?.kid);
  });

  test('OpenDSR: base64 DER ECDSA over the raw body, checked by openssl too', async () => {
    const body = Buffer.from('{"request_status":"completed"}');
    const headers = await openDsrSignatureHeaders(body, signer, 'dsr.example');
    const jwks = await signer.publicJwks();
    expect(headers['x-opendsr-processor-domain']).toBe('dsr.example');
    expect(
      verifyOpenDsrCallback(body, headers['x-opendsr-signature']!, headers['x-opendsr-key-id']!, jwks),
    ).toBe(true);
    writeFileSync(join(dir, 'body'), body);
    writeFileSync(join(dir, 'sig.der'), Buffer.from(headers['x-opendsr-signature']!, 'base64'));
    writeFileSync(join(dir, 'pub.pem'), keyFromJwk(jwks.keys[0]!).export({ format: 'pem', type: 'spki' }));
    let out: string;
    try {
      out = execFileSync('openssl', [
        'dgst',
        '-sha256',
        '-verify',
        join(dir, 'pub.pem'),
        '-signature',
        join(dir, 'sig.der'),
        join(dir, 'body'),
      ]).toString();
    } catch {
      out = 'openssl unavailable';
    }
    if (out !== 'openssl unavailable') expect(out).toContain('Verified OK');
  });
});
