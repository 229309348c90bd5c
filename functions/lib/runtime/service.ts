/**
 * How the functions name themselves to Powertools (logs, metrics, traces). The stack sets these
 * variables on every function (infra/constructs/task-function.ts); the defaults serve the tests and
 * the local stack, where nothing sets them.
 */
import { optionalEnv } from './config';

export const POWERTOOLS_DEFAULTS = {
  serviceName: 'dsr-orchestrator',
  metricsNamespace: 'DsrOrchestrator',
} as const;

export function serviceName(): string {
  return optionalEnv('POWERTOOLS_SERVICE_NAME', POWERTOOLS_DEFAULTS.serviceName);
}

export function metricsNamespace(): string {
  return optionalEnv('POWERTOOLS_METRICS_NAMESPACE', POWERTOOLS_DEFAULTS.metricsNamespace);
}

/**
 * The Powertools environment of every function. Traces never hold a handler's response or an error's
 * message and stack (either can echo personal data); an error still marks its segment.
 */
export const POWERTOOLS_ENVIRONMENT: Readonly<Record<string, string>> = {
  POWERTOOLS_SERVICE_NAME: POWERTOOLS_DEFAULTS.serviceName,
  POWERTOOLS_METRICS_NAMESPACE: POWERTOOLS_DEFAULTS.metricsNamespace,
  POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
  POWERTOOLS_TRACER_CAPTURE_ERROR: 'false',
};
