/**
 * The API's one validation path: the router checks path parameters, the query and the body against
 * the route's schemas before any handler runs, with stable codes that name the parameter or field
 * (never its value). Also the first-hour frictions: 409 bodies keep `status` numeric, and a mistyped
 * field is reported as unknown.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createApi, type ApiDeps } from '../../functions/api/core';
import { errorAnswers } from '../../functions/api/error-middleware';
import type { ApiEvent, ApiResult } from '../../functions/api/http';
import { defineRoute, type Route } from '../../functions/api/router';
import { json } from '../../functions/api/http';
import { limitParam, strictQuery } from '../../functions/api/schemas';
import type { RequestRecord } from '../../functions/lib/requests/records';
import { apiEvent, type ApiEventOptions } from '../support/api-event';

const REQUEST_ID = `req_${'a'.repeat(32)}`;
let stored: RequestRecord | undefined;
const handled: unknown[] = [];

/** Only what the refusals below can reach: the audit trail and a request lookup. */
const deps = {
  audit: { record: async () => undefined },
  requests: { get: async () => stored },
} as unknown as ApiDeps;

/** A route that echoes the input the router gave it. */
const echo: Route = defineRoute({
  method: 'GET',
  path: '/v1/echo/{requestId}',
  operationId: 'echo',
  summary: 'echo',
  access: ['auditor'],
  query: strictQuery({
    limit: limitParam(10, 5),
    flag: { type: 'boolean', description: 'true or false' },
    kinds: { type: 'array', items: { type: 'string', enum: ['a', 'b'] }, maxItems: 2, description: 'a, b' },
  }),
  handler: async (_deps, input) => {
    handled.push(input);
    return json(200, { params: input.params, query: input.query });
  },
});

function apiOver(routes?: Route[]): (event: ApiEvent) => Promise<ApiResult> {
  const handler = middy<ApiEvent, ApiResult>().use(errorAnswers(routes)).handler(createApi(deps, routes));
  return (event) => handler(event, {} as Context);
}

async function call(method: string, path: string, opts: ApiEventOptions = {}, routes?: Route[]) {
  const res = await apiOver(routes)(apiEvent(method, path, opts));
  return { status: res.statusCode, headers: res.headers ?? {}, body: JSON.parse(String(res.body)) };
}

beforeAll(() => {
  process.env.LOG_LEVEL = 'silent';
});

beforeEach(() => {
  stored = undefined;
  handled.length = 0;
});

describe('query parameters, from the route schema', () => {
  const get = (query: Record<string, string>) =>
    call('GET', `/v1/echo/${REQUEST_ID}`, { role: 'auditor', query }, [echo]);

  test('converted to their types, arrays split on commas, defaults filled in', async () => {
    expect((await get({})).body.query).toEqual({ limit: 5 });
    expect((await get({ limit: '7', flag: 'false', kinds: 'a, b' })).body.query).toEqual({
      limit: 7,
      flag: false,
      kinds: ['a', 'b'],
    });
  });

  test('an unknown parameter is UNKNOWN_PARAMETER, naming it', async () => {
    const res = await get({ email: 'someone@example.com' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'UNKNOWN_PARAMETER', parameter: 'email' });
    expect(JSON.stringify(res.body)).not.toContain('someone@example.com');
    expect(handled).toEqual([]);
  });

  test.each([
    [{ limit: '000' }, 'limit'],
    [{ limit: '11' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ flag: 'maybe' }, 'flag'],
    [{ kinds: 'a,c' }, 'kinds'],
    [{ kinds: 'a,b,a' }, 'kinds'],
  ])('a bad value %j is INVALID_PARAMETER naming %s, never echoing the value', async (query, name) => {
    const res = await get(query);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body).toMatchObject({ code: 'INVALID_PARAMETER', parameter: name, status: 400 });
    expect(String(res.body.detail)).toContain(name);
    expect(String(res.body.detail)).not.toContain(Object.values(query)[0]);
    expect(handled).toEqual([]);
  });

  test('the real routes refuse by their schemas too', async () => {
    for (const [path, role, query, code] of [
      ['/v1/requests', 'auditor', { status: 'done' }, 'INVALID_PARAMETER'],
      ['/v1/requests', 'auditor', { createdFrom: 'yesterday' }, 'INVALID_PARAMETER'],
      ['/v1/requests', 'auditor', { nope: '1' }, 'UNKNOWN_PARAMETER'],
      ['/v1/audit', 'auditor', { requestId: 'req_nope' }, 'INVALID_PARAMETER'],
      ['/v1/holds', 'legal', { email: 'a@b.c' }, 'UNKNOWN_PARAMETER'],
      [`/v1/requests/${REQUEST_ID}/certificate`, 'auditor', { number: '0' }, 'INVALID_PARAMETER'],
    ] as const) {
      const res = await call('GET', path, { role, query });
      expect({ path, query, status: res.status, code: res.body.code }).toEqual({
        path,
        query,
        status: 400,
        code,
      });
    }
  });
});

