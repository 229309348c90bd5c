/**
 * The pure parts of a local Distributed Map run: reading a DISTRIBUTED Map state's fields (refusing,
 * with the state's name, any field or value the local runner does not carry out, rather than ignoring
 * it), batching items as ItemBatcher does, the tolerated-failure arithmetic, the Map Run and child
 * execution names, and the shapes Step Functions gives child results (AWS docs: ItemReader, ItemBatcher,
 * ResultWriter, "Tolerated failure threshold for Distributed Map state").
 */
import { isJsonObject, type Json, type JsonObject } from './payload-template';

/** A failure carrying a Step Functions error name; Retry and Catch match on `name`. */
export class StatesError extends Error {
  /** Read by aws-local-stepfunctions: States.Runtime errors can be neither retried nor caught. */
  readonly isRetryable: boolean;
  readonly isCatchable: boolean;

  constructor(name: string, message: string) {
    super(message);
    this.name = name;
    this.isRetryable = this.isCatchable = name !== 'States.Runtime';
  }
}

/** A field whose value is given in the definition or read from the state input by a reference path. */
export type Setting = { value: number } | { path: string };

export type ItemReaderConfig =
  | { source: 'listObjectsV2'; parameters: JsonObject; maxItems?: Setting }
  | {
      source: 'getObject';
      parameters: JsonObject;
      maxItems?: Setting;
      inputType: 'JSON' | 'JSONL' | 'CSV' | 'MANIFEST';
      csv: { delimiter: string; headers: 'FIRST_ROW' | string[] };
    };

export interface ItemBatcherConfig {
  maxItems?: Setting;
  maxBytes?: Setting;
  batchInput?: JsonObject;
}

export type Transformation = 'NONE' | 'COMPACT' | 'FLATTEN';

export interface ResultWriterConfig {
  /** Where to write (Bucket, Prefix), when results go to S3. */
  parameters?: JsonObject;
  transformation?: Transformation;
}

export interface DistributedMapConfig {
  stateName: string;
  label: string;
  itemsPath: string;
  itemReader?: ItemReaderConfig;
  itemSelector?: JsonObject;
  itemBatcher?: ItemBatcherConfig;
  maxConcurrency?: Setting;
  toleratedFailureCount?: Setting;
  toleratedFailurePercentage?: Setting;
  resultWriter?: ResultWriterConfig;
  /** The ItemProcessor as a state machine definition of its own, run once per child execution. */
  processor: JsonObject;
}

/** What the rewritten Task state keeps of the Map state: Step Functions applies these around the run. */
export const FIELDS_KEPT_ON_TASK = [
  'Type',
  'Comment',
  'Next',
  'End',
  'InputPath',
  'OutputPath',
  'ResultPath',
  'ResultSelector',
  'Retry',
  'Catch',
] as const;

/**
 * The other fields AWS documents for a JSONPath Distributed Map state, carried out by the local run.
 * A field in neither list is refused, as are the undocumented fields of ItemReader, ItemBatcher,
 * ResultWriter and ProcessorConfig (see the readers below).
 */
const FIELDS_RUN_LOCALLY = [
  'QueryLanguage',
  'ItemProcessor',
  'ItemsPath',
  'ItemReader',
  'ItemSelector',
  'Parameters',
  'ItemBatcher',
  'MaxConcurrency',
  'MaxConcurrencyPath',
  'ToleratedFailureCount',
  'ToleratedFailureCountPath',
  'ToleratedFailurePercentage',
  'ToleratedFailurePercentagePath',
  'ResultWriter',
  'Label',
];

export const S3_LIST_OBJECTS = 'arn:aws:states:::s3:listObjectsV2';
export const S3_GET_OBJECT = 'arn:aws:states:::s3:getObject';
export const S3_PUT_OBJECT = 'arn:aws:states:::s3:putObject';

/** ItemBatcher's size limit when none is given, and the most it accepts (256 KiB). */
export const MAX_BATCH_BYTES = 262_144;

