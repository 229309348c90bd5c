/**
 * The request a path names, or the 404 every route answers when there is none, or when it belongs to a
 * service the caller is not bound to (answered alike, so ids of other services' requests reveal nothing).
 */
import type { RequestRecord } from '../lib/requests/records';
import type { Principal } from './auth';
import { canSee, serviceOf } from './caller-services';
import type { ApiDeps } from './deps';
import { notFound } from './path-params';
import type { RouteScope } from './router';

/** Who is asking, and where the call notes what it concerned (its audit entry's service). */
export interface Caller {
  principal: Principal;
  scope: RouteScope;
}

export async function loadRequest(deps: ApiDeps, caller: Caller, requestId: string): Promise<RequestRecord> {
  const record = await deps.requests.get(requestId);
  if (!record) throw notFound('requestId');
  // Filed under the request's service even when refused: its auditors see who probed it.
  caller.scope.service = serviceOf(record);
  if (!canSee(caller.principal, record)) throw notFound('requestId');
  return record;
}
