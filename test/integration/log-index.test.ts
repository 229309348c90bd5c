/**
 * The log indexer's core (functions/index-logs/core.ts) and the index it keeps, on s3rver and DynamoDB
 * Local: object files by keyed hash, idempotent runs, changed objects, day files and the watermark, the
 * events it is invoked with, and the log-erasure job removing the subject from the index.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { orchestratorResources } from '../../config/data-map';
import {
  advanceWatermarks,
  handleIndexLogsEvent,
  indexObjects,
  LogObjectUnreadable,
} from '../../functions/index-logs/core';
import { rewriteForSubject } from '../support/log-job';
import { createLogsConnector } from '../../functions/connectors/logs/core';
import { listDayObjectEntries } from '../../functions/lib/logs/day-objects';
import { decodeDayFile, hashBytes } from '../../functions/lib/logs/index-files';
import { dayFileKey, LogIndexStore, spanFileKey } from '../../functions/lib/logs/index-store';
import { LOG_INDEX_VERSION } from '../../functions/lib/logs/index-hash';
import { fakeClient } from '../support/fake-client';
import { listPages } from '../../functions/lib/aws/s3-objects';
import type { ErasureContext, PlanEntryView } from '../../functions/lib/connectors/contract';
import { planEntriesFor } from '../support/erasure-plans';
import {
  LOGS_BUCKET,
  TEST_INDEX_HASHER,
  testLogIndex,
  useLocalStores,
  type TestLogIndex,
} from '../support/log-index';

const NOW = new Date('2026-11-01T12:00:00.000Z');
const local = useLocalStores();

/** An access-log line; the fields besides the ids do not matter to the index. */
const access = (userId: string | null, deviceId: string) => ({
  ts: '2026-10-30T10:00:00Z',
  userId,
  deviceId,
  ip: '192.0.2.1',
  path: '/worlds',
});
const session = (...userIds: string[]) => ({
  sessionId: `s-${userIds.join('-')}`,
  worldId: 'w-1',
  startedAt: '2026-10-30T20:00:00Z',
  endedAt: '2026-10-30T21:00:00Z',
  participants: userIds.map((userId) => ({ userId, ip: '198.51.100.1', joinedAt: '2026-10-30T20:00:00Z' })),
});

async function listed(index: TestLogIndex) {
  return [
    ...(await listDayObjectEntries(local.stores.s3, LOGS_BUCKET, index.config.accessPrefix)),
    ...(await listDayObjectEntries(local.stores.s3, LOGS_BUCKET, index.config.voiceSessionsPrefix)),
  ];
}

const accessFor = (index: TestLogIndex, userIds: string[], deviceIds: string[] = []) =>
  index.reader.objectsFor(local.stores.s3, LOGS_BUCKET, index.config.accessPrefix, { userIds, deviceIds });
const voiceFor = (index: TestLogIndex, userIds: string[]) =>
  index.reader.objectsFor(local.stores.s3, LOGS_BUCKET, index.config.voiceSessionsPrefix, {
    userIds,
    deviceIds: [],
  });

/** Where the log-erasure job's rewrite runs in these tests: nothing is retained by their clock. */
const rewriteTarget = (index: TestLogIndex) => ({
  s3: local.stores.s3,
  logsBucket: index.config.bucket,
  accessPrefix: index.config.accessPrefix,
  voiceSessionsPrefix: index.config.voiceSessionsPrefix,
  stagingBucket: orchestratorResources.stagingBucket,
  vault: { put: async () => Promise.reject(new Error('nothing is retained by this clock')) },
  index: index.reader,
});

/** Where the index's files are (under its hash's version). */
const [OBJECTS, DAYS, SPANS] = ['objects/', 'days/', 'spans/'].map(
  (top) => `${LOG_INDEX_VERSION}/${top}`,
) as [string, string, string];

/** Every index file of this test's objects: its key, when it was written, and its bytes. */
async function filesOf(index: TestLogIndex) {
  const root = index.config.accessPrefix.slice(0, index.config.accessPrefix.indexOf('/') + 1);
  const files: { key: string; modified?: number; body: Buffer }[] = [];
  for (const top of [OBJECTS, DAYS, SPANS]) {
    for await (const page of listPages(
      local.stores.s3,
      orchestratorResources.logIndexBucket,
      `${top}${root}`,
    )) {
      for (const entry of page) {
        const got = await local.stores.s3.send(
          new GetObjectCommand({ Bucket: orchestratorResources.logIndexBucket, Key: entry.Key }),
        );
        const body = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
        files.push({ key: entry.Key, modified: entry.LastModified?.getTime(), body });
      }
    }
  }
  return files;
}

