/**
 * Distributed Map states on the local stack. aws-local-stepfunctions runs a DISTRIBUTED Map as an
 * inline one: it ignores ItemReader, ItemBatcher, the tolerated failure threshold and ResultWriter. So
 * before a definition reaches it, each DISTRIBUTED Map state (at any depth) becomes a Task state that
 * keeps the Map's InputPath, ResultSelector, ResultPath, OutputPath, Retry, Catch and transition, and
 * whose local handler carries out the Map Run as Step Functions does: items read from S3 or selected
 * from the input, ItemSelector applied, items batched, one child execution of the ItemProcessor per
 * item or batch with at most MaxConcurrency running, failed items counted against the threshold,
 * results written to S3. The ASL files themselves are unchanged: CDK deploys the same text.
 */
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import { forEachLimited } from '../functions/lib/runtime/concurrency';
import {
  FIELDS_KEPT_ON_TASK,
  MAX_BATCH_BYTES,
  StatesError,
  batchItems,
  describeChild,
  describePendingChild,
  exceedsTolerance,
  isDistributedMap,
  mapRunNames,
  readDistributedMap,
  settingValue,
  transformResults,
  type ChildOutcome,
  type DistributedMapConfig,
  type FailureTolerance,
  type Setting,
} from './map-run';
import { readItems, writeResults } from './map-run-s3';
import {
  PayloadTemplate,
  isJsonObject,
  stateError,
  type ContextObject,
  type Json,
  type JsonObject,
} from './payload-template';

/** The Resource of the Task standing in for a Distributed Map (never called: a local handler runs it). */
export const DISTRIBUTED_MAP_RESOURCE = 'arn:aws:states:::local:distributedMap';

/** The longest a timer waits: a Map state has no timeout, so the Task standing in for it must not either. */
const NO_TIMEOUT_SECONDS = 2_147_483;

/**
 * The most children run at once locally, whatever MaxConcurrency allows (0 means up to 10,000 in
 * AWS): here they all share this process and its event loop.
 */
export const LOCAL_MAX_CONCURRENCY = 50;

const VALIDATION = { validationOptions: { checkArn: true } } as const;
/** For what a validated definition yields (validation costs about a second a definition). */
const VALIDATED = { validationOptions: { noValidate: true } } as const;

/** What running a definition needs from the local stack. */
export interface RunEnvironment {
  /** Runs a Task state (a lambda:invoke) with its effective input; resolves with its result. */
  invokeTask(input: Json): Promise<Json>;
  /** The local S3, for Distributed Map item readers and result writers. */
  s3(): S3Client;
  /** Per-state overrides of Retry pauses (ms). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /** Told of every state an execution enters, a Distributed Map's child executions' included. */
  onStateEntered?: (stateMachineArn: string, stateName: string) => void;
}

/** Reports an execution's entered states (what Step Functions Standard bills) as its events come. */
export async function countStates(
  events: AsyncIterable<{ type: string; state?: { name?: string } }>,
  stateMachineArn: string,
  onStateEntered: (stateMachineArn: string, stateName: string) => void,
): Promise<void> {
  try {
    for await (const event of events)
      if (event.type === 'StateEntered') onStateEntered(stateMachineArn, event.state?.name ?? '');
  } catch {
    // The execution's own outcome is reported through its result, not here.
  }
}

/** Every Task state name in a definition, including those inside Map and Parallel states. */
export function taskStateNames(definition: Record<string, unknown>): string[] {
  const names: string[] = [];
  const states = (definition.States ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') names.push(name);
    const nested = (state.ItemProcessor ?? state.Iterator) as Record<string, unknown> | undefined;
    if (nested) names.push(...taskStateNames(nested));
    for (const branch of (state.Branches ?? []) as Record<string, unknown>[])
      names.push(...taskStateNames(branch));
  }
  return names;
}

/**
 * The Task that stands in for a Distributed Map state. States.TaskFailed is a wildcard in a Task's
 * Retry and Catch but not in a Map's: renamed to a name no error has, it keeps matching nothing here.
 */
function standInTask(map: JsonObject): JsonObject {
  const task: JsonObject = {
    Type: 'Task',
    Resource: DISTRIBUTED_MAP_RESOURCE,
    TimeoutSeconds: NO_TIMEOUT_SECONDS,
  };
  for (const field of FIELDS_KEPT_ON_TASK) {
    const value = map[field];
    if (field !== 'Type' && value !== undefined) task[field] = value;
  }
  for (const field of ['Retry', 'Catch'] as const) {
    const rules = task[field];
    if (!Array.isArray(rules)) continue;
    task[field] = rules.map((rule) =>
      isJsonObject(rule) && Array.isArray(rule.ErrorEquals)
        ? {
            ...rule,
            ErrorEquals: rule.ErrorEquals.map((name) =>
              name === 'States.TaskFailed' ? 'States.TaskFailed (of Task states only)' : name,
            ),
          }
        : rule,
    );
  }
  return task;
}

