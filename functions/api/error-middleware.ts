/**
 * The middy middleware that answers every error the API throws, in the shape of the route it was
 * thrown on: problem+json, or OpenDSR's error shape on OpenDSR routes (every status, so an OpenDSR client
 * parses one shape). What to answer is error-mapping.ts.
 */
import type { MiddlewareObj } from '@middy/core';
import { errorFields, log } from '../lib/runtime/logger';
import { ROUTES } from './core';
import { answerFor } from './error-mapping';
import { openDsrProblem, problem, type ApiError, type ApiEvent, type ApiResult } from './http';
import type { Route } from './router';

function dialectOf(routes: readonly Route[], event: ApiEvent): Route['dialect'] {
  const method = event.requestContext.http.method.toUpperCase();
  return routes.find((r) => r.method === method && r.pattern.test(event.rawPath))?.dialect;
}

/** `error` answered in the dialect of the route `event` is for (the local gateway's refusals too). */
export function errorResponse(
  event: ApiEvent,
  error: ApiError,
  routes: readonly Route[] = ROUTES,
): ApiResult {
  return dialectOf(routes, event) === 'opendsr' ? openDsrProblem(error) : problem(error);
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
      request.response = errorResponse(request.event, answer, routes);
    },
  };
}