const CSV_DELIMITERS: Record<string, string> = {
  COMMA: ',',
  PIPE: '|',
  SEMICOLON: ';',
  SPACE: ' ',
  TAB: '\t',
};

/** Step Functions refuses these in a Label, as well as control characters. */
const LABEL_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/u;

function isValidLabel(label: string): boolean {
  const control = [...label].some((c) => {
    const code = c.codePointAt(0) ?? 0;
    return code < 0x20 || (code >= 0x7f && code <= 0x9f);
  });
  return label.length > 0 && label.length <= 40 && !control && !LABEL_FORBIDDEN.test(label);
}

export function isDistributedMap(state: JsonObject): boolean {
  const processor = state.ItemProcessor;
  return (
    state.Type === 'Map' &&
    isJsonObject(processor) &&
    isJsonObject(processor.ProcessorConfig) &&
    processor.ProcessorConfig.Mode === 'DISTRIBUTED'
  );
}

class ConfigReader {
  constructor(private readonly where: string) {}

  fail(message: string): never {
    throw new Error(`${this.where}: ${message}`);
  }

  onlyKnown(object: JsonObject, known: readonly string[], what: string): void {
    const unknown = Object.keys(object).filter((key) => !known.includes(key));
    if (unknown.length > 0) this.fail(`${what} ${unknown.join(', ')} not supported by the local runner`);
  }

  object(value: Json | undefined, what: string): JsonObject | undefined {
    if (value === undefined) return undefined;
    if (!isJsonObject(value)) this.fail(`${what} must be an object`);
    return value;
  }

  string(value: Json | undefined, what: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string') this.fail(`${what} must be a string`);
    return value;
  }

  oneOf<T extends string>(value: Json | undefined, allowed: readonly T[], what: string): T | undefined {
    if (value === undefined) return undefined;
    if (!allowed.includes(value as T))
      this.fail(
        `${what} ${JSON.stringify(value)} is not supported by the local runner (${allowed.join(', ')})`,
      );
    return value as T;
  }

  /** `Name` or `NamePath`, not both; a given value must be an integer within [min, max]. */
  setting(object: JsonObject, name: string, min: number, max = Number.MAX_SAFE_INTEGER): Setting | undefined {
    const value = object[name];
    const path = object[`${name}Path`];
    if (value !== undefined && path !== undefined) this.fail(`${name} and ${name}Path exclude each other`);
    if (path !== undefined) return { path: this.string(path, `${name}Path`) as string };
    if (value === undefined) return undefined;
    checkInteger(value, min, max, (message) => this.fail(`${name} ${message}`));
    return { value: value as number };
  }
}

function checkInteger(value: Json, min: number, max: number, fail: (message: string) => never): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    fail(`must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`);
  return value;
}

/** A Setting's number once its path is resolved, checked as the field is. */
export function settingValue(
  name: string,
  resolved: Json,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  return checkInteger(resolved, min, max, (message) => {
    throw new StatesError('States.Runtime', `${name}Path ${message}`);
  });
}