describe('indexing', () => {
  it('names each object under keyed hashes only: users, signed-out devices, voice participants', async () => {
    const index = testLogIndex(local.stores, { now: NOW });
    const a = `${index.config.accessPrefix}dt=2026-10-30/part-00000.jsonl.gz`;
    const b = `${index.config.accessPrefix}dt=2026-10-30/part-00001.jsonl.gz`;
    const v = `${index.config.voiceSessionsPrefix}dt=2026-10-30/part-00000.jsonl.gz`;
    await index.put(a, [access('u-alice', 'dev-shared'), access(null, 'dev-alice')]);
    await index.put(b, [access('u-bob', 'dev-shared'), access('u-bob', 'dev-bob')]);
    await index.put(v, [session('u-alice', 'u-carol')]);

    const stats = await indexObjects(index.deps, await listed(index));
    expect(stats).toMatchObject({ objects: 3, indexed: 3, unchanged: 0, lines: 5 });
    // u-alice, dev-alice; u-bob; u-alice, u-carol.
    expect(stats.entries).toBe(5);

    expect(await accessFor(index, ['u-alice'])).toEqual([a]);
    expect(await accessFor(index, [], ['dev-alice'])).toEqual([a]);
    // A device only ever used signed in names nobody: its lines are its users'.
    expect(await accessFor(index, [], ['dev-shared'])).toEqual([]);
    expect(await accessFor(index, ['u-bob'])).toEqual([b]);
    expect(await voiceFor(index, ['u-carol'])).toEqual([v]);
    expect(await voiceFor(index, ['u-dave'])).toEqual([]);

    // One object file each, and the closed day merged per prefix; no id in a key or a byte of them,
    // the keyed hashes in their bytes.
    const files = await filesOf(index);
    expect(files.map((f) => f.key).sort()).toEqual([
      dayFileKey(index.config.accessPrefix, '2026-10-30'),
      dayFileKey(index.config.voiceSessionsPrefix, '2026-10-30'),
      ...[a, b, v].map((key) => expect.stringMatching(new RegExp(`^${OBJECTS}${key}/[0-9a-f]+$`))),
    ]);
    const bytes = Buffer.concat(files.map((f) => Buffer.concat([Buffer.from(f.key), f.body])));
    for (const id of ['u-alice', 'u-bob', 'u-carol', 'dev-alice', 'dev-shared'])
      expect(bytes.includes(Buffer.from(id))).toBe(false);
    expect(bytes.includes(hashBytes(TEST_INDEX_HASHER.user('u-alice')))).toBe(true);
  });

  it('is idempotent: a second run over the same objects reads and writes nothing', async () => {
    const index = testLogIndex(local.stores, { now: NOW });
    const key = `${index.config.accessPrefix}dt=2026-10-30/part-00000.jsonl.gz`;
    await index.put(key, [access('u-alice', 'dev-1'), access(null, 'dev-2')]);
    await indexObjects(index.deps, await listed(index));
    const before = await filesOf(index);

    const again = await indexObjects(index.deps, await listed(index));
    expect(again).toMatchObject({ objects: 1, indexed: 0, unchanged: 1, entries: 0, bytes: 0 });
    // Without the listing's ETag (an S3 event may carry none), the object's record still matches.
    const event = await indexObjects(index.deps, [{ key }]);
    expect(event).toMatchObject({ indexed: 0, unchanged: 1, entries: 0 });
    expect(await filesOf(index)).toEqual(before);
  });

  it('indexes a changed object again and removes the file of the version gone', async () => {
    const index = testLogIndex(local.stores, { now: NOW });
    const key = `${index.config.accessPrefix}dt=2026-10-30/part-00000.jsonl.gz`;
    await index.put(key, [access('u-alice', 'dev-1'), access('u-bob', 'dev-2'), access(null, 'dev-3')]);
    await indexObjects(index.deps, await listed(index));

    await index.put(key, [access('u-alice', 'dev-1'), access('u-carol', 'dev-3')]);
    const stats = await indexObjects(index.deps, await listed(index));
    expect(stats).toMatchObject({ indexed: 1, entries: 2 });
    const [current] = await listed(index);
    expect((await filesOf(index)).map((f) => f.key)).toEqual([
      `${OBJECTS}${key}/${current?.etag?.replace(/"/g, '')}`,
      dayFileKey(index.config.accessPrefix, '2026-10-30'),
    ]);
    expect(await accessFor(index, ['u-alice'])).toEqual([key]);
    expect(await accessFor(index, ['u-carol'])).toEqual([key]);
    expect(await accessFor(index, ['u-bob'])).toEqual([]);
    expect(await accessFor(index, [], ['dev-3'])).toEqual([]);
  });

  it('skips an object gone since listing, and fails loudly on one that is not gzip', async () => {
    const index = testLogIndex(local.stores, { now: NOW });
    const gone = `${index.config.accessPrefix}dt=2026-10-30/part-00000.jsonl.gz`;
    await index.put(gone, [access('u-alice', 'dev-1')]);
    const objects = await listed(index);
    await local.stores.s3.send(new DeleteObjectCommand({ Bucket: LOGS_BUCKET, Key: gone }));
    expect(await indexObjects(index.deps, objects)).toMatchObject({ missing: 1, indexed: 0 });

    const corrupt = `${index.config.accessPrefix}dt=2026-10-30/part-00001.jsonl.gz`;
    await local.stores.s3.send(
      new PutObjectCommand({ Bucket: LOGS_BUCKET, Key: corrupt, Body: Buffer.from('not gzip at all') }),
    );
    await expect(indexObjects(index.deps, await listed(index))).rejects.toBeInstanceOf(LogObjectUnreadable);
  });
});

