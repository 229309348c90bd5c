/**
 * The one wrapper every workflow task Lambda uses: a middy handler that runs a core function,
 * logs only the task name, request id and outcome, and rethrows typed errors (whose `name` the
 * state machine's Retry/Catch match on). Transient SDK failures are rethrown as TransientError.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { classifyAwsError } from './errors';
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
        const classified = classifyAwsError(error);
        log.error('task failed', { task: taskName, requestId: input.requestId, ...errorFields(classified) });
        throw classified;
      }
    });
}
