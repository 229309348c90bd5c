/**
 * The local Distributed Map's pure parts: reading a DISTRIBUTED Map state (and refusing what is not
 * carried out locally), replacing it by its stand-in Task, batching, the tolerated-failure arithmetic,
 * delimited-text items and result shapes; a run over ItemsPath with an in-process task; and that the
 * test fixture is a deployable definition.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { STATE_MACHINES } from '../../functions/lib/connectors/catalog';
import {
  DISTRIBUTED_MAP_RESOURCE,
  LocalStateMachine,
  replaceDistributedMaps,
  type RunEnvironment,
} from '../../local/distributed-map';
import {
  batchItems,
  exceedsTolerance,
  mapRunNames,
  readDistributedMap,
  transformResults,
  type ChildOutcome,
} from '../../local/map-run';
import { parseDelimited, rowsToItems } from '../../local/map-run-s3';
import type { Json, JsonObject } from '../../local/payload-template';
import { substitutedDefinition } from '../../local/workflows';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURE = 'test/fixtures/distributed-map.asl.json';
const fixture = () => JSON.parse(readFileSync(path.join(ROOT, FIXTURE), 'utf8')) as JsonObject;

/** A DISTRIBUTED Map over `$.items` whose child runs the Task "Work"; `fields` are added to the Map. */
function mapDefinition(fields: JsonObject = {}, mapName = 'Fan'): JsonObject {
  return {
    StartAt: mapName,
    States: {
      [mapName]: {
        Type: 'Map',
        ItemsPath: '$.items',
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' },
          StartAt: 'Work',
          States: { Work: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', End: true } },
        },
        End: true,
        ...fields,
      },
    },
  };
}

describe('batchItems', () => {
  const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

  test('cuts batches of MaxItemsPerBatch, the last one shorter', () => {
    const batches = batchItems(items, { maxItems: 3, maxBytes: 262_144 });
    expect(batches).toEqual([{ Items: ['a', 'b', 'c'] }, { Items: ['d', 'e', 'f'] }, { Items: ['g'] }]);
  });

  test('adds BatchInput to every batch when given', () => {
    const batches = batchItems(items.slice(0, 4), { maxItems: 2, maxBytes: 262_144 }, { run: 1 });
    expect(batches).toEqual([
      { Items: ['a', 'b'], BatchInput: { run: 1 } },
      { Items: ['c', 'd'], BatchInput: { run: 1 } },
    ]);
  });

  test('keeps each batch within MaxInputBytesPerBatch, as serialized', () => {
    // {"Items":["a","b"]} is 19 bytes; a third item would make it 23.
    const batches = batchItems(items, { maxBytes: 19 });
    expect(batches.map((b) => b.Items)).toEqual([['a', 'b'], ['c', 'd'], ['e', 'f'], ['g']]);
    for (const batch of batches) expect(Buffer.byteLength(JSON.stringify(batch))).toBeLessThanOrEqual(19);
  });

  test('applies whichever limit is reached first', () => {
    expect(batchItems(items, { maxItems: 1, maxBytes: 19 }).map((b) => b.Items)).toEqual(
      items.map((i) => [i]),
    );
    expect(batchItems(items, { maxItems: 5, maxBytes: 23 }).map((b) => b.Items)).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e', 'f'],
      ['g'],
    ]);
  });

  test('refuses an item that fits in no batch', () => {
    expect(() => batchItems(['a', 'x'.repeat(40)], { maxBytes: 30 })).toThrow(
      expect.objectContaining({ name: 'States.Runtime' }),
    );
  });
});

