/**
 * Who is calling, from the JWT authorizer's claims (API Gateway in AWS; the local server runs the same
 * checks). core.ts checks the route's roles again before any handler runs: a route never trusts that
 * the gateway was configured right.
 *
 * A caller is bound to one or more services (config/services/) by scopes `dsr/service:<id>` beside its
 * role scope: Cognito's client-credentials tokens carry exactly the scopes an app client is allowed, so
 * the binding needs no custom claim (nor a token trigger), and the local tokens carry the same scopes.
 * The caller's role holds in each of its services alike. caller-services.ts applies the binding.
 */
import { shippedServiceProfiles } from '../lib/services/profiles';
import { ApiError, type ApiEvent } from './http';

export type Role = 'support' | 'legal' | 'auditor';
export const ROLES: readonly Role[] = ['support', 'legal', 'auditor'];
export const SCOPE_PREFIX = 'dsr/';
/** The scope that binds a caller to a service: `dsr/service:cluster`. */
export const SERVICE_SCOPE_PREFIX = `${SCOPE_PREFIX}service:`;
export const serviceScope = (service: string): string => `${SERVICE_SCOPE_PREFIX}${service}`;

/** The realm of RFC 6750 challenges (WWW-Authenticate). */
const REALM = 'dsr';

export interface Principal {
  /** The caller's client id (the token's subject): an id of a system, not a person. */
  callerId: string;
  roles: Role[];
  /**
   * The services the caller is bound to (ids of config/services/), in the order of the profiles. A
   * scope naming a service this deployment does not serve grants nothing.
   */
  services: string[];
}

/** Why a request is not authenticated: no token, a token that is not ours, or one of ours that expired. */
export type TokenFault = 'missing' | 'invalid' | 'expired';

const TOKEN_FAULTS: Record<TokenFault, { code: string; detail: string; challenge: string }> = {
  // RFC 6750 section 3.1: a request without credentials gets a challenge without an error code.
  missing: { code: 'UNAUTHENTICATED', detail: 'A bearer token is required', challenge: '' },
  invalid: {
    code: 'UNAUTHENTICATED',
    detail: 'The bearer token is not valid (signature, issuer or audience)',
    challenge: ', error="invalid_token", error_description="The token is not valid"',
  },
  expired: {
    code: 'TOKEN_EXPIRED',
    detail: 'The bearer token has expired; get a new one',
    challenge: ', error="invalid_token", error_description="The token has expired"',
  },
};

/** The 401 for a token fault, with its RFC 6750 challenge; an expired token has its own code. */
export function authenticationError(fault: TokenFault): ApiError {
  const { code, detail, challenge } = TOKEN_FAULTS[fault];
  return new ApiError(401, code, detail, {}, { 'www-authenticate': `Bearer realm="${REALM}"${challenge}` });
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
  if (!jwt?.claims) throw authenticationError('missing');
  const scopes = scopesOf(event);
  const roles = scopes
    .filter((s) => s.startsWith(SCOPE_PREFIX))
    .map((s) => s.slice(SCOPE_PREFIX.length))
    .filter((r): r is Role => (ROLES as readonly string[]).includes(r));
  const bound = new Set(
    scopes.filter((s) => s.startsWith(SERVICE_SCOPE_PREFIX)).map((s) => s.slice(SERVICE_SCOPE_PREFIX.length)),
  );
  const services = [...shippedServiceProfiles().keys()].filter((id) => bound.has(id));
  const callerId = String(jwt.claims.client_id ?? jwt.claims.sub ?? 'unknown');
  return { callerId, roles, services };
}

export function requireRole(principal: Principal, allowed: readonly Role[]): void {
  if (!principal.roles.some((r) => allowed.includes(r))) {
    const scopes = allowed.map((r) => `${SCOPE_PREFIX}${r}`).join(' ');
    throw new ApiError(
      403,
      'FORBIDDEN',
      `This action needs one of the roles: ${allowed.join(', ')}`,
      {},
      { 'www-authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${scopes}"` },
    );
  }
}