/**
 * The definition with each DISTRIBUTED Map state replaced by its stand-in Task (in Parallel branches and
 * inline Map processors too; a Distributed Map's own ItemProcessor is handled when its children run),
 * and the replaced states' configurations by state name.
 */
export function replaceDistributedMaps(definition: JsonObject): {
  definition: JsonObject;
  maps: Map<string, DistributedMapConfig>;
} {
  const maps = new Map<string, DistributedMapConfig>();
  const queryLanguage = definition.QueryLanguage;
  const replaceIn = (machine: JsonObject): JsonObject => {
    const states = isJsonObject(machine.States) ? machine.States : {};
    const replaced = Object.entries(states).map(([name, state]): [string, Json] => {
      if (!isJsonObject(state)) return [name, state];
      if (isDistributedMap(state)) {
        if (maps.has(name)) throw new Error(`Two Distributed Map states are named "${name}"`);
        maps.set(name, readDistributedMap(name, state, queryLanguage));
        return [name, standInTask(state)];
      }
      const copy: JsonObject = { ...state };
      for (const key of ['ItemProcessor', 'Iterator']) {
        const nested = state[key];
        if (isJsonObject(nested)) copy[key] = replaceIn(nested);
      }
      if (Array.isArray(state.Branches))
        copy.Branches = state.Branches.map((branch) => (isJsonObject(branch) ? replaceIn(branch) : branch));
      return [name, copy];
    });
    return { ...machine, States: Object.fromEntries(replaced) };
  };
  return { definition: replaceIn(definition), maps };
}

/**
 * A definition ready to run locally: validated as written (the validator checks a Distributed Map's
 * fields against the documented ones), then run by aws-local-stepfunctions with its Task states
 * dispatched to the local functions and its Distributed Map states run here.
 */
export class LocalStateMachine {
  private readonly machine: StateMachine;
  private readonly functionTasks: readonly string[];
  private readonly distributedMaps: ReadonlyMap<string, DistributedMap>;

  /** `validated`: the definition is part of one already validated (a Distributed Map's ItemProcessor). */
  constructor(definition: JsonObject, { validated = false } = {}) {
    // The validator also sets every state's QueryLanguage (JSONPath unless the definition says).
    const asWritten = validated ? undefined : new StateMachine(definition as never, VALIDATION);
    const { definition: runnable, maps } = replaceDistributedMaps(definition);
    this.machine = asWritten && maps.size === 0 ? asWritten : new StateMachine(runnable as never, VALIDATED);
    this.distributedMaps = new Map([...maps].map(([name, config]) => [name, new DistributedMap(config)]));
    this.functionTasks = taskStateNames(runnable).filter((name) => !maps.has(name));
  }

  run(input: Json, context: ContextObject, env: RunEnvironment): ReturnType<StateMachine['run']> {
    const handlers: Record<string, (taskInput: unknown) => Promise<Json>> = {};
    for (const name of this.functionTasks) handlers[name] = (taskInput) => env.invokeTask(taskInput as Json);
    for (const [name, map] of this.distributedMaps)
      handlers[name] = (mapInput) => map.run(mapInput as Json, context, env);
    return this.machine.run(input, {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        retryIntervalOverrides: env.retryIntervalOverrides,
      },
      context,
    });
  }
}

type Resolve = (input: Json, context: ContextObject) => Promise<number | undefined>;

/** A Setting's value: given, or read from the state input (and checked as the field is). */
function resolver(name: string, setting: Setting | undefined, min: number, max?: number): Resolve {
  if (!setting) return async () => undefined;
  if ('value' in setting) return async () => setting.value;
  const path = PayloadTemplate.ofPath(setting.path);
  return async (input, context) => settingValue(name, await path.select(input, context), min, max);
}

async function evaluateObject(template: PayloadTemplate, input: Json, context: ContextObject, what: string) {
  const value = await template.evaluate(input, context);
  if (!isJsonObject(value)) throw new StatesError('States.Runtime', `${what} must evaluate to an object`);
  return value;
}

