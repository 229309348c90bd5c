/**
 * A Distributed Map on the local stack, against the real local S3: the fixture
 * (test/fixtures/distributed-map.asl.json) lists `logs/` in a bucket, batches the objects by three with
 * a BatchInput, runs two children at a time, tolerates a quarter of its items failing and writes its
 * results to S3. Each test fails if the runner ignores the feature it names (as aws-local-stepfunctions
 * alone does: it would run the Map inline over its input).
 */
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { LocalStateMachine } from '../../local/distributed-map';
import type { Json, JsonObject } from '../../local/payload-template';
import { startTestStack, type TestStack } from '../support/local-stack';

const MACHINE = 'dsr-test-distributed-map';
const WORKER = 'dsr-test-batch-worker';

interface Item {
  key: string;
  size: number;
  index: number;
}
interface Batch {
  Items: Item[];
  BatchInput: { runId: string };
}

/** What the worker saw of one run: the batches it got and how many ran at once at most. */
interface Observed {
  batches: Batch[];
  inFlight: number;
  maxInFlight: number;
}
const observed = new Map<string, Observed>();

/** The fixture's child Task: fails a batch holding a "poison" object, else reports how many it processed. */
async function worker(payload: unknown): Promise<unknown> {
  const batch = payload as Batch;
  const run = observed.get(batch.BatchInput.runId) ?? { batches: [], inFlight: 0, maxInFlight: 0 };
  observed.set(batch.BatchInput.runId, run);
  run.batches.push(batch);
  run.inFlight += 1;
  run.maxInFlight = Math.max(run.maxInFlight, run.inFlight);
  try {
    // Long enough for every child the runner lets start to overlap.
    await new Promise((resolve) => setTimeout(resolve, 150));
    if (batch.Items.some((item) => item.key.includes('poison')))
      throw Object.assign(new Error('A poison object'), { name: 'PoisonObject' });
    return { processed: batch.Items.length };
  } finally {
    run.inFlight -= 1;
  }
}

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    seed: false,
    workflows: {
      stateMachines: [{ file: 'test/fixtures/distributed-map.asl.json', localName: MACHINE }],
      functions: { [WORKER]: worker },
    },
  });
});

afterAll(async () => {
  await stack?.stop();
});

/** Object keys under logs/ (in listing order) for `count` objects; those at `poison` are marked. */
function logKeys(count: number, poison: number[] = []): string[] {
  return Array.from(
    { length: count },
    (_, i) => `logs/object-${String(i).padStart(2, '0')}${poison.includes(i) ? '-poison' : ''}.log`,
  );
}

interface Run {
  runId: string;
  bucket: string;
  resultsBucket: string;
  status: string;
  output: JsonObject;
  error?: string;
}

/** Puts the objects (each a different size) and others beside logs/, then runs the fixture to its end. */
async function runMap(runId: string, keys: string[]): Promise<Run> {
  const bucket = `dmap-${runId}`;
  const resultsBucket = `dmap-${runId}-results`;
  for (const name of [bucket, resultsBucket]) await stack.s3.send(new CreateBucketCommand({ Bucket: name }));
  const outside = ['logs-archive/old.log', 'other/logs/x.log'];
  for (const [i, key] of [...keys, ...outside].entries())
    await stack.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x'.repeat(i + 1) }));
  const execution = stack.workflows.startExecution(stack.workflows.arnOf(MACHINE), runId, {
    bucket,
    resultsBucket,
    runId,
  });
  await execution.done;
  return {
    runId,
    bucket,
    resultsBucket,
    status: execution.status,
    output: JSON.parse(execution.output ?? '{}') as JsonObject,
    error: execution.error,
  };
}

async function readJson<T>(bucket: string, key: string): Promise<T> {
  return JSON.parse((await stack.getObjectBytes(bucket, key)).toString('utf8')) as T;
}

/** Batches in item order (children finish in any order). */
function batchesOf(runId: string): Batch[] {
  const batches = observed.get(runId)?.batches ?? [];
  return [...batches].sort((a, b) => (a.Items[0]?.index ?? 0) - (b.Items[0]?.index ?? 0));
}

interface Manifest {
  DestinationBucket: string;
  MapRunArn: string;
  ResultFiles: Record<'FAILED' | 'PENDING' | 'SUCCEEDED', { Key: string; Size: number }[]>;
}
type ResultEntry = Record<string, unknown> & { Status: string; Input: string };

/** The manifest a run wrote, found by listing (a caught failure has no ResultWriterDetails). */
async function manifestOf(run: Run): Promise<{ key: string; manifest: Manifest }> {
  const listed = await stack.s3.send(new ListObjectsV2Command({ Bucket: run.resultsBucket }));
  const keys = (listed.Contents ?? []).map((o) => o.Key ?? '').filter((k) => k.endsWith('/manifest.json'));
  expect(keys).toHaveLength(1);
  const key = keys[0] as string;
  return { key, manifest: await readJson<Manifest>(run.resultsBucket, key) };
}