describe('exceedsTolerance', () => {
  test('with no tolerance, the first failed item is too many', () => {
    expect(exceedsTolerance(0, 10, {})).toBe(false);
    expect(exceedsTolerance(1, 10, {})).toBe(true);
  });

  test('a percentage tolerates failed items up to that share of all items', () => {
    expect(exceedsTolerance(3, 12, { percentage: 25 })).toBe(false);
    expect(exceedsTolerance(4, 12, { percentage: 25 })).toBe(true);
    expect(exceedsTolerance(12, 12, { percentage: 100 })).toBe(false);
    expect(exceedsTolerance(1, 12, { percentage: 0 })).toBe(true);
  });

  test('a count tolerates that many failed items', () => {
    expect(exceedsTolerance(2, 100, { count: 2 })).toBe(false);
    expect(exceedsTolerance(3, 100, { count: 2 })).toBe(true);
  });

  test('with both, exceeding either fails', () => {
    expect(exceedsTolerance(3, 100, { count: 2, percentage: 50 })).toBe(true);
    expect(exceedsTolerance(3, 4, { count: 5, percentage: 50 })).toBe(true);
    expect(exceedsTolerance(2, 4, { count: 5, percentage: 50 })).toBe(false);
  });
});

describe('readDistributedMap', () => {
  /** The Map of `mapDefinition(fields)`, without the fields set to undefined. */
  const read = (fields: Record<string, unknown>) => {
    const state = (mapDefinition(fields as JsonObject).States as JsonObject).Fan as JsonObject;
    for (const [key, value] of Object.entries(state)) if (value === undefined) delete state[key];
    return readDistributedMap('Fan', state);
  };

  test('reads the fixture', () => {
    const state = (fixture().States as JsonObject).ProcessObjects as JsonObject;
    const config = readDistributedMap('ProcessObjects', state);
    expect(config).toMatchObject({
      label: 'ProcessObjects',
      itemReader: { source: 'listObjectsV2', parameters: { 'Bucket.$': '$.bucket', Prefix: 'logs/' } },
      itemBatcher: { maxItems: { value: 3 }, batchInput: { 'runId.$': '$.runId' } },
      maxConcurrency: { value: 2 },
      toleratedFailurePercentage: { value: 25 },
      resultWriter: { parameters: { 'Bucket.$': '$.resultsBucket', Prefix: 'map-results' } },
    });
    expect(config.processor).not.toHaveProperty('ProcessorConfig');
    expect(config.processor.StartAt).toBe('ProcessBatch');
  });

  test.each([
    ['an unknown field', { Assign: { x: 1 } }, /field Assign not supported/],
    ['JSONata', { QueryLanguage: 'JSONata' }, /only JSONPath/],
    [
      'a Parquet reader',
      {
        ItemsPath: undefined,
        ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'PARQUET' } },
      },
      /InputType "PARQUET"/,
    ],
    [
      'LOAD_AND_FLATTEN',
      {
        ItemsPath: undefined,
        ItemReader: {
          Resource: 'arn:aws:states:::s3:listObjectsV2',
          ReaderConfig: { Transformation: 'LOAD_AND_FLATTEN' },
        },
      },
      /Transformation not supported/,
    ],
    [
      'an ItemsPointer',
      {
        ItemsPath: undefined,
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON', ItemsPointer: '/a' },
        },
      },
      /ItemsPointer not supported/,
    ],
    [
      'another reader',
      { ItemsPath: undefined, ItemReader: { Resource: 'arn:aws:states:::dynamodb:scan' } },
      /ItemReader.Resource/,
    ],
    [
      'a CSV without header location',
      {
        ItemsPath: undefined,
        ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'CSV' } },
      },
      /CSVHeaderLocation/,
    ],
    [
      'JSON Lines results',
      {
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { Bucket: 'b' },
          WriterConfig: { OutputType: 'JSONL', Transformation: 'NONE' },
        },
      },
      /OutputType "JSONL"/,
    ],
    ['a batcher with no limit', { ItemBatcher: { BatchInput: {} } }, /ItemBatcher needs/],
    ['both MaxConcurrency forms', { MaxConcurrency: 2, MaxConcurrencyPath: '$.n' }, /exclude each other/],
    [
      'a percentage over 100',
      { ToleratedFailurePercentage: 101 },
      /ToleratedFailurePercentage must be an integer from 0 to 100/,
    ],
    ['a Label with a slash', { Label: 'a/b' }, /Label must be/],
    [
      'ItemsPath with an ItemReader',
      { ItemReader: { Resource: 'arn:aws:states:::s3:listObjectsV2' } },
      /exclude each other/,
    ],
  ])('refuses %s, naming the state', (_what, fields, message) => {
    expect(() => read(fields)).toThrow(message);
    expect(() => read(fields)).toThrow(/Distributed Map state "Fan"/);
  });
});

