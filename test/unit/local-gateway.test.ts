/**
 * The local stand-in for the API Gateway JWT authorizer: a 401 carries an RFC 6750 challenge
 * (WWW-Authenticate) and tells an expired token from a bad one; public paths come from the route table.
 */
import { randomBytes } from 'node:crypto';
import { startLocalApi } from '../../local/api-server';
import { mintToken } from '../../local/auth';
import type { ApiEvent } from '../../functions/api/http';

const tokenKey = randomBytes(32);
const seen: ApiEvent[] = [];
let url: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const api = await startLocalApi(
    {
      tokenKey,
      throttle: { perSecond: 1000, burst: 1000 },
      handler: async (event) => {
        seen.push(event);
        return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
      },
    },
    0,
  );
  url = api.url;
  close = () => new Promise((resolve) => api.server.close(() => resolve()));
});

afterAll(async () => {
  await close();
});

async function get(path: string, token?: string) {
  const res = await fetch(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: JSON.parse(text) };
}

test('no token: 401 UNAUTHENTICATED with a bare Bearer challenge', async () => {
  const res = await get('/v1/requests');
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  expect(res.challenge).toBe('Bearer realm="dsr"');
});

test('an expired token: 401 TOKEN_EXPIRED, invalid_token saying it expired', async () => {
  const res = await get(
    '/v1/requests',
    mintToken(tokenKey, 'support', { now: Date.now() - 7_200_000, ttlSeconds: 60 }),
  );
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('TOKEN_EXPIRED');
  expect(res.challenge).toBe(
    'Bearer realm="dsr", error="invalid_token", error_description="The token has expired"',
  );
});

test('a token that is not ours: 401 UNAUTHENTICATED, invalid_token, nothing about expiry', async () => {
  for (const token of [
    mintToken(randomBytes(32), 'support'),
    mintToken(tokenKey, 'support', { audience: 'x' }),
  ]) {
    const res = await get('/v1/requests', token);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('UNAUTHENTICATED');
    expect(res.challenge).toBe(
      'Bearer realm="dsr", error="invalid_token", error_description="The token is not valid"',
    );
  }
});

test('a valid token reaches the handler with its claims and scopes', async () => {
  seen.length = 0;
  expect((await get('/v1/requests', mintToken(tokenKey, 'legal', { services: ['cluster'] }))).status).toBe(
    200,
  );
  expect(seen[0]?.requestContext.authorizer?.jwt?.scopes).toEqual(['dsr/legal', 'dsr/service:cluster']);
});

test("the route table's public routes need no token; others do", async () => {
  for (const path of [
    '/.well-known/jwks.json',
    '/v1/openapi.json',
    '/opendsr/v1/discovery',
    '/v1/downloads/t',
    '/v1/downloads/t/archive',
  ]) {
    expect({ path, status: (await get(path)).status }).toEqual({ path, status: 200 });
  }
  for (const path of ['/v1/policy', '/v1/downloads/t/other', '/v1/nothing-here']) {
    expect({ path, status: (await get(path)).status }).toEqual({ path, status: 401 });
  }
});