describe('watermark', () => {
  it('moves over closed partitions only; a request still reads what is after it and not indexed', async () => {
    // Open: 2026-10-31 and 2026-11-01 (today).
    const index = testLogIndex(local.stores, { now: NOW, openDays: 2 });
    const day = (d: string, n = 0) => `${index.config.accessPrefix}dt=${d}/part-0000${n}.jsonl.gz`;
    await index.put(day('2026-10-29'), [access('u-alice', 'dev-1')]);
    await index.put(day('2026-10-30'), [access('u-bob', 'dev-2')]);
    await index.put(day('2026-10-31'), [access('u-bob', 'dev-2')]);

    const [accessReport, voiceReport] = await advanceWatermarks(index.deps);
    expect(accessReport).toMatchObject({ watermark: day('2026-10-30'), stats: { indexed: 3 } });
    expect(voiceReport?.watermark).toBeUndefined();
    expect(await index.store.watermark(index.config.accessPrefix)).toBe(day('2026-10-30'));

    // New objects, not indexed yet: after the watermark, so every request reads them.
    await index.put(day('2026-10-31', 1), [access('u-carol', 'dev-3')]);
    await index.put(day('2026-11-01'), [access('u-carol', 'dev-3')]);
    expect(await accessFor(index, ['u-alice'])).toEqual([
      day('2026-10-29'),
      day('2026-10-31', 1),
      day('2026-11-01'),
    ]);
    // Once indexed, only the objects naming the subject are read.
    await advanceWatermarks(index.deps);
    expect(await accessFor(index, ['u-alice'])).toEqual([day('2026-10-29')]);
    expect(await accessFor(index, ['u-carol'])).toEqual([day('2026-10-31', 1), day('2026-11-01')]);
    // Changed after the watermark and not indexed again yet: read as it is now.
    await index.put(day('2026-11-01'), [access('u-alice', 'dev-1')]);
    expect(await accessFor(index, ['u-dave'])).toEqual([day('2026-11-01')]);
  });

  it('never moves back, and a run from the start finds an object that came late to a closed partition', async () => {
    const index = testLogIndex(local.stores, { now: NOW, openDays: 1 });
    const day = (d: string, n = 0) => `${index.config.accessPrefix}dt=${d}/part-0000${n}.jsonl.gz`;
    await index.put(day('2026-10-29'), [access('u-alice', 'dev-1')]);
    await index.put(day('2026-10-30'), [access('u-alice', 'dev-1')]);
    await advanceWatermarks(index.deps);
    await index.store.advanceWatermark(index.config.accessPrefix, day('2026-10-29'), NOW);
    expect(await index.store.watermark(index.config.accessPrefix)).toBe(day('2026-10-30'));

    await index.put(day('2026-10-29', 1), [access('u-late', 'dev-9')]);
    const [fromWatermark] = await advanceWatermarks(index.deps);
    expect(fromWatermark?.stats.indexed).toBe(0);
    const [fromStart] = await advanceWatermarks(index.deps, { fromStart: true });
    expect(fromStart).toMatchObject({ watermark: day('2026-10-30'), stats: { indexed: 1, unchanged: 2 } });
    expect(await accessFor(index, ['u-late'])).toEqual([day('2026-10-29', 1)]);
  });

  it('stops starting objects at the deadline and moves the watermark only over what it finished', async () => {
    const index = testLogIndex(local.stores, { now: NOW, openDays: 1 });
    await index.put(`${index.config.accessPrefix}dt=2026-10-29/part-00000.jsonl.gz`, [access('u-a', 'd')]);
    const [report] = await advanceWatermarks(index.deps, { deadline: Date.now() - 1 });
    expect(report).toMatchObject({ watermark: undefined, stats: { indexed: 0 } });
  });
});

