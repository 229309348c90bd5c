/**
 * The logger keeps its rules over Powertools: a message and scalar fields only, the Lambda context on
 * every line inside a handler, never the event, and the level from LOG_LEVEL as the tests set it.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';

type LoggerModule = typeof import('../../functions/lib/runtime/logger');

/** A fresh copy of the module: its Powertools Logger is made on first use, from the environment then. */
function freshLogger(): LoggerModule {
  let loaded: LoggerModule | undefined;
  jest.isolateModules(() => {
    loaded = jest.requireActual<LoggerModule>('../../functions/lib/runtime/logger');
  });
  if (!loaded) throw new Error('logger module not loaded');
  return loaded;
}

/** What Powertools writes, one JSON line per entry, to stdout (info) and stderr (warn, error). */
function captureOutput() {
  const lines: Record<string, unknown>[] = [];
  const capture = (chunk: unknown) => {
    for (const line of String(chunk).split('\n').filter(Boolean))
      lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation(capture),
    jest.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  return { lines, restore: () => spies.forEach((spy) => spy.mockRestore()) };
}

const context = {
  awsRequestId: 'aws-request-1',
  functionName: 'dsr-request-status',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:dsr-request-status',
  memoryLimitInMB: '512',
} as Context;

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

test('inside a handler, each line carries the Lambda request id and function, never the event', async () => {
  process.env.LOG_LEVEL = 'info';
  process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';
  const { log, lambdaContextLogging } = freshLogger();
  const handler = middy<{ email: string }, void>()
    .use(lambdaContextLogging())
    .handler(async () => log.info('task succeeded', { task: 'request-status', ms: 3 }));
  const output = captureOutput();
  try {
    await handler({ email: 'alice@example.com' }, context);
  } finally {
    output.restore();
  }
  expect(output.lines).toHaveLength(1);
  expect(output.lines[0]).toMatchObject({
    level: 'INFO',
    message: 'task succeeded',
    task: 'request-status',
    ms: 3,
    function_request_id: 'aws-request-1',
    function_name: 'dsr-request-status',
    service: 'dsr-orchestrator',
  });
  expect(JSON.stringify(output.lines)).not.toContain('alice@example.com');
});

test('LOG_LEVEL=silent, in lower case and set after lines were logged, silences every level', () => {
  const { log } = freshLogger();
  const output = captureOutput();
  try {
    log.info('before');
    process.env.LOG_LEVEL = 'silent';
    log.info('a');
    log.warn('b');
    log.error('c');
  } finally {
    output.restore();
  }
  expect(output.lines.map((line) => line.message)).toEqual(['before']);
});

test('LOG_LEVEL=warn drops info lines and keeps warnings and errors', () => {
  process.env.LOG_LEVEL = 'warn';
  const { log } = freshLogger();
  const output = captureOutput();
  try {
    log.info('dropped');
    log.warn('kept', { count: 1 });
    log.error('kept too');
  } finally {
    output.restore();
  }
  expect(output.lines.map((line) => [line.level, line.message])).toEqual([
    ['WARN', 'kept'],
    ['ERROR', 'kept too'],
  ]);
});

test('errorFields gives the name and code of an error, never its message', () => {
  const { errorFields } = freshLogger();
  const error = Object.assign(new Error('no account for alice@example.com'), { code: 'NOT_FOUND' });
  expect(errorFields(error)).toEqual({ errorName: 'Error', errorCode: 'NOT_FOUND' });
  expect(errorFields('boom')).toEqual({ errorName: 'Error', errorCode: undefined });
});
