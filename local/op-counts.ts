/**
 * Counts what a run on the local stack would be billed for in AWS (docs/cost.md): state transitions (the
 * local workflows' StateEntered events), function time per function (each dispatched task's duration),
 * and DynamoDB and S3 requests per operation, with DynamoDB's consumed capacity and S3's bytes. The
 * counting middleware goes on the handlers' shared SDK clients (functions/lib/aws/clients.ts) of this
 * process only; it is for benchmarks, never deployed.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';

export interface OperationCounts {
  /** State transitions, by state machine name. */
  transitions: Record<string, number>;
  /** Task invocations and their milliseconds, by local function name. */
  functions: Record<string, { invocations: number; ms: number }>;
  /** Requests by `Service.Operation` (e.g. `S3.GetObject`, `DynamoDB.BatchWriteItem`). */
  requests: Record<string, number>;
  /**
   * The same, by the local function whose invocation made them (`(outside)`: the API, the runner, the
   * bench itself): what one job's own functions cost, apart from the workflows it resumes.
   */
  requestsByFunction: Record<string, Record<string, number>>;
  /** S3 requests by bucket, then `Service.Operation`: what a store's own objects cost (the logs rewrite, say). */
  s3ByBucket: Record<string, Record<string, number>>;
  /**
   * Object writes (PutObject, CompleteMultipartUpload, CopyObject) by `bucket/key`: how many times each
   * object was written (the log-erasure job must write each affected object once).
   */
  s3WritesByKey: Record<string, number>;
  /** DynamoDB capacity units consumed, as the service reports them (ReturnConsumedCapacity). */
  readUnits: number;
  writeUnits: number;
  /** The same units by the local function that consumed them (as `requestsByFunction`). */
  unitsByFunction: Record<string, { read: number; write: number }>;
  /** S3 bytes received (GetObject bodies) and sent (PutObject, UploadPart bodies). */
  s3BytesIn: number;
  s3BytesOut: number;
  /**
   * The process's CPU milliseconds (every thread) while at least one invocation of the local function
   * runs (`within`): that function's CPU, plus whatever ran beside it (the local stores): an upper bound.
   */
  cpuMsByFunction: Record<string, number>;
}

export function emptyCounts(): OperationCounts {
  return {
    transitions: {},
    functions: {},
    requests: {},
    requestsByFunction: {},
    s3ByBucket: {},
    s3WritesByKey: {},
    readUnits: 0,
    writeUnits: 0,
    unitsByFunction: {},
    s3BytesIn: 0,
    s3BytesOut: 0,
    cpuMsByFunction: {},
  };
}

const WRITES = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
  'PutCommand',
  'UpdateCommand',
  'DeleteCommand',
  'BatchWriteCommand',
  'TransactWriteCommand',
]);

/** S3 operations that leave a new version of an object behind. */
const OBJECT_WRITES = new Set(['S3.PutObject', 'S3.CompleteMultipartUpload', 'S3.CopyObject']);

interface Capacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

function bodyBytes(body: unknown): number {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.length;
  return 0;
}

/** Counts while `active`; `reset()` starts a new tally. */
export class OperationCounter {
  counts = emptyCounts();
  active = false;
  private readonly attached = new WeakSet<object>();
  private readonly invocation = new AsyncLocalStorage<string>();

  /** Invocations running, by function name, and the process's CPU when the first of them started. */
  private readonly running = new Map<string, { count: number; since: NodeJS.CpuUsage }>();

  /**
   * Runs one function's invocation: the requests it makes are counted under its name too, and the CPU
   * time while it runs.
   */
  async within<T>(functionName: string, invoke: () => Promise<T>): Promise<T> {
    const running = this.running.get(functionName) ?? { count: 0, since: { user: 0, system: 0 } };
    this.running.set(functionName, running);
    if (running.count === 0) running.since = process.cpuUsage();
    running.count += 1;
    try {
      return await this.invocation.run(functionName, invoke);
    } finally {
      running.count -= 1;
      if (running.count === 0 && this.active) {
        const used = process.cpuUsage(running.since);
        const byFunction = this.counts.cpuMsByFunction;
        byFunction[functionName] = (byFunction[functionName] ?? 0) + (used.user + used.system) / 1000;
      }
    }
  }