function readItemReader(reader: ConfigReader, value: Json | undefined): ItemReaderConfig | undefined {
  const itemReader = reader.object(value, 'ItemReader');
  if (!itemReader) return undefined;
  reader.onlyKnown(itemReader, ['Resource', 'Parameters', 'ReaderConfig'], 'ItemReader field');
  const parameters = reader.object(itemReader.Parameters, 'ItemReader.Parameters') ?? {};
  const config = reader.object(itemReader.ReaderConfig, 'ItemReader.ReaderConfig') ?? {};
  const maxItems = reader.setting(config, 'MaxItems', 1, 100_000_000);
  if (itemReader.Resource === S3_LIST_OBJECTS) {
    reader.onlyKnown(config, ['MaxItems', 'MaxItemsPath'], 'ReaderConfig field for listObjectsV2');
    return { source: 'listObjectsV2', parameters, maxItems };
  }
  if (itemReader.Resource !== S3_GET_OBJECT)
    reader.fail(
      `ItemReader.Resource ${JSON.stringify(itemReader.Resource)} is not supported by the local runner`,
    );
  reader.onlyKnown(
    config,
    ['InputType', 'CSVHeaderLocation', 'CSVHeaders', 'CSVDelimiter', 'MaxItems', 'MaxItemsPath'],
    'ReaderConfig field',
  );
  const inputType = reader.oneOf(config.InputType, ['JSON', 'JSONL', 'CSV', 'MANIFEST'], 'InputType');
  if (!inputType) return reader.fail('ItemReader with s3:getObject needs ReaderConfig.InputType');
  const delimiterName = reader.oneOf(config.CSVDelimiter, Object.keys(CSV_DELIMITERS), 'CSVDelimiter');
  const headerLocation = reader.oneOf(config.CSVHeaderLocation, ['FIRST_ROW', 'GIVEN'], 'CSVHeaderLocation');
  if (inputType === 'CSV' && !headerLocation) reader.fail('a CSV ItemReader needs CSVHeaderLocation');
  let headers: 'FIRST_ROW' | string[] = 'FIRST_ROW';
  if (headerLocation === 'GIVEN') {
    const given = config.CSVHeaders;
    if (!Array.isArray(given) || given.length === 0 || !given.every((h) => typeof h === 'string'))
      reader.fail('CSVHeaderLocation GIVEN needs CSVHeaders, an array of strings');
    headers = given as string[];
  }
  return {
    source: 'getObject',
    parameters,
    maxItems,
    inputType,
    csv: { delimiter: CSV_DELIMITERS[delimiterName ?? 'COMMA'] ?? ',', headers },
  };
}

function readItemBatcher(reader: ConfigReader, value: Json | undefined): ItemBatcherConfig | undefined {
  const batcher = reader.object(value, 'ItemBatcher');
  if (!batcher) return undefined;
  reader.onlyKnown(
    batcher,
    [
      'MaxItemsPerBatch',
      'MaxItemsPerBatchPath',
      'MaxInputBytesPerBatch',
      'MaxInputBytesPerBatchPath',
      'BatchInput',
    ],
    'ItemBatcher field',
  );
  const maxItems = reader.setting(batcher, 'MaxItemsPerBatch', 1);
  const maxBytes = reader.setting(batcher, 'MaxInputBytesPerBatch', 1, MAX_BATCH_BYTES);
  if (!maxItems && !maxBytes)
    reader.fail('ItemBatcher needs MaxItemsPerBatch(Path) or MaxInputBytesPerBatch(Path)');
  return { maxItems, maxBytes, batchInput: reader.object(batcher.BatchInput, 'ItemBatcher.BatchInput') };
}

function readResultWriter(reader: ConfigReader, value: Json | undefined): ResultWriterConfig | undefined {
  const writer = reader.object(value, 'ResultWriter');
  if (!writer) return undefined;
  reader.onlyKnown(writer, ['Resource', 'Parameters', 'WriterConfig'], 'ResultWriter field');
  if (writer.Resource !== undefined && writer.Resource !== S3_PUT_OBJECT)
    reader.fail(
      `ResultWriter.Resource ${JSON.stringify(writer.Resource)} is not supported by the local runner`,
    );
  const parameters = reader.object(writer.Parameters, 'ResultWriter.Parameters');
  if ((writer.Resource === undefined) !== (parameters === undefined))
    reader.fail('ResultWriter needs Resource and Parameters together');
  const writerConfig = reader.object(writer.WriterConfig, 'ResultWriter.WriterConfig');
  if (!parameters && !writerConfig)
    reader.fail('ResultWriter needs Resource and Parameters, or WriterConfig');
  let transformation: Transformation | undefined;
  if (writerConfig) {
    reader.onlyKnown(writerConfig, ['OutputType', 'Transformation'], 'WriterConfig field');
    reader.oneOf(writerConfig.OutputType, ['JSON'], 'WriterConfig.OutputType');
    transformation = reader.oneOf(
      writerConfig.Transformation,
      ['NONE', 'COMPACT', 'FLATTEN'],
      'WriterConfig.Transformation',
    );
  }
  return { parameters, transformation };
}

