/**
 * The OpenDSR dialect, exercised with the request examples of the OpenDSR specification
 * itself (github.com/opengdpr/OpenDSR, specification.md, section 7.2 "Example OpenCompliance Request").
 */
import { createHash } from 'node:crypto';
import {
  OPENDSR_KEY_ID_HEADER,
  OPENDSR_SIGNATURE_HEADER,
  verifyOpenDsrCallback,
} from '../../functions/lib/webhooks/signing';
import type { Jwks } from '../../functions/lib/crypto/jws';
import { startHarness, type Harness } from '../support/api-harness';
import { startReceiver, waitFor } from '../support/callback-receiver';

/*
 * Quoted from the OpenDSR specification, section 7.2 (opengdpr/OpenDSR, specification.md). The
 * specification's text has a trailing comma after "property_id": "123456", which is not JSON; it is
 * dropped here and nothing else is changed.
 */
const SPEC_EXAMPLE = `{
  "subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798",
  "subject_request_type": "erasure",
  "submitted_time": "2018-10-02T15:00:00Z",
  "subject_identities": [
    {
      "identity_type": "email",
      "identity_value": "johndoe@example.com",
      "identity_format": "raw"
    }
  ],
  "api_version": "1.0",
  "status_callback_urls": [
    "https://examplecontroller.com/OpenCompliance_callbacks"
  ],
  "extensions": {
    "example-processor.com": {
      "foo-processor-custom-id":123456,
      "property_id": "123456"
    },
    "example-other-processor.com": {
      "foo-other-processor-custom-id":654321
    }
  }
}`;

let h: Harness;
let jwks: Jwks;