describe('a run with no failure', () => {
  const keys = logKeys(10);
  let run: Run;
  beforeAll(async () => {
    run = await runMap('clean', keys);
  });

  test('succeeds', () => {
    expect({ status: run.status, error: run.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
  });

  test('reads its items from the bucket listing under the Prefix, with their sizes, in listing order', () => {
    const items = batchesOf('clean').flatMap((batch) => batch.Items);
    expect(items).toEqual(keys.map((key, index) => ({ key, size: index + 1, index })));
  });

  test('passes each child a batch { Items, BatchInput } of at most MaxItemsPerBatch items', () => {
    const batches = batchesOf('clean');
    expect(batches.map((batch) => Object.keys(batch).sort())).toEqual(Array(4).fill(['BatchInput', 'Items']));
    expect(batches.map((batch) => batch.BatchInput)).toEqual(Array(4).fill({ runId: 'clean' }));
    expect(batches.map((batch) => batch.Items.length)).toEqual([3, 3, 3, 1]);
  });

  test('runs at most MaxConcurrency children at once', () => {
    expect(observed.get('clean')?.maxInFlight).toBe(2);
  });

  test('writes its results to S3 and outputs where, in place of the results', async () => {
    const mapRun = run.output.mapRun as {
      MapRunArn: string;
      ResultWriterDetails: { Bucket: string; Key: string };
    };
    const runId =
      /^arn:aws:states:us-east-1:000000000000:mapRun:dsr-test-distributed-map\/ProcessObjects:([0-9a-f-]{36})$/.exec(
        mapRun.MapRunArn,
      )?.[1];
    expect(runId).toBeDefined();
    expect(mapRun.ResultWriterDetails).toEqual({
      Bucket: run.resultsBucket,
      Key: `map-results/${runId}/manifest.json`,
    });
    // ResultPath kept the state input beside the result.
    expect(run.output).toMatchObject({ bucket: run.bucket, runId: 'clean' });

    const { manifest } = await manifestOf(run);
    const succeededKey = `map-results/${runId}/SUCCEEDED_0.json`;
    const succeededBytes = await stack.getObjectBytes(run.resultsBucket, succeededKey);
    expect(manifest).toEqual({
      DestinationBucket: run.resultsBucket,
      MapRunArn: mapRun.MapRunArn,
      ResultFiles: {
        FAILED: [],
        PENDING: [],
        SUCCEEDED: [{ Key: succeededKey, Size: succeededBytes.length }],
      },
    });
    const succeeded = JSON.parse(succeededBytes.toString('utf8')) as ResultEntry[];
    expect(succeeded).toHaveLength(4);
    const byFirstIndex = (entry: ResultEntry) => (JSON.parse(entry.Input) as Batch).Items[0]?.index ?? -1;
    succeeded.sort((a, b) => byFirstIndex(a) - byFirstIndex(b));
    expect(succeeded.map((entry) => JSON.parse(entry.Input))).toEqual(batchesOf('clean'));
    expect(succeeded.map((entry) => entry.Output)).toEqual(
      [3, 3, 3, 1].map((n) => JSON.stringify({ processed: n })),
    );
    for (const entry of succeeded)
      expect(entry).toMatchObject({
        Status: 'SUCCEEDED',
        ExecutionArn: expect.stringMatching(
          /^arn:aws:states:us-east-1:000000000000:execution:dsr-test-distributed-map\/ProcessObjects:/,
        ),
        StateMachineArn:
          'arn:aws:states:us-east-1:000000000000:stateMachine:dsr-test-distributed-map/ProcessObjects',
      });
  });
});

describe('failed items', () => {
  test('up to ToleratedFailurePercentage, the Map succeeds and the failed batch is in FAILED_0.json', async () => {
    // One batch of three fails: 3 of 12 items, 25%.
    const run = await runMap('tolerated', logKeys(12, [4]));
    expect({ status: run.status, failure: run.output.failure }).toEqual({
      status: 'SUCCEEDED',
      failure: undefined,
    });
    const { manifest } = await manifestOf(run);
    expect(manifest.ResultFiles.SUCCEEDED).toHaveLength(1);
    expect(manifest.ResultFiles.PENDING).toEqual([]);
    const [failedFile] = manifest.ResultFiles.FAILED;
    const failed = await readJson<ResultEntry[]>(run.resultsBucket, failedFile?.Key ?? '');
    expect(failed).toEqual([
      expect.objectContaining({ Status: 'FAILED', Error: 'PoisonObject', Cause: 'A poison object' }),
    ]);
    expect((JSON.parse(failed[0]?.Input ?? '{}') as Batch).Items.map((item) => item.index)).toEqual([
      3, 4, 5,
    ]);
    expect(
      await readJson<unknown[]>(run.resultsBucket, manifest.ResultFiles.SUCCEEDED[0]?.Key ?? ''),
    ).toHaveLength(3);
  });

  test('beyond it, the Map fails with States.ExceedToleratedFailureThreshold (caught), results still written', async () => {
    // Two batches of three fail: 6 of 12 items, 50%.
    const run = await runMap('exceeded', logKeys(12, [1, 4]));
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output.failure).toEqual({
      Error: 'States.ExceedToleratedFailureThreshold',
      Cause: expect.stringContaining('6 of 12 items failed'),
    });
    expect(run.output).not.toHaveProperty('mapRun');

    const { manifest } = await manifestOf(run);
    const entries = async (status: keyof Manifest['ResultFiles']) =>
      (
        await Promise.all(
          manifest.ResultFiles[status].map((file) => readJson<ResultEntry[]>(run.resultsBucket, file.Key)),
        )
      ).flat();
    const failed = await entries('FAILED');
    const pending = await entries('PENDING');
    const succeeded = await entries('SUCCEEDED');
    expect(failed).toHaveLength(2);
    // Once over the threshold no child starts: what had not started is PENDING, never run.
    expect(pending.length).toBeGreaterThanOrEqual(1);
    expect(succeeded.length + pending.length).toBe(2);
    const ran = batchesOf('exceeded').map((batch) => JSON.stringify(batch));
    for (const entry of pending) {
      expect(entry.Status).toBe('PENDING');
      expect(ran).not.toContain(JSON.stringify(JSON.parse(entry.Input)));
    }
  });
});

describe('items read from one object (s3:getObject)', () => {
  const bucket = 'dmap-objects';
  beforeAll(async () => {
    await stack.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const objects: [string, string | Buffer][] = [
      ['items.json', JSON.stringify([{ n: 1 }, { n: 2 }, { n: 3 }])],
      ['items.jsonl', '{"n":1}\n{"n":2}\n\n{"n":3}\n'],
      ['items.csv', 'id|note\n1|"a|b"\n2|plain\n3|x\n'],
      ['headless.csv', '1,a\n2,b\n'],
      ['inventory/data/part-1.csv.gz', gzipSync('"platform-logs","a.log","10","2026-01-01T00:00:00.000Z"\n')],
      [
        'inventory/manifest.json',
        JSON.stringify({
          sourceBucket: 'platform-logs',
          destinationBucket: `arn:aws:s3:::${bucket}`,
          fileFormat: 'CSV',
          fileSchema: 'Bucket, Key, Size, LastModifiedDate',
          files: [{ key: 'inventory/data/part-1.csv.gz', size: 1, MD5checksum: '0' }],
        }),
      ],
    ];
    for (const [key, body] of objects)
      await stack.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  });

  /** Runs a Distributed Map reading `key` with `readerConfig`; each child returns its input. */
  async function itemsRead(key: string, readerConfig: JsonObject): Promise<Json> {
    const machine = new LocalStateMachine({
      StartAt: 'Read',
      States: {
        Read: {
          Type: 'Map',
          ItemReader: {
            Resource: 'arn:aws:states:::s3:getObject',
            ReaderConfig: readerConfig,
            Parameters: { Bucket: bucket, 'Key.$': '$.key' },
          },
          ItemProcessor: {
            ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' },
            StartAt: 'Echo',
            States: { Echo: { Type: 'Pass', End: true } },
          },
          End: true,
        },
      },
    });
    const context = { StateMachine: { Id: 'arn:aws:states:us-east-1:000000000000:stateMachine:reader' } };
    const environment = { invokeTask: async (input: Json) => input, s3: () => stack.s3 };
    return (await machine.run({ key }, context, environment).result) as Json;
  }

  test.each([
    ['a JSON array', 'items.json', { InputType: 'JSON' }, [{ n: 1 }, { n: 2 }, { n: 3 }]],
    ['JSON Lines, MaxItems 2', 'items.jsonl', { InputType: 'JSONL', MaxItems: 2 }, [{ n: 1 }, { n: 2 }]],
    [
      'delimited text with its header row',
      'items.csv',
      { InputType: 'CSV', CSVHeaderLocation: 'FIRST_ROW', CSVDelimiter: 'PIPE' },
      [
        { id: '1', note: 'a|b' },
        { id: '2', note: 'plain' },
        { id: '3', note: 'x' },
      ],
    ],
    [
      'delimited text with given headers',
      'headless.csv',
      { InputType: 'CSV', CSVHeaderLocation: 'GIVEN', CSVHeaders: ['id', 'name'] },
      [
        { id: '1', name: 'a' },
        { id: '2', name: 'b' },
      ],
    ],
    [
      'an S3 inventory',
      'inventory/manifest.json',
      { InputType: 'MANIFEST' },
      [{ Bucket: 'platform-logs', Key: 'a.log', Size: '10', LastModifiedDate: '2026-01-01T00:00:00.000Z' }],
    ],
  ])('reads %s', async (_what, key, readerConfig, expected) => {
    expect(await itemsRead(key, readerConfig as JsonObject)).toEqual(expected);
  });

  test('a missing object fails the Map with States.ItemReaderFailed', async () => {
    await expect(itemsRead('absent.json', { InputType: 'JSON' })).rejects.toMatchObject({
      cause: expect.objectContaining({ name: 'States.ItemReaderFailed' }),
    });
  });
});