/**
 * A DISTRIBUTED Map state's fields, checked. `where` names the state in errors; `queryLanguage` is the
 * definition's (JSONata Distributed Maps are not run locally).
 */
export function readDistributedMap(
  stateName: string,
  state: JsonObject,
  queryLanguage?: Json,
): DistributedMapConfig {
  const reader = new ConfigReader(`Distributed Map state "${stateName}"`);
  if ((state.QueryLanguage ?? queryLanguage ?? 'JSONPath') !== 'JSONPath')
    reader.fail('only JSONPath is supported by the local runner');
  reader.onlyKnown(state, [...FIELDS_KEPT_ON_TASK, ...FIELDS_RUN_LOCALLY], 'field');
  if (state.ItemSelector !== undefined && state.Parameters !== undefined)
    reader.fail('ItemSelector and Parameters exclude each other');
  if (state.ItemsPath !== undefined && state.ItemReader !== undefined)
    reader.fail('ItemsPath and ItemReader exclude each other');

  const label = reader.string(state.Label, 'Label');
  if (label !== undefined && !isValidLabel(label))
    reader.fail(
      'Label must be 1 to 40 characters, without whitespace, control characters or <>{}[]?*"#%\\^|~`$&,;:/',
    );

  const processor = { ...(state.ItemProcessor as JsonObject) };
  const processorConfig = reader.object(processor.ProcessorConfig, 'ItemProcessor.ProcessorConfig') ?? {};
  reader.onlyKnown(processorConfig, ['Mode', 'ExecutionType'], 'ProcessorConfig field');
  // STANDARD or EXPRESS changes billing and limits in AWS, not how a child runs here.
  reader.oneOf(processorConfig.ExecutionType, ['STANDARD', 'EXPRESS'], 'ExecutionType');
  delete processor.ProcessorConfig;

  return {
    stateName,
    label: label ?? stateName,
    itemsPath: reader.string(state.ItemsPath, 'ItemsPath') ?? '$',
    itemReader: readItemReader(reader, state.ItemReader),
    itemSelector: reader.object(state.ItemSelector ?? state.Parameters, 'ItemSelector'),
    itemBatcher: readItemBatcher(reader, state.ItemBatcher),
    maxConcurrency: reader.setting(state, 'MaxConcurrency', 0),
    toleratedFailureCount: reader.setting(state, 'ToleratedFailureCount', 0),
    toleratedFailurePercentage: reader.setting(state, 'ToleratedFailurePercentage', 0, 100),
    resultWriter: readResultWriter(reader, state.ResultWriter),
    processor,
  };
}

/** Step Functions' batch input: `{ Items, BatchInput }`, BatchInput only when ItemBatcher gives one. */
export function batchItems(
  items: readonly Json[],
  limits: { maxItems?: number; maxBytes: number },
  batchInput?: Json,
): JsonObject[] {
  const empty = (): JsonObject =>
    batchInput === undefined ? { Items: [] } : { Items: [], BatchInput: batchInput };
  const emptyBytes = Buffer.byteLength(JSON.stringify(empty()));
  const batches: JsonObject[] = [];
  let batch = empty();
  let batchItems = batch.Items as Json[];
  let bytes = emptyBytes;
  items.forEach((item, index) => {
    const itemBytes = Buffer.byteLength(JSON.stringify(item));
    if (emptyBytes + itemBytes > limits.maxBytes)
      throw new StatesError(
        'States.Runtime',
        `Item ${index} needs ${emptyBytes + itemBytes} bytes in a batch, over MaxInputBytesPerBatch ${limits.maxBytes}`,
      );
    if (
      batchItems.length > 0 &&
      (batchItems.length === limits.maxItems || bytes + 1 + itemBytes > limits.maxBytes)
    ) {
      batches.push(batch);
      batch = empty();
      batchItems = batch.Items as Json[];
      bytes = emptyBytes;
    }
    // Items after the first are preceded by a comma.
    bytes += (batchItems.length > 0 ? 1 : 0) + itemBytes;
    batchItems.push(item);
  });
  if (batchItems.length > 0) batches.push(batch);
  return batches;
}