beforeAll(async () => {
  h = await startHarness();
  h.startCallbackPolling();
  jwks = (await h.call('GET', '/.well-known/jwks.json', { role: null })).body as unknown as Jwks;
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

/** A controller's client bound to one service: the service is implied, so the spec's bodies go as they are. */
const klubOutside = () => h.token('support', ['klub-outside']);

function verifyResponse(res: { headers: Headers; text: string }): boolean {
  return verifyOpenDsrCallback(
    Buffer.from(res.text, 'utf8'),
    String(res.headers.get(OPENDSR_SIGNATURE_HEADER)),
    String(res.headers.get(OPENDSR_KEY_ID_HEADER)),
    jwks,
  );
}

test('discovery names the identities and the request types the engine can serve, signed, without a token', async () => {
  const res = await h.call('GET', '/opendsr/v1/discovery', { role: null });
  expect(res.status).toBe(200);
  expect(res.body.api_version).toBe('1.0');
  expect(res.body.supported_subject_request_types).toEqual(['access', 'portability']);
  expect(res.body.supported_identities).toEqual([
    { identity_type: 'controller_customer_id', identity_format: 'raw' },
    { identity_type: 'email', identity_format: 'raw' },
  ]);
  expect(String(res.body.processor_certificate)).toMatch(/\/\.well-known\/jwks\.json$/);
  expect(res.headers.get('x-opendsr-processor-domain')).toBe('dsr.test');
  expect(verifyResponse(res)).toBe(true);
});

test("the specification's erasure example is refused in OpenDSR's error shape while erasure is not wired", async () => {
  const before = await h.countItems();
  const res = await h.call('POST', '/opendsr/v1/requests', { token: klubOutside(), body: SPEC_EXAMPLE });
  expect(res.status).toBe(400);
  expect(res.body).toEqual({
    error: {
      code: 400,
      message: expect.any(String),
      errors: [{ domain: 'Validation', reason: 'UnsupportedRequestType', message: expect.any(String) }],
    },
  });
  expect(await h.countItems()).toBeLessThanOrEqual(before + 1); // the audit record only
});

test('the example as an access request: 201, status to completed, a signed callback per change', async () => {
  h.workflows.run = true;
  const receiver = await startReceiver();
  try {
    const example = JSON.parse(SPEC_EXAMPLE) as Record<string, unknown>;
    const body = JSON.stringify({
      ...example,
      subject_request_type: 'access',
      status_callback_urls: [`${receiver.url}/OpenCompliance_callbacks`],
    });
    const res = await h.call('POST', '/opendsr/v1/requests', { token: klubOutside(), body });
    expect(res.status).toBe(201);
    expect(res.body.subject_request_id).toBe('a7551968-d5d6-44b2-9831-815ac9017798');
    expect(Buffer.from(String(res.body.encoded_request), 'base64').toString('utf8')).toBe(body);
    expect(typeof res.body.expected_completion_time).toBe('string');
    expect(verifyResponse(res)).toBe(true);
    // The same subject_request_id again: the same request, not a second one.
    const retry = await h.call('POST', '/opendsr/v1/requests', { token: klubOutside(), body });
    expect(retry.status).toBe(201);
    expect(retry.body.expected_completion_time).toBe(res.body.expected_completion_time);

    await waitFor(() => receiver.received.length >= 3);
    const statuses = receiver.received.map((r) => JSON.parse(r.body.toString('utf8')).request_status);
    expect(statuses).toEqual(['pending', 'in_progress', 'completed']);
    for (const r of receiver.received) {
      expect(r.headers['x-opendsr-processor-domain']).toBe('dsr.test');
      const ok = verifyOpenDsrCallback(
        r.body,
        String(r.headers[OPENDSR_SIGNATURE_HEADER]),
        String(r.headers[OPENDSR_KEY_ID_HEADER]),
        jwks,
      );
      expect(ok).toBe(true);
      const cb = JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
      expect(cb.status_callback_url).toBe(`${receiver.url}/OpenCompliance_callbacks`);
      expect(cb.subject_request_id).toBe('a7551968-d5d6-44b2-9831-815ac9017798');
    }
    const status = await h.call('GET', '/opendsr/v1/requests/a7551968-d5d6-44b2-9831-815ac9017798');
    expect(status.status).toBe(200);
    expect(status.body.request_status).toBe('completed');
    expect(String(status.body.results_url)).toMatch(/\/v1\/requests\/req_[a-f0-9]{32}$/);
    expect(verifyResponse(status)).toBe(true);
    // Completed: no longer cancellable.
    const del = await h.call('DELETE', '/opendsr/v1/requests/a7551968-d5d6-44b2-9831-815ac9017798');
    expect(del.status).toBe(400);
    expect((del.body.error as { errors: { reason: string }[] }).errors[0]?.reason).toBe('NotCancellable');
  } finally {
    h.workflows.run = false;
    await receiver.stop();
  }
});

test('DELETE cancels a pending request; sha256 emails and unknown identities are refused clearly', async () => {
  const srid = 'b7551968-d5d6-44b2-9831-815ac9017799';
  const created = await h.call('POST', '/opendsr/v1/requests', {
    token: klubOutside(),
    body: {
      subject_request_id: srid,
      subject_request_type: 'portability',
      submitted_time: '2018-10-02T15:00:00Z',
      regulation: 'ccpa',
      subject_identities: [
        { identity_type: 'controller_customer_id', identity_value: 'u-odsr', identity_format: 'raw' },
      ],
    },
  });
  expect(created.status).toBe(201);
  const pending = await h.call('GET', `/opendsr/v1/requests/${srid}`);
  expect(pending.body.request_status).toBe('pending');
  const del = await h.call('DELETE', `/opendsr/v1/requests/${srid}`);
  expect(del.status).toBe(202);
  expect((await h.call('GET', `/opendsr/v1/requests/${srid}`)).body.request_status).toBe('cancelled');

  const hashed = await h.call('POST', '/opendsr/v1/requests', {
    token: klubOutside(),
    body: {
      subject_request_id: 'c7551968-d5d6-44b2-9831-815ac9017790',
      subject_request_type: 'access',
      submitted_time: '2018-10-02T15:00:00Z',
      subject_identities: [
        {
          identity_type: 'email',
          identity_value: createHash('sha256').update('johndoe@example.com').digest('hex'),
          identity_format: 'sha256',
        },
      ],
    },
  });
  expect(hashed.status).toBe(400);
  expect((hashed.body.error as { errors: { reason: string }[] }).errors[0]?.reason).toBe(
    'UnsupportedIdentityFormat',
  );

  const missing = await h.call('POST', '/opendsr/v1/requests', {
    token: klubOutside(),
    body: { subject_request_type: 'access' },
  });
  expect(missing.status).toBe(400);
  expect((missing.body.error as { code: number }).code).toBe(400);
  const unknown = await h.call('GET', '/opendsr/v1/requests/d7551968-d5d6-44b2-9831-815ac9017791');
  expect(unknown.status).toBe(404);
  expect(unknown.body.error).toBeDefined();
});

test('extensions nest only so deep: a deep one is a 400 in the OpenDSR shape, never a 500', async () => {
  const request = (extension: unknown, id: string) =>
    JSON.stringify({
      subject_request_id: id,
      subject_request_type: 'access',
      submitted_time: '2018-10-02T15:00:00Z',
      subject_identities: [
        { identity_type: 'email', identity_value: 'deep@example.com', identity_format: 'raw' },
      ],
      extensions: { 'example-processor.com': extension },
    });
  const nested = (levels: number): unknown => (levels === 0 ? 'leaf' : { a: nested(levels - 1) });
  // 10,000 levels: refused from the raw text, before anything walks it.
  const tenThousand = `{"a":${'{"a":'.repeat(9_999)}1${'}'.repeat(10_000)}`;
  const deep = await h.call('POST', '/opendsr/v1/requests', {
    token: klubOutside(),
    body: request('@', 'b7551968-d5d6-44b2-9831-815ac9017798').replace('"@"', tenThousand),
  });
  expect(deep.status).toBe(400);
  expect(deep.body).toMatchObject({ error: { code: 400, errors: [{ reason: 'BODY_TOO_DEEP' }] } });
  // Deeper than the schema allows but well within the parser's bound: the schema refuses it.
  const six = await h.call('POST', '/opendsr/v1/requests', {
    token: klubOutside(),
    body: request(nested(6), 'c7551968-d5d6-44b2-9831-815ac9017798'),
  });
  expect(six.status).toBe(400);
  expect(six.body).toMatchObject({ error: { code: 400, errors: [{ domain: 'Validation' }] } });
  // Nesting within the bound is accepted as before.
  const fine = await h.call('POST', '/opendsr/v1/requests', {
    token: klubOutside(),
    body: request({ ids: [1, 2], nested: nested(3) }, 'd7551968-d5d6-44b2-9831-815ac9017798'),
  });
  expect(fine.status).toBe(201);
});
