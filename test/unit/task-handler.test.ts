import type { Context } from 'aws-lambda';
import { ContractError, TransientError } from '../../functions/lib/runtime/errors';
import { taskHandler, UnexpectedTaskError } from '../../functions/lib/runtime/task-handler';

const context = { functionName: 'test', awsRequestId: 'r-1' } as Context;

/** What the Lambda runtime reports of a thrown error, which Step Functions keeps as the task's cause. */
function reported(error: Error): string {
  return JSON.stringify({
    errorType: error.name,
    errorMessage: error.message,
    trace: error.stack?.split('\n'),
  });
}

async function failureOf(thrown: unknown): Promise<Error> {
  const handler = taskHandler<{ requestId: string }, never>('test-task', async () => {
    throw thrown;
  });
  return handler({ requestId: 'req_1' }, context).then(
    () => {
      throw new Error('the task should have failed');
    },
    (error: Error) => error,
  );
}

test('an unknown error reaches the history as its name and a stable code, never its message or stack', async () => {
  const leaky = Object.assign(
    new Error('One or more parameter values were invalid: email alice@example.com'),
    {
      name: 'ValidationException',
    },
  );
  const failure = await failureOf(leaky);
  expect(failure).toBeInstanceOf(UnexpectedTaskError);
  expect(failure.name).toBe('ValidationException');
  expect(failure.message).toBe('UNEXPECTED_ERROR');
  expect(reported(failure)).not.toContain('alice');
  expect(reported(failure)).not.toContain('parameter values');
});

test('a code-shaped code is kept; a name or code that is not an identifier is replaced', async () => {
  const coded = await failureOf(Object.assign(new TypeError('x of alice'), { code: 'ERR_INVALID_ARG_TYPE' }));
  expect([coded.name, coded.message]).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE']);
  const odd = await failureOf(
    Object.assign(new Error('m'), { name: 'alice@example.com', code: 'bob smith' }),
  );
  expect([odd.name, odd.message]).toEqual(['Error', 'UNEXPECTED_ERROR']);
  const notAnError = await failureOf('alice@example.com');
  expect(reported(notAnError)).not.toContain('alice');
});

test('our typed errors pass unchanged, and transient failures still become TransientError', async () => {
  const contract = new ContractError('requestId is required');
  expect(await failureOf(contract)).toBe(contract);
  const reset = await failureOf(
    Object.assign(new Error('socket hang up at 10.0.0.1'), { code: 'ECONNRESET' }),
  );
  expect(reset).toBeInstanceOf(TransientError);
});
