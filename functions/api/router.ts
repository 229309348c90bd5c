/** Route table types: each file under routes/ exports its routes; core.ts puts them together. */
import type { ApiEvent, ApiResult } from './http';
import type { ApiDeps } from './deps';
import type { Role } from './auth';

/** An OpenAPI query parameter of a route (issue 5: documented from the same table the router uses). */
export interface QueryParam {
  name: string;
  description: string;
  schema: Record<string, unknown>;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Matched against the raw path; capture groups become params (URL-decoded). */
  pattern: RegExp;
  handler: (deps: ApiDeps, event: ApiEvent, params: string[]) => Promise<ApiResult>;
  /**
   * Who may call (issue 5): the roles allowed, or 'public' (no token: the gateway route has no
   * authorizer). core.ts enforces it before the handler runs; the auth test matrix is generated from it.
   */
  access?: readonly Role[] | 'public';
  /** OpenAPI path template, e.g. `/v1/requests/{requestId}`: the docs and the test matrix use it. */
  path?: string;
  operationId?: string;
  summary?: string;
  /** The JSON Schema the handler validates the body with (the very object, so docs cannot drift). */
  requestSchema?: Record<string, unknown>;
  query?: QueryParam[];
  /** Status code -> description, for the OpenAPI document. */
  responses?: Record<string, string>;
  /** Response media type when not JSON (e.g. text/html, application/jwk-set+json). */
  responseType?: string;
  /** Errors in OpenDSR's shape instead of problem+json. */
  dialect?: 'opendsr';
}
