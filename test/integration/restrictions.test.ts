/**
 * Restriction of use on the real local stack (statemachines/restriction.asl.json unchanged, DynamoDB
 * Local, s3rver). For each kind: the account's consents after it, the signed notices the affected
 * recipients' webhooks receive (and no other processor), the restriction visible on the request and in
 * the listing, then lifted (consents back, the apply request marked). A restricted subject's export still
 * completes; bad input is refused with stable codes and changes nothing.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { platformStores } from '../../config/data-map';
import type { Jwks } from '../../functions/lib/crypto/jws';
import { JWS_TYPES } from '../../functions/lib/crypto/jws';
import { verifyDsrMessage } from '../../functions/lib/webhooks/signing';
import { startReceiver, type Received } from '../support/callback-receiver';
import { startTestStack, type TestStack } from '../support/local-stack';

let stack: TestStack;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let jwks: Jwks;

const PROCESSORS = ['sony-payment-services', 'japan-post', 'kuore', 'audiostock-artists-affiliate'];

beforeAll(async () => {
  receiver = await startReceiver();
  process.env.PROCESSOR_WEBHOOKS = JSON.stringify(
    Object.fromEntries(PROCESSORS.map((id) => [id, `${receiver.url}/${id}`])),
  );
  stack = await startTestStack();
  jwks = (await stack.call('GET', '/.well-known/jwks.json', { role: null })).body as unknown as Jwks;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
  delete process.env.PROCESSOR_WEBHOOKS;
});

async function consentsOf(userId: string): Promise<Record<string, unknown>> {
  const { Item } = await stack.doc.send(
    new GetCommand({ TableName: platformStores.accounts.table.tableName, Key: { userId } }),
  );
  const { marketingEmail, personalizedAds } = (Item?.consents ?? {}) as Record<string, unknown>;
  return { marketingEmail, personalizedAds };
}

async function restrict(
  service: string,
  userId: string,
  kind: string,
  action: 'apply' | 'lift',
): Promise<Record<string, unknown>> {
  const res = await stack.call('POST', '/v1/requests', {
    body: { type: 'restriction', service, subject: { userId }, restriction: { kind, action } },
  });
  expect(res.status).toBe(202);
  return stack.waitForStatus(String(res.body.requestId), ['completed', 'failed'], 60_000);
}

/** The notices received since `from`, each checked: signed with the restriction notice's typ. */
async function noticesSince(from: number): Promise<{ path: string; body: Record<string, unknown> }[]> {
  const out: { path: string; body: Record<string, unknown> }[] = [];
  for (const r of receiver.received.slice(from) as Received[]) {
    const signature = String(r.headers['x-dsr-signature']);
    expect(await verifyDsrMessage(r.body, signature, jwks, JWS_TYPES.restrictionNotice)).toBe(true);
    // The same signature never passes for an erasure's processor notice.
    expect(await verifyDsrMessage(r.body, signature, jwks, JWS_TYPES.processorNotice)).toBe(false);
    out.push({ path: r.path.slice(1), body: JSON.parse(r.body.toString('utf8')) as Record<string, unknown> });
  }
  return out;
}

interface Case {
  service: string;
  userId: string;
  kind: string;
  before: Record<string, boolean>;
  after: Record<string, boolean>;
  told: string[];
  recorded: string[];
}

const CASES: Case[] = [
  {
    service: 'klub-outside',
    userId: 'u-carol',
    kind: 'stop-marketing',
    before: { marketingEmail: true, personalizedAds: true },
    after: { marketingEmail: false, personalizedAds: false },
    told: [],
    recorded: ['business-transfer'],
  },
  {
    service: 'klub-outside',
    userId: 'u-carol',
    kind: 'restrict-processing',
    before: { marketingEmail: true, personalizedAds: true },
    after: { marketingEmail: false, personalizedAds: false },
    told: ['japan-post', 'kuore', 'sony-payment-services'],
    recorded: ['sony-payment-services', 'japan-post', 'kuore', 'business-transfer'],
  },
  {
    service: 'cluster',
    userId: 'u-haruto',
    kind: 'stop-personalised-ads',
    before: { marketingEmail: true, personalizedAds: true },
    after: { marketingEmail: true, personalizedAds: false },
    told: [],
    recorded: ['advertising-partners'],
  },
  {
    service: 'cluster',
    userId: 'u-haruto',
    kind: 'stop-third-party-provision',
    before: { marketingEmail: true, personalizedAds: true },
    after: { marketingEmail: true, personalizedAds: false },
    told: [],
    recorded: ['affiliates', 'advertising-partners'],
  },
];

