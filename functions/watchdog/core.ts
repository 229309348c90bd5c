/**
 * The watchdog (an EventBridge schedule in AWS; at start and periodically in the local stack) re-drives
 * what was lost between the request store and Step Functions:
 * - a request stored but never started (StartExecution failed after the request was written);
 * - a request still open whose execution ended outside the failure path (failed, timed out, aborted,
 *   or, locally, killed with the stack) or no longer exists, including a resumed erasure run.
 * Each is started again under a deterministic name (`<run's name>` if none exists, else
 * `<run's name>-w<K>`), so two watchdogs, or a watchdog and the API, never start it twice. Once
 * `maxRedrives` re-drives have also ended, the request is recorded failed through the one failure path
 * (status and event in one transaction) and its staging removed.
 *
 * What counts against that cap is an execution that ended by itself (FAILED, TIMED_OUT) or that someone
 * stopped (ABORTED in AWS means a StopExecution call: an operator's decision, so it counts). An execution
 * lost because the runner under it died (the local stack killed: its journal reads it back as ABORTED
 * with the error `RUNNER_CRASHED`) says nothing about the request: it is re-driven without counting, or
 * a few crashes in a row would fail requests that never failed.
 *
 * It also removes what finished requests left staged (a crash between their last status and their
 * CleanUpStaging step): nothing a request staged outlives it.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { deleteUnder, listPages, stagingKeys } from '../lib/aws/s3-objects';
import { resumedExecutionName } from '../lib/erasure/certificate';
import type { RequestRecord, RequestType } from '../lib/requests/records';
import { isRequestId } from '../lib/requests/request-id';
import type { RequestRepository } from '../lib/requests/requests';
import { errorFields, log } from '../lib/runtime/logger';

/** What the watchdog needs of an execution. */
export interface ExecutionView {
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
  /** The execution's input (JSON), to start a re-drive with the same. */
  input?: string;
  /** The error it ended with (DescribeExecution's `error`). */
  error?: string;
}

/**
 * The error of an execution that died with the process running it (the local stack's journal, after a
 * kill): not the request's failure, and not a name StopExecution callers or Step Functions use.
 */
export const RUNNER_CRASHED = 'Dsr.RunnerCrashed';

/** Whether an ended execution counts against the re-drive cap (see the header). */
export function countsAgainstCap(execution: ExecutionView): boolean {
  return !(execution.status === 'ABORTED' && execution.error === RUNNER_CRASHED);
}

export interface WorkflowControl {
  /** The execution of that name of the type's state machine, or undefined when there is none. */
  describe(type: RequestType, name: string): Promise<ExecutionView | undefined>;
  /** Starts one; false when an execution of that name exists already. */
  start(type: RequestType, name: string, input: string): Promise<boolean>;
}

export interface WatchdogDeps {
  requests: Pick<RequestRepository, 'openRequestIds' | 'get' | 'fail'>;
  workflows: WorkflowControl;
  s3: S3Client;
  stagingBucket: string;
  /** A request younger than this (since its last change) is left alone: its start may be under way. */
  graceMs: number;
  /** Re-drives of one run before the request is recorded failed. */
  maxRedrives: number;
}

export type WatchdogAction = 'started' | 'redriven' | 'failed';

export interface WatchdogReport {
  checked: number;
  actions: { requestId: string; action: WatchdogAction; execution?: string }[];
  /** Staged objects removed of requests that had finished. */
  stagingRemoved: number;
}

/** Statuses a workflow must be running for. */
const OPEN: readonly string[] = ['received', 'in_progress'];
/** Statuses whose staging no step will read again (a resumed run stages its own). */
const SETTLED: readonly string[] = ['completed', 'failed', 'cancelled', 'partially_completed'];

/** The run a request's workflow is on, its execution's name, and the input it is started with. */
function currentRun(record: RequestRecord, now: Date): { name: string; input: Record<string, string> } {
  const base = { requestId: record.requestId };
  if (record.type !== 'erasure' || record.status === 'received')
    return { name: record.requestId, input: base };
  const runs = record.erasureRuns ?? [];
  const last = runs.reduce<(typeof runs)[number] | undefined>(
    (latest, r) => (!latest || r.run > latest.run ? r : latest),
    undefined,
  );
  // in_progress with every recorded run finished: a resumed run that has not planned yet.
  const run = !last ? 0 : last.finishedAt ? last.run + 1 : last.run;
  if (run === 0) return { name: record.requestId, input: base };
  const asOf = last && !last.finishedAt ? last.asOf : now.toISOString();
  return { name: resumedExecutionName(record.requestId, run), input: { ...base, asOf } };
}

