/**
 * Typed errors. Each has a stable `name`: Lambda reports it as the error type, so the state machines'
 * Retry/Catch match on it, and the API maps it to a stable error code. Messages never carry personal data.
 */
export class AppError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Worth retrying: throttling, timeouts, a store briefly unavailable. */
export class TransientError extends AppError {
  override name = 'TransientError';
  constructor(message: string) {
    super(message, 'TRANSIENT');
  }
}

/** The subject's identifiers match more than one account: never merge, the support system must decide. */
export class SubjectConflictError extends AppError {
  override name = 'SubjectConflictError';
  constructor(message = 'The identifiers match more than one account') {
    super(message, 'SUBJECT_CONFLICT');
  }
}

/** A connector could not read or write its store. */
export class ConnectorError extends AppError {
  override name = 'ConnectorError';
  constructor(
    readonly store: string,
    message: string,
  ) {
    super(message, 'STORE_FAILED');
  }
}

/** Input to a workflow task was not what the contract says: a bug, never retried. */
export class ContractError extends AppError {
  override name = 'ContractError';
  constructor(message: string) {
    super(message, 'CONTRACT_VIOLATION');
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super(message, 'NOT_FOUND');
  }
}

const TRANSIENT_AWS_ERRORS = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'SlowDown',
  'RequestTimeout',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

/** Maps an SDK or network failure to TransientError where a retry can help; other errors pass through. */
export function classifyAwsError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const err = error as { name?: string; code?: string; $retryable?: unknown } | undefined;
  const name = err?.name ?? err?.code ?? '';
  if (TRANSIENT_AWS_ERRORS.has(name) || err?.$retryable) {
    return new TransientError(`Transient store error: ${name}`);
  }
  return error;
}