function stateMachineArn(context: ContextObject): string {
  const machine = context.StateMachine;
  return isJsonObject(machine) && typeof machine.Id === 'string' ? machine.Id : '';
}

type MapRunNames = ReturnType<typeof mapRunNames>;

interface ChildInput {
  input: Json;
  /** Items in this child's input: a failed child counts them all against the threshold. */
  itemCount: number;
}

/** One Distributed Map state, run as Step Functions runs a Map Run. */
class DistributedMap {
  private readonly processor: LocalStateMachine;
  private readonly itemsAt: PayloadTemplate;
  private readonly readerParameters?: PayloadTemplate;
  private readonly selector?: PayloadTemplate;
  private readonly batchInput?: PayloadTemplate;
  private readonly writerParameters?: PayloadTemplate;
  private readonly maxItems: Resolve;
  private readonly maxItemsPerBatch: Resolve;
  private readonly maxBytesPerBatch: Resolve;
  private readonly maxConcurrency: Resolve;
  private readonly toleratedCount: Resolve;
  private readonly toleratedPercentage: Resolve;

  constructor(private readonly config: DistributedMapConfig) {
    this.processor = new LocalStateMachine(config.processor, { validated: true });
    this.itemsAt = PayloadTemplate.ofPath(config.itemsPath);
    const template = (value?: JsonObject) => (value ? new PayloadTemplate(value) : undefined);
    this.readerParameters = template(config.itemReader?.parameters);
    this.selector = template(config.itemSelector);
    this.batchInput = template(config.itemBatcher?.batchInput);
    this.writerParameters = template(config.resultWriter?.parameters);
    this.maxItems = resolver('MaxItems', config.itemReader?.maxItems, 1, 100_000_000);
    this.maxItemsPerBatch = resolver('MaxItemsPerBatch', config.itemBatcher?.maxItems, 1);
    this.maxBytesPerBatch = resolver(
      'MaxInputBytesPerBatch',
      config.itemBatcher?.maxBytes,
      1,
      MAX_BATCH_BYTES,
    );
    this.maxConcurrency = resolver('MaxConcurrency', config.maxConcurrency, 0);
    this.toleratedCount = resolver('ToleratedFailureCount', config.toleratedFailureCount, 0);
    this.toleratedPercentage = resolver(
      'ToleratedFailurePercentage',
      config.toleratedFailurePercentage,
      0,
      100,
    );
  }

  async run(input: Json, context: ContextObject, env: RunEnvironment): Promise<Json> {
    const mapRunId = randomUUID();
    const names = mapRunNames(stateMachineArn(context), this.config.label, mapRunId);
    const stateContext = {
      ...context,
      State: { Name: this.config.stateName, EnteredTime: new Date().toISOString() },
    };
    const items = await this.items(input, stateContext, env);
    const children = await this.childInputs(items, input, stateContext);
    const { outcomes, failedItems, exceeded } = await this.runChildren(
      children,
      input,
      stateContext,
      names,
      env,
    );
    const finished = outcomes.filter((outcome): outcome is ChildOutcome => outcome !== undefined);

    const writer = this.config.resultWriter;
    const written = this.writerParameters
      ? await writeResults(
          env.s3(),
          await evaluateObject(this.writerParameters, input, stateContext, 'ResultWriter.Parameters'),
          { arn: names.mapRunArn, id: mapRunId },
          {
            SUCCEEDED: transformResults(
              finished.filter((outcome) => outcome.status === 'SUCCEEDED'),
              writer?.transformation ?? 'NONE',
            ),
            FAILED: finished.filter((outcome) => outcome.status !== 'SUCCEEDED').map(describeChild),
            PENDING: children
              .filter((_, i) => !outcomes[i])
              .map((child) => describePendingChild(child.input)),
          },
        )
      : undefined;
    if (exceeded)
      throw new StatesError(
        'States.ExceedToleratedFailureThreshold',
        `${failedItems} of ${items.length} items failed, more than the Map Run tolerates`,
      );
    if (written) return { MapRunArn: names.mapRunArn, ResultWriterDetails: written };
    // Not exceeded: every child ran.
    return transformResults(finished, writer?.transformation ?? 'COMPACT');
  }

