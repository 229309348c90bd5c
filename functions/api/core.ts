/**
 * The API: a small router over the route modules in routes/. Every error becomes problem+json with a
 * stable code; an unexpected one becomes a 500 that says nothing of internals.
 */
import { ApiError, openDsrProblem, problem, type ApiEvent, type ApiResult } from './http';
import { principalOf, requireRole, type Role } from './auth';
import { auditRoutes } from './routes/audit';
import { openApiRoutes } from './routes/openapi';
import { openDsrRoutes } from './routes/opendsr';
import type { ApiDeps } from './deps';
import type { Route } from './router';
import { jwksRoutes } from './routes/jwks';
import { requestRoutes } from './routes/requests';
import { downloadRoutes } from './routes/downloads';
import { holdRoutes } from './routes/holds';
import { policyRoutes } from './routes/policy';
import { certificateRoutes } from './routes/certificate';
import { errorFields, log } from '../lib/runtime/logger';
import { isRequestId } from '../lib/requests/request-id';

export type { ApiDeps };

export const ROUTES: Route[] = [...requestRoutes, ...jwksRoutes, ...downloadRoutes];
// Issue 5: OpenDSR, the audit trail and the OpenAPI document (which describes every route above).
// Issue 4: legal holds, the policy in force, erasure certificates.
ROUTES.push(...holdRoutes, ...policyRoutes, ...certificateRoutes);
ROUTES.push(...openDsrRoutes, ...auditRoutes, ...openApiRoutes(() => ROUTES));

/** Who may call each route: the gateway, the local server and the auth test matrix all read this. */
export interface RouteAccess {
  method: Route['method'];
  path: string | undefined;
  pattern: RegExp;
  access: readonly Role[] | 'public' | undefined;
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
async function auditAction(deps: ApiDeps, route: Route, event: ApiEvent, params: string[], status: number) {
  if (route.access === 'public' || status === 401) return;
  let principal: ReturnType<typeof principalOf>;
  try {
    principal = principalOf(event);
  } catch {
    return;
  }
  const actor = principal.callerId;
  const role = principal.roles[0];
  const requestId = params.find(isRequestId);
  await deps.audit
    .record({
      actor,
      role,
      action: route.operationId ?? `${route.method} ${route.path ?? ''}`,
      outcome: status,
      requestId,
    })
    .catch((error: unknown) => log.error('audit record failed', { ...errorFields(error) }));
}

export function createApi(deps: ApiDeps, routes: Route[] = ROUTES): (event: ApiEvent) => Promise<ApiResult> {
  return async (event) => {
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath;
    try {
      const matching = routes.filter((r) => r.pattern.test(path));
      if (matching.length === 0) throw new ApiError(404, 'ROUTE_NOT_FOUND', 'No such route');
      const route = matching.find((r) => r.method === method);
      if (!route) throw new ApiError(405, 'METHOD_NOT_ALLOWED', 'Method not allowed on this route');
      const params = (route.pattern.exec(path) ?? []).slice(1).map((p) => {
        try {
          return decodeURIComponent(p ?? '');
        } catch {
          throw new ApiError(400, 'MALFORMED_PATH', 'The path is not valid');
        }
      });
      let result: ApiResult;
      try {
        if (route.access && route.access !== 'public') requireRole(principalOf(event), route.access);
        result = await route.handler(deps, event, params);
      } catch (error) {
        const status = error instanceof ApiError ? error.status : 500;
        await auditAction(deps, route, event, params, status);
        if (route.dialect === 'opendsr' && error instanceof ApiError && status !== 401 && status !== 403) {
          return openDsrProblem(error);
        }
        throw error;
      }
      await auditAction(deps, route, event, params, result.statusCode ?? 200);
      return result;
    } catch (error) {
      if (error instanceof ApiError) return problem(error);
      log.error('api request failed', { method, ...errorFields(error) });
      return problem(
        new ApiError(500, 'INTERNAL_ERROR', 'Something went wrong on our side; nothing was changed'),
      );
    }
  };
}
