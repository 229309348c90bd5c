/**
 * The one logger: a thin module over a Powertools Logger. It takes a message and a few named scalar,
 * non-personal fields; it has no way to log an object or a whole event, and callers pass request ids
 * and counts, never identifiers of people. Powertools adds the level, time and service and, within a
 * handler that uses `lambdaContextLogging()`, the Lambda request id, function name and cold start.
 *
 * The level comes from POWERTOOLS_LOG_LEVEL or LOG_LEVEL (trace, debug, info, warn, error, critical
 * or silent, in either case; info when unset), as they are when a line is logged: tests and the local
 * stack set them after this module is loaded.
 */
import { Logger, LogLevel } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { LogLevel as Level } from '@aws-lambda-powertools/logger/types';
import type middy from '@middy/core';
import { serviceName } from './service';

type Field = string | number | boolean | null | undefined;
type Fields = Record<string, Field>;

/** Powertools reads the same variables, but only in upper case: ours have always said `silent`. */
function configuredLevel(): Level | undefined {
  const wanted = (process.env.POWERTOOLS_LOG_LEVEL || process.env.LOG_LEVEL || '').toUpperCase();
  return Object.values(LogLevel).find((level) => level === wanted);
}

let instance: Logger | undefined;
let appliedLevel: Level | undefined;

function logger(): Logger {
  const level = configuredLevel() ?? LogLevel.INFO;
  if (!instance) instance = new Logger({ serviceName: serviceName(), logLevel: level });
  else if (level !== appliedLevel) instance.setLogLevel(level);
  appliedLevel = level;
  return instance;
}

export const log = {
  info: (message: string, fields: Fields = {}) => logger().info(message, fields),
  warn: (message: string, fields: Fields = {}) => logger().warn(message, fields),
  error: (message: string, fields: Fields = {}) => logger().error(message, fields),
};

/** The name and code of an error, never its message or stack (which can echo data). */
export function errorFields(error: unknown): Fields {
  const err = error as { name?: unknown; code?: unknown };
  return {
    errorName: typeof err?.name === 'string' ? err.name : 'Error',
    errorCode: typeof err?.code === 'string' ? err.code : undefined,
  };
}

/**
 * Adds the invocation's Lambda context to every line logged while it runs. The event itself is never
 * logged, whatever POWERTOOLS_LOGGER_LOG_EVENT says.
 */
export function lambdaContextLogging(): middy.MiddlewareObj {
  return injectLambdaContext(logger(), { logEvent: false });
}
