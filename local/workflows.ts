/**
 * The local Step Functions: aws-local-stepfunctions runs the very ASL files in statemachines/, with
 * every Task dispatched to the same handler modules the Lambdas run and every Distributed Map state run
 * as a Map Run (local/distributed-map.ts, docs/local-stack.md). It is served as a minimal Step Functions
 * endpoint (StartExecution, DescribeExecution), so the API handler makes the same SDK call locally as
 * in AWS.
 */
import './polyfills';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { Context } from 'aws-lambda';
import { STORE_NAMES } from '../config/data-map';
import { s3Client } from '../functions/lib/aws/clients';
import {
  STATE_MACHINES,
  TASK_FUNCTIONS,
  connectorFolder,
  connectorLocalName,
} from '../functions/lib/connectors/catalog';
import { RUNNER_CRASHED } from '../functions/watchdog/core';
import { countStates, LocalStateMachine, type RunEnvironment } from './distributed-map';
import type { Json } from './payload-template';

const ROOT = join(__dirname, '..');

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** Local function name -> handler module folder under functions/. */
export function localFunctionFolders(): Map<string, string> {
  const folders = new Map<string, string>();
  for (const spec of Object.values(TASK_FUNCTIONS)) folders.set(spec.localName, spec.folder);
  for (const store of STORE_NAMES) folders.set(connectorLocalName(store), connectorFolder(store));
  return folders;
}

/** The ASL text with each ${Substitution} replaced, exactly as CDK's definitionSubstitutions does. */
export function substitutedDefinition(file: string): Record<string, unknown> {
  let text = readFileSync(join(ROOT, file), 'utf8');
  for (const spec of Object.values(TASK_FUNCTIONS)) {
    text = text.split(`\${${spec.substitution}}`).join(spec.localName);
  }
  const leftover = /\$\{([A-Za-z0-9]+)\}/.exec(text);
  if (leftover) throw new Error(`${file}: no local value for substitution ${leftover[1]}`);
  return JSON.parse(text) as Record<string, unknown>;
}

