/**
 * Local stand-in for the API Gateway JWT authorizer: HS256 tokens signed with a key under .local/,
 * checked for signature, issuer, audience and expiry exactly where AWS would check them, before the
 * handler (which checks scopes again) sees the request.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ROLES, SCOPE_PREFIX, SERVICE_SCOPE_PREFIX, serviceScope, type Role } from '../functions/api/auth';
import { serviceIds } from '../functions/lib/services/profiles';

export const LOCAL_ISSUER = 'urn:dsr:local-issuer';
export const LOCAL_AUDIENCE = 'dsr-api';

export type Claims = Record<string, string | number | string[]>;

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export function loadTokenKey(path: string): Buffer {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
}

export function signToken(key: Buffer, claims: Claims): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const signature = createHmac('sha256', key).update(`${header}.${body}`).digest('base64url');
  return `${header}.${body}.${signature}`;
}

/**
 * A token for a role, bound to `services` (every service this deployment serves when none is named), the
 * way a Cognito app client is: its role scope and one `dsr/service:<id>` scope per service.
 */
export function mintToken(
  key: Buffer,
  role: Role,
  options: {
    ttlSeconds?: number;
    audience?: string;
    issuer?: string;
    now?: number;
    services?: readonly string[];
  } = {},
): string {
  if (!ROLES.includes(role)) throw new Error(`Unknown role ${role}; use one of ${ROLES.join(', ')}`);
  const known = serviceIds();
  const services = options.services?.length ? options.services : known;
  const unknown = services.filter((s) => !known.includes(s));
  if (unknown.length)
    throw new Error(`Unknown service ${unknown.join(', ')}; use any of ${known.join(', ')}`);
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  // Distinct clients per binding, as distinct app clients would be (audit trail, throttling).
  const client = `local-${role}${options.services?.length ? `-${services.join('-')}` : ''}-client`;
  return signToken(key, {
    iss: options.issuer ?? LOCAL_ISSUER,
    aud: options.audience ?? LOCAL_AUDIENCE,
    sub: client,
    client_id: client,
    scope: [`${SCOPE_PREFIX}${role}`, ...services.map(serviceScope)].join(' '),
    iat: now,
    exp: now + (options.ttlSeconds ?? 3600),
  });
}

/**
 * What the authorizer makes of a token: its claims, or why it is refused. A token is reported expired
 * only once its signature, algorithm, issuer and audience check out: a forged or foreign token says
 * nothing about its expiry.
 */
export type TokenCheck = { valid: true; claims: Claims } | { valid: false; fault: 'invalid' | 'expired' };

export function checkToken(key: Buffer, token: string, nowMs = Date.now()): TokenCheck {
  const invalid: TokenCheck = { valid: false, fault: 'invalid' };
  const parts = token.split('.');
  if (parts.length !== 3) return invalid;
  const [header, body, signature] = parts as [string, string, string];
  const expected = createHmac('sha256', key).update(`${header}.${body}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return invalid;
  try {
    const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string };
    if (head.alg !== 'HS256') return invalid;
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Claims;
    const now = Math.floor(nowMs / 1000);
    if (claims.iss !== LOCAL_ISSUER) return invalid;
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(LOCAL_AUDIENCE)) return invalid;
    if (typeof claims.exp !== 'number') return invalid;
    if (claims.exp <= now) return { valid: false, fault: 'expired' };
    if (typeof claims.nbf === 'number' && claims.nbf > now) return invalid;
    if (!servicesWellFormed(claims.scope)) return invalid;
    return { valid: true, claims };
  } catch {
    return invalid;
  }
}

/**
 * The service scopes must name services by their ids (`dsr/service:<id>`, lower-case letters, digits and
 * hyphens); one that does not is a malformed token, not a binding to nothing. A well-formed id this
 * deployment does not serve is let through and grants nothing (functions/api/auth.ts).
 */
function servicesWellFormed(scope: Claims[string] | undefined): boolean {
  const scopes = Array.isArray(scope) ? scope : typeof scope === 'string' ? scope.split(' ') : [];
  return scopes
    .filter((s) => s.startsWith(SERVICE_SCOPE_PREFIX))
    .every((s) => /^[a-z0-9][a-z0-9-]{0,63}$/.test(s.slice(SERVICE_SCOPE_PREFIX.length)));
}

/** The claims of a valid token, or undefined for any fault. */
export function verifyToken(key: Buffer, token: string, nowMs = Date.now()): Claims | undefined {
  const check = checkToken(key, token, nowMs);
  return check.valid ? check.claims : undefined;
}