describe('replaceDistributedMaps', () => {
  test('replaces the Map by a Task keeping its input and output processing, Retry, Catch and transition', () => {
    const { definition, maps } = replaceDistributedMaps(fixture());
    expect([...maps.keys()]).toEqual(['ProcessObjects']);
    const state = (fixture().States as JsonObject).ProcessObjects as JsonObject;
    expect((definition.States as JsonObject).ProcessObjects).toEqual({
      Type: 'Task',
      Resource: DISTRIBUTED_MAP_RESOURCE,
      TimeoutSeconds: 2_147_483,
      ResultPath: state.ResultPath,
      Catch: state.Catch,
      Next: 'Processed',
    });
    expect((definition.States as JsonObject).Processed).toEqual((fixture().States as JsonObject).Processed);
  });

  test('keeps States.TaskFailed from matching what the Map fails with', () => {
    const { definition } = replaceDistributedMaps(
      mapDefinition({
        Retry: [{ ErrorEquals: ['States.TaskFailed', 'States.ExceedToleratedFailureThreshold'] }],
        Catch: [{ ErrorEquals: ['States.TaskFailed'], Next: 'Fan' }],
      }),
    );
    const task = (definition.States as JsonObject).Fan as { Retry: JsonObject[]; Catch: JsonObject[] };
    expect(task.Retry[0]?.ErrorEquals).toEqual([
      'States.TaskFailed (of Task states only)',
      'States.ExceedToleratedFailureThreshold',
    ]);
    expect(task.Catch[0]?.ErrorEquals).toEqual(['States.TaskFailed (of Task states only)']);
  });

  test('finds Distributed Maps inside Parallel branches and inline Maps', () => {
    const inner = mapDefinition({}, 'Inner');
    const { definition, maps } = replaceDistributedMaps({
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          Branches: [
            inner,
            {
              StartAt: 'Each',
              States: { Each: { Type: 'Map', ItemProcessor: mapDefinition({}, 'Deep'), End: true } },
            },
          ],
          End: true,
        },
      },
    });
    expect([...maps.keys()].sort()).toEqual(['Deep', 'Inner']);
    const branches = ((definition.States as JsonObject).Both as { Branches: JsonObject[] }).Branches;
    expect(((branches[0]?.States as JsonObject).Inner as JsonObject).Type).toBe('Task');
    const each = (branches[1]?.States as JsonObject).Each as { Type: string; ItemProcessor: JsonObject };
    expect(each.Type).toBe('Map');
    expect((each.ItemProcessor.States as JsonObject).Deep).toMatchObject({ Type: 'Task' });
  });

  // The request workflows run inline Maps only; the log index backfill and the log-erasure job run
  // Distributed Maps.
  const { logIndexBackfill, logErasure, ...inlineOnly } = STATE_MACHINES;
  test.each(Object.values(inlineOnly).map((m) => [m.file]))(
    'leaves %s (inline Maps only) exactly as it is',
    (file) => {
      const definition = substitutedDefinition(file) as JsonObject;
      const replaced = replaceDistributedMaps(definition);
      expect(replaced.maps.size).toBe(0);
      expect(replaced.definition).toEqual(definition);
    },
  );

  test.each([
    [logIndexBackfill.file, ['IndexAccessLogs', 'IndexVoiceSessions']],
    [logErasure.file, ['RewriteObjects']],
  ])('replaces the Distributed Maps of %s, and nothing else', (file, maps) => {
    const definition = substitutedDefinition(file) as JsonObject;
    const replaced = replaceDistributedMaps(definition);
    expect([...replaced.maps.keys()].sort()).toEqual(maps);
    const states = replaced.definition.States as Record<string, JsonObject>;
    const original = definition.States as Record<string, JsonObject>;
    for (const name of Object.keys(original)) {
      if (replaced.maps.has(name)) expect(states[name]?.Type).toBe('Task');
      else expect(states[name]).toEqual(original[name]);
    }
  });
});

