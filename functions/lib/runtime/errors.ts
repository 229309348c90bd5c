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

/** A page cursor that names no position of the query it was given to (forged, or for another query). */
export class InvalidCursorError extends AppError {
  override name = 'InvalidCursorError';
  constructor(message = 'The cursor names no position of this query') {
    super(message, 'INVALID_CURSOR');
  }
}

/** Error names and socket codes where the same call can succeed when tried again. */
const TRANSIENT_AWS_ERRORS = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'InternalServerError',
  'InternalServerErrorException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'NetworkingError',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  errno?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  cause?: unknown;
  errors?: unknown;
}

/**
 * The first transient marker found on an error, its causes or (AggregateError) its parts: a name, a
 * code, the SDK's `$retryable`, or an HTTP 429/5xx answer. Name and code are both read, since a socket
 * reset surfaces as `{ name: 'Error', code: 'ECONNRESET' }` and an SDK error may wrap it as its cause.
 */
function transientMarker(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 5) return undefined;
  const err = error as ErrorShape;
  for (const label of [err.name, err.code, err.errno]) {
    if (typeof label === 'string' && TRANSIENT_AWS_ERRORS.has(label)) return label;
  }
  if (err.$retryable) return typeof err.name === 'string' ? err.name : 'Retryable';
  const status = err.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status === 429 || status >= 500)) return `HTTP ${status}`;
  const parts = Array.isArray(err.errors) ? err.errors : [];
  for (const inner of [err.cause, ...parts]) {
    const found = transientMarker(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Maps an SDK or network failure to TransientError where a retry can help; other errors pass through. */
export function classifyAwsError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const marker = transientMarker(error);
  return marker ? new TransientError(`Transient store error: ${marker}`) : error;
}
