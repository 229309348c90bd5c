/**
 * The one wrapper every workflow task Lambda uses: a middy handler that runs a core function,
 * logs only the task name, request id and outcome, and rethrows typed errors (whose `name` the
 * state machine's Retry/Catch match on). Transient SDK failures are rethrown as TransientError.
 * Any other error is rethrown as its name and a stable code only: what a task throws lands in the
 * execution history (error, cause, stack), and the message of an error we did not write can echo a
 * store's data (a DynamoDB ValidationException quotes the values it refused).
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { AppError, classifyAwsError } from './errors';
import { errorFields, log } from './logger';
import { observability } from './observability';

export function taskHandler<I extends { requestId?: string }, O>(
  taskName: string,
  core: (input: I) => Promise<O>,
): middy.MiddyfiedHandler<I, O, Error, Context> {
  return middy<I, O, Error, Context>()
    .use(observability())
    .handler(async (input) => {
      const started = Date.now();
      try {
        const output = await core(input);
        log.info('task succeeded', { task: taskName, requestId: input.requestId, ms: Date.now() - started });
        return output;
      } catch (error) {
        const reported = reportableError(classifyAwsError(error));
        log.error('task failed', { task: taskName, requestId: input.requestId, ...errorFields(reported) });
        throw reported;
      }
    });
}

/** An error we did not write, as the execution history may see it: its name and a stable code. */
export class UnexpectedTaskError extends Error {
  readonly code: string;

  constructor(name: string, code: string) {
    super(code);
    this.name = name;
    this.code = code;
    // The runtime reports the stack too; its first line would be the original message.
    this.stack = `${name}: ${code}`;
  }
}

const SAFE_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/;
const SAFE_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Our typed errors as they are (their messages are written not to hold personal data); others reduced. */
export function reportableError(error: unknown): Error {
  if (error instanceof AppError) return error;
  const { name, code } = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
  };
  return new UnexpectedTaskError(
    typeof name === 'string' && SAFE_NAME.test(name) ? name : 'Error',
    typeof code === 'string' && SAFE_CODE.test(code) ? code : 'UNEXPECTED_ERROR',
  );
}
