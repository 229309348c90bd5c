/**
 * The middy middleware that answers every error the API throws, in the shape of the route it was
 * thrown on: problem+json, or OpenDSR's error shape on OpenDSR routes (except 401 and 403, which come
 * from the gateway's side of the contract and stay problem+json). What to answer is error-mapping.ts.
 */
import type { MiddlewareObj } from '@middy/core';
import { errorFields, log } from '../lib/runtime/logger';
import { ROUTES } from './core';
import { answerFor } from './error-mapping';
import { openDsrProblem, problem, type ApiEvent, type ApiResult } from './http';
import type { Route } from './router';

function dialectOf(routes: readonly Route[], event: ApiEvent): Route['dialect'] {
  const method = event.requestContext.http.method.toUpperCase();
  return routes.find((r) => r.method === method && r.pattern.test(event.rawPath))?.dialect;
}

export function errorAnswers(routes: readonly Route[] = ROUTES): MiddlewareObj<ApiEvent, ApiResult> {
  return {
    name: 'errorAnswers',
    onError: (request) => {
      // Another middleware has answered already.
      if (request.response !== undefined && request.response !== null) return;
      const answer = answerFor(request.error);
      const method = request.event.requestContext.http.method;
      if (answer.status >= 500 && answer !== request.error) {
        const fields = { method, status: answer.status, code: answer.code, ...errorFields(request.error) };
        if (answer.status === 503) log.warn('api request failed transiently', fields);
        else log.error('api request failed', fields);
      }
      const openDsr =
        dialectOf(routes, request.event) === 'opendsr' && answer.status !== 401 && answer.status !== 403;
      request.response = openDsr ? openDsrProblem(answer) : problem(answer);
    },
  };
}
