/**
 * The role x route x token-state matrix, GENERATED from the route table core.ts exports
 * (routeAccess()), not listed by hand: a new route is covered the moment it is registered. Runs through
 * the local gateway (local/api-server: the JWT authorizer stand-in) in front of the real API core.
 * Also: 413 over the body limit, 429 per caller, and one error shape everywhere.
 */
import { routeAccess, ROUTES } from '../../functions/api/core';
import { ROLES, type Role } from '../../functions/api/auth';
import { mintToken, signToken, LOCAL_ISSUER } from '../../local/auth';
import { MAX_BODY_BYTES } from '../../local/api-server';
import { startHarness, type Harness } from '../support/api-harness';

const table = routeAccess();
const declared = table.filter((r) => r.access !== undefined && r.path !== undefined);
const protectedRoutes = declared.filter((r) => r.access !== 'public');
const publicRoutes = declared.filter((r) => r.access === 'public');

/** A concrete path for a route template: ids that are well-formed but name nothing. */
function examplePath(path: string): string {
  return path
    .replace('{requestId}', `req_${'0'.repeat(32)}`)
    .replace('{subjectRequestId}', '00000000-0000-4000-8000-000000000000')
    .replace(/\{[^}]+\}/g, 'x');
}

const label = (r: (typeof table)[number]) => `${r.method} ${r.path}`;

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

test('every route in the router declares who may call it (access) and its path template', () => {
  const undeclared = table
    .filter((r) => r.access === undefined || r.path === undefined)
    .map((r) => `${r.method} ${String(r.pattern)}`);
  expect(undeclared).toEqual([]);
  expect(protectedRoutes.length).toBeGreaterThanOrEqual(10);
  // Every example path reaches its own route, so the matrix tests what it says it tests.
  for (const r of declared)
    expect({ route: label(r), matches: r.pattern.test(examplePath(r.path!)) }).toEqual({
      route: label(r),
      matches: true,
    });
});

describe.each(protectedRoutes.map((r) => [label(r), r] as const))('%s', (_name, route) => {
  const path = examplePath(route.path!);
  const send = (token?: string) =>
    h.call(route.method, path, {
      role: null,
      token,
      body: route.method === 'GET' || route.method === 'DELETE' ? undefined : {},
    });

  // The refusal's code, in the route's dialect: problem+json, or OpenDSR's error shape on its routes.
  const dialect = ROUTES.find((r) => r.method === route.method && r.path === route.path)?.dialect;
  const codeOf = (res: Awaited<ReturnType<typeof send>>) => {
    if (dialect !== 'opendsr') {
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      return res.body.code;
    }
    expect(res.headers.get('content-type')).toContain('application/json');
    const error = res.body.error as { code: number; errors: { reason: string }[] };
    expect(error.code).toBe(res.status);
    return error.errors[0]?.reason;
  };

  test('no token -> 401', async () => {
    const res = await send();
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
  });

  test('expired token -> 401', async () => {
    const res = await send(mintToken(h.tokenKey, 'support', { now: Date.now() - 7200_000, ttlSeconds: 60 }));
    expect(res.status).toBe(401);
  });

  test('wrong audience -> 401', async () => {
    const res = await send(mintToken(h.tokenKey, 'support', { audience: 'another-api' }));
    expect(res.status).toBe(401);
  });

  test('token signed with another key -> 401', async () => {
    const res = await send(mintToken(Buffer.alloc(32, 1), 'support'));
    expect(res.status).toBe(401);
  });

  const allowed = route.access as readonly Role[];
  for (const role of ROLES.filter((r) => !allowed.includes(r))) {
    test(`role ${role} -> 403`, async () => {
      const res = await send(h.token(role));
      expect(res.status).toBe(403);
      expect(codeOf(res)).toBe('FORBIDDEN');
    });
  }

  for (const role of allowed) {
    test(`role ${role} -> passes authentication and authorisation`, async () => {
      const res = await send(h.token(role));
      expect([401, 403]).not.toContain(res.status);
      expect(res.status).toBeLessThan(500);
    });
  }

  test('a valid token without any dsr scope -> 403', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = signToken(h.tokenKey, {
      iss: LOCAL_ISSUER,
      aud: 'dsr-api',
      sub: 'no-scope-client',
      scope: 'openid profile',
      iat: now,
      exp: now + 600,
    });
    expect((await send(token)).status).toBe(403);
  });
});

describe.each(publicRoutes.map((r) => [label(r), r] as const))('public %s', (_name, route) => {
  test('answers without a token', async () => {
    const res = await h.call(route.method, examplePath(route.path!), { role: null });
    expect([401, 403]).not.toContain(res.status);
  });
});

test('bodies over the limit -> 413 problem+json, nothing stored', async () => {
  const before = await h.countItems();
  const big = JSON.stringify({ type: 'export', subject: { userId: 'x'.repeat(MAX_BODY_BYTES) } });
  const res = await h.call('POST', '/v1/requests', { body: big });
  expect(res.status).toBe(413);
  expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
  expect(await h.countItems()).toBe(before);
});

test('429 per caller: one caller over its bucket is throttled, another is not', async () => {
  // One token per 1000 s: no refill can happen while the test runs, however slow the machine.
  const limited = await startHarness({ throttle: { perSecond: 0.001, burst: 3 } });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await limited.call('GET', '/v1/requests', { role: 'auditor' })).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    const throttled = await limited.call('GET', '/v1/requests', { role: 'auditor' });
    expect(throttled.body.code).toBe('TOO_MANY_REQUESTS');
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await limited.call('GET', '/v1/requests', { role: 'support' })).status).toBe(200);
  } finally {
    await limited.stop();
  }
});

test('unknown routes and methods answer in the same problem shape', async () => {
  const missing = await h.call('GET', '/v1/nothing-here');
  expect(missing.status).toBe(404);
  expect(missing.body.code).toBe('ROUTE_NOT_FOUND');
  const method = await h.call('PUT', '/v1/requests');
  expect(method.status).toBe(405);
  expect(ROUTES.length).toBe(table.length);
});