  /**
   * Runs the children, at most MaxConcurrency at once, counting failed items against the tolerance.
   * Once it is exceeded no child starts (its outcome stays undefined); those running finish, as Step
   * Functions allows.
   */
  private async runChildren(
    children: readonly ChildInput[],
    input: Json,
    context: ContextObject,
    names: MapRunNames,
    env: RunEnvironment,
  ): Promise<{ outcomes: (ChildOutcome | undefined)[]; failedItems: number; exceeded: boolean }> {
    const totalItems = children.reduce((sum, child) => sum + child.itemCount, 0);
    const tolerance: FailureTolerance = {
      count: await this.toleratedCount(input, context),
      percentage: await this.toleratedPercentage(input, context),
    };
    const concurrency = Math.min(
      (await this.maxConcurrency(input, context)) || Infinity,
      LOCAL_MAX_CONCURRENCY,
    );
    const outcomes: (ChildOutcome | undefined)[] = children.map(() => undefined);
    let failedItems = 0;
    let exceeded = false;
    function* untilExceeded(): Generator<[ChildInput, number]> {
      for (const [index, child] of children.entries()) {
        if (exceeded) return;
        yield [child, index];
      }
    }
    await forEachLimited(untilExceeded(), concurrency, async ([child, index]) => {
      const outcome = await this.runChild(child.input, names, env);
      outcomes[index] = outcome;
      if (outcome.status === 'SUCCEEDED') return;
      failedItems += child.itemCount;
      exceeded ||= exceedsTolerance(failedItems, totalItems, tolerance);
    });
    return { outcomes, failedItems, exceeded };
  }

  /** The items: from the ItemReader, or the array ItemsPath selects; then ItemSelector on each. */
  private async items(input: Json, context: ContextObject, env: RunEnvironment): Promise<Json[]> {
    const reader = this.config.itemReader;
    let items: Json[];
    if (reader && this.readerParameters) {
      const parameters = await evaluateObject(this.readerParameters, input, context, 'ItemReader.Parameters');
      items = await readItems(env.s3(), reader, parameters, await this.maxItems(input, context));
    } else {
      const selected = await this.itemsAt.select(input, context);
      if (!Array.isArray(selected))
        throw new StatesError('States.Runtime', `ItemsPath ${this.config.itemsPath} must select an array`);
      items = selected;
    }
    if (!this.selector) return items;
    const selected: Json[] = [];
    for (const [index, value] of items.entries()) {
      selected.push(
        await this.selector.evaluate(input, { ...context, Map: { Item: { Index: index, Value: value } } }),
      );
    }
    return selected;
  }

  /** Each child's input: an item, or with ItemBatcher a batch `{ Items, BatchInput }`. */
  private async childInputs(items: Json[], input: Json, context: ContextObject): Promise<ChildInput[]> {
    if (!this.config.itemBatcher) return items.map((item) => ({ input: item, itemCount: 1 }));
    const limits = {
      maxItems: await this.maxItemsPerBatch(input, context),
      maxBytes: (await this.maxBytesPerBatch(input, context)) ?? MAX_BATCH_BYTES,
    };
    const batchInput = this.batchInput ? await this.batchInput.evaluate(input, context) : undefined;
    return batchItems(items, limits, batchInput).map((batch) => ({
      input: batch,
      itemCount: (batch.Items as Json[]).length,
    }));
  }

  /** One child execution of the ItemProcessor, with a context of its own as in Step Functions. */
  private async runChild(input: Json, names: MapRunNames, env: RunEnvironment): Promise<ChildOutcome> {
    const name = randomUUID();
    const execution = {
      executionArn: names.childExecutionArn(name),
      name,
      stateMachineArn: names.childStateMachineArn,
      input,
      startDate: new Date(),
    };
    const context = {
      Execution: {
        Id: execution.executionArn,
        Name: name,
        Input: input,
        StartTime: execution.startDate.toISOString(),
      },
      StateMachine: { Id: names.childStateMachineArn, Name: names.childStateMachineName },
    };
    try {
      const run = this.processor.run(input, context, env);
      // Each child is an execution of its own, billed per transition as any (ExecutionType STANDARD).
      if (env.onStateEntered) void countStates(run.eventLogs, names.childStateMachineArn, env.onStateEntered);
      const output = (await run.result) as Json;
      return { ...execution, stopDate: new Date(), status: 'SUCCEEDED', output };
    } catch (error) {
      const stopDate = new Date();
      if (error instanceof ExecutionTimeoutError)
        return {
          ...execution,
          stopDate,
          status: 'TIMED_OUT',
          error: 'States.Timeout',
          cause: 'The execution timed out',
        };
      const failure = stateError(error) as { name?: string; message?: string };
      return {
        ...execution,
        stopDate,
        status: 'FAILED',
        error: failure.name ?? 'Error',
        cause: failure.message ?? '',
      };
    }
  }
}