describe('path parameters, from path-params.ts', () => {
  test('a value outside the schema names nothing: 404 with the parameter code', async () => {
    const echoed = await call('GET', '/v1/echo/req_nope', { role: 'auditor' }, [echo]);
    expect([echoed.status, echoed.body.code]).toEqual([404, 'REQUEST_NOT_FOUND']);
    expect(handled).toEqual([]);
    const hold = await call('GET', '/v1/holds/hold_nope', { role: 'legal' });
    expect([hold.status, hold.body.code]).toEqual([404, 'HOLD_NOT_FOUND']);
    const openDsr = await call('GET', '/opendsr/v1/requests/not-a-uuid', { role: 'support' });
    expect(openDsr.status).toBe(404);
    expect(openDsr.body.error.errors[0].reason).toBe('RequestNotFound');
  });

  test('a well-formed value reaches the handler, decoded and by name', async () => {
    const res = await call('GET', `/v1/echo/${REQUEST_ID}`, { role: 'auditor' }, [echo]);
    expect(res.body.params).toEqual({ requestId: REQUEST_ID });
  });

  test('roles are checked before the input: a caller without the role learns nothing of it', async () => {
    const res = await call('GET', '/v1/echo/req_nope', { role: 'support', query: { nope: '1' } }, [echo]);
    expect([res.status, res.body.code]).toEqual([403, 'FORBIDDEN']);
  });

  test('a route naming a parameter path-params.ts does not define is refused at load', () => {
    expect(() =>
      defineRoute({
        method: 'GET',
        path: '/v1/things/{thingId}',
        operationId: 'thing',
        summary: 'thing',
        access: 'public',
        handler: async () => json(200, {}),
      }),
    ).toThrow('thingId');
  });
});

describe('bodies, from the route schema', () => {
  const create = (body: unknown) => call('POST', '/v1/requests', { body: JSON.stringify(body) });

  test('a mistyped field is UNKNOWN_FIELD naming it (not a missing identifier)', async () => {
    const res = await create({ type: 'export', subjct: { userId: 'u-1' } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'UNKNOWN_FIELD', pointer: '/subjct' });
    expect(String(res.body.detail)).toContain('subjct');
    expect(JSON.stringify(res.body)).not.toContain('u-1');
  });

  test('a nested unknown field is named by its pointer', async () => {
    const res = await create({
      type: 'export',
      subject: { userId: 'u-1' },
      requester: { kind: 'agent', evidenceRef: 'E-1', note: 1 },
    });
    expect(res.body).toMatchObject({ code: 'UNKNOWN_FIELD', pointer: '/requester/note' });
  });

  test('a missing subject is still MISSING_IDENTIFIER, and two identifiers too', async () => {
    expect((await create({ type: 'export' })).body.code).toBe('MISSING_IDENTIFIER');
    expect((await create({ type: 'export', subject: { userId: 'u', email: 'a@b.c' } })).body.code).toBe(
      'MISSING_IDENTIFIER',
    );
  });

  test('a body that is not a JSON object, or not JSON', async () => {
    expect((await create([1])).body.code).toBe('INVALID_BODY');
    const res = await call('POST', '/v1/requests', { body: '{"type":' });
    expect(res.body.code).toBe('MALFORMED_JSON');
  });

  test('an optional body may be absent (release a hold)', async () => {
    const res = await call('POST', '/v1/holds/hold_nope/release', { role: 'legal' });
    expect([res.status, res.body.code]).toEqual([404, 'HOLD_NOT_FOUND']);
  });
});

describe('409 problem bodies', () => {
  test.each([
    ['completed', 'export', 'ALREADY_FINISHED'],
    ['in_progress', 'export', 'NOT_CANCELLABLE'],
    ['in_progress', 'erasure', 'ERASURE_IN_PROGRESS'],
  ] as const)(
    'cancelling a %s %s: status is the HTTP status, the request status is requestStatus',
    async (status, type, code) => {
      stored = { requestId: REQUEST_ID, type, status } as RequestRecord;
      const res = await call('POST', `/v1/requests/${REQUEST_ID}/cancel`);
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ status: 409, code, requestStatus: status });
    },
  );
});