function fakeLambdaContext(functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: `local-${Math.random().toString(16).slice(2)}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 900_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

interface Execution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  /** The input as started with (JSON), which DescribeExecution returns. */
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  startDate: Date;
  stopDate?: Date;
  error?: string;
  cause?: string;
  output?: string;
  done: Promise<void>;
}

export interface LocalWorkflowOptions {
  /** Per-state overrides of Retry pauses (ms), to keep fault-injection tests fast. */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /** Wraps each dispatched handler: tests inject faults here. */
  interceptor?: (functionName: string, payload: unknown, invoke: () => Promise<unknown>) => Promise<unknown>;
  /** More state machines (ASL files under the repository) beside STATE_MACHINES: tests' own fixtures. */
  stateMachines?: readonly { file: string; localName: string }[];
  /** More local functions by name, for those state machines' Task states. */
  functions?: Record<string, LambdaHandler>;
  /**
   * Told of every state an execution enters (inline Map iterations included): what Step Functions
   * bills as state transitions. Benchmarks count them for the cost model (docs/cost.md).
   */
  onStateEntered?: (stateMachineArn: string, stateName: string) => void;
  /**
   * Where executions are recorded as they start and end (JSON lines), so that after a crash
   * DescribeExecution still knows them: one that was running is then ABORTED (its process is gone),
   * which the watchdog re-drives. Unset: executions live in memory only.
   */
  journalFile?: string;
}

/** One line of the journal: an execution as it is at a start or an end. */
type JournalEntry = Omit<Execution, 'done' | 'startDate' | 'stopDate'> & {
  startDate: string;
  stopDate?: string;
};

export class LocalWorkflows {
  private readonly handlers = new Map<string, LambdaHandler>();
  private readonly executions = new Map<string, Execution>();
  private readonly machines = new Map<string, LocalStateMachine>();
  private readonly folders = localFunctionFolders();
  private readonly environment: RunEnvironment;

  constructor(private readonly options: LocalWorkflowOptions = {}) {
    for (const spec of [...Object.values(STATE_MACHINES), ...(options.stateMachines ?? [])]) {
      const definition = substitutedDefinition(spec.file) as Record<string, Json>;
      this.machines.set(this.arnOf(spec.localName), new LocalStateMachine(definition));
    }
    for (const [name, handler] of Object.entries(options.functions ?? {})) this.handlers.set(name, handler);
    if (options.journalFile) this.loadJournal(options.journalFile);
    this.environment = {
      invokeTask: (input) => this.dispatch(input),
      // Distributed Map states reach the local S3 as the handlers do.
      s3: s3Client,
      retryIntervalOverrides: options.retryIntervalOverrides,
      ...(options.onStateEntered ? { onStateEntered: options.onStateEntered } : {}),
    };
  }

  /** Executions a previous process recorded; those it was running died with it. */
  private loadJournal(file: string): void {
    if (!existsSync(file)) return;
    const lines = readFileSync(file, 'utf8').split('\n');
    for (const line of lines) {
      let entry: JournalEntry;
      try {
        entry = JSON.parse(line) as JournalEntry;
      } catch {
        continue; // The last line a kill cut short, or an empty one.
      }
      if (typeof entry?.executionArn !== 'string') continue;
      const { startDate, stopDate, ...rest } = entry;
      const execution: Execution = {
        ...rest,
        startDate: new Date(startDate),
        ...(stopDate ? { stopDate: new Date(stopDate) } : {}),
        done: Promise.resolve(),
      };
      this.executions.set(entry.executionArn, execution);
    }
    for (const execution of this.executions.values()) {
      if (execution.status !== 'RUNNING') continue;
      execution.status = 'ABORTED';
      // Told apart from an execution someone stopped: the watchdog re-drives it without counting it.
      execution.error = RUNNER_CRASHED;
      execution.cause = 'The local stack stopped while the execution ran';
      execution.stopDate = new Date();
      this.record(execution);
    }
  }

  /** Appends the execution's state to the journal, synchronously: on disk before anyone is answered. */
  private record(execution: Execution): void {
    const file = this.options.journalFile;
    if (!file) return;
    const { done: _done, startDate, stopDate, ...rest } = execution;
    const entry: JournalEntry = {
      ...rest,
      startDate: startDate.toISOString(),
      ...(stopDate ? { stopDate: stopDate.toISOString() } : {}),
    };
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, `${JSON.stringify(entry)}\n`);
  }

  arnOf(localName: string): string {
    return `arn:aws:states:us-east-1:000000000000:stateMachine:${localName}`;
  }

  /** Imported on first use, after the local stack has set the environment the handlers read at load. */
  private async handlerFor(functionName: string): Promise<LambdaHandler> {
    const cached = this.handlers.get(functionName);
    if (cached) return cached;
    const folder = this.folders.get(functionName);
    if (!folder)
      throw Object.assign(new Error('Function not found'), { name: 'Lambda.ResourceNotFoundException' });
    const mod = (await import(join(ROOT, 'functions', folder, 'handler'))) as { handler: LambdaHandler };
    this.handlers.set(functionName, mod.handler);
    return mod.handler;
  }

  private async dispatch(input: Json): Promise<Json> {
    const { FunctionName: functionName, Payload: payload } = (input ?? {}) as {
      FunctionName?: string;
      Payload?: Json;
    };
    if (typeof functionName !== 'string') throw new Error('Task input has no FunctionName');
    const handler = await this.handlerFor(functionName);
    const invoke = () => handler(payload, fakeLambdaContext(functionName));
    const result = this.options.interceptor
      ? await this.options.interceptor(functionName, payload, invoke)
      : await invoke();
    // The shape Step Functions' lambda:invoke integration returns.
    return { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: (result ?? null) as Json };
  }

  startExecution(stateMachineArn: string, name: string, input: Json): Execution {
    const machine = this.machines.get(stateMachineArn);
    if (!machine)
      throw Object.assign(new Error('State machine does not exist'), { name: 'StateMachineDoesNotExist' });
    const executionArn = stateMachineArn.replace(':stateMachine:', ':execution:') + `:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing)
      throw Object.assign(new Error('Execution already exists'), { name: 'ExecutionAlreadyExists' });

    const startDate = new Date();
    const context = {
      Execution: { Id: executionArn, Name: name, Input: input, StartTime: startDate.toISOString() },
      StateMachine: { Id: stateMachineArn, Name: stateMachineArn.split(':').pop() ?? '' },
    };
    const run = machine.run(input, context, this.environment);
    const { onStateEntered } = this.options;
    if (onStateEntered) void countStates(run.eventLogs, stateMachineArn, onStateEntered);
    const execution: Execution = {
      executionArn,
      stateMachineArn,
      name,
      input: JSON.stringify(input),
      status: 'RUNNING',
      startDate,
      done: run.result.then(
        (output) => {
          execution.status = 'SUCCEEDED';
          execution.output = JSON.stringify(output);
          execution.stopDate = new Date();
          this.record(execution);
        },
        (error: unknown) => {
          const err = error as {
            name?: string;
            message?: string;
            cause?: { name?: string; message?: string };
          };
          execution.status = 'FAILED';
          execution.error = err.cause?.name ?? err.name ?? 'Error';
          execution.cause = err.cause?.message ?? err.message;
          execution.stopDate = new Date();
          this.record(execution);
        },
      ),
    };
    this.executions.set(executionArn, execution);
    this.record(execution);
    return execution;
  }

  describe(executionArn: string): Execution | undefined {
    return this.executions.get(executionArn);
  }

  /** Resolves when every execution started so far has finished. */
  async idle(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  /** Serves the Step Functions JSON protocol for the calls the orchestrator makes. */
  listen(port: number, host = '127.0.0.1'): Promise<{ endpoint: string; server: Server }> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '').replace('AWSStepFunctions.', '');
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify(body));
        };
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, string>;
          if (target === 'StartExecution') {
            const name = body.name ?? `exec-${Date.now()}`;
            const execution = this.startExecution(
              body.stateMachineArn ?? '',
              name,
              JSON.parse(body.input ?? '{}'),
            );
            reply(200, {
              executionArn: execution.executionArn,
              startDate: execution.startDate.getTime() / 1000,
            });
          } else if (target === 'DescribeExecution') {
            const e = this.describe(body.executionArn ?? '');
            if (!e)
              return reply(400, { __type: 'ExecutionDoesNotExist', message: 'Execution does not exist' });
            reply(200, {
              executionArn: e.executionArn,
              stateMachineArn: e.stateMachineArn,
              name: e.name,
              input: e.input,
              status: e.status,
              startDate: e.startDate.getTime() / 1000,
              stopDate: e.stopDate ? e.stopDate.getTime() / 1000 : undefined,
              output: e.output,
              error: e.error,
              cause: e.cause,
            });
          } else {
            reply(400, { __type: 'UnknownOperationException', message: `Not supported locally: ${target}` });
          }
        } catch (error) {
          const err = error as { name?: string; message?: string };
          reply(400, { __type: err.name ?? 'ValidationException', message: err.message ?? 'Bad request' });
        }
      });
    });
    return new Promise((resolve) => {
      server.listen(port, host, () => {
        const { port: bound } = server.address() as AddressInfo;
        resolve({ endpoint: `http://${host}:${bound}`, server });
      });
    });
  }
}
