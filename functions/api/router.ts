/**
 * The route table's types, and how a request finds its route. Each file under routes/ defines its
 * routes with `defineRoute`; core.ts puts them together. A route declares who may call it and the
 * schemas of its path parameters, query and body: the router checks all of them before the handler
 * runs, the handler's input types are derived from the same schemas, and the OpenAPI document and the
 * auth test matrix are generated from the same table.
 */
import type { ApiDeps } from './deps';
import { ApiError, type ApiEvent, type ApiResult } from './http';
import type { Principal, Role } from './auth';
import { PATH_PARAMS, type PathParamName } from './path-params';
import type { Validated, ValidatedQuery } from './schemas';
import { compileRouteSchemas, type QuerySchema } from './validation';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Who may call: the roles allowed, or 'public' (no token: the gateway route has no authorizer). */
export type Access = readonly Role[] | 'public';

/**
 * What a call is found to concern, filled in by the handler as it learns it: the service of the request
 * or hold it reads or opens. core.ts files the call's audit entry under that service.
 */
export interface RouteScope {
  service?: string;
}

/** What a handler is given: the event, and its input already checked against the route's schemas. */
export interface RouteInput<
  Query = Record<string, unknown>,
  Body = unknown,
  Params = Record<string, string>,
  Caller = Principal | undefined,
> {
  event: ApiEvent;
  /** The caller (undefined on public routes). */
  principal: Caller;
  params: Params;
  query: Query;
  body: Body;
  scope: RouteScope;
}

type ParamNames<P extends string> = P extends `${string}{${infer Name}}${infer Rest}`
  ? Name | ParamNames<Rest>
  : never;

/** The path parameters a template names: `/v1/holds/{holdId}` gives `{ holdId: string }`. */
export type PathParams<P extends string> = { [Name in ParamNames<P>]: string };

export interface ResponseDoc {
  description: string;
  content: readonly string[];
}

interface RouteDocs {
  method: Method;
  /** OpenAPI path template, e.g. `/v1/requests/{requestId}`; each `{name}` is defined in path-params.ts. */
  path: string;
  operationId: string;
  summary: string;
  /**
   * Status code -> description, for the OpenAPI document; with `content`, the media types that status
   * is answered in (when it depends on Accept). Statuses every route of its kind answers are added by
   * openapi.ts (see standardErrors there).
   */
  responses?: Record<string, string | ResponseDoc>;
  /** Response media type of a success when not JSON (e.g. application/jwk-set+json). */
  responseType?: string;
  /** Errors in OpenDSR's shape instead of problem+json. */
  dialect?: 'opendsr';
  /** The body may be absent (it then counts as `{}`). */
  optionalBody?: boolean;
}

export interface RouteSpec<Path extends string, A extends Access, QS, BS> extends RouteDocs {
  path: Path;
  access: A;
  /** The query parameters (strictQuery in schemas.ts); without it the query string is ignored. */
  query?: QS;
  /** The JSON Schema of the body (the very object, so docs cannot drift). */
  requestSchema?: BS;
  handler: (
    deps: ApiDeps,
    input: RouteInput<
      // `extends undefined`, not `extends <schema type>`: the true branch would derive FromSchema of the
      // intersection with that (wide) type, too deep to compute.
      QS extends undefined ? Record<string, never> : ValidatedQuery<QS>,
      BS extends undefined ? undefined : Validated<BS>,
      PathParams<Path>,
      A extends 'public' ? undefined : Principal
    >,
  ) => Promise<ApiResult>;
}

export interface Route extends RouteDocs {
  access: Access;
  /** Matched against the raw path; built from `path`, one capture group per parameter. */
  pattern: RegExp;
  /** The names of the path parameters, in order. */
  params: readonly PathParamName[];
  query?: QuerySchema;
  requestSchema?: Readonly<Record<string, unknown>>;
  handler: (deps: ApiDeps, input: RouteInput) => Promise<ApiResult>;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Defines a route: its path parameters must be known, and its schemas compile now (at load). */
export function defineRoute<
  const Path extends string,
  const A extends Access,
  const QS extends QuerySchema | undefined = undefined,
  const BS extends Readonly<Record<string, unknown>> | undefined = undefined,
>(spec: RouteSpec<Path, A, QS, BS>): Route {
  const parts = spec.path.split(/\{([^}]+)\}/);
  const params = parts.filter((_, i) => i % 2 === 1) as PathParamName[];
  for (const name of params) {
    if (!(name in PATH_PARAMS))
      throw new Error(`${spec.path}: path parameter ${name} is not in path-params.ts`);
  }
  const pattern = new RegExp(
    `^${parts.map((part, i) => (i % 2 === 1 ? '([^/]+)' : escapeRegExp(part))).join('')}$`,
  );
  compileRouteSchemas({ query: spec.query, body: spec.requestSchema, params });
  const { handler, ...docs } = spec;
  return {
    ...docs,
    pattern,
    params,
    // The router has checked the input against these very schemas, so it has the types they derive.
    handler: (deps, input) => handler(deps, input as Parameters<typeof handler>[1]),
  };
}

/** The route a request is for, and its path parameters (URL-decoded, not yet checked). */
export function matchRoute(
  routes: readonly Route[],
  event: ApiEvent,
): { route: Route; params: Record<string, string> } {
  const method = event.requestContext.http.method.toUpperCase();
  const matching = routes.filter((r) => r.pattern.test(event.rawPath));
  if (matching.length === 0) throw new ApiError(404, 'ROUTE_NOT_FOUND', 'No such route');
  const route = matching.find((r) => r.method === method);
  if (!route) throw new ApiError(405, 'METHOD_NOT_ALLOWED', 'Method not allowed on this route');
  const values = (route.pattern.exec(event.rawPath) ?? []).slice(1).map((value) => {
    try {
      return decodeURIComponent(value ?? '');
    } catch {
      throw new ApiError(400, 'MALFORMED_PATH', 'The path is not valid');
    }
  });
  return { route, params: Object.fromEntries(route.params.map((name, i) => [name, values[i] ?? ''])) };
}