describe.each(CASES)('$kind at $service', (c) => {
  test('applied: consents set, the affected recipients told (signed), the record visible; then lifted', async () => {
    expect(await consentsOf(c.userId)).toEqual(c.before);
    const mark = receiver.received.length;
    const applied = await restrict(c.service, c.userId, c.kind, 'apply');
    expect(applied.status).toBe('completed');
    expect(await consentsOf(c.userId)).toEqual(c.after);

    const notices = await noticesSince(mark);
    expect(notices.map((n) => n.path).sort()).toEqual(c.told);
    for (const n of notices) {
      expect(n.body).toMatchObject({
        type: 'restriction.applied',
        kind: c.kind,
        requestId: applied.requestId,
        subject: { userIds: [c.userId] },
      });
    }
    const restriction = applied.restriction as Record<string, unknown>;
    expect(restriction).toMatchObject({
      kind: c.kind,
      action: 'apply',
      outcome: 'in_place',
      appliedByRequestId: applied.requestId,
      consents: Object.fromEntries(Object.entries(c.after).filter(([k, v]) => c.before[k] !== v)),
    });
    const recipients = restriction.recipients as { recipientId: string; status: string }[];
    expect(recipients.map((r) => r.recipientId)).toEqual(c.recorded);
    for (const r of recipients)
      expect(r.status).toBe(c.told.includes(r.recipientId) ? 'acknowledged' : 'not_configured');

    // Visible in the listing of the subject's requests too.
    const listed = await stack.call(
      'GET',
      `/v1/requests?type=restriction&subjectHash=${String(applied.subjectHash)}`,
    );
    const row = (listed.body.requests as Record<string, unknown>[]).find(
      (r) => r.requestId === applied.requestId,
    );
    expect(row?.restriction).toMatchObject({ kind: c.kind, outcome: 'in_place' });

    const liftMark = receiver.received.length;
    const lifted = await restrict(c.service, c.userId, c.kind, 'lift');
    expect(lifted.restriction).toMatchObject({
      kind: c.kind,
      action: 'lift',
      outcome: 'lifted',
      liftedByRequestId: lifted.requestId,
      appliedByRequestId: applied.requestId,
    });
    expect(await consentsOf(c.userId)).toEqual(c.before);
    const liftNotices = await noticesSince(liftMark);
    expect(liftNotices.map((n) => n.path).sort()).toEqual(c.told);
    for (const n of liftNotices) expect(n.body).toMatchObject({ type: 'restriction.lifted', kind: c.kind });

    const appliedNow = await stack.call('GET', `/v1/requests/${String(applied.requestId)}`);
    expect(appliedNow.body.restriction).toMatchObject({
      outcome: 'in_place',
      liftedByRequestId: lifted.requestId,
    });
    expect(typeof (appliedNow.body.restriction as { liftedAt?: unknown }).liftedAt).toBe('string');
  }, 120_000);
});

test('lifting one of two restrictions keeps the consents the other still withdraws', async () => {
  await restrict('klub-outside', 'u-carol', 'stop-marketing', 'apply');
  await restrict('klub-outside', 'u-carol', 'restrict-processing', 'apply');
  await restrict('klub-outside', 'u-carol', 'stop-marketing', 'lift');
  expect(await consentsOf('u-carol')).toEqual({ marketingEmail: false, personalizedAds: false });
  await restrict('klub-outside', 'u-carol', 'restrict-processing', 'lift');
  expect(await consentsOf('u-carol')).toEqual({ marketingEmail: true, personalizedAds: true });
}, 120_000);