const redriveName = (name: string, attempt: number) => (attempt === 0 ? name : `${name}-w${attempt}`);

async function watchRequest(
  deps: WatchdogDeps,
  record: RequestRecord,
  now: Date,
  report: WatchdogReport,
): Promise<void> {
  if (!OPEN.includes(record.status)) return;
  if (now.getTime() - Date.parse(record.updatedAt) < deps.graceMs) return;
  const run = currentRun(record, now);
  // The latest attempt of this run (the run's own execution, then its re-drives), and how many of the
  // attempts ended in a way that counts against the cap.
  let attempt = 0;
  let counted = 0;
  let latest: ExecutionView | undefined;
  for (; counted <= deps.maxRedrives; attempt++) {
    const found = await deps.workflows.describe(record.type, redriveName(run.name, attempt));
    if (!found) break;
    latest = found;
    // A running attempt is the latest: no re-drive starts while one runs.
    if (found.status === 'RUNNING' || found.status === 'PENDING_REDRIVE') break;
    if (countsAgainstCap(found)) counted++;
  }
  if (latest?.status === 'RUNNING' || latest?.status === 'PENDING_REDRIVE') return;
  const input = latest?.input ?? JSON.stringify(run.input);
  if (!latest) {
    // Never started, or gone (a local stack killed with it): start the run under its own name.
    if (await deps.workflows.start(record.type, run.name, input))
      report.actions.push({ requestId: record.requestId, action: 'started', execution: run.name });
    return;
  }
  // Ended while the request is still open: outside the failure path, which would have closed it.
  if (counted <= deps.maxRedrives) {
    const name = redriveName(run.name, attempt);
    if (await deps.workflows.start(record.type, name, input))
      report.actions.push({ requestId: record.requestId, action: 'redriven', execution: name });
    return;
  }
  if (await deps.requests.fail(record.requestId, { code: 'WORKFLOW_LOST' }, 'watchdog')) {
    report.actions.push({ requestId: record.requestId, action: 'failed' });
  }
  report.stagingRemoved += await deleteUnder(
    deps.s3,
    deps.stagingBucket,
    stagingKeys.prefix(record.requestId),
  );
}

/** Request ids with objects under the staging bucket's `requests/` prefix, with their oldest object's time. */
async function stagedRequestIds(deps: WatchdogDeps): Promise<Map<string, Date>> {
  const oldest = new Map<string, Date>();
  for await (const page of listPages(deps.s3, deps.stagingBucket, 'requests/')) {
    for (const object of page) {
      const id = object.Key.split('/')[1] ?? '';
      if (!isRequestId(id)) continue;
      const at = object.LastModified ?? new Date(0);
      const known = oldest.get(id);
      if (!known || at < known) oldest.set(id, at);
    }
  }
  return oldest;
}

/**
 * Removes the staging of requests that have settled, keeping only objects written after the request's
 * last status change (a resumed run that started after the status was read).
 */
async function removeSettledStaging(deps: WatchdogDeps, now: Date, report: WatchdogReport): Promise<void> {
  for (const [requestId, oldest] of await stagedRequestIds(deps)) {
    if (now.getTime() - oldest.getTime() < deps.graceMs) continue;
    const record = await deps.requests.get(requestId);
    if (record && !SETTLED.includes(record.status)) continue;
    const settledAt = record ? Date.parse(record.updatedAt) : now.getTime();
    report.stagingRemoved += await deleteUnder(
      deps.s3,
      deps.stagingBucket,
      stagingKeys.prefix(requestId),
      (object) => (object.LastModified?.getTime() ?? 0) > settledAt,
    );
  }
}

export async function runWatchdog(deps: WatchdogDeps, now: Date): Promise<WatchdogReport> {
  const report: WatchdogReport = { checked: 0, actions: [], stagingRemoved: 0 };
  for (const requestId of await deps.requests.openRequestIds()) {
    report.checked++;
    try {
      const record = await deps.requests.get(requestId);
      if (record) await watchRequest(deps, record, now, report);
    } catch (error) {
      // One request's trouble must not stop the others; the next round tries again.
      log.error('watchdog failed for a request', { requestId, ...errorFields(error) });
    }
  }
  try {
    await removeSettledStaging(deps, now, report);
  } catch (error) {
    log.error('watchdog could not clean staging', errorFields(error));
  }
  return report;
}