export interface FailureTolerance {
  count?: number;
  percentage?: number;
}

/**
 * Whether a Map Run has failed more items than it tolerates. Failed items count against all the run's
 * items (a failed batch counts each of its items). With no tolerance given, one failure is too many;
 * with both, exceeding either is.
 */
export function exceedsTolerance(
  failedItems: number,
  totalItems: number,
  tolerance: FailureTolerance,
): boolean {
  if (failedItems === 0) return false;
  if (tolerance.count === undefined && tolerance.percentage === undefined) return true;
  if (tolerance.count !== undefined && failedItems > tolerance.count) return true;
  return tolerance.percentage !== undefined && (failedItems / totalItems) * 100 > tolerance.percentage;
}

/** The names AWS gives a Map Run and its children, from the parent state machine's ARN. */
export function mapRunNames(stateMachineArn: string, label: string, mapRunId: string) {
  const match = /^(arn:[^:]+:states:[^:]*:[^:]*):stateMachine:(.+)$/.exec(stateMachineArn);
  const [prefix, machineName] = match
    ? [match[1], match[2]]
    : ['arn:aws:states:us-east-1:000000000000', 'local'];
  const childMachineName = `${machineName}/${label}`;
  return {
    mapRunArn: `${prefix}:mapRun:${childMachineName}:${mapRunId}`,
    childStateMachineArn: `${prefix}:stateMachine:${childMachineName}`,
    childStateMachineName: childMachineName,
    childExecutionArn: (name: string) => `${prefix}:execution:${childMachineName}:${name}`,
  };
}

export interface ChildExecution {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  input: Json;
  startDate: Date;
  stopDate: Date;
}

export type ChildOutcome =
  | (ChildExecution & { status: 'SUCCEEDED'; output: Json })
  | (ChildExecution & { status: 'FAILED' | 'TIMED_OUT'; error: string; cause: string });

/** A child as ResultWriter's NONE transformation (and Step Functions' result files) give it. */
export function describeChild(child: ChildOutcome): JsonObject {
  const common = {
    ExecutionArn: child.executionArn,
    Input: JSON.stringify(child.input),
    InputDetails: { Included: true },
    Name: child.name,
  };
  const times = {
    StartDate: child.startDate.toISOString(),
    StateMachineArn: child.stateMachineArn,
    Status: child.status,
    StopDate: child.stopDate.toISOString(),
  };
  return child.status === 'SUCCEEDED'
    ? {
        ...common,
        Output: JSON.stringify(child.output),
        OutputDetails: { Included: true },
        RedriveCount: 0,
        RedriveStatus: 'NOT_REDRIVABLE',
        RedriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
        ...times,
      }
    : {
        ...common,
        Error: child.error,
        Cause: child.cause,
        RedriveCount: 0,
        RedriveStatus: 'REDRIVABLE_BY_MAP_RUN',
        ...times,
      };
}

/** A child that never started because the Map Run failed first (PENDING_n.json). */
export function describePendingChild(input: Json): JsonObject {
  return { Input: JSON.stringify(input), InputDetails: { Included: true }, Status: 'PENDING' };
}

/**
 * Children's results as a transformation gives them: NONE describes each child; COMPACT gives each
 * output; FLATTEN spreads outputs that are arrays. A failed child is always described (as with NONE).
 */
export function transformResults(children: readonly ChildOutcome[], transformation: Transformation): Json[] {
  return children.flatMap((child): Json[] => {
    if (child.status !== 'SUCCEEDED' || transformation === 'NONE') return [describeChild(child)];
    if (transformation === 'FLATTEN' && Array.isArray(child.output)) return child.output;
    return [child.output];
  });
}
