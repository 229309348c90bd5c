/**
 * The watchdog's decisions over a stand-in Step Functions (the real one runs in the crash-restart
 * integration test): never started → started under the run's name; ended outside the failure path →
 * re-driven as `-w<K>` with the same input; running → left alone; too many re-drives → failed once.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { runWatchdog, type ExecutionView, type WatchdogDeps } from '../../functions/watchdog/core';
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

test('leaves settled requests to the sweep', async () => {
  const t = setup([record('req_p', { type: 'erasure', status: 'partially_completed' })], {});
  expect((await runWatchdog(t.deps, NOW)).actions).toEqual([]);
  expect(t.started).toEqual([]);
});
