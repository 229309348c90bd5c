/**
 * The log-erasure job's rewrite step (functions/erase-logs/core.ts, operation `rewrite`) run directly on
 * the local stores for one waiting subject: the object list given, the subject's categories staged as
 * the job's prepare step stages them, its identifier set as the request keeps it. The whole job, through
 * its state machine: test/integration/log-erasure-job.test.ts.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import {
  carryRewrites,
  eraseLogs,
  type EraseLogsDeps,
  type RewriteOutput,
} from '../../functions/erase-logs/core';
import {
  talliesByRequest,
  type LogErasureTallies,
  type ObjectTallies,
} from '../../functions/lib/erasure/log-queue';
import { putJson } from '../../functions/lib/aws/s3-objects';
import type { PlanEntryView, VaultWriter } from '../../functions/lib/connectors/contract';
import type { LogIndexReader } from '../../functions/lib/logs/subject-objects';
import type { RequestRecord } from '../../functions/lib/requests/records';

const unused = () => {
  throw new Error('not used by a rewrite');
};
let jobs = 0;

export interface LogJobTarget {
  s3: S3Client;
  logsBucket: string;
  accessPrefix: string;
  voiceSessionsPrefix: string;
  stagingBucket: string;
  vault: VaultWriter;
  /** The subject index, which the rewrites are carried over in as the job's finish does; none: not. */
  index?: Pick<LogIndexReader, 'carryRewrites'>;
}

/**
 * The job's dependencies for its rewrite step alone: the waiting subject's identifier set as the request
 * keeps it; what a rewrite never calls throws. `recordTallies` defaults to doing nothing (read by the
 * job's finish only, which a rewrite alone has not).
 */
export function rewriteDeps(parts: {
  s3: S3Client;
  config: EraseLogsDeps['config'];
  identifiers: { userIds: string[]; deviceIds: string[] };
  vault: VaultWriter;
  recordTallies?: EraseLogsDeps['queue']['recordTallies'];
}): EraseLogsDeps {
  const identifiers = { ...parts.identifiers, emails: [], phones: [], externalAccounts: [] };
  return {
    s3: parts.s3,
    config: parts.config,
    // The identifier set the erasure's first run keeps on the request.
    requests: {
      get: async () =>
        ({ status: 'partially_completed', resolvedSubject: { identifiers } }) as unknown as RequestRecord,
      update: unused,
    },
    events: { append: unused, appendOnce: unused },
    holds: { activeFor: unused },
    hasher: { hash: unused },
    queue: {
      list: unused,
      get: unused,
      remove: unused,
      carry: unused,
      lock: unused,
      unlock: unused,
      recordTallies: parts.recordTallies ?? (async () => undefined),
      tallies: unused,
    },
    index: { objectsForAll: unused, carryRewrites: unused },
    vault: parts.vault,
    starter: { start: unused },
  };
}

/**
 * The rewrite of `keys` for one subject, with what it removed per request (what the job's finish reads:
 * the objects' tallies records, the last one per object as the queue keeps it), carried over in the
 * target's index as the finish carries it.
 */
export async function rewriteForSubject(
  target: LogJobTarget,
  subject: { requestId: string; userIds: string[]; deviceIds: string[]; plan: readonly PlanEntryView[] },
  keys: readonly string[],
  now: Date,
): Promise<RewriteOutput & { subjects: Record<string, LogErasureTallies> }> {
  const categories = subject.plan
    .filter((e) => e.action === 'delete' || e.action === 'anonymise' || e.action === 'retain')
    .map(({ category, action, liveAction, rule }) => ({ category, action, liveAction, rule }));
  jobs += 1;
  const jobId = `test-${process.pid}-${jobs}`;
  const subjectsKey = `log-erasure-jobs/${jobId}/subjects.json`;
  await putJson(target.s3, { bucket: target.stagingBucket, key: subjectsKey }, [
    { requestId: subject.requestId, queuedAt: 'q', categories },
  ]);
  const deps = rewriteDeps({
    s3: target.s3,
    config: {
      logsBucket: target.logsBucket,
      accessPrefix: target.accessPrefix,
      voiceSessionsPrefix: target.voiceSessionsPrefix,
      stagingBucket: target.stagingBucket,
      // s3rver ignores If-Match: the local stack uses the HeadObject re-check.
      conditionalWrites: false,
      maxWriteAttempts: 5,
      concurrency: 4,
    },
    identifiers: { userIds: subject.userIds, deviceIds: subject.deviceIds },
    vault: target.vault,
    recordTallies: async (_jobId, record) => void records.set(record.key, record),
  });
  const records = new Map<string, ObjectTallies>();
  const out = (await eraseLogs(deps, {
    operation: 'rewrite',
    jobId,
    asOf: now.toISOString(),
    subjectsKey,
    objects: keys.map((key) => ({ key })),
  })) as RewriteOutput;
  const index = target.index;
  if (index) {
    const carrying = { ...deps.index, carryRewrites: index.carryRewrites.bind(index) };
    await carryRewrites({ ...deps, index: carrying }, [out], [...records.values()]);
  }
  return { ...out, subjects: talliesByRequest([...records.values()]) };
}
