/**
 * The request lifecycle over the real local gateway and DynamoDB Local: idempotency under
 * concurrency, duplicates, jurisdiction and deadlines, list filters and paging, cancel, extend, events
 * and the audit trail.
 */
import { apiHandler, startHarness, type Harness } from '../support/api-harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

async function requestItems(): Promise<number> {
  const listed = await h.call('GET', '/v1/requests?limit=100');
  return (listed.body.requests as unknown[]).length;
}

test('20 concurrent identical creates with one Idempotency-Key make exactly one request, same answer', async () => {
  const before = await requestItems();
  const body = { type: 'export', service: 'klub-outside', subject: { userId: 'u-idem-1' } };
  const answers = await Promise.all(
    Array.from({ length: 20 }, () =>
      h.call('POST', '/v1/requests', { body, headers: { 'idempotency-key': 'ticket-4711' } }),
    ),
  );
  expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
  expect(new Set(answers.map((a) => a.text)).size).toBe(1);
  expect(await requestItems()).toBe(before + 1);
  // Same key, different body: refused, nothing new.
  const other = await h.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-idem-2' } },
    headers: { 'idempotency-key': 'ticket-4711' },
  });
  expect(other.status).toBe(422);
  expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
  expect(await requestItems()).toBe(before + 1);
});

test('20 concurrent creates without a key: one request, the rest get it back marked duplicate', async () => {
  const before = await requestItems();
  const answers = await Promise.all(
    Array.from({ length: 20 }, () =>
      h.call('POST', '/v1/requests', {
        body: { type: 'export', service: 'klub-outside', subject: { email: 'dup@example.com' } },
      }),
    ),
  );
  const created = answers.filter((a) => a.status === 202);
  const duplicates = answers.filter((a) => a.status === 200);
  expect(created).toHaveLength(1);
  expect(duplicates).toHaveLength(19);
  for (const d of duplicates) {
    expect(d.body.duplicate).toBe(true);
    expect(d.body.requestId).toBe(created[0]?.body.requestId);
  }
  expect(await requestItems()).toBe(before + 1);
});

test('jurisdiction defaults to the account country and sets the deadline; unknown falls back to the default', async () => {
  const cases: [Record<string, unknown>, string, string, number][] = [
    [{ userId: 'u-de' }, 'DE', 'GDPR', 28],
    [{ userId: 'u-kr' }, 'KR', 'PIPA', 10],
    [{ userId: 'u-jp' }, 'JP', 'APPI', 14],
    [{ userId: 'u-ca' }, 'US-CA', 'CCPA', 45],
    [{ userId: 'u-unknown-country' }, 'KR', 'PIPA', 10],
  ];
  for (const [subject, jurisdiction, regime, minDays] of cases) {
    const res = await h.call('POST', '/v1/requests', {
      body: { type: 'export', service: 'klub-outside', subject },
    });
    expect(res.status).toBe(202);
    expect({ jurisdiction: res.body.jurisdiction, regime: res.body.regime }).toEqual({
      jurisdiction,
      regime,
    });
    expect(Number(res.body.daysLeft)).toBeGreaterThanOrEqual(minDays);
    expect(res.body.overdue).toBe(false);
  }
  const explicit = await h.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-kr' }, jurisdiction: 'EU' },
  });
  // An open export for u-kr exists already: the duplicate comes back, with its own jurisdiction.
  expect(explicit.status).toBe(200);
  expect(explicit.body.jurisdiction).toBe('KR');
});

test('requester kinds: agent and guardian need an evidence reference', async () => {
  const missing = await h.call('POST', '/v1/requests', {
    body: {
      type: 'export',
      service: 'klub-outside',
      subject: { userId: 'u-minor' },
      requester: { kind: 'guardian' },
    },
  });
  expect(missing.status).toBe(400);
  expect(missing.body.code).toBe('MISSING_EVIDENCE');
  const ok = await h.call('POST', '/v1/requests', {
    body: {
      type: 'export',
      service: 'klub-outside',
      subject: { userId: 'u-minor' },
      requester: { kind: 'guardian', evidenceRef: 'ZD-1234/doc-2' },
    },
  });
  expect(ok.status).toBe(202);
  expect(ok.body.requester).toEqual({ kind: 'guardian', evidenceRef: 'ZD-1234/doc-2' });
});

