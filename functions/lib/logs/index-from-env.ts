/**
 * The log index as the handlers reach it (docs/log-index.md): its bucket and table, and the logs bucket
 * it follows, from the environment the stack sets; the index hasher derived once per process.
 */
import { ENV } from '../../../config/data-map';
import { documentClient, s3Client } from '../aws/clients';
import { subjectHasherFromEnv } from '../crypto/subject-hash';
import { requireEnv } from '../runtime/config';
import { lazyIndexHasher } from './index-hash';
import { LogIndexStore } from './index-store';
import { LogIndexReader } from './subject-objects';

export function logIndexStoreFromEnv(env: NodeJS.ProcessEnv = process.env): LogIndexStore {
  return new LogIndexStore(s3Client(), documentClient(), {
    bucket: requireEnv(ENV.logIndexBucket, env),
    table: requireEnv(ENV.logIndexTable, env),
    logsBucket: requireEnv(ENV.logsBucket, env),
  });
}

export function logIndexReaderFromEnv(env: NodeJS.ProcessEnv = process.env): LogIndexReader {
  return new LogIndexReader(
    logIndexStoreFromEnv(env),
    lazyIndexHasher(() => subjectHasherFromEnv(env)),
  );
}
