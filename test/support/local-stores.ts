/**
 * Real local stores for integration tests: DynamoDB Local (in memory) and the guarded s3rver in a fresh
 * temporary directory, on ports the system picks (port 0), with every table and bucket of the data map created.
 * `env` is what a handler needs to reach them (set it before importing modules that read config).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { defaultResourceEnv } from '../../config/data-map';
import { bootstrapResources } from '../../local/bootstrap';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startAll,
  startDynamoLocal,
  startS3Local,
  type RunningStore,
} from '../../local/stores';

export interface TestStores {
  ddbEndpoint: string;
  s3Endpoint: string;
  env: Record<string, string>;
  dynamo: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  s3: S3Client;
  /** Timings of the start, for reports. */
  timings: { dynamoStartMs: number; s3StartMs: number; bootstrapMs: number };
  stop(): Promise<void>;
}

async function startDynamo(): Promise<{ store: RunningStore; ms: number }> {
  const started = Date.now();
  const store = await startDynamoLocal({ port: 0 });
  return { store, ms: Date.now() - started };
}

export function localClients(ddbEndpoint: string, s3Endpoint: string) {
  const dynamo = new DynamoDBClient({
    endpoint: ddbEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const s3 = new S3Client({
    endpoint: s3Endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
  });
  return { dynamo, doc, s3 };
}

export async function startTestStores(options: { bootstrap?: boolean } = {}): Promise<TestStores> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dsr-stores-'));
  const stops: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const started = Date.now();
    let s3StartMs = 0;
    let dynamoStartMs = 0;
    const [s3Store, ddbStore] = await startAll([
      startS3Local({ port: 0, dataDir: path.join(dir, 's3') }).then((store) => {
        s3StartMs = Date.now() - started;
        return store;
      }),
      startDynamo().then(({ store, ms }) => {
        dynamoStartMs = ms;
        return store;
      }),
    ]);
    stops.push(
      () => s3Store.stop(),
      () => ddbStore.stop(),
    );

    const clients = localClients(ddbStore.endpoint, s3Store.endpoint);
    stops.push(async () => {
      clients.dynamo.destroy();
      clients.s3.destroy();
    });
    const bootstrapStarted = Date.now();
    if (options.bootstrap !== false) await bootstrapResources({ dynamo: clients.dynamo, s3: clients.s3 });
    const bootstrapMs = Date.now() - bootstrapStarted;

    return {
      ddbEndpoint: ddbStore.endpoint,
      s3Endpoint: s3Store.endpoint,
      env: {
        AWS_ENDPOINT_URL_DYNAMODB: ddbStore.endpoint,
        AWS_ENDPOINT_URL_S3: s3Store.endpoint,
        AWS_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        ...defaultResourceEnv(),
      },
      ...clients,
      timings: { dynamoStartMs, s3StartMs, bootstrapMs },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
