/**
 * The batched log-erasure job for support (docs/erasure.md "Batched log erasure"): start it now rather
 * than wait for its schedule, and follow it. A job is a Step Functions execution of
 * statemachines/log-erasure.asl.json named by its job id; its result holds counts and request ids only.
 */
import { ApiError, json } from '../http';
import { notFound } from '../path-params';
import { defineRoute, type Route } from '../router';

/** Starts and describes log-erasure jobs (Step Functions in AWS, the local endpoint on the local stack). */
export interface LogErasureJobs {
  start(): Promise<{ jobId: string; startedAt: string }>;
  describe(jobId: string): Promise<LogErasureJobView | undefined>;
}

export interface LogErasureJobView {
  jobId: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
  startedAt: string;
  stoppedAt: string | null;
  /** What a finished job did: erasures, objects, lines removed and kept, erasures resumed. */
  result: Record<string, unknown> | null;
  /** The error name of a failed job (never its cause: it could echo data). */
  error: string | null;
}

function jobs(deps: { logErasureJobs?: LogErasureJobs }): LogErasureJobs {
  if (!deps.logErasureJobs)
    throw new ApiError(501, 'LOG_ERASURE_UNAVAILABLE', 'The log-erasure job is not deployed');
  return deps.logErasureJobs;
}

export const logErasureJobRoutes: Route[] = [
  defineRoute({
    method: 'POST',
    path: '/v1/log-erasure-jobs',
    operationId: 'startLogErasureJob',
    summary:
      'Starts the batched log-erasure job now: every erasure whose log lines wait for it (instead of waiting for its schedule)',
    access: ['support'],
    responses: { '202': '{jobId, status, startedAt, href}', '501': 'LOG_ERASURE_UNAVAILABLE' },
    handler: async (deps, { principal }) => {
      const started = await jobs(deps).start();
      await deps.audit.record({
        actor: principal.callerId,
        role: principal.roles.join(','),
        action: 'log-erasure-jobs.start',
        outcome: 202,
        detail: { jobId: started.jobId },
      });
      return json(202, {
        jobId: started.jobId,
        status: 'RUNNING',
        startedAt: started.startedAt,
        href: `/v1/log-erasure-jobs/${started.jobId}`,
      });
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/v1/log-erasure-jobs/{jobId}',
    operationId: 'getLogErasureJob',
    summary: 'A log-erasure job: its status and, once finished, what it did (counts and request ids)',
    access: ['support', 'auditor'],
    responses: {
      '200': '{jobId, status, startedAt, stoppedAt, result, error}',
      '404': 'LOG_ERASURE_JOB_NOT_FOUND',
    },
    handler: async (deps, { params }) => {
      const job = await jobs(deps).describe(params.jobId);
      if (!job) throw notFound('jobId');
      return json(200, job);
    },
  }),
];
