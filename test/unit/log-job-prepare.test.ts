/**
 * The log-erasure job's prepare step (functions/erase-logs/core.ts): it takes at most `maxSubjects`
 * queued erasures, oldest first, looks them up several at once but never touches one beyond the cap, and
 * leaves the rest queued for the job's next round (`more`). What the job does with them on the local
 * stores: test/integration/log-erasure-job.test.ts and log-erasure-rounds.test.ts.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { eraseLogs, type EraseLogsDeps, type PrepareOutput } from '../../functions/erase-logs/core';
import type { QueuedLogErasure } from '../../functions/lib/erasure/log-queue';
import type { RequestRecord } from '../../functions/lib/requests/records';
import { fakeClient } from '../support/fake-client';

const unused = () => {
  throw new Error('not used by prepare');
};

const queued = (n: number): QueuedLogErasure => ({
  requestId: `req_${String(n).padStart(32, '0')}`,
  subjectHash: `hash-${n}`,
  queuedAt: `2026-12-0${n}T00:00:00.000Z`,
  run: 1,
  categories: [{ category: 'access-log', action: 'delete', liveAction: 'delete' }],
});

/** A prepare over `queue` whose requests have the given statuses (default: waiting for the job). */
async function prepare(
  queue: QueuedLogErasure[],
  maxSubjects: number,
  statuses: Record<string, string> = {},
  executionStartedAt?: string,
) {
  const staged = new Map<string, unknown>();
  const read: string[] = [];
  const lookedUp: number[] = [];
  const removed: string[] = [];
  const locks: { jobId: string; until: string }[] = [];
  const deps: EraseLogsDeps = {
    clock: () => new Date('2026-12-03T12:00:00.000Z'),
    s3: fakeClient(S3Client, {
      send: async (command: unknown) => {
        if (!(command instanceof PutObjectCommand)) throw new Error('prepare only writes its staged files');
        staged.set(String(command.input.Key), JSON.parse(String(command.input.Body)));
        return {};
      },
    }),
    config: {
      logsBucket: 'logs',
      accessPrefix: 'access/',
      voiceSessionsPrefix: 'voice-sessions/',
      stagingBucket: 'staging',
      conditionalWrites: true,
      maxWriteAttempts: 5,
      concurrency: 4,
      maxSubjects,
    },
    requests: {
      get: async (requestId) => {
        read.push(requestId);
        return {
          status: statuses[requestId] ?? 'partially_completed',
          resolvedSubject: {
            identifiers: {
              userIds: [`u-${requestId}`],
              deviceIds: [],
              emails: [],
              phones: [],
              externalAccounts: [],
            },
          },
        } as unknown as RequestRecord;
      },
      update: unused,
    },
    events: { append: unused, appendOnce: unused },
    holds: { activeFor: async () => [] },
    hasher: { hash: async (value: string) => `h:${value}` },
    queue: {
      list: async () => queue,
      get: unused,
      remove: async (requestId) => {
        removed.push(requestId);
        return true;
      },
      carry: unused,
      lock: async (jobId, _at, until) => void locks.push({ jobId, until: until.toISOString() }),
      unlock: unused,
      recordTallies: unused,
      tallies: unused,
    },
    index: {
      objectsForAll: async (_s3, _bucket, _prefix, ids) => {
        lookedUp.push(ids.length);
        return ['access/dt=2026-12-01/part-00000.jsonl.gz'];
      },
      carryRewrites: unused,
    },
    vault: { put: unused },
    starter: { start: unused },
  };
  const out = (await eraseLogs(deps, {
    operation: 'prepare',
    jobId: 'job-cap',
    ...(executionStartedAt ? { executionStartedAt } : {}),
  })) as PrepareOutput;
  const subjects = (staged.get(out.subjectsKey) as { requestId: string }[]).map((s) => s.requestId);
  return { out, subjects, read, lookedUp, removed, locks };
}

test('takes at most maxSubjects queued erasures, oldest first; the rest stay queued, untouched', async () => {
  const queue = Array.from({ length: 12 }, (_, n) => queued(n + 1));
  const { out, subjects, read, lookedUp, removed } = await prepare(queue, 2);
  const ids = queue.map((q) => q.requestId);
  expect(out.requestIds).toEqual(ids.slice(0, 2));
  expect(out.subjects).toBe(2);
  expect(subjects).toEqual(out.requestIds);
  // Only the two taken are read, looked up in the index and staged; the others are neither read nor dequeued.
  expect(read.sort()).toEqual(ids.slice(0, 2));
  expect(lookedUp).toEqual([2]);
  expect(removed).toEqual([]);
  // The state machine runs another round for the rest.
  expect(out.more).toBe(true);
});

test('an erasure it leaves makes room for the next: the cap counts those taken, in queue order', async () => {
  const queue = Array.from({ length: 12 }, (_, n) => queued(n + 1));
  const ids = queue.map((q) => q.requestId);
  const { out, read, removed } = await prepare(queue, 9, {
    [ids[0]!]: 'completed',
    [ids[3]!]: 'in_progress',
  });
  // Completed: off the queue; in progress: left there (it queues again when its run ends).
  expect(removed).toEqual([ids[0]]);
  expect(out.requestIds).toEqual([...ids.slice(1, 3), ...ids.slice(4, 11)]);
  // Read in windows no larger than the room left: nothing past the ninth taken.
  expect(read.sort()).toEqual(ids.slice(0, 11));
  expect(out.more).toBe(true);
});

test('no further round once every queued erasure was looked at, even at the cap', async () => {
  const queue = Array.from({ length: 4 }, (_, n) => queued(n + 1));
  expect((await prepare(queue, 4)).out.more).toBe(false);
  // One left as it runs (in progress) does not make another round: the next scheduled job takes it.
  const ids = queue.map((q) => q.requestId);
  expect((await prepare(queue, 3, { [ids[1]!]: 'in_progress' })).out.more).toBe(false);
});

test("a round's job lock ends with its execution, however late in it the round starts", async () => {
  // Alone (no execution start given): six hours from now.
  expect((await prepare([queued(1)], 10)).locks).toEqual([
    { jobId: 'job-cap', until: '2026-12-03T18:00:00.000Z' },
  ]);
  // A later round, five hours into its execution: one hour left, not six.
  expect((await prepare([queued(1)], 10, {}, '2026-12-03T07:00:00.000Z')).locks).toEqual([
    { jobId: 'job-cap', until: '2026-12-03T13:00:00.000Z' },
  ]);
  await expect(prepare([queued(1)], 10, {}, 'yesterday')).rejects.toThrow('executionStartedAt');
});
