/**
 * Who is calling, from the JWT authorizer's claims (API Gateway in AWS; the local server runs the same
 * checks). The handler checks scopes again: a route never trusts that the gateway was configured right.
 */
import { ApiError, type ApiEvent } from './http';

export type Role = 'support' | 'legal' | 'auditor';
export const ROLES: readonly Role[] = ['support', 'legal', 'auditor'];
export const SCOPE_PREFIX = 'dsr/';

export interface Principal {
  /** The caller's client id (the token's subject): an id of a system, not a person. */
  callerId: string;
  roles: Role[];
}

function scopesOf(event: ApiEvent): string[] {
  const jwt = event.requestContext.authorizer?.jwt;
  if (!jwt) return [];
  if (Array.isArray(jwt.scopes)) return jwt.scopes;
  const claim = jwt.claims?.scope ?? jwt.claims?.scp;
  if (Array.isArray(claim)) return claim.map(String);
  return typeof claim === 'string' ? claim.split(' ').filter(Boolean) : [];
}

export function principalOf(event: ApiEvent): Principal {
  const jwt = event.requestContext.authorizer?.jwt;
  if (!jwt?.claims) throw new ApiError(401, 'UNAUTHENTICATED', 'A bearer token is required');
  const roles = scopesOf(event)
    .filter((s) => s.startsWith(SCOPE_PREFIX))
    .map((s) => s.slice(SCOPE_PREFIX.length))
    .filter((r): r is Role => (ROLES as readonly string[]).includes(r));
  const callerId = String(jwt.claims.client_id ?? jwt.claims.sub ?? 'unknown');
  return { callerId, roles };
}

export function requireRole(principal: Principal, allowed: readonly Role[]): void {
  if (!principal.roles.some((r) => allowed.includes(r))) {
    throw new ApiError(403, 'FORBIDDEN', `This action needs one of the roles: ${allowed.join(', ')}`);
  }
}
