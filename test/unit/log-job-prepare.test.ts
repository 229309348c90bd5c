/**
 * The log-erasure job's prepare step (functions/erase-logs/core.ts): it takes at most `maxSubjects`
 * queued erasures, oldest first, and leaves the rest queued for the next job. What the job does with
 * them on the local stores: test/integration/log-erasure-job.test.ts.
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

test('takes at most maxSubjects queued erasures, oldest first; the rest stay queued for the next job', async () => {
  const queue = [1, 2, 3].map(queued);
  const staged = new Map<string, unknown>();
  const lookedUp: number[] = [];
  const removed: string[] = [];
  const deps: EraseLogsDeps = {
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
      maxSubjects: 2,
    },
    requests: {
      get: async (requestId) =>
        ({
          status: 'partially_completed',
          resolvedSubject: {
            identifiers: {
              userIds: [`u-${requestId}`],
              deviceIds: [],
              emails: [],
              phones: [],
              externalAccounts: [],
            },
          },
        }) as unknown as RequestRecord,
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
      lock: async () => undefined,
      unlock: unused,
      recordTallies: unused,
      tallies: unused,
    },
    index: {
      objectsForAll: async (_s3, _bucket, _prefix, ids) => {
        lookedUp.push(ids.length);
        return ['access/dt=2026-12-01/part-00000.jsonl.gz'];
      },
      forget: unused,
      mergeDaysOf: unused,
    },
    vault: { put: unused },
    starter: { start: unused },
  };

  const out = (await eraseLogs(deps, { operation: 'prepare', jobId: 'job-cap' })) as PrepareOutput;

  expect(out.requestIds).toEqual([queue[0]?.requestId, queue[1]?.requestId]);
  expect(out.subjects).toBe(2);
  // Only the two taken are looked up in the index and staged; the third is neither taken nor dequeued.
  expect(lookedUp).toEqual([2]);
  expect((staged.get(out.subjectsKey) as { requestId: string }[]).map((s) => s.requestId)).toEqual(
    out.requestIds,
  );
  expect(removed).toEqual([]);
});
