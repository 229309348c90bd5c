/** An API Gateway (HTTP API, payload 2.0) event as the JWT authorizer passes it on, for the in-process API. */
import type { Role } from '../../functions/api/auth';
import type { ApiEvent } from '../../functions/api/http';

export interface ApiEventOptions {
  /** The caller's role (default support); null for a request without a token. */
  role?: Role | null;
  body?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

export function apiEvent(method: string, path: string, opts: ApiEventOptions = {}): ApiEvent {
  const role = opts.role === undefined ? 'support' : opts.role;
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
                claims: { sub: `test-${role}`, client_id: `test-${role}`, scope: `dsr/${role}` },
                scopes: [`dsr/${role}`],
              },
            },
          }
        : {}),
    },
  } as ApiEvent;
}
