/**
 * Local stand-in for the API Gateway JWT authorizer: HS256 tokens signed with a key under .local/,
 * checked for signature, issuer, audience and expiry exactly where AWS would check them, before the
 * handler (which checks scopes again) sees the request.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ROLES, SCOPE_PREFIX, type Role } from '../functions/api/auth';

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

export function mintToken(
  key: Buffer,
  role: Role,
  options: { ttlSeconds?: number; audience?: string; issuer?: string; now?: number } = {},
): string {
  if (!ROLES.includes(role)) throw new Error(`Unknown role ${role}; use one of ${ROLES.join(', ')}`);
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  return signToken(key, {
    iss: options.issuer ?? LOCAL_ISSUER,
    aud: options.audience ?? LOCAL_AUDIENCE,
    sub: `local-${role}-client`,
    client_id: `local-${role}-client`,
    scope: `${SCOPE_PREFIX}${role}`,
    iat: now,
    exp: now + (options.ttlSeconds ?? 3600),
  });
}

/** The claims of a valid token, or undefined for any fault (the caller answers 401 either way). */
export function verifyToken(key: Buffer, token: string, nowMs = Date.now()): Claims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, body, signature] = parts as [string, string, string];
  const expected = createHmac('sha256', key).update(`${header}.${body}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string };
    if (head.alg !== 'HS256') return undefined;
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Claims;
    const now = Math.floor(nowMs / 1000);
    if (claims.iss !== LOCAL_ISSUER) return undefined;
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(LOCAL_AUDIENCE)) return undefined;
    if (typeof claims.exp !== 'number' || claims.exp <= now) return undefined;
    if (typeof claims.nbf === 'number' && claims.nbf > now) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}
