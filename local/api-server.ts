/**
 * The local HTTPS-less API Gateway: turns each HTTP request into an API Gateway HTTP API (payload 2.0)
 * event for the same handler the Lambda runs, after the same JWT checks the authorizer makes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { authenticationError } from '../functions/api/auth';
import { isPublicPath } from '../functions/api/core';
import { errorResponse } from '../functions/api/error-middleware';
import { ApiError, type ApiEvent, type ApiResult } from '../functions/api/http';
import { checkToken } from './auth';
import { PUBLIC_ROUTE_THROTTLES, publicRouteThrottle } from '../config/throttles';

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Per-caller throttling, as the API stage's throttle settings do in AWS: a token bucket per client id
 * (per source address for public routes). Over the limit answers 429 with Retry-After.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a token for `key`; returns 0 if allowed, else the seconds to wait. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
  }
}

export interface LocalApiOptions {
  handler: (event: ApiEvent) => Promise<ApiResult>;
  tokenKey: Buffer;
  /** Requests per second and burst per caller (default: LOCAL_API_RATE / LOCAL_API_BURST, else 50 / 100). */
  throttle?: { perSecond: number; burst: number };
}

/** Writes an API result (the handler's, or the gateway's own problem+json) to the response. */
function send(res: ServerResponse, result: ApiResult): void {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  if (result.cookies?.length) res.setHeader('set-cookie', result.cookies);
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8') : undefined);
}

/** The credentials of a request to a protected route: its claims, or the 401 the authorizer answers. */
function authenticate(
  tokenKey: Buffer,
  event: ApiEvent,
): ApiEvent['requestContext']['authorizer'] | ApiError {
  const match = /^Bearer\s+(\S+)$/i.exec(event.headers.authorization ?? '');
  if (!match?.[1]) return authenticationError('missing');
  const check = checkToken(tokenKey, match[1]);
  if (!check.valid) return authenticationError(check.fault);
  const scopes = typeof check.claims.scope === 'string' ? check.claims.scope.split(' ') : [];
  return { jwt: { claims: check.claims, scopes } };
}

/** Bodies past this are not read to their end: the connection is closed after the 413. */
const MAX_DRAIN_BYTES = 16 * MAX_BODY_BYTES;

/**
 * The request's body, or 'too-large'. A body over the limit is read on (and dropped) to its end before
 * the 413 is sent, up to MAX_DRAIN_BYTES: a 413 sent while the client is still sending would have the
 * connection reset under it, and the client would see that instead of the answer.
 */
function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else if (size > MAX_DRAIN_BYTES) resolve('too-large');
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function toApiEvent(req: IncomingMessage, body: Buffer): ApiEvent {
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  url.searchParams.forEach((value, name) => (query[name] = query[name] ? `${query[name]},${value}` : value));
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    isBase64Encoded: body.length > 0,
    body: body.length > 0 ? body.toString('base64') : undefined,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
  };
}

export function startLocalApi(
  options: LocalApiOptions,
  port: number,
  host = '127.0.0.1',
): Promise<{ url: string; server: Server }> {
  const throttle = options.throttle ?? {
    perSecond: Number(process.env.LOCAL_API_RATE ?? 50),
    burst: Number(process.env.LOCAL_API_BURST ?? 100),
  };
  const buckets = new TokenBuckets(throttle.perSecond, throttle.burst);
  // Each public route's own budget for all callers together, as API Gateway's route settings.
  const routeBuckets = new Map(
    PUBLIC_ROUTE_THROTTLES.map((route) => [route.path, new TokenBuckets(route.rateLimit, route.burstLimit)]),
  );
  const routeThrottled = (res: ServerResponse, event: ApiEvent): boolean => {
    const route = publicRouteThrottle(event.rawPath);
    const wait = route ? (routeBuckets.get(route.path)?.take(route.path) ?? 0) : 0;
    if (wait === 0) return false;
    const retry = { 'retry-after': String(wait) };
    refuse(res, event, new ApiError(429, 'TOO_MANY_REQUESTS', 'Too many requests; retry later', {}, retry));
    return true;
  };
  // The gateway's refusals, in the shape of the route asked for (OpenDSR's on OpenDSR routes).
  const refuse = (res: ServerResponse, event: ApiEvent, error: ApiError) =>
    send(res, errorResponse(event, error));
  const throttled = (res: ServerResponse, event: ApiEvent, key: string): boolean => {
    const wait = buckets.take(key);
    if (wait === 0) return false;
    const retry = { 'retry-after': String(wait) };
    refuse(
      res,
      event,
      new ApiError(429, 'TOO_MANY_REQUESTS', 'Too many requests from this caller; retry later', {}, retry),
    );
    return true;
  };
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      if (body === 'too-large') {
        const tooLarge = new ApiError(
          413,
          'PAYLOAD_TOO_LARGE',
          `Bodies are limited to ${MAX_BODY_BYTES} bytes`,
        );
        return refuse(res, toApiEvent(req, Buffer.alloc(0)), tooLarge);
      }
      const event = toApiEvent(req, body);
      if (!isPublicPath(event.rawPath)) {
        const authorizer = authenticate(options.tokenKey, event);
        if (authorizer instanceof ApiError) return refuse(res, event, authorizer);
        event.requestContext.authorizer = authorizer;
        const claims = authorizer?.jwt?.claims ?? {};
        if (throttled(res, event, `caller:${String(claims.client_id ?? claims.sub ?? '')}`)) return;
      } else if (
        routeThrottled(res, event) ||
        throttled(res, event, `ip:${event.requestContext.http.sourceIp}`)
      ) {
        return;
      }
      send(res, await options.handler(event));
    } catch {
      const failed = new ApiError(500, 'INTERNAL_ERROR', 'Something went wrong on our side');
      send(res, errorResponse(toApiEvent(req, Buffer.alloc(0)), failed));
    }
  });
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const { port: bound } = server.address() as AddressInfo;
      resolve({ url: `http://${host}:${bound}`, server });
    });
  });
}
