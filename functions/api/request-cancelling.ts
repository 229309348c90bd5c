/** Cancelling a request, whatever the dialect: only one that has not started changing anything. */
import type { RequestRecord } from '../lib/requests/records';
import type { Principal } from './auth';
import type { ApiDeps } from './deps';
import { ApiError } from './http';

/**
 * Cancels a request that has not started changing anything; says precisely why when it cannot (the
 * 409 names the request's status as `requestStatus`).
 */
export async function cancelRecord(
  deps: ApiDeps,
  principal: Principal,
  record: RequestRecord,
): Promise<RequestRecord> {
  if (record.status === 'cancelled') return record;
  // Waiting for verification or payment counts as not started.
  if (['received', 'awaiting_verification', 'awaiting_payment'].includes(record.status)) {
    const changed = await deps.requests.transition(
      record.requestId,
      'cancelled',
      {},
      {
        actor: principal.callerId,
        role: principal.roles[0],
        event: { type: 'request.cancelled', detail: { by: 'api' } },
      },
    );
    const after = (await deps.requests.get(record.requestId)) ?? record;
    if (changed || after.status === 'cancelled') return after;
    return cancelRecord(deps, principal, after);
  }
  if (record.status === 'in_progress') {
    if (record.type === 'erasure') {
      throw new ApiError(
        409,
        'ERASURE_IN_PROGRESS',
        'This erasure is already changing stores; it cannot be cancelled halfway and will run to completion',
        { requestStatus: record.status },
      );
    }
    throw new ApiError(409, 'NOT_CANCELLABLE', 'This request is already being processed', {
      requestStatus: record.status,
    });
  }
  throw new ApiError(409, 'ALREADY_FINISHED', 'This request has already finished', {
    requestStatus: record.status,
  });
}
