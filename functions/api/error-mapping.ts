/**
 * The one mapping from anything a route throws to the error the API answers with. Typed errors of the
 * domain modules (functions/lib/runtime/errors.ts) get a status and a stable code of their own; their
 * messages are never shown (they are written for logs and state machines). Anything else is a 500 that
 * says nothing of internals.
 */
import {
  AppError,
  ConnectorError,
  InvalidCursorError,
  NotFoundError,
  SubjectConflictError,
  TransientError,
  classifyAwsError,
} from '../lib/runtime/errors';
import { ApiError } from './http';

/** Seconds a caller is asked to wait after a transient failure (throttling, a store briefly down). */
export const TRANSIENT_RETRY_AFTER_SECONDS = 2;

/** A cursor this API did not issue for this listing (the one 400 for any bad cursor). */
export const invalidCursor = (): ApiError =>
  new ApiError(400, 'INVALID_CURSOR', 'The cursor is not one this API issued for this listing', {
    parameter: 'cursor',
  });

const INTERNAL_ERROR = (): ApiError =>
  new ApiError(500, 'INTERNAL_ERROR', 'Something went wrong on our side; nothing was changed');

function fromAppError(error: AppError): ApiError {
  if (error instanceof TransientError) {
    return new ApiError(
      503,
      'TEMPORARILY_UNAVAILABLE',
      'A store is briefly unavailable; retry after the time in Retry-After',
      {},
      { 'retry-after': String(TRANSIENT_RETRY_AFTER_SECONDS) },
    );
  }
  if (error instanceof NotFoundError) return new ApiError(404, 'NOT_FOUND', 'No such resource');
  if (error instanceof InvalidCursorError) return invalidCursor();
  if (error instanceof SubjectConflictError) {
    return new ApiError(
      409,
      'SUBJECT_CONFLICT',
      'The identifiers match more than one account; name the subject by one that matches one account',
    );
  }
  if (error instanceof ConnectorError) {
    return new ApiError(502, 'STORE_FAILED', 'A data store did not answer as expected; retry later');
  }
  // ContractError (a bug of ours) and any AppError without a mapping of its own.
  return INTERNAL_ERROR();
}

/** What the API answers for `error`: SDK throttling and timeouts count as transient. */
export function answerFor(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const classified = classifyAwsError(error);
  if (classified instanceof AppError) return fromAppError(classified);
  return INTERNAL_ERROR();
}
