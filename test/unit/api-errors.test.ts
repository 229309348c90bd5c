/**
 * The API's one error path: every error a route throws becomes one answer (error-mapping.ts), written
 * by the middy middleware (error-middleware.ts) in the route's shape: problem+json, or OpenDSR's.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createApi, type ApiDeps } from '../../functions/api/core';
import { answerFor, TRANSIENT_RETRY_AFTER_SECONDS } from '../../functions/api/error-mapping';
import { errorAnswers } from '../../functions/api/error-middleware';
import { ApiError, type ApiEvent, type ApiResult } from '../../functions/api/http';
import { defineRoute, type Route } from '../../functions/api/router';
import {
  AppError,
  ConnectorError,
  ContractError,
  NotFoundError,
  SubjectConflictError,
  TransientError,
} from '../../functions/lib/runtime/errors';
import { apiEvent } from '../support/api-event';

/** A message that must never reach a caller. */
const SECRET = 'table dsr-requests key user@example.com';

const cases: [string, unknown, number, string][] = [
  ['ApiError', new ApiError(422, 'SOME_CODE', 'A detail'), 422, 'SOME_CODE'],
  ['TransientError', new TransientError(SECRET), 503, 'TEMPORARILY_UNAVAILABLE'],
  [
    'SDK throttling',
    Object.assign(new Error(SECRET), { name: 'ThrottlingException' }),
    503,
    'TEMPORARILY_UNAVAILABLE',
  ],
  ['NotFoundError', new NotFoundError(SECRET), 404, 'NOT_FOUND'],
  ['SubjectConflictError', new SubjectConflictError(SECRET), 409, 'SUBJECT_CONFLICT'],
  ['ConnectorError', new ConnectorError('chat', SECRET), 502, 'STORE_FAILED'],
  ['ContractError', new ContractError(SECRET), 500, 'INTERNAL_ERROR'],
  ['an AppError without a mapping', new AppError(SECRET, 'SOMETHING_NEW'), 500, 'INTERNAL_ERROR'],
  ['an unknown error', new TypeError(SECRET), 500, 'INTERNAL_ERROR'],
  ['a thrown string', SECRET, 500, 'INTERNAL_ERROR'],
];

test.each(cases)(
  'answerFor(%s) -> status and stable code, never the message',
  (_name, error, status, code) => {
    const answer = answerFor(error);
    expect({ status: answer.status, code: answer.code }).toEqual({ status, code });
    if (!(error instanceof ApiError)) expect(answer.detail).not.toContain(SECRET);
  },
);

test('a transient failure asks the caller to retry after a while', () => {
  expect(answerFor(new TransientError('x')).headers).toEqual({
    'retry-after': String(TRANSIENT_RETRY_AFTER_SECONDS),
  });
});

/** A route table whose routes throw whatever the test gives them. */
function throwingRoutes(error: () => unknown): Route[] {
  const common = { method: 'POST', access: ['support'], summary: 'throws' } as const;
  return [
    defineRoute({
      ...common,
      path: '/v1/boom',
      operationId: 'boom',
      handler: async () => Promise.reject(error()),
    }),
    defineRoute({
      ...common,
      path: '/opendsr/v1/boom',
      operationId: 'openDsrBoom',
      dialect: 'opendsr',
      handler: async () => Promise.reject(error()),
    }),
  ];
}

const recorded: { outcome: number }[] = [];
const deps = {
  audit: { record: async (entry: { outcome: number }) => void recorded.push(entry) },
} as unknown as ApiDeps;

function api(routes: Route[]): (event: ApiEvent) => Promise<ApiResult> {
  const handler = middy<ApiEvent, ApiResult>().use(errorAnswers(routes)).handler(createApi(deps, routes));
  return (event) => handler(event, {} as Context);
}

beforeAll(() => {
  process.env.LOG_LEVEL = 'silent';
});

test.each(cases)('the middleware answers %s as problem+json', async (_name, error, status, code) => {
  const res = await api(throwingRoutes(() => error))(apiEvent('POST', '/v1/boom'));
  expect(res.statusCode).toBe(status);
  expect(res.headers?.['content-type']).toBe('application/problem+json');
  const body = JSON.parse(String(res.body)) as Record<string, unknown>;
  expect(body).toMatchObject({ status, code, title: expect.any(String), detail: expect.any(String) });
  expect(String(res.body)).not.toContain(SECRET);
});

test('the answer carries the mapped headers (Retry-After on a 503)', async () => {
  const res = await api(throwingRoutes(() => new TransientError('x')))(apiEvent('POST', '/v1/boom'));
  expect(res.headers?.['retry-after']).toBe(String(TRANSIENT_RETRY_AFTER_SECONDS));
});

test("OpenDSR routes answer in OpenDSR's error shape", async () => {
  const res = await api(throwingRoutes(() => new TransientError(SECRET)))(
    apiEvent('POST', '/opendsr/v1/boom'),
  );
  expect(res.statusCode).toBe(503);
  expect(JSON.parse(String(res.body))).toEqual({
    error: {
      code: 503,
      message: expect.any(String),
      errors: [{ domain: 'Processing', reason: 'TEMPORARILY_UNAVAILABLE', message: expect.any(String) }],
    },
  });
  expect(String(res.body)).not.toContain(SECRET);
});

test("401 and 403 are in OpenDSR's shape on OpenDSR routes, as every other error there", async () => {
  const routes = throwingRoutes(() => new Error('never reached'));
  const reason = (result: { body?: string }) =>
    (JSON.parse(String(result.body)) as { error: { code: number; errors: { reason: string }[] } }).error;
  const unauthenticated = await api(routes)(apiEvent('POST', '/opendsr/v1/boom', { role: null }));
  expect(unauthenticated.statusCode).toBe(401);
  expect(unauthenticated.headers?.['content-type']).toBe('application/json');
  expect(reason(unauthenticated)).toMatchObject({ code: 401, errors: [{ reason: 'UNAUTHENTICATED' }] });
  const forbidden = await api(routes)(apiEvent('POST', '/opendsr/v1/boom', { role: 'auditor' }));
  expect(forbidden.statusCode).toBe(403);
  expect(forbidden.headers?.['content-type']).toBe('application/json');
  expect(reason(forbidden)).toMatchObject({ code: 403, errors: [{ reason: 'FORBIDDEN' }] });
  expect(forbidden.headers?.['www-authenticate']).toBe(
    'Bearer realm="dsr", error="insufficient_scope", scope="dsr/support"',
  );
});

test('the audit trail records the status the caller was answered', async () => {
  recorded.length = 0;
  await api(throwingRoutes(() => new TransientError('x')))(apiEvent('POST', '/v1/boom'));
  await api(throwingRoutes(() => new TypeError('x')))(apiEvent('POST', '/v1/boom'));
  expect(recorded.map((r) => r.outcome)).toEqual([503, 500]);
});

test('unknown routes and methods are answered by the middleware too', async () => {
  const routes = throwingRoutes(() => new Error('x'));
  const missing = await api(routes)(apiEvent('GET', '/v1/nowhere'));
  expect([missing.statusCode, JSON.parse(String(missing.body)).code]).toEqual([404, 'ROUTE_NOT_FOUND']);
  const method = await api(routes)(apiEvent('GET', '/v1/boom'));
  expect([method.statusCode, JSON.parse(String(method.body)).code]).toEqual([405, 'METHOD_NOT_ALLOWED']);
});