describe('delimited items', () => {
  test('parses quotes, doubled quotes, backslashes and line ends as Step Functions does', () => {
    const text = 'a,b,c\r\n"x, y","say ""hi""",C:\\\\dir\n\\,lead,"multi\nline"\n\n';
    expect(parseDelimited(text, ',')).toEqual([
      ['a', 'b', 'c'],
      ['x, y', 'say "hi"', 'C:\\dir'],
      [',lead', 'multi\nline'],
    ]);
  });

  test('fills missing fields with empty strings and drops extra ones', () => {
    expect(rowsToItems([['1'], ['1', '2', '3']], ['a', 'b'])).toEqual([
      { a: '1', b: '' },
      { a: '1', b: '2' },
    ]);
  });

  test('splits on the configured delimiter', () => {
    expect(parseDelimited('a|b,c', '|')).toEqual([['a', 'b,c']]);
  });
});

describe('results', () => {
  const child = (status: 'SUCCEEDED' | 'FAILED', output: Json): ChildOutcome => {
    const execution = {
      executionArn: 'arn:aws:states:us-east-1:0:execution:m/L:n',
      name: 'n',
      stateMachineArn: 'arn:aws:states:us-east-1:0:stateMachine:m/L',
      input: { i: 1 },
      startDate: new Date('2026-01-01T00:00:00Z'),
      stopDate: new Date('2026-01-01T00:00:01Z'),
    };
    return status === 'SUCCEEDED'
      ? { ...execution, status, output }
      : { ...execution, status, error: 'Boom', cause: 'bad' };
  };

  test('COMPACT gives outputs, FLATTEN spreads arrays, NONE describes each child', () => {
    const children = [child('SUCCEEDED', [1, 2]), child('SUCCEEDED', 3)];
    expect(transformResults(children, 'COMPACT')).toEqual([[1, 2], 3]);
    expect(transformResults(children, 'FLATTEN')).toEqual([1, 2, 3]);
    expect(transformResults(children, 'NONE')[0]).toEqual({
      ExecutionArn: 'arn:aws:states:us-east-1:0:execution:m/L:n',
      Input: '{"i":1}',
      InputDetails: { Included: true },
      Name: 'n',
      Output: '[1,2]',
      OutputDetails: { Included: true },
      RedriveCount: 0,
      RedriveStatus: 'NOT_REDRIVABLE',
      RedriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
      StartDate: '2026-01-01T00:00:00.000Z',
      StateMachineArn: 'arn:aws:states:us-east-1:0:stateMachine:m/L',
      Status: 'SUCCEEDED',
      StopDate: '2026-01-01T00:00:01.000Z',
    });
  });

  test('a failed child is described whatever the transformation', () => {
    const [failed] = transformResults([child('FAILED', null)], 'COMPACT');
    expect(failed).toMatchObject({ Status: 'FAILED', Error: 'Boom', Cause: 'bad', Input: '{"i":1}' });
  });

  test('Map Run and child names derive from the parent state machine and the Label', () => {
    const names = mapRunNames('arn:aws:states:eu-west-1:123456789012:stateMachine:backfill', 'Logs', 'r1');
    expect(names.mapRunArn).toBe('arn:aws:states:eu-west-1:123456789012:mapRun:backfill/Logs:r1');
    expect(names.childStateMachineArn).toBe(
      'arn:aws:states:eu-west-1:123456789012:stateMachine:backfill/Logs',
    );
    expect(names.childExecutionArn('c1')).toBe(
      'arn:aws:states:eu-west-1:123456789012:execution:backfill/Logs:c1',
    );
  });
});