test('a lift with nothing in place changes nothing and tells no one', async () => {
  const before = await consentsOf('u-dave');
  const mark = receiver.received.length;
  const lifted = await restrict('klub-outside', 'u-dave', 'restrict-processing', 'lift');
  expect(lifted.status).toBe('completed');
  expect(lifted.restriction).toMatchObject({ outcome: 'not_in_place', consents: {} });
  expect(await consentsOf('u-dave')).toEqual(before);
  expect(receiver.received.length).toBe(mark);
}, 60_000);

test("a restricted subject's export still completes", async () => {
  await restrict('klub-outside', 'u-dave', 'restrict-processing', 'apply');
  const res = await stack.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-dave' } },
  });
  expect(res.status).toBe(202);
  const done = await stack.waitForStatus(String(res.body.requestId), ['completed', 'failed'], 90_000);
  expect(done.status).toBe('completed');
  expect(done.subjectFound).toBe(true);
  await restrict('klub-outside', 'u-dave', 'restrict-processing', 'lift');
}, 120_000);

describe('refused input changes nothing', () => {
  const body = (extra: Record<string, unknown>) => ({
    service: 'klub-outside',
    subject: { userId: 'u-carol' },
    ...extra,
  });
  test.each([
    ['no restriction on a restriction request', body({ type: 'restriction' }), 400, 'MISSING_FIELD'],
    [
      'unknown kind',
      body({ type: 'restriction', restriction: { kind: 'stop-everything' } }),
      400,
      'INVALID_FIELD',
    ],
    [
      'unknown action',
      body({ type: 'restriction', restriction: { kind: 'stop-marketing', action: 'pause' } }),
      400,
      'INVALID_FIELD',
    ],
    [
      'unknown field in restriction',
      body({ type: 'restriction', restriction: { kind: 'stop-marketing', until: 'x' } }),
      400,
      'UNKNOWN_FIELD',
    ],
    [
      "a kind the service's policy does not name",
      body({ type: 'restriction', restriction: { kind: 'stop-personalised-ads' } }),
      422,
      'RESTRICTION_NOT_OFFERED',
    ],
    [
      'a service that offers no restriction',
      { ...body({ type: 'restriction', restriction: { kind: 'stop-marketing' } }), service: 'prism-project' },
      422,
      'RESTRICTION_NOT_OFFERED',
    ],
    [
      'restriction on an export',
      body({ type: 'export', restriction: { kind: 'stop-marketing' } }),
      400,
      'INVALID_FIELD',
    ],
    [
      'transmitTo on an erasure',
      body({ type: 'erasure', transmitTo: 'https://example.com/in' }),
      400,
      'INVALID_FIELD',
    ],
    [
      'transmitTo not a URL',
      body({ type: 'export', transmitTo: 'ftp://example.com/in' }),
      400,
      'INVALID_FIELD',
    ],
    [
      'transmitTo with credentials',
      body({ type: 'export', transmitTo: 'https://user:pw@example.com/in' }),
      400,
      'TRANSMIT_TO_HAS_CREDENTIALS',
    ],
    [
      'transmitTo with a fragment',
      body({ type: 'export', transmitTo: 'https://example.com/in#x' }),
      400,
      'TRANSMIT_TO_INVALID',
    ],
  ])('%s', async (_name, request, status, code) => {
    const consents = await consentsOf('u-carol');
    const listed = await stack.call('GET', '/v1/requests?limit=100');
    const res = await stack.call('POST', '/v1/requests', { body: request });
    expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
    expect(JSON.stringify(res.body)).not.toContain('example.com');
    expect(await consentsOf('u-carol')).toEqual(consents);
    const after = await stack.call('GET', '/v1/requests?limit=100');
    expect((after.body.requests as unknown[]).length).toBe((listed.body.requests as unknown[]).length);
  });
});
