/**
 * Callers are bound to services (auth.ts): each sees and acts only on its services' requests, holds,
 * certificates and audit entries. Another service's resource is answered exactly like one that does
 * not exist (404), so a caller cannot learn that an id, a subject or a hold exists at another service.
 * Opening something names its service: required when the caller has several, implied when it has one,
 * refused (403 SERVICE_NOT_ALLOWED) when the caller is not bound to it.
 */
import { defaultServiceId, recordedService, serviceIds } from '../lib/services/profiles';
import type { ServiceSelection } from '../lib/requests/request-table';
import type { Principal } from './auth';
import { ApiError } from './http';

/** 403 for a token bound to no service this deployment serves: it could see nothing, so it is refused. */
export function requireBoundService(principal: Principal): void {
  if (principal.services.length === 0) {
    throw new ApiError(
      403,
      'NO_SERVICE',
      'This client is bound to no service this deployment serves; ask for a token with a service scope',
    );
  }
}

/**
 * The service a new request or hold is for: the one named (which the caller must be bound to), else the
 * caller's only service. A caller bound to several must name one: guessing would file a person's
 * request with the wrong controller.
 */
export function serviceFor(principal: Principal, named: string | undefined): string {
  if (named !== undefined) {
    if (!principal.services.includes(named)) {
      throw new ApiError(403, 'SERVICE_NOT_ALLOWED', 'This client is not bound to the service named');
    }
    return named;
  }
  const [only, ...others] = principal.services;
  if (only === undefined || others.length > 0) {
    throw new ApiError(
      400,
      'SERVICE_REQUIRED',
      `This client is bound to several services: name one in service (${principal.services.join(', ')})`,
    );
  }
  return only;
}

/** The service of something stored: its own, else (stored before services were recorded) the default. */
export const serviceOf = recordedService;

/** Whether the caller is bound to the service a stored request, hold or audit entry belongs to. */
export function canSee(principal: Principal, stored: { service?: string }): boolean {
  return principal.services.includes(serviceOf(stored));
}

/** The caller's services, as a selection (items stored without a service are the default's). */
export function boundServices(principal: Principal): ServiceSelection {
  return { services: principal.services, defaultService: defaultServiceId() };
}

/**
 * The services a listing is restricted to: undefined when the caller is bound to every service this
 * deployment serves (nothing to filter), else its services, or the one `named` (which it must be bound to).
 */
export function listingServices(principal: Principal, named?: string): ServiceSelection | undefined {
  if (named !== undefined)
    return { services: [serviceFor(principal, named)], defaultService: defaultServiceId() };
  return serviceIds().every((id) => principal.services.includes(id)) ? undefined : boundServices(principal);
}
