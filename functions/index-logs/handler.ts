/**
 * The log indexer Lambda (core.ts): invoked by S3 "Object Created" events through EventBridge, by the
 * backfill state machine's Distributed Map, and on a schedule. The local stack and `npm run index-logs`
 * run the same core with `indexerDeps()`.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { ENV, platformStores } from '../../config/data-map';
import { s3Client } from '../lib/aws/clients';
import { subjectHasherFromEnv } from '../lib/crypto/subject-hash';
import { logIndexStoreFromEnv } from '../lib/logs/index-from-env';
import { lazyIndexHasher } from '../lib/logs/index-hash';
import { classifyAwsError } from '../lib/runtime/errors';
import { intEnv, requireEnv } from '../lib/runtime/config';
import { errorFields, log } from '../lib/runtime/logger';
import { handleIndexLogsEvent, type IndexLogsDeps, type IndexLogsEvent, type IndexLogsResult } from './core';

/** Env names of the indexer's settings (infra/constructs/task-functions.ts sets them). */
export const INDEX_LOGS_ENV = {
  openDays: 'LOG_INDEX_OPEN_DAYS',
  concurrency: 'LOG_INDEX_CONCURRENCY',
} as const;

export function indexerDeps(env: NodeJS.ProcessEnv = process.env): IndexLogsDeps {
  return {
    s3: s3Client(),
    store: logIndexStoreFromEnv(env),
    hasher: lazyIndexHasher(() => subjectHasherFromEnv(env)),
    config: {
      bucket: requireEnv(ENV.logsBucket, env),
      sources: [
        { prefix: platformStores.logs.accessPrefix, kind: 'access' },
        { prefix: platformStores.logs.voiceSessionsPrefix, kind: 'voice-sessions' },
      ],
      concurrency: intEnv(INDEX_LOGS_ENV.concurrency, 4, env),
      openDays: intEnv(INDEX_LOGS_ENV.openDays, 2, env),
    },
  };
}

const deps = indexerDeps();
const stagingBucket = requireEnv(ENV.stagingBucket);

export const handler = middy<IndexLogsEvent, IndexLogsResult, Error, Context>().handler(
  async (event, context) => {
    const started = Date.now();
    try {
      const result = await handleIndexLogsEvent(deps, event, {
        remainingMs: () => context.getRemainingTimeInMillis(),
        stagingBucket,
      });
      const stats = 'indexed' in result ? result : undefined;
      log.info('index-logs done', {
        ms: Date.now() - started,
        objects: stats?.objects,
        indexed: stats?.indexed,
        unchanged: stats?.unchanged,
        entries: stats?.entries,
      });
      return result;
    } catch (error) {
      const classified = classifyAwsError(error);
      log.error('index-logs failed', errorFields(classified));
      throw classified;
    }
  },
);