test('erasure is refused with 501 UNSUPPORTED_TYPE while no erasure workflow exists, storing nothing', async () => {
  const before = await h.countItems();
  const res = await h.call('POST', '/v1/requests', {
    body: { type: 'erasure', service: 'klub-outside', subject: { userId: 'u-de' } },
  });
  expect(res.status).toBe(501);
  expect(res.body.code).toBe('UNSUPPORTED_TYPE');
  // The audit record of the refused call is the only new item.
  expect(await h.countItems()).toBeLessThanOrEqual(before + 1);
});

test('callback URLs to private addresses are refused when private callbacks are not allowed', async () => {
  const strict = { ...h.deps, settings: { ...h.deps.settings, allowPrivateCallbacks: false } };
  const api = apiHandler(strict);
  for (const url of [
    'https://169.254.169.254/latest',
    'https://10.0.0.8/cb',
    'http://example.com/cb',
    'https://[::1]/x',
  ]) {
    const res = await api(
      h.event('POST', '/v1/requests', {
        body: JSON.stringify({
          type: 'export',
          service: 'klub-outside',
          subject: { userId: 'u-cb' },
          callbackUrls: [url],
        }),
      }),
    );
    expect(res.statusCode).toBe(400);
    expect(String(JSON.parse(String(res.body)).code)).toMatch(/^CALLBACK_URL_/);
  }
});

