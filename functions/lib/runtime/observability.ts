/**
 * The middlewares every handler uses, in this order: an X-Ray segment per invocation, then the Lambda
 * context (request id, function name, cold start) on every line logged during it.
 */
import type middy from '@middy/core';
import { lambdaContextLogging } from './logger';
import { lambdaTracing } from './tracing';

export function observability(): middy.MiddlewareObj[] {
  return [lambdaTracing(), lambdaContextLogging()];
}