describe('a Distributed Map run over ItemsPath', () => {
  const context = {
    Execution: { Id: 'arn:aws:states:us-east-1:000000000000:execution:m:e', Name: 'e' },
    StateMachine: { Id: 'arn:aws:states:us-east-1:000000000000:stateMachine:m', Name: 'm' },
  };
  const environment = (work: (payload: Json) => Promise<Json>): RunEnvironment => ({
    invokeTask: work,
    s3: () => {
      throw new Error('no S3 in this test');
    },
  });

  test('selects, batches and runs each child, giving outputs in item order', async () => {
    const machine = new LocalStateMachine(
      mapDefinition({
        ItemSelector: { 'n.$': '$$.Map.Item.Value', 'at.$': '$$.Map.Item.Index', 'tag.$': '$.tag' },
        ItemBatcher: { MaxItemsPerBatch: 2 },
        MaxConcurrency: 1,
        ResultPath: '$.out',
      }),
    );
    const run = machine.run(
      { items: [10, 20, 30], tag: 't' },
      context,
      environment(async (batch) => batch),
    );
    expect(await run.result).toEqual({
      items: [10, 20, 30],
      tag: 't',
      out: [
        {
          Items: [
            { n: 10, at: 0, tag: 't' },
            { n: 20, at: 1, tag: 't' },
          ],
        },
        { Items: [{ n: 30, at: 2, tag: 't' }] },
      ],
    });
  });

  test('a tolerated failure is described in the output; one more fails the state, and Catch applies', async () => {
    const definition = mapDefinition({
      ToleratedFailureCount: 1,
      Catch: [
        { ErrorEquals: ['States.ExceedToleratedFailureThreshold'], ResultPath: '$.error', Next: 'Caught' },
      ],
    });
    (definition.States as JsonObject).Caught = { Type: 'Pass', End: true };
    const machine = new LocalStateMachine(definition);
    const work = async (n: Json) => {
      if (typeof n === 'number' && n < 0) throw Object.assign(new Error('negative'), { name: 'Negative' });
      return n;
    };
    const tolerated = (await machine.run({ items: [1, -1, 2] }, context, environment(work)).result) as Json[];
    expect(tolerated[0]).toBe(1);
    expect(tolerated[1]).toMatchObject({
      Status: 'FAILED',
      Error: 'Negative',
      Cause: 'negative',
      Input: '-1',
    });
    expect(tolerated[2]).toBe(2);

    const exceeded = (await machine.run({ items: [1, -1, -2] }, context, environment(work))
      .result) as JsonObject;
    expect(exceeded.error).toMatchObject({ Error: 'States.ExceedToleratedFailureThreshold' });
  });

  test("reports each child execution's entered states, under the child state machine", async () => {
    const entered: [string, string][] = [];
    const machine = new LocalStateMachine(mapDefinition({ ItemBatcher: { MaxItemsPerBatch: 2 } }));
    await machine.run({ items: [1, 2, 3] }, context, {
      ...environment(async (batch) => batch),
      onStateEntered: (arn, state) => entered.push([arn, state]),
    }).result;
    // Counted as their events come: wait for the last one.
    await new Promise((r) => setImmediate(r));
    const child = 'arn:aws:states:us-east-1:000000000000:stateMachine:m/Fan';
    expect(entered).toEqual([
      [child, 'Work'],
      [child, 'Work'],
    ]);
  });

  test('without a tolerance, one failed child fails the Map with States.ExceedToleratedFailureThreshold', async () => {
    const machine = new LocalStateMachine(mapDefinition());
    const run = machine.run(
      { items: [1, 2] },
      context,
      environment(async () => Promise.reject(new Error('no'))),
    );
    await expect(run.result).rejects.toMatchObject({
      cause: expect.objectContaining({ name: 'States.ExceedToleratedFailureThreshold' }),
    });
  });
});

describe('the fixture as deployed', () => {
  test('passes the ASL validator as written and uses only the documented Distributed Map fields', () => {
    // The validator checks the Map state's fields; readDistributedMap refuses any other field of the
    // Map, its ItemReader, ItemBatcher, ResultWriter and ProcessorConfig than those AWS documents.
    expect(() => new LocalStateMachine(fixture())).not.toThrow();
  });

  test('deploys with CDK DefinitionBody.fromFile, as the workflows do', () => {
    const stack = new Stack(new App(), 'DistributedMapFixture');
    const machine = new sfn.StateMachine(stack, 'Machine', {
      definitionBody: sfn.DefinitionBody.fromFile(path.join(ROOT, FIXTURE)),
    });
    // The file is staged as an asset at construction; synthesis would only copy it.
    const resource = machine.node.defaultChild as sfn.CfnStateMachine;
    expect(stack.resolve(resource.definitionS3Location)).toEqual({
      bucket: expect.anything(),
      key: expect.stringMatching(/\.json$/),
    });
  });
});
