/**
 * Property-based input tests. Thousands of malformed bodies against the create routes of the
 * API core (in-process, over the real DynamoDB Local): every one gets a 4xx in the stable error shape,
 * never a 5xx, and nothing is stored (no request, lock, event or idempotency record).
 */
import fc from 'fast-check';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources } from '../../config/data-map';
import { startHarness, type Harness } from '../support/api-harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

/** Items other than audit records (a refused call is audited, and that is all it may leave). */
async function storedItems(): Promise<number> {
  const out = await h.doc.send(
    new ScanCommand({
      TableName: orchestratorResources.requestsTable.tableName,
      FilterExpression: 'kind <> :audit',
      ExpressionAttributeValues: { ':audit': 'audit' },
      ConsistentRead: true,
    }),
  );
  return out.Items?.length ?? 0;
}

const VALID = { type: 'export', subject: { userId: 'u-prop' } } as const;

const junk = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ minLength: 300, maxLength: 400 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

/** A valid body broken in exactly one way (so it is malformed by construction). */
const brokenBody = fc.oneof(
  fc.record({
    type: junk.filter((t) => t !== 'export' && t !== 'erasure'),
    subject: fc.constant(VALID.subject),
  }),
  fc.record({ type: fc.constant('export'), subject: junk }),
  fc.constant({ type: 'export' }),
  fc.constant({ subject: VALID.subject }),
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 12 }), junk)
    .filter(([k]) => !['type', 'service', 'subject', 'jurisdiction', 'requester', 'callbackUrls'].includes(k))
    .map(([k, v]) => ({ ...VALID, [k]: v })),
  fc.record({
    type: fc.constant('export'),
    subject: fc.oneof(
      fc.record({
        userId: fc.oneof(fc.constant(''), fc.string({ minLength: 129, maxLength: 200 }), fc.integer()),
      }),
      fc.record({
        email: fc.string({ maxLength: 40 }).filter((s) => !/^[^\s@]+@[^\s@]+$/.test(s) || s.length < 3),
      }),
      fc.record({ phone: fc.string({ maxLength: 20 }).filter((s) => !/^\+[1-9][0-9]{6,14}$/.test(s)) }),
      fc.record({ userId: fc.constant('a'), email: fc.constant('a@b.c') }),
      fc.record({ externalAccount: fc.record({ provider: fc.constant('x') }) }),
    ),
  }),
  fc.record({
    ...{ type: fc.constant('export'), subject: fc.constant(VALID.subject) },
    jurisdiction: junk.filter(
      (j) => typeof j !== 'string' || !/^(?:EU|[A-Z]{2}(?:-[A-Z0-9]{1,3})?)$/.test(j),
    ),
  }),
  fc.record({
    type: fc.constant('export'),
    subject: fc.constant(VALID.subject),
    requester: fc.oneof(
      fc.constant({ kind: 'agent' }),
      fc.constant({ kind: 'guardian' }),
      fc.record({ kind: junk }),
    ),
  }),
  fc.record({
    type: fc.constant('export'),
    subject: fc.constant(VALID.subject),
    callbackUrls: fc.oneof(
      fc.constant([]),
      junk.filter((j) => !Array.isArray(j)),
      fc.array(fc.constant('https://a.example/cb'), { minLength: 6, maxLength: 8 }),
      fc.array(fc.string({ maxLength: 10 }), { minLength: 1, maxLength: 3 }),
      fc.constant(['ftp://a.example/x']),
      fc.constant(['https://user:pw@a.example/x']),
    ),
  }),
);

const rawBody = fc.oneof(
  brokenBody.map((b) => JSON.stringify(b)),
  fc
    .anything()
    .map((v) => JSON.stringify(v) ?? 'undefined')
    .filter((s) => !s.startsWith('{')),
  fc.string({ maxLength: 50 }),
  fc.constant('{"type":'),
);

function expectProblem(statusCode: number | undefined, body: string | undefined): void {
  expect(statusCode).toBeGreaterThanOrEqual(400);
  expect(statusCode).toBeLessThan(500);
  const parsed = JSON.parse(String(body)) as Record<string, unknown>;
  expect(parsed.status).toBe(statusCode);
  expect(String(parsed.code)).toMatch(/^[A-Z][A-Z0-9_]+$/);
  expect(typeof parsed.detail).toBe('string');
  expect(typeof parsed.title).toBe('string');
}

test('POST /v1/requests: 2000 malformed bodies -> 4xx problem+json, never 5xx, nothing stored', async () => {
  const before = await storedItems();
  await fc.assert(
    fc.asyncProperty(rawBody, async (body) => {
      const res = await h.api(h.event('POST', '/v1/requests', { body }));
      expect(res.headers?.['content-type']).toBe('application/problem+json');
      expectProblem(res.statusCode, res.body);
    }),
    { numRuns: 2000 },
  );
  expect(await storedItems()).toBe(before);
}, 120_000);

test('POST /opendsr/v1/requests: malformed bodies -> 4xx in OpenDSR error shape, nothing stored', async () => {
  const before = await storedItems();
  const good = {
    subject_request_id: 'a7551968-d5d6-44b2-9831-815ac9017798',
    subject_request_type: 'access',
    submitted_time: '2018-10-02T15:00:00Z',
    subject_identities: [{ identity_type: 'email', identity_value: 'a@b.c', identity_format: 'raw' }],
  };
  const broken = fc.oneof(
    fc.constantFrom(...Object.keys(good)).map((k) => {
      const copy: Record<string, unknown> = { ...good };
      delete copy[k];
      return copy;
    }),
    fc.tuple(fc.constantFrom(...Object.keys(good)), junk).map(([k, v]) => ({ ...good, [k]: v })),
    fc
      .string({ minLength: 1, maxLength: 10 })
      .filter(
        (k) =>
          !(k in good) && !['regulation', 'api_version', 'status_callback_urls', 'extensions'].includes(k),
      )
      .map((k) => ({ ...good, [k]: 1 })),
    fc.constant({
      ...good,
      subject_identities: [
        { identity_type: 'roku_advertising_id', identity_value: 'x', identity_format: 'raw' },
      ],
    }),
  );
  await fc.assert(
    fc.asyncProperty(broken, async (body) => {
      const res = await h.api(h.event('POST', '/opendsr/v1/requests', { body: JSON.stringify(body) }));
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      const parsed = JSON.parse(String(res.body)) as {
        error: { code: number; errors: { reason: string }[] };
      };
      expect(parsed.error.code).toBe(res.statusCode);
      expect(parsed.error.errors[0]?.reason).toMatch(/^[A-Za-z_]+$/);
    }),
    { numRuns: 500 },
  );
  expect(await storedItems()).toBe(before);
}, 120_000);
