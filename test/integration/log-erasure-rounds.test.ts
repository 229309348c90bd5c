/**
 * A log-erasure job whose queue holds more erasures than a round takes drains it in rounds, within one
 * execution (statemachines/log-erasure.asl.json: MoreQueued, NextRound): here a round takes one erasure
 * (LOG_ERASURE_MAX_SUBJECTS=1) and two wait, with lines in one shared object. Each round is a job of its
 * own (its id, lock and staged files) that resumes its erasure; the execution's output sums the rounds.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { platformStores } from '../../config/data-map';
import type { FinishOutput } from '../../functions/erase-logs/core';
import { LogErasureQueue } from '../../functions/lib/erasure/log-queue';
import { requestTableFromEnv } from '../../functions/lib/requests/request-table';
import { startTestStack, type TestStack } from '../support/local-stack';

const LOGS = platformStores.logs;
const DAY = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
const SHARED = `${LOGS.accessPrefix}dt=${DAY}/rounds-0001.jsonl.gz`;
const USERS = ['u-round-1', 'u-round-2'];
/** Which erase-logs steps ran, with their job ids, in order; and what each finish reported. */
const steps: string[] = [];
const finished: FinishOutput[] = [];
let stack: TestStack;

const line = (userId: string, deviceId: string, hour: number) =>
  JSON.stringify({ ts: `${DAY}T${String(hour).padStart(2, '0')}:00:00.000Z`, userId, deviceId, path: '/r' });

async function sharedLines(): Promise<string[]> {
  const got = await stack.s3.send(new GetObjectCommand({ Bucket: LOGS.bucketName, Key: SHARED }));
  return gunzipSync(Buffer.from(await got.Body!.transformToByteArray()))
    .toString('utf8')
    .split('\n')
    .filter(Boolean);
}

beforeAll(async () => {
  process.env.LOG_ERASURE_MAX_SUBJECTS = '1';
  // No seeded stores: two accounts and one log object are all the job needs (and the stack starts fast).
  stack = await startTestStack({
    seed: false,
    workflows: {
      interceptor: async (fn, payload, invoke) => {
        const { operation, jobId } = (payload ?? {}) as { operation?: string; jobId?: string };
        if (fn !== 'dsr-erase-logs' || operation === 'rewrite') return invoke();
        steps.push(`${operation}:${jobId}`);
        const result = await invoke();
        if (operation === 'finish') finished.push(result as FinishOutput);
        return result;
      },
    },
  });
  const lines: string[] = [line('u-alice', 'dev-alice-phone', 1)];
  for (const [n, userId] of USERS.entries()) {
    await stack.doc.send(
      new PutCommand({
        TableName: platformStores.accounts.table.tableName,
        Item: {
          userId,
          service: 'klub-outside',
          email: `${userId}@example.com`,
          country: 'JP',
          locale: 'ja-JP',
          createdAt: '2025-01-02T03:04:05.000Z',
          status: 'active',
          devices: [{ deviceId: `dev-${userId}`, platform: 'ios', firstSeen: '2025-01-02' }],
        },
      }),
    );
    lines.push(line(userId, `dev-${userId}`, n + 2));
  }
  await stack.s3.send(
    new PutObjectCommand({
      Bucket: LOGS.bucketName,
      Key: SHARED,
      Body: gzipSync(lines.map((l) => `${l}\n`).join('')),
    }),
  );
  await stack.indexLogs();
}, 120_000);

afterAll(async () => {
  delete process.env.LOG_ERASURE_MAX_SUBJECTS;
  await stack?.stop();
});

test('a queue longer than a round takes is drained in rounds by one execution', async () => {
  const requestIds: string[] = [];
  for (const userId of USERS) {
    const created = await stack.call('POST', '/v1/requests', {
      body: { type: 'erasure', service: 'klub-outside', subject: { userId }, jurisdiction: 'JP' },
    });
    expect(created.status).toBe(202);
    requestIds.push(String(created.body.requestId));
  }
  for (const requestId of requestIds)
    expect((await stack.waitForStatus(requestId, ['partially_completed', 'failed'], 90_000)).status).toBe(
      'partially_completed',
    );
  expect((await sharedLines()).length).toBe(3);

  const job = await stack.runLogErasureJob('job-rounds');
  expect(job.status).toBe('SUCCEEDED');
  const output = JSON.parse(job.output ?? '{}') as FinishOutput;
  // Round 1 took one erasure and saw another queued; round 2 took it and left none.
  expect(output).toMatchObject({ jobId: 'job-rounds-r2', round: 2, more: false, requests: 1 });
  // The totals sum what each round's finish reported; the shared object was written once per round.
  const sum = (count: 'requests' | 'objects' | 'written' | 'retries' | 'removed' | 'vaulted') =>
    finished.reduce((n, round) => n + round[count], 0);
  expect(finished).toHaveLength(2);
  expect(output.totals).toEqual({
    rounds: 2,
    requests: 2,
    objects: sum('objects'),
    written: sum('written'),
    retries: sum('retries'),
    removed: sum('removed'),
    vaulted: sum('vaulted'),
  });
  expect(output.totals).toMatchObject({ objects: 2, written: 2, removed: 2 });
  expect(steps).toEqual([
    'prepare:job-rounds',
    'finish:job-rounds',
    'prepare:job-rounds-r2',
    'finish:job-rounds-r2',
  ]);
  // Both erasures resumed and certified, their lines gone, the other user's kept; the queue is empty.
  for (const requestId of requestIds)
    expect((await stack.waitForStatus(requestId, ['completed', 'failed'], 90_000)).status).toBe('completed');
  expect((await sharedLines()).map((l) => (JSON.parse(l) as { userId: string }).userId)).toEqual(['u-alice']);
  expect(await new LogErasureQueue(requestTableFromEnv()).list()).toEqual([]);
}, 240_000);