test('list filters by status, type, subject and creation time, and pages with a cursor', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await h.call('POST', '/v1/requests', {
      body: { type: 'export', service: 'klub-outside', subject: { userId: `u-page-${i}` } },
    });
    ids.push(String(res.body.requestId));
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<Harness['call']>> = await h.call(
      'GET',
      `/v1/requests?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      { role: 'auditor' },
    );
    expect(page.status).toBe(200);
    const items = page.body.requests as { requestId: string }[];
    expect(items.length).toBeLessThanOrEqual(2);
    seen.push(...items.map((r) => r.requestId));
    cursor = page.body.nextCursor as string | null;
  } while (cursor);
  expect(new Set(seen).size).toBe(seen.length);
  for (const id of ids) expect(seen).toContain(id);

  const one = await h.call('GET', `/v1/requests/${ids[0]}`);
  const bySubject = await h.call('GET', `/v1/requests?subjectHash=${String(one.body.subjectHash)}`);
  expect((bySubject.body.requests as { requestId: string }[]).map((r) => r.requestId)).toEqual([ids[0]]);

  const future = await h.call('GET', '/v1/requests?createdFrom=2999-01-01');
  expect(future.body.requests).toEqual([]);
  const received = await h.call('GET', '/v1/requests?status=received&type=export&limit=100');
  expect((received.body.requests as { status: string }[]).every((r) => r.status === 'received')).toBe(true);
  const notOverdue = await h.call('GET', '/v1/requests?overdue=true');
  expect(notOverdue.body.requests).toEqual([]);

  for (const bad of [
    'status=done',
    'limit=0',
    'cursor=abc',
    'overdue=maybe',
    'nope=1',
    'createdFrom=yesterday',
  ]) {
    const res = await h.call('GET', `/v1/requests?${bad}`);
    expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  }
});

test('cancel while received; not once under way; events and audit record it', async () => {
  const res = await h.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-cancel' } },
  });
  const id = String(res.body.requestId);
  const forbidden = await h.call('POST', `/v1/requests/${id}/cancel`, { role: 'legal' });
  expect(forbidden.status).toBe(403);
  const cancelled = await h.call('POST', `/v1/requests/${id}/cancel`);
  expect(cancelled.status).toBe(200);
  expect(cancelled.body.status).toBe('cancelled');
  const again = await h.call('POST', `/v1/requests/${id}/cancel`);
  expect(again.body.status).toBe('cancelled');
  // A cancelled request no longer blocks a new one for the same subject.
  const fresh = await h.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-cancel' } },
  });
  expect(fresh.status).toBe(202);

  await h.workflows.complete(String(fresh.body.requestId));
  const finished = await h.call('POST', `/v1/requests/${String(fresh.body.requestId)}/cancel`);
  expect(finished.status).toBe(409);
  expect(finished.body.code).toBe('ALREADY_FINISHED');

  const inProgress = await h.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-busy' } },
  });
  await h.requests.transition(String(inProgress.body.requestId), 'in_progress');
  const busy = await h.call('POST', `/v1/requests/${String(inProgress.body.requestId)}/cancel`);
  expect(busy.status).toBe(409);
  expect(busy.body.code).toBe('NOT_CANCELLABLE');

  const events = await h.call('GET', `/v1/requests/${id}/events`, { role: 'auditor' });
  expect((events.body.events as { type: string }[]).map((e) => e.type)).toEqual([
    'request.received',
    'request.cancelled',
  ]);
  const audit = await h.call('GET', `/v1/audit?requestId=${id}`, { role: 'auditor' });
  expect(audit.status).toBe(200);
  const actions = (audit.body.records as { action: string; actor: string }[]).map((r) => r.action);
  expect(actions).toEqual(
    expect.arrayContaining([
      'request.status.received',
      'request.status.cancelled',
      'cancelRequest',
      'listRequestEvents',
    ]),
  );
  expect(JSON.stringify(audit.body)).not.toContain('u-cancel');
  expect((await h.call('GET', '/v1/audit', { role: 'support' })).status).toBe(403);
});

test('extend: once, with a reason, within the law (GDPR +2 months; none for Korea)', async () => {
  const gdpr = await h.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-ext' }, jurisdiction: 'FR' },
  });
  const id = String(gdpr.body.requestId);
  const tooLong = await h.call('POST', `/v1/requests/${id}/extend`, {
    body: { reason: 'Large volume of media files', until: '2999-01-01T00:00:00Z' },
  });
  expect(tooLong.body.code).toBe('EXTENSION_TOO_LONG');
  const ok = await h.call('POST', `/v1/requests/${id}/extend`, {
    body: { reason: 'Large volume of media files' },
  });
  expect(ok.status).toBe(200);
  expect(Date.parse(String(ok.body.dueAt))).toBeGreaterThan(
    Date.parse(String(gdpr.body.dueAt)) + 55 * 86_400_000,
  );
  expect((ok.body.extension as { reason: string }).reason).toBe('Large volume of media files');
  const twice = await h.call('POST', `/v1/requests/${id}/extend`, {
    body: { reason: 'Still more to collect' },
  });
  expect(twice.body.code).toBe('ALREADY_EXTENDED');

  const kr = await h.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-ext-kr' }, jurisdiction: 'KR' },
  });
  const refused = await h.call('POST', `/v1/requests/${String(kr.body.requestId)}/extend`, {
    body: { reason: 'Large volume of media files' },
  });
  expect(refused.status).toBe(409);
  expect(refused.body.code).toBe('EXTENSION_NOT_ALLOWED');
  const noReason = await h.call('POST', `/v1/requests/${id}/extend`, { body: {} });
  expect(noReason.body.code).toBe('MISSING_FIELD');
});

test('overdue: flagged in get and list once the deadline passes, and counted for the metric', async () => {
  const res = await h.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-late' }, jurisdiction: 'KR' },
  });
  const id = String(res.body.requestId);
  const later = new Date(Date.now() + 11 * 86_400_000);
  const lateApi = apiHandler({ ...h.deps, clock: () => later });
  const got = JSON.parse(
    String((await lateApi(h.event('GET', `/v1/requests/${id}`, { role: 'auditor' }))).body),
  ) as Record<string, unknown>;
  expect(got.overdue).toBe(true);
  expect(Number(got.daysLeft)).toBeLessThan(0);
  const listed = JSON.parse(
    String(
      (
        await lateApi(
          h.event('GET', '/v1/requests', { role: 'auditor', query: { overdue: 'true', limit: '100' } }),
        )
      ).body,
    ),
  ) as { requests: { requestId: string; overdue: boolean }[] };
  expect(listed.requests.map((r) => r.requestId)).toContain(id);
  expect(listed.requests.every((r) => r.overdue)).toBe(true);
  expect(await h.requests.countOverdue(later)).toBeGreaterThanOrEqual(1);
  expect(await h.requests.countOverdue(new Date())).toBe(0);
});
