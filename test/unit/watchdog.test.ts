/**
 * The watchdog's decisions over a stand-in Step Functions (the real one runs in the crash-restart
 * integration test): never started → started under the run's name; ended outside the failure path →
 * re-driven as `-w<K>` with the same input; running → left alone; too many re-drives → failed once.
 */
import { S3Client } from '@aws-sdk/client-s3';
import {
  RUNNER_CRASHED,
  runWatchdog,
  type ExecutionView,
  type WatchdogDeps,
} from '../../functions/watchdog/core';
import type { RequestFailure, RequestRecord } from '../../functions/lib/requests/records';
import { fakeClient } from '../support/fake-client';

const NOW = new Date('2026-11-01T12:00:00.000Z');
const OLD = '2026-11-01T11:00:00.000Z';

function record(id: string, over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    requestId: id,
    type: 'export',
    status: 'in_progress',
    createdAt: OLD,
    updatedAt: OLD,
    subjectHash: 'h',
    subject: { userId: 'u' },
    ...over,
  };
}

function setup(records: RequestRecord[], executions: Record<string, ExecutionView>) {
  const started: { name: string; input: string }[] = [];
  const failed: { id: string; failure: RequestFailure }[] = [];
  const deps: WatchdogDeps = {
    requests: {
      openRequestIds: async () => records.map((r) => r.requestId),
      get: async (id: string) => records.find((r) => r.requestId === id),
      fail: async (id: string, failure: RequestFailure) => {
        failed.push({ id, failure });
        return true;
      },
    },
    workflows: {
      describe: async (_type, name) => executions[name],
      start: async (_type, name, input) => {
        if (executions[name]) return false;
        executions[name] = { status: 'RUNNING', input };
        started.push({ name, input });
        return true;
      },
    },
    // Empty staging: every listing answers no objects.
    s3: fakeClient(S3Client, { send: async () => ({ Contents: [] }), config: {} }),
    stagingBucket: 'staging',
    graceMs: 60_000,
    maxRedrives: 2,
  };
  return { deps, started, failed };
}

test('starts a stored request that never started, under its own name, after the grace period', async () => {
  const t = setup(
    [
      record('req_a', { status: 'received' }),
      record('req_young', { status: 'received', updatedAt: '2026-11-01T11:59:30.000Z' }),
    ],
    {},
  );
  const report = await runWatchdog(t.deps, NOW);
  expect(t.started).toEqual([{ name: 'req_a', input: '{"requestId":"req_a"}' }]);
  expect(report.actions).toEqual([{ requestId: 'req_a', action: 'started', execution: 'req_a' }]);
  // A second round finds it running.
  expect((await runWatchdog(t.deps, NOW)).actions).toEqual([]);
});

test('re-drives an ended run with its input, leaves a running one, then fails it through the failure path', async () => {
  const input = '{"requestId":"req_e","asOf":"2026-10-01T00:00:00.000Z"}';
  const t = setup(
    [
      record('req_e', {
        type: 'erasure',
        erasureRuns: [
          { run: 0, executionName: 'req_e', startedAt: OLD, asOf: OLD, trigger: 'request', finishedAt: OLD },
        ],
      }),
      record('req_ok'),
    ],
    { 'req_e-r1': { status: 'ABORTED', input }, req_ok: { status: 'RUNNING' } },
  );
  await runWatchdog(t.deps, NOW);
  expect(t.started).toEqual([{ name: 'req_e-r1-w1', input }]);
  t.deps.workflows.describe = async (_type, name) =>
    name.startsWith('req_e') ? { status: 'FAILED', input } : { status: 'RUNNING' };
  await runWatchdog(t.deps, NOW);
  expect(t.started.map((s) => s.name)).toEqual(['req_e-r1-w1']);
  // Every attempt (the run's own and two re-drives) ended: the request is failed, once, not re-driven.
  expect(t.failed).toEqual([{ id: 'req_e', failure: { code: 'WORKFLOW_LOST' } }]);
});

test('executions lost with a crashed runner do not count against the cap; stopped and failed ones do', async () => {
  const input = '{"requestId":"req_c"}';
  const crashed: ExecutionView = { status: 'ABORTED', error: RUNNER_CRASHED, input };
  // Four crashes in a row (more than the cap of two re-drives): re-driven each time, never failed.
  const executions: Record<string, ExecutionView> = { req_c: crashed };
  const t = setup([record('req_c')], executions);
  for (let k = 1; k <= 4; k++) {
    await runWatchdog(t.deps, NOW);
    expect(t.started.at(-1)).toEqual({ name: `req_c-w${k}`, input });
    // The stack is killed again while the re-drive runs.
    executions[`req_c-w${k}`] = crashed;
  }
  expect(t.failed).toEqual([]);

  // Between the crashes, attempts that failed or that an operator stopped do count: the third such
  // attempt (the run's own and two re-drives' worth) fails the request.
  const history: Record<string, ExecutionView> = {
    req_d: crashed,
    'req_d-w1': { status: 'FAILED', error: 'States.TaskFailed', input },
    'req_d-w2': crashed,
    'req_d-w3': { status: 'ABORTED', input },
    'req_d-w4': crashed,
  };
  const u = setup([record('req_d')], history);
  await runWatchdog(u.deps, NOW);
  expect(u.started.map((s) => s.name)).toEqual(['req_d-w5']);
  history['req_d-w5'] = { status: 'TIMED_OUT', input };
  await runWatchdog(u.deps, NOW);
  expect(u.started.map((s) => s.name)).toEqual(['req_d-w5']);
  expect(u.failed).toEqual([{ id: 'req_d', failure: { code: 'WORKFLOW_LOST' } }]);
});

test('leaves settled requests to the sweep', async () => {
  const t = setup([record('req_p', { type: 'erasure', status: 'partially_completed' })], {});
  expect((await runWatchdog(t.deps, NOW)).actions).toEqual([]);
  expect(t.started).toEqual([]);
});