describe('day files', () => {
  const crowd = (day: string, n: number) =>
    Array.from({ length: n }, (_, i) => access(`u-${day}-${i}`, `dev-${day}-${i}`));

  it('merges each closed day before the watermark passes it; requests read the day files', async () => {
    const index = testLogIndex(local.stores, { now: NOW, openDays: 2 });
    const day = (d: string, n = 0) => `${index.config.accessPrefix}dt=${d}/part-0000${n}.jsonl.gz`;
    await index.put(day('2026-10-27'), [...crowd('27', 150), access('u-alice', 'dev-1')]);
    await index.put(day('2026-10-28'), crowd('28a', 150));
    await index.put(day('2026-10-28', 1), [...crowd('28b', 150), access('u-alice', 'dev-1')]);
    await index.put(day('2026-10-29'), crowd('29', 150));
    await index.put(day('2026-10-31'), [access('u-alice', 'dev-1')]);

    const [report] = await advanceWatermarks(index.deps);
    expect(report).toMatchObject({ watermark: day('2026-10-29'), stats: { indexed: 5, daysMerged: 3 } });
    const files = await filesOf(index);
    const dayFiles = files.filter((f) => f.key.startsWith(DAYS));
    expect(dayFiles.map((f) => f.key)).toEqual(
      ['2026-10-27', '2026-10-28', '2026-10-29'].map((d) => dayFileKey(index.config.accessPrefix, d)),
    );
    // The closed days before the watermark's day in one span file: a request reads one file for them.
    expect(files.filter((f) => f.key.startsWith(SPANS)).map((f) => f.key)).toEqual([
      spanFileKey(index.config.accessPrefix, '2026-10-28'),
    ]);
    // 300 entries on 10-28: slotted, so a subject's slot is a small part of the file.
    expect(dayFiles[1]!.body.readUInt32BE(8)).toBeGreaterThan(2);
    expect(await accessFor(index, ['u-alice'])).toEqual([
      day('2026-10-27'),
      day('2026-10-28', 1),
      day('2026-10-31'),
    ]);
    expect(await accessFor(index, ['u-28a-7'])).toEqual([day('2026-10-28')]);
    expect(await accessFor(index, [], ['dev-27-149'])).toEqual([]);
    // A run with nothing new merges nothing again (once the span is a second newer than the day files:
    // S3 times are to the second, and a span no newer than a day file is merged again to be safe).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await advanceWatermarks(index.deps);
    const [again] = await advanceWatermarks(index.deps);
    expect(again?.stats).toMatchObject({ daysMerged: 0, spansMerged: 0 });
    // A late object in a spanned day: its day merged again at once, read beside the span until the next
    // run merges the span again.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const late = day('2026-10-27', 1);
    await index.put(late, [access('u-late', 'dev-8')]);
    const [{ key: lateKey, etag } = { key: '', etag: '' }] = (await listed(index)).filter(
      (o) => o.key === late,
    );
    expect(await indexObjects(index.deps, [{ key: lateKey, etag }])).toMatchObject({
      indexed: 1,
      daysMerged: 1,
      spansMerged: 0,
    });
    expect(await accessFor(index, ['u-late'])).toEqual([late]);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await advanceWatermarks(index.deps))[0]?.stats.spansMerged).toBe(1);
    expect(await accessFor(index, ['u-late'])).toEqual([late]);
  });

  it('carries a rewrite over: in its day file before the watermark day, as an object file from it on', async () => {
    const index = testLogIndex(local.stores, { now: NOW, openDays: 2 });
    const day = (d: string) => `${index.config.accessPrefix}dt=${d}/part-00000.jsonl.gz`;
    const [closed, watermarkDay] = [day('2026-10-28'), day('2026-10-30')];
    await index.put(closed, [access('u-alice', 'dev-alice'), access('u-bob', 'dev-bob')]);
    await index.put(watermarkDay, [access('u-alice', 'dev-alice'), access('u-bob', 'dev-bob')]);
    await advanceWatermarks(index.deps);
    expect(await index.store.watermark(index.config.accessPrefix)).toBe(watermarkDay);
    const later = new Date('2027-12-01T00:00:00Z');
    const connector = createLogsConnector(local.stores.s3, index.config, index.reader);
    const inventory = await connector.inventory?.({
      requestId: 'req_00000000000000000000000000000043',
      subject: {
        requestId: 'req_00000000000000000000000000000043',
        subjectHash: 'hash',
        found: true,
        pseudonymSalt: 'salt',
        identifiers: { emails: [], phones: [], externalAccounts: [], userIds: ['u-alice'], deviceIds: [] },
      },
      tombstone: 'erased-user-x',
      now: () => NOW,
      plan: [],
    } as ErasureContext);
    const { index: _carriedByTheFinish, ...batchOnly } = rewriteTarget(index);
    const out = await rewriteForSubject(
      batchOnly,
      {
        requestId: 'req_00000000000000000000000000000043',
        userIds: ['u-alice'],
        deviceIds: [],
        plan: planEntriesFor('logs', inventory ?? {}, { jurisdiction: 'KR', now: later }),
      },
      [closed, watermarkDay],
      later,
    );
    // In the order the batch's objects finished (they are rewritten side by side).
    expect(out.rewrites.map((r) => r.key).sort()).toEqual([closed, watermarkDay].sort());
    const rewritten = out.rewrites.find((r) => r.key === closed)!;
    // The rewrite's own S3 event: the indexer leaves a rewrite of a version it holds to the job's finish
    // (it does not read the object), where a run over the listing would index it like any.
    const options = { remainingMs: () => 900_000, stagingBucket: 'dsr-staging' };
    expect(
      await handleIndexLogsEvent(
        index.deps,
        {
          source: 'aws.s3',
          'detail-type': 'Object Created',
          detail: { bucket: { name: LOGS_BUCKET }, object: { key: closed, etag: rewritten.to } },
        },
        options,
      ),
    ).toMatchObject({ rewrites: 1, indexed: 0 });
    // Until the finish carries it over, the day file (and the span) still name her: a read, never a miss.
    expect(await accessFor(index, ['u-alice'])).toEqual([closed, watermarkDay]);

    const carried = await index.reader.carryRewrites(
      index.config.accessPrefix,
      out.rewrites.map((r) => ({ ...r, subjects: [{ userIds: ['u-alice'], deviceIds: [] }] })),
    );
    // The closed day: merged again with the rewrite, and no object file written for it (the old one
    // removed). The watermark's day, read through object files: the new version's, and its day merged.
    expect(carried).toEqual({ daysMerged: 2, objectFiles: 1, left: 0 });
    const files = await filesOf(index);
    const objectFiles = files.filter((f) => f.key.startsWith(OBJECTS)).map((f) => f.key);
    expect(objectFiles.filter((key) => key.includes('dt=2026-10-28'))).toEqual([]);
    const newer = out.rewrites.find((r) => r.key === watermarkDay)!;
    expect(objectFiles.filter((key) => key.includes('dt=2026-10-30'))).toEqual([
      `${OBJECTS}${watermarkDay}/${newer.to}`,
    ]);
    const dayFile = files.find((f) => f.key === dayFileKey(index.config.accessPrefix, '2026-10-28'))!;
    expect(decodeDayFile(dayFile.body).map(({ key, etag }) => ({ key, etag }))).toEqual([
      { key: closed, etag: rewritten.to },
    ]);
    expect(dayFile.body.includes(hashBytes(TEST_INDEX_HASHER.user('u-alice')))).toBe(false);
    // Carried over again (a finish retried after it carried them): the same index.
    const bodies = async () =>
      (await filesOf(index))
        .filter((f) => !f.key.startsWith(SPANS))
        .map((f) => [f.key, f.body.toString('hex')]);
    const before = await bodies();
    await index.reader.carryRewrites(
      index.config.accessPrefix,
      out.rewrites.map((r) => ({ ...r, subjects: [{ userIds: ['u-alice'], deviceIds: [] }] })),
    );
    expect(await bodies()).toEqual(before);
    // Indexed at their new versions, both: the indexer reads nothing again.
    expect(await indexObjects(index.deps, await listed(index))).toMatchObject({ indexed: 0, unchanged: 2 });
    // The span over 10-28 still names her until the indexer's next run merges it again (from the day
    // file: the rewritten version has no object file).
    expect(await accessFor(index, ['u-alice'])).toEqual([closed]);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await advanceWatermarks(index.deps))[0]?.stats).toMatchObject({ indexed: 0, spansMerged: 1 });
    expect(await accessFor(index, ['u-alice'])).toEqual([]);
    expect(await accessFor(index, ['u-bob'])).toEqual([closed, watermarkDay]);
    const all = Buffer.concat((await filesOf(index)).map((f) => f.body));
    expect(all.includes(hashBytes(TEST_INDEX_HASHER.user('u-alice')))).toBe(false);
    expect(all.includes(hashBytes(TEST_INDEX_HASHER.user('u-bob')))).toBe(true);
  });

  it('a rewrite whose day cannot be merged whole now is carried as an object file; a run from the start merges the day', async () => {
    const index = testLogIndex(local.stores, { now: NOW, openDays: 2 });
    const day = (d: string, n = 0) => `${index.config.accessPrefix}dt=${d}/part-0000${n}.jsonl.gz`;
    await index.put(day('2026-10-28'), [access('u-alice', 'dev-alice'), access('u-bob', 'dev-bob')]);
    await index.put(day('2026-10-30'), [access('u-bob', 'dev-bob')]);
    await advanceWatermarks(index.deps);
    // A late object of 10-28, not indexed yet: the day cannot be merged whole.
    await index.put(day('2026-10-28', 1), [access('u-late', 'dev-late')]);
    const out = await rewriteForSubject(
      rewriteTarget(index),
      {
        requestId: 'req_00000000000000000000000000000044',
        userIds: ['u-alice'],
        deviceIds: [],
        plan: [
          { store: 'logs', category: 'access-log', action: 'delete', liveAction: 'delete' } as PlanEntryView,
        ],
      },
      [day('2026-10-28')],
      NOW,
    );
    const [rewrite] = out.rewrites;
    const objectFiles = (await filesOf(index)).filter((f) => f.key.startsWith(OBJECTS));
    const carried = objectFiles.find((f) => f.key === `${OBJECTS}${day('2026-10-28')}/${rewrite?.to}`);
    expect(carried?.body.includes(hashBytes(TEST_INDEX_HASHER.user('u-alice')))).toBe(false);
    expect(carried?.body.includes(hashBytes(TEST_INDEX_HASHER.user('u-bob')))).toBe(true);
    const [report] = await advanceWatermarks(index.deps, { fromStart: true });
    expect(report?.stats).toMatchObject({ indexed: 1, daysMerged: 1 });
    expect(await accessFor(index, ['u-late'])).toEqual([day('2026-10-28', 1)]);
    expect(await accessFor(index, ['u-bob'])).toEqual([day('2026-10-28'), day('2026-10-30')]);
  });

  it('a run from the start removes the index of leading days whose log objects are all gone', async () => {
    const index = testLogIndex(local.stores, { now: NOW, openDays: 2 });
    const day = (d: string) => `${index.config.accessPrefix}dt=${d}/part-00000.jsonl.gz`;
    await index.put(day('2026-10-27'), [access('u-gone', 'dev-1'), access('u-bob', 'dev-2')]);
    await index.put(day('2026-10-28'), [access('u-bob', 'dev-2')]);
    await index.put(day('2026-10-29'), [access('u-mid', 'dev-3')]);
    await index.put(day('2026-10-30'), [access('u-bob', 'dev-2')]);
    await advanceWatermarks(index.deps);
    expect(await accessFor(index, ['u-gone'])).toEqual([day('2026-10-27')]);
    const named = (body: Buffer, userId: string) => body.includes(hashBytes(TEST_INDEX_HASHER.user(userId)));
    // The logs bucket's lifecycle expires the first day; a later day's object is deleted too (not by age).
    for (const d of ['2026-10-27', '2026-10-29'])
      await local.stores.s3.send(new DeleteObjectCommand({ Bucket: LOGS_BUCKET, Key: day(d) }));
    // Only a run from the start looks back; a scheduled one leaves the files.
    await advanceWatermarks(index.deps);
    expect((await filesOf(index)).some((f) => named(f.body, 'u-gone'))).toBe(true);

    const [report] = await advanceWatermarks(index.deps, { fromStart: true });
    expect(report?.stats).toMatchObject({ daysExpired: 1, spansMerged: 1 });
    const files = await filesOf(index);
    // Nothing of the expired day is left: its object file, its day file, its entries in the span.
    expect(files.filter((f) => f.key.includes('dt=2026-10-27'))).toEqual([]);
    expect(files.some((f) => named(f.body, 'u-gone'))).toBe(false);
    expect(await accessFor(index, ['u-gone'])).toEqual([]);
    expect(await accessFor(index, ['u-bob'])).toEqual([day('2026-10-28'), day('2026-10-30')]);
    // A day after the first one still listed stays as it is (an object gone from it is skipped on read).
    expect(files.some((f) => f.key.includes('dt=2026-10-29'))).toBe(true);
    // Every log object gone: the other closed days go too, and the span with them.
    for (const d of ['2026-10-28', '2026-10-30'])
      await local.stores.s3.send(new DeleteObjectCommand({ Bucket: LOGS_BUCKET, Key: day(d) }));
    const [last] = await advanceWatermarks(index.deps, { fromStart: true });
    expect(last?.stats).toMatchObject({ daysExpired: 3 });
    expect(await filesOf(index)).toEqual([]);
  });

  it('a day merge whose object files change while it writes merges again', async () => {
    const index = testLogIndex(local.stores, { now: NOW, openDays: 1 });
    const day = (d: string, n = 0) => `${index.config.accessPrefix}dt=${d}/part-0000${n}.jsonl.gz`;
    await index.put(day('2026-10-29'), [access('u-alice', 'dev-1')]);
    await advanceWatermarks(index.deps);
    const target = dayFileKey(index.config.accessPrefix, '2026-10-29');
    const late = day('2026-10-29', 1);
    let interleaved = false;
    // The indexer writes another object of the day and its object file just as the merge writes.
    const s3 = fakeClient(S3Client, {
      config: local.stores.s3.config,
      send: async (command: unknown) => {
        if (!interleaved && command instanceof PutObjectCommand && command.input.Key?.endsWith(target)) {
          interleaved = true;
          const etag = await index.put(late, [access('u-late', 'dev-9')]);
          await index.store.putObjectFile(late, etag, [TEST_INDEX_HASHER.user('u-late')]);
        }
        return local.stores.s3.send(command as never);
      },
    });
    const store = new LogIndexStore(s3, local.stores.doc, index.store.location);
    expect(await store.mergeDay(index.config.accessPrefix, '2026-10-29')).toMatchObject({
      state: 'merged',
      objects: 2,
    });
    expect(interleaved).toBe(true);
    const dayFile = (await filesOf(index)).find((f) => f.key.endsWith(target));
    expect(dayFile?.body.includes(hashBytes(TEST_INDEX_HASHER.user('u-late')))).toBe(true);
  });

  it('a run from the start merges again a day file older than one of its object files', async () => {
    const index = testLogIndex(local.stores, { now: NOW, openDays: 1 });
    const day = (d: string, n = 0) => `${index.config.accessPrefix}dt=${d}/part-0000${n}.jsonl.gz`;
    await index.put(day('2026-10-29'), [access('u-alice', 'dev-1')]);
    await index.put(day('2026-10-30'), [access('u-bob', 'dev-2')]);
    await advanceWatermarks(index.deps);
    // An object file written without its day being merged (a merge that failed after it).
    const late = day('2026-10-29', 1);
    const etag = await index.put(late, [access('u-late', 'dev-9')]);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await index.store.putObjectFile(late, etag, [TEST_INDEX_HASHER.user('u-late')]);
    expect(await accessFor(index, ['u-late'])).toEqual([]);
    const [report] = await advanceWatermarks(index.deps, { fromStart: true });
    expect(report?.stats).toMatchObject({ indexed: 0, daysMerged: 1 });
    expect(await accessFor(index, ['u-late'])).toEqual([late]);
  });
});

