/**
 * A request waiting for its identity verification or its fee has no workflow by design: the watchdog
 * must not take it for lost (start it, re-drive it or fail it), while a `received` one that never
 * started is still started.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { runWatchdog, type WorkflowControl } from '../../functions/watchdog/core';
import type { RequestRecord, RequestStatus } from '../../functions/lib/requests/records';
import { fakeClient } from '../support/fake-client';

const old = '2026-01-01T00:00:00.000Z';
const record = (id: string, status: RequestStatus): RequestRecord => ({
  requestId: id,
  type: 'export',
  status,
  createdAt: old,
  updatedAt: old,
  subjectHash: 'h',
});

test('waiting requests are left alone; a received one that never started is started', async () => {
  const records = new Map<string, RequestRecord>([
    ['req_a', record('req_a', 'awaiting_verification')],
    ['req_b', record('req_b', 'awaiting_payment')],
    ['req_c', record('req_c', 'received')],
  ]);
  const started: string[] = [];
  const failed: string[] = [];
  const workflows: WorkflowControl = {
    describe: () => Promise.resolve(undefined),
    start: (_type, name) => {
      started.push(name);
      return Promise.resolve(true);
    },
  };
  const report = await runWatchdog(
    {
      requests: {
        openRequestIds: () => Promise.resolve([...records.keys()]),
        get: (id: string) => Promise.resolve(records.get(id)),
        fail: (id: string) => {
          failed.push(id);
          return Promise.resolve(true);
        },
      },
      workflows,
      s3: fakeClient(S3Client, {
        send: () => Promise.resolve({ Contents: [] }),
      }),
      stagingBucket: 'staging',
      graceMs: 1000,
      maxRedrives: 2,
    },
    new Date('2026-02-01T00:00:00.000Z'),
  );
  expect(report.checked).toBe(3);
  expect(started).toEqual(['req_c']);
  expect(failed).toEqual([]);
});
