/**
 * The API: the route table, and the dispatcher that finds a request's route, checks who is calling and
 * the input against the route's schemas, runs the handler and records the action in the audit trail.
 * Errors propagate: error-middleware.ts turns every one into an answer (handler.ts `.use`s it).
 */
import { principalOf, requireRole, type Principal } from './auth';
import { auditRoutes } from './routes/audit';
import { openApiRoutes } from './routes/openapi';
import { openDsrRoutes } from './routes/opendsr';
import type { ApiDeps } from './deps';
import { matchRoute, type Route, type RouteScope } from './router';
import { requireBoundService } from './caller-services';
import { jwksRoutes } from './routes/jwks';
import { requestRoutes } from './routes/requests';
import { requestProcedureRoutes } from './routes/request-procedures';
import { downloadRoutes } from './routes/downloads';
import { transferRoutes } from './routes/transfers';
import { holdRoutes } from './routes/holds';
import { policyRoutes } from './routes/policy';
import { certificateRoutes } from './routes/certificate';
import { logErasureJobRoutes } from './routes/log-erasure-jobs';
import { errorFields, log } from '../lib/runtime/logger';
import { SEVERAL_SERVICES } from '../lib/audit/audit-log';
import type { ApiEvent, ApiResult } from './http';
import { answerFor } from './error-mapping';
import { isRequestId } from '../lib/requests/request-id';
import { checkBody, checkPathParams, checkQuery } from './validation';

export type { ApiDeps };

export const ROUTES: Route[] = [
  ...requestRoutes,
  ...requestProcedureRoutes,
  ...jwksRoutes,
  ...downloadRoutes,
  ...transferRoutes,
  ...holdRoutes,
  ...policyRoutes,
  ...certificateRoutes,
  ...openDsrRoutes,
  ...auditRoutes,
  ...logErasureJobRoutes,
];
// The OpenAPI document describes every route above, itself included.
ROUTES.push(...openApiRoutes(() => ROUTES));

/** Who may call each route: the gateway, the local server and the auth test matrix all read this. */
export interface RouteAccess {
  method: Route['method'];
  path: string | undefined;
  pattern: RegExp;
  access: Route['access'] | undefined;
}

export function routeAccess(routes: readonly Route[] = ROUTES): RouteAccess[] {
  return routes.map((r) => ({ method: r.method, path: r.path, pattern: r.pattern, access: r.access }));
}

/** Paths served without a token (no authorizer on these gateway routes). */
export function isPublicPath(path: string, routes: readonly Route[] = ROUTES): boolean {
  const matching = routes.filter((r) => r.pattern.test(path));
  return matching.length > 0 && matching.every((r) => r.access === 'public');
}

/** Records an API action in the audit trail; a failure to record is logged, never shown to the caller. */
async function auditAction(
  deps: ApiDeps,
  route: Route,
  event: ApiEvent,
  params: Record<string, string>,
  status: number,
  scope: RouteScope,
) {
  if (route.access === 'public' || status === 401) return;
  let principal: Principal;
  try {
    principal = principalOf(event);
  } catch {
    return;
  }
  const requestId = Object.values(params).find(isRequestId);
  await deps.audit
    .record({
      actor: principal.callerId,
      role: principal.roles[0],
      action: route.operationId,
      outcome: status,
      requestId,
      // The service of what the call concerned; else the caller's, when it has only one.
      service: scope.service ?? (principal.services.length === 1 ? principal.services[0] : SEVERAL_SERVICES),
    })
    .catch((error: unknown) => log.error('audit record failed', { ...errorFields(error) }));
}

/** Runs a route: the caller's roles and services first, then the path, the query and the body, then the handler. */
async function run(
  deps: ApiDeps,
  route: Route,
  event: ApiEvent,
  params: Record<string, string>,
  scope: RouteScope,
): Promise<ApiResult> {
  let principal: Principal | undefined;
  if (route.access !== 'public') {
    principal = principalOf(event);
    requireRole(principal, route.access);
    requireBoundService(principal);
  }
  return route.handler(deps, {
    event,
    principal,
    scope,
    params: checkPathParams(route.params, params),
    query: route.query ? checkQuery(route.query, event) : {},
    body: route.requestSchema ? checkBody(route.requestSchema, event, route.optionalBody) : undefined,
  });
}

export function createApi(deps: ApiDeps, routes: Route[] = ROUTES): (event: ApiEvent) => Promise<ApiResult> {
  return async (event) => {
    const { route, params } = matchRoute(routes, event);
    let status = 500;
    const scope: RouteScope = {};
    try {
      const result = await run(deps, route, event, params, scope);
      status = result.statusCode ?? 200;
      return result;
    } catch (error) {
      status = answerFor(error).status;
      throw error;
    } finally {
      await auditAction(deps, route, event, params, status, scope);
    }
  };
}