describe('invocations', () => {
  it('indexes a Distributed Map batch, an S3 event, and describes the backfill', async () => {
    const index = testLogIndex(local.stores, { now: NOW });
    const a = `${index.config.accessPrefix}dt=2026-10-30/part-00000.jsonl.gz`;
    const b = `${index.config.accessPrefix}dt=2026-10-30/part-00001.jsonl.gz`;
    const etagA = await index.put(a, [access('u-alice', 'dev-1')]);
    await index.put(b, [access('u-bob', 'dev-2')]);
    const options = { remainingMs: () => 900_000, stagingBucket: 'dsr-staging' };

    // The shape ItemReader listObjectsV2 gives each item, batched by ItemBatcher.
    const batch = await handleIndexLogsEvent(
      index.deps,
      {
        Items: [{ Key: a, Etag: etagA, Size: 10 }, { Key: `${index.config.accessPrefix}not-a-day-object` }],
        BatchInput: { prefix: index.config.accessPrefix },
      },
      options,
    );
    expect(batch).toMatchObject({ objects: 2, indexed: 1, ignored: 1 });

    const event = (bucket: string) =>
      handleIndexLogsEvent(
        index.deps,
        {
          source: 'aws.s3',
          'detail-type': 'Object Created',
          detail: { bucket: { name: bucket }, object: { key: b, size: 10 } },
        },
        options,
      );
    expect(await event('someone-elses-bucket')).toMatchObject({ indexed: 0, ignored: 1 });
    expect(await event(LOGS_BUCKET)).toMatchObject({ objects: 1, indexed: 1 });
    expect(await accessFor(index, ['u-bob'])).toEqual([b]);

    expect(await handleIndexLogsEvent(index.deps, { action: 'describeBackfill' }, options)).toEqual({
      bucket: LOGS_BUCKET,
      accessPrefix: index.config.accessPrefix,
      voiceSessionsPrefix: index.config.voiceSessionsPrefix,
      resultsBucket: 'dsr-staging',
      resultsPrefix: 'log-index-backfill/',
    });
    const scheduled = await handleIndexLogsEvent(
      index.deps,
      { source: 'aws.events', 'detail-type': 'Scheduled Event' },
      options,
    );
    expect(scheduled).toMatchObject({ prefixes: [{ stats: { unchanged: 2 } }, { stats: { objects: 0 } }] });
  });
});

