/**
 * The subject index of the logs on real local stores, for tests: the indexer's deps and the connector's
 * reader over DynamoDB Local and s3rver, each test under log prefixes of its own (so tests and property
 * runs never see each other's objects, entries or watermarks).
 */
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { orchestratorResources, platformStores } from '../../config/data-map';
import type { IndexLogsDeps } from '../../functions/index-logs/core';
import type { LogsConfig } from '../../functions/connectors/logs/config';
import { LogIndexHasher } from '../../functions/lib/logs/index-hash';
import { LogIndexStore } from '../../functions/lib/logs/index-store';
import { LogIndexReader } from '../../functions/lib/logs/subject-objects';
import { startTestStores, type TestStores } from './local-stores';

export const LOGS_BUCKET = platformStores.logs.bucketName;
export const TEST_INDEX_HASHER = new LogIndexHasher(Buffer.alloc(32, 7));

export interface TestLogIndex {
  config: LogsConfig;
  deps: IndexLogsDeps;
  store: LogIndexStore;
  reader: LogIndexReader;
  /** Writes an object of JSON lines (gzip when the key ends in .gz); returns its ETag. */
  put(key: string, lines: readonly (string | object)[], eol?: string): Promise<string>;
}

let runs = 0;

/** The log index in the local stores' bucket and table (the orchestrator's own, as the stack makes them). */
export function localLogIndexStore(stores: Pick<TestStores, 's3' | 'doc'>): LogIndexStore {
  return new LogIndexStore(stores.s3, stores.doc, {
    bucket: orchestratorResources.logIndexBucket,
    table: orchestratorResources.logIndexTable.tableName,
    logsBucket: LOGS_BUCKET,
  });
}

export function testLogIndex(
  stores: TestStores,
  options: { now?: Date; openDays?: number } = {},
): TestLogIndex {
  runs += 1;
  const root = `t${process.pid}-${runs}-${Date.now()}/`;
  const config: LogsConfig = {
    bucket: LOGS_BUCKET,
    accessPrefix: `${root}access/`,
    voiceSessionsPrefix: `${root}voice-sessions/`,
  };
  const store = localLogIndexStore(stores);
  const hasher = async () => TEST_INDEX_HASHER;
  const deps: IndexLogsDeps = {
    s3: stores.s3,
    store,
    hasher,
    config: {
      bucket: LOGS_BUCKET,
      sources: [
        { prefix: config.accessPrefix, kind: 'access' },
        { prefix: config.voiceSessionsPrefix, kind: 'voice-sessions' },
      ],
      concurrency: 4,
      openDays: options.openDays ?? 2,
    },
    clock: () => options.now ?? new Date(),
  };
  const put: TestLogIndex['put'] = async (key, lines, eol = '\n') => {
    const text = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join(eol) + eol;
    const body = key.endsWith('.gz') ? gzipSync(Buffer.from(text, 'utf8')) : Buffer.from(text, 'utf8');
    const out = await stores.s3.send(new PutObjectCommand({ Bucket: LOGS_BUCKET, Key: key, Body: body }));
    return out.ETag ?? '';
  };
  return { config, deps, store, reader: new LogIndexReader(store, hasher), put };
}

/** Starts the local stores before the file's tests and stops them after; `stores` is there in between. */
export function useLocalStores(): { readonly stores: TestStores } {
  let started: TestStores | undefined;
  beforeAll(async () => {
    process.env.LOG_LEVEL = 'silent';
    started = await startTestStores();
  }, 120_000);
  afterAll(async () => {
    await started?.stop();
  });
  return {
    get stores(): TestStores {
      if (!started) throw new Error('The local stores have not started');
      return started;
    },
  };
}
