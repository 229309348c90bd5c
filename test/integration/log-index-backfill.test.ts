/**
 * The log index backfill (statemachines/log-index-backfill.asl.json) run by the local Step Functions over
 * the seeded demo logs: its Distributed Maps list the bucket (ItemReader), hand the indexer batches of
 * objects ({Items, BatchInput}) and write their results to staging (ResultWriter); the last step moves the
 * watermarks. A second run skips every object indexed at its ETag. The local runner carries out the
 * DISTRIBUTED maps as Step Functions does (local/distributed-map.ts), from the file CDK deploys.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { orchestratorResources, platformStores } from '../../config/data-map';
import { STATE_MACHINES } from '../../functions/lib/connectors/catalog';
import { createLogsConnector } from '../../functions/connectors/logs/core';
import { listDayObjectEntries } from '../../functions/lib/logs/day-objects';
import { LogIndexHasher } from '../../functions/lib/logs/index-hash';
import { normalEtag } from '../../functions/lib/logs/index-store';
import { localLogIndexStore } from '../support/log-index';
import { LogIndexReader } from '../../functions/lib/logs/subject-objects';
import { LocalSubjectHasher } from '../../functions/lib/crypto/subject-hash';
import { seedDemoData } from '../../local/seed';
import { LocalWorkflows } from '../../local/workflows';
import { fakeCollect } from '../support/fake-collect';
import { startTestStores, type TestStores } from '../support/local-stores';

const LOGS = platformStores.logs;
let stores: TestStores;
let workflows: LocalWorkflows;
let keyDir: string;
let aliceDevices: string[];

beforeAll(async () => {
  process.env.LOG_LEVEL = 'silent';
  stores = await startTestStores();
  keyDir = mkdtempSync(join(tmpdir(), 'dsr-keys-'));
  // What the indexer's handler reads when the local runner first imports it.
  Object.assign(process.env, stores.env, {
    SUBJECT_HASH_KEY_FILE: join(keyDir, 'subject-hash.key'),
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  });
  const seeded = await seedDemoData({ doc: stores.doc, s3: stores.s3 });
  aliceDevices = seeded.cases.alice.deviceIds;
  workflows = new LocalWorkflows();
}, 120_000);

afterAll(async () => {
  await workflows?.idle().catch(() => undefined);
  await stores?.stop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

async function backfill(name: string) {
  const execution = workflows.startExecution(
    workflows.arnOf(STATE_MACHINES.logIndexBackfill.localName),
    name,
    {},
  );
  await execution.done;
  return execution;
}

const store = () => localLogIndexStore(stores);

async function allLogObjects() {
  return [
    ...(await listDayObjectEntries(stores.s3, LOGS.bucketName, LOGS.accessPrefix)),
    ...(await listDayObjectEntries(stores.s3, LOGS.bucketName, LOGS.voiceSessionsPrefix)),
  ];
}

test('indexes every log object, writes the map results to staging, and moves the watermarks', async () => {
  const execution = await backfill('backfill-1');
  expect({ status: execution.status, error: execution.error }).toEqual({
    status: 'SUCCEEDED',
    error: undefined,
  });

  const objects = await allLogObjects();
  expect(objects.length).toBeGreaterThan(3);
  const indexed = await store().indexedVersions(objects);
  for (const object of objects)
    expect(indexed.get(object.key)).toEqual(new Set([normalEtag(object.etag ?? '')]));
  // The demo logs end a month before the clock: every partition is closed.
  expect(await store().watermark(LOGS.accessPrefix)).toBe(
    objects.filter((o) => o.key.startsWith(LOGS.accessPrefix)).pop()?.key,
  );
  const results = await stores.s3.send(
    new ListObjectsV2Command({ Bucket: orchestratorResources.stagingBucket, Prefix: 'log-index-backfill/' }),
  );
  expect(results.KeyCount ?? 0).toBeGreaterThan(0);

  // Through the index, the connector finds exactly what the full scan finds.
  const hasher = LocalSubjectHasher.fromFile(join(keyDir, 'subject-hash.key'));
  const reader = new LogIndexReader(store(), () => LogIndexHasher.derive(hasher));
  const config = {
    bucket: LOGS.bucketName,
    accessPrefix: LOGS.accessPrefix,
    voiceSessionsPrefix: LOGS.voiceSessionsPrefix,
  };
  const collect = async (withIndex: boolean) => {
    const fake = fakeCollect({ userIds: ['u-alice'], deviceIds: aliceDevices }, 'salt-0123456789abcdef');
    await createLogsConnector(stores.s3, config, withIndex ? reader : undefined).collect(fake.ctx);
    return JSON.stringify([...fake.collections]);
  };
  expect(await collect(true)).toEqual(await collect(false));
  const aliceObjects = await reader.objectsFor(stores.s3, LOGS.bucketName, LOGS.accessPrefix, {
    userIds: ['u-alice'],
    deviceIds: aliceDevices,
  });
  expect(aliceObjects.length).toBeGreaterThan(0);
  expect(aliceObjects.length).toBeLessThan(objects.length);
}, 300_000);

test('a second run skips every object already indexed at its ETag', async () => {
  // Every object file's version (S3 ETag of the file itself) and time: none is written again.
  const files = async () =>
    (await store().objectFilesUnder('')).map((file) => `${file.fileKey} ${file.modified}`).sort();
  const before = await files();
  expect(before.length).toBe((await allLogObjects()).length);
  const execution = await backfill('backfill-2');
  expect(execution.status).toBe('SUCCEEDED');
  expect(await files()).toEqual(before);
}, 300_000);
