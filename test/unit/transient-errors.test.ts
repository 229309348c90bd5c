/**
 * Every shape in which a retryable failure reaches our code is classified as TransientError, so the
 * state machines' Retry and the API's 503 apply to it; anything else passes through untouched.
 */
import { ConnectorError, TransientError, classifyAwsError } from '../../functions/lib/runtime/errors';

const named = (name: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error('details that must not leak'), { name }, extra);

describe('transient failures', () => {
  test.each([
    ['SDK throttling by name', named('ThrottlingException')],
    ['DynamoDB capacity', named('ProvisionedThroughputExceededException')],
    ['transaction conflict', named('TransactionConflictException')],
    ['S3 SlowDown', named('SlowDown')],
    ['SDK timeout', named('TimeoutError')],
    [
      'socket reset by code, generic name',
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    ],
    ['refused connection by code', Object.assign(new Error('x'), { code: 'ECONNREFUSED' })],
    ['DNS try-again', Object.assign(new Error('x'), { code: 'EAI_AGAIN' })],
    ['undici socket error', Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' })],
    ['premature close of a stream', Object.assign(new Error('x'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })],
    ['SDK $retryable flag', named('SomethingNew', { $retryable: { throttling: false } })],
    ['HTTP 503 answer', named('UnknownError', { $metadata: { httpStatusCode: 503 } })],
    ['HTTP 429 answer', named('UnknownError', { $metadata: { httpStatusCode: 429 } })],
    [
      'reset wrapped as cause',
      named('SomeSdkError', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }),
    ],
    [
      'timeout inside an AggregateError',
      new AggregateError(
        [new Error('a'), Object.assign(new Error('b'), { code: 'ETIMEDOUT' })],
        'all failed',
      ),
    ],
  ])('%s', (_label, error) => {
    const classified = classifyAwsError(error);
    expect(classified).toBeInstanceOf(TransientError);
    expect((classified as Error).message).not.toContain('details that must not leak');
  });
});

describe('failures a retry cannot fix pass through', () => {
  test.each([
    ['validation', named('ValidationException', { $metadata: { httpStatusCode: 400 } })],
    ['access denied', named('AccessDeniedException', { $metadata: { httpStatusCode: 403 } })],
    ['condition failed', named('ConditionalCheckFailedException')],
    ['a plain bug', new TypeError('x is undefined')],
    ['not an error at all', 'string thrown'],
  ])('%s', (_label, error) => {
    expect(classifyAwsError(error)).toBe(error);
  });

  test('typed errors of our own are kept as they are', () => {
    const own = new ConnectorError('logs', 'failed');
    expect(classifyAwsError(own)).toBe(own);
  });

  test('a cyclic cause chain ends', () => {
    const a = named('A') as Error & { cause?: unknown };
    const b = named('B', { cause: a });
    a.cause = b;
    expect(classifyAwsError(a)).toBe(a);
  });
});