  reset(): void {
    this.counts = emptyCounts();
  }

  take(): OperationCounts {
    const counts = this.counts;
    this.reset();
    return counts;
  }

  stateEntered = (stateMachineArn: string): void => {
    if (!this.active) return;
    const name = stateMachineArn.split(':').pop() ?? stateMachineArn;
    this.counts.transitions[name] = (this.counts.transitions[name] ?? 0) + 1;
  };

  task(functionName: string, ms: number): void {
    if (!this.active) return;
    const entry = (this.counts.functions[functionName] ??= { invocations: 0, ms: 0 });
    entry.invocations += 1;
    entry.ms += ms;
  }

  /** Adds the middleware to the handlers' DynamoDB (document) client: requests and capacity. */
  countDynamo(doc: DynamoDBDocumentClient): void {
    if (this.attached.has(doc.middlewareStack)) return;
    this.attached.add(doc.middlewareStack);
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (!this.active) return next(args);
        const input = args.input as Record<string, unknown>;
        const command = String(context.commandName ?? 'Unknown');
        this.count(`DynamoDB.${command.replace(/Command$/, '')}`);
        // The service answers what each request consumed: the units on-demand mode bills.
        input.ReturnConsumedCapacity ??= 'TOTAL';
        const out = await next(args);
        const consumed = (out.output as { ConsumedCapacity?: Capacity | Capacity[] }).ConsumedCapacity;
        for (const capacity of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
          const units = capacity.CapacityUnits ?? 0;
          const own = (this.counts.unitsByFunction[this.caller()] ??= { read: 0, write: 0 });
          if (WRITES.has(command)) {
            const write = capacity.WriteCapacityUnits ?? units;
            this.counts.writeUnits += write;
            own.write += write;
          } else {
            const read = capacity.ReadCapacityUnits ?? units;
            this.counts.readUnits += read;
            own.read += read;
          }
        }
        return out;
      },
      { step: 'initialize', name: 'benchOperationCounter' },
    );
  }

  /** Adds the middleware to the handlers' S3 client: requests and body bytes. */
  countS3(s3: S3Client): void {
    if (this.attached.has(s3.middlewareStack)) return;
    this.attached.add(s3.middlewareStack);
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (!this.active) return next(args);
        const operation = `S3.${String(context.commandName ?? 'Unknown').replace(/Command$/, '')}`;
        this.count(operation);
        const input = args.input as { Body?: unknown; Bucket?: string; Key?: string };
        const bucket = (this.counts.s3ByBucket[input.Bucket ?? ''] ??= {});
        bucket[operation] = (bucket[operation] ?? 0) + 1;
        if (OBJECT_WRITES.has(operation)) {
          const object = `${input.Bucket ?? ''}/${input.Key ?? ''}`;
          this.counts.s3WritesByKey[object] = (this.counts.s3WritesByKey[object] ?? 0) + 1;
        }
        this.counts.s3BytesOut += bodyBytes(input.Body);
        const out = await next(args);
        const length = (out.output as { ContentLength?: number }).ContentLength;
        if (context.commandName === 'GetObjectCommand' && typeof length === 'number')
          this.counts.s3BytesIn += length;
        return out;
      },
      { step: 'initialize', name: 'benchOperationCounter' },
    );
  }

  /** The invocation the current call belongs to (`within`), or `(outside)`. */
  private caller(): string {
    return this.invocation.getStore() ?? '(outside)';
  }

  private count(operation: string): void {
    this.counts.requests[operation] = (this.counts.requests[operation] ?? 0) + 1;
    const byFunction = (this.counts.requestsByFunction[this.caller()] ??= {});
    byFunction[operation] = (byFunction[operation] ?? 0) + 1;
  }
}
