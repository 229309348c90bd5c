/**
 * Per-route throttles of the public routes (no token: anyone can call them). Each has a budget of its
 * own, well under the stage's default, so flooding a download link or the discovery document cannot use
 * up the API's capacity (its Lambda concurrency, the KMS quota) that support systems' calls need. API
 * Gateway applies them as route settings (infra/constructs/api.ts); the local API server as one token
 * bucket per route (local/api-server.ts).
 */
export interface RouteThrottle {
  /** The route's path template, as API Gateway names it (`{token}` is one path segment). */
  path: string;
  rateLimit: number;
  burstLimit: number;
}

export const PUBLIC_ROUTE_THROTTLES: readonly RouteThrottle[] = [
  { path: '/v1/downloads/{token}', rateLimit: 10, burstLimit: 20 },
  { path: '/v1/downloads/{token}/archive', rateLimit: 10, burstLimit: 20 },
  { path: '/v1/transfers/{token}', rateLimit: 10, burstLimit: 20 },
  { path: '/.well-known/jwks.json', rateLimit: 5, burstLimit: 10 },
  { path: '/opendsr/v1/discovery', rateLimit: 5, burstLimit: 10 },
  { path: '/v1/openapi.json', rateLimit: 2, burstLimit: 5 },
];

/** The throttle of the public route a path falls under, if any. */
export function publicRouteThrottle(path: string): RouteThrottle | undefined {
  return PUBLIC_ROUTE_THROTTLES.find((route) =>
    new RegExp(`^${route.path.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
  );
}