describe('the connector through the index', () => {
  const IDS = { userIds: ['u-alice'], deviceIds: ['dev-alice'] };
  const ctx = (plan: PlanEntryView[] = []): ErasureContext & { plan: PlanEntryView[] } => ({
    requestId: 'req_00000000000000000000000000000042',
    subject: {
      requestId: 'req_00000000000000000000000000000042',
      subjectHash: 'hash',
      found: true,
      pseudonymSalt: 'salt',
      identifiers: { emails: [], phones: [], externalAccounts: [], ...IDS },
    },
    tombstone: 'erased-user-x',
    now: () => NOW,
    plan,
  });

  it('the log-erasure job rewrites through the index and removes the subject’s entries for the objects it rewrote', async () => {
    const index = testLogIndex(local.stores, { now: NOW });
    const a = `${index.config.accessPrefix}dt=2026-10-30/part-00000.jsonl.gz`;
    const others = `${index.config.accessPrefix}dt=2026-10-30/part-00001.jsonl.gz`;
    const v = `${index.config.voiceSessionsPrefix}dt=2026-10-30/part-00000.jsonl.gz`;
    await index.put(a, [
      access('u-alice', 'dev-alice'),
      access(null, 'dev-alice'),
      access('u-bob', 'dev-bob'),
    ]);
    await index.put(others, [access('u-bob', 'dev-bob')]);
    await index.put(v, [session('u-alice', 'u-bob')]);
    await advanceWatermarks(index.deps);
    const connector = createLogsConnector(local.stores.s3, index.config, index.reader);

    const inventory = await connector.inventory?.(ctx());
    expect(inventory).toMatchObject({ 'access-log': { count: 2 }, 'voice-sessions': { count: 1 } });
    // Erased (the periods of 2026-10-30 lines have ended by this clock): the objects the index names.
    const later = new Date('2027-12-01T00:00:00Z');
    const plan = planEntriesFor('logs', inventory ?? {}, { jurisdiction: 'KR', now: later });
    const keys = [
      ...(await index.reader.objectsFor(local.stores.s3, index.config.bucket, index.config.accessPrefix, {
        userIds: ['u-alice'],
        deviceIds: ['dev-alice'],
      })),
      ...(await index.reader.objectsFor(
        local.stores.s3,
        index.config.bucket,
        index.config.voiceSessionsPrefix,
        {
          userIds: ['u-alice'],
          deviceIds: [],
        },
      )),
    ];
    expect(keys).toEqual([a, v]);
    const out = await rewriteForSubject(
      rewriteTarget(index),
      {
        requestId: 'req_00000000000000000000000000000042',
        userIds: ['u-alice'],
        deviceIds: ['dev-alice'],
        plan,
      },
      keys,
      later,
    );
    expect(out.subjects['req_00000000000000000000000000000042']).toMatchObject({
      'access-log': { removed: 2 },
      'voice-sessions': { removed: 1 },
    });

    expect(await accessFor(index, ['u-alice'], ['dev-alice'])).toEqual([]);
    expect(await voiceFor(index, ['u-alice'])).toEqual([]);
    // Everyone else's entries stay.
    expect(await accessFor(index, ['u-bob'])).toEqual([a, others]);
    expect(await voiceFor(index, ['u-bob'])).toEqual([v]);
    expect(await connector.inventory?.({ ...ctx(), now: () => later })).toEqual({});
  });
});
