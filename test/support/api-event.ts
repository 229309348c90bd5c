/** An API Gateway (HTTP API, payload 2.0) event as the JWT authorizer passes it on, for the in-process API. */
import { serviceScope, type Role } from '../../functions/api/auth';
import { serviceIds } from '../../functions/lib/services/profiles';
import type { ApiEvent } from '../../functions/api/http';

export interface ApiEventOptions {
  /** The caller's role (default support); null for a request without a token. */
  role?: Role | null;
  /** The services the caller is bound to (default: every service). */
  services?: readonly string[];
  body?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

export function apiEvent(method: string, path: string, opts: ApiEventOptions = {}): ApiEvent {
  const role = opts.role === undefined ? 'support' : opts.role;
  const scopes = [`dsr/${role}`, ...(opts.services ?? serviceIds()).map(serviceScope)];
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...(opts.headers ?? {}) },
    queryStringParameters: opts.query,
    isBase64Encoded: false,
    body: opts.body,
    requestContext: {
      accountId: '0',
      apiId: 'test',
      domainName: 'localhost',
      domainPrefix: 'test',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'test',
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
      ...(role
        ? {
            authorizer: {
              jwt: {
                claims: { sub: `test-${role}`, client_id: `test-${role}`, scope: scopes.join(' ') },
                scopes,
              },
            },
          }
        : {}),
    },
  } as ApiEvent;
}
