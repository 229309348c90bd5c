/**
 * Fault injection for the local stack (docs/chaos.md): faults at every workflow Task (before or after
 * the handler's effects), inside connectors between batches, and in the stores' answers (a proxy in
 * front of DynamoDB Local and the local S3, local/fault-proxy.ts). Off unless the stack's `chaos`
 * option or DSR_CHAOS (the same options as JSON) asks for it; off, nothing here is even loaded.
 *
 * Every fault is one a real deployment meets and must absorb: a typed transient error, a Lambda that
 * died (Step Functions reports `Lambda.Unknown` for a crash, a timeout or running out of memory), a
 * throttled, failed, timed-out or reset store call. Task and connector faults are injected into one
 * invocation (the same function and payload, across its retries) only while it has failed fewer than
 * `maxPerInvocation` times, for any reason: its failed attempts stay within any Retry's MaxAttempts
 * unless the stores' own faults alone use them up. A campaign measures whether retries recover, not
 * whether a retry budget can be exhausted.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { ConnectorTaskInput } from '../functions/lib/connectors/contract';
import { TransientError } from '../functions/lib/runtime/errors';
import type { ProxyFaultKind } from './fault-proxy';
import { seededRandom } from './seed-data';

export interface ChaosOptions {
  /** Seeds every random choice: the same seed, the same faults for the same calls in the same order. */
  seed: number;
  /** Chance that a Task invocation faults (half before the handler runs, half after its effects). */
  taskRate: number;
  /** Chance that a connector faults at each point between its batches. */
  batchRate: number;
  /** Per store call through the proxy, the chance of each fault. */
  proxy: Partial<Record<ProxyFaultKind, number>>;
  /** The SDK clients' request timeout (ms); the proxy holds a `timeout` answer twice as long. */
  requestTimeoutMs: number;
  /** No task or connector fault once an invocation has failed this many times (default 2). */
  maxPerInvocation?: number;
}

export type TaskFaultKind =
  | 'task-transient-before'
  | 'task-transient-after'
  | 'task-crash-before'
  | 'task-crash-after'
  | 'connector-between-batches';
export type FaultKind = TaskFaultKind | `store-${ProxyFaultKind}`;

/** The options DSR_CHAOS holds (JSON), or undefined when it is unset: chaos is off. */
export function chaosFromEnv(env: NodeJS.ProcessEnv = process.env): ChaosOptions | undefined {
  const text = env.DSR_CHAOS;
  if (!text) return undefined;
  const parsed = JSON.parse(text) as Partial<ChaosOptions>;
  return {
    seed: Number(parsed.seed ?? 1),
    taskRate: Number(parsed.taskRate ?? 0),
    batchRate: Number(parsed.batchRate ?? 0),
    proxy: parsed.proxy ?? {},
    requestTimeoutMs: Number(parsed.requestTimeoutMs ?? 1000),
    ...(parsed.maxPerInvocation === undefined ? {} : { maxPerInvocation: Number(parsed.maxPerInvocation) }),
  };
}

/** What a Lambda that died mid-invocation looks like to Step Functions. */
export class LambdaCrashError extends Error {
  override name = 'Lambda.Unknown';
  constructor() {
    super('The Lambda function stopped before it answered (injected)');
  }
}

/** Fault counts by kind, and the decisions behind them. */
export class FaultInjector {
  readonly counts = new Map<FaultKind, number>();
  readonly random: () => number;
  /** Failed attempts by invocation: injected faults and the handlers' own errors alike. */
  private readonly failuresOf = new Map<string, number>();
  /** The errors injected here, told apart from the handlers' own when they surface. */
  private readonly injected = new WeakSet<object>();
  /** The invocation a connector's batches belong to. */
  private readonly invocation = new AsyncLocalStorage<string>();
  private readonly maxPerInvocation: number;
  enabled = false;

  constructor(readonly options: ChaosOptions) {
    this.random = seededRandom(options.seed);
    this.maxPerInvocation = options.maxPerInvocation ?? 2;
  }

  count(kind: FaultKind): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }

  /** Whether the invocation `key` faults now, at `rate`, within its budget. */
  private roll(key: string, rate: number): boolean {
    if (!this.enabled || rate <= 0) return false;
    return (this.failuresOf.get(key) ?? 0) < this.maxPerInvocation && this.random() < rate;
  }

  private failed(key: string): void {
    this.failuresOf.set(key, (this.failuresOf.get(key) ?? 0) + 1);
  }

  private inject(key: string, error: Error): Error {
    this.failed(key);
    this.injected.add(error);
    return error;
  }

  /** The local workflows' interceptor (LocalWorkflowOptions.interceptor). */
  taskInterceptor(): (
    functionName: string,
    payload: unknown,
    invoke: () => Promise<unknown>,
  ) => Promise<unknown> {
    return async (functionName, payload, invoke) => {
      const key = `${functionName}:${invocationKey(payload)}`;
      const run = async () => {
        try {
          return await this.invocation.run(key, invoke);
        } catch (error) {
          // The handler's own failure (a store fault its SDK retries did not absorb) uses the budget too.
          if (!(error instanceof Object && this.injected.has(error))) this.failed(key);
          throw error;
        }
      };
      if (!this.roll(key, this.options.taskRate)) return run();
      const crash = this.random() < 0.5;
      const after = this.random() < 0.5;
      const kind: TaskFaultKind = `task-${crash ? 'crash' : 'transient'}-${after ? 'after' : 'before'}`;
      if (after) await run();
      this.count(kind);
      throw this.inject(key, crash ? new LambdaCrashError() : new TransientError('Injected fault'));
    };
  }

  /** The connectors' hook between batches (setBetweenBatchesHook). */
  betweenBatchesHook(): (
    point: Pick<ConnectorTaskInput, 'requestId' | 'store' | 'operation'>,
  ) => Promise<void> {
    return async (point) => {
      // The invocation's own budget (shared with its task faults) when known.
      const key = this.invocation.getStore() ?? `${point.requestId}:${point.store}:${point.operation}`;
      if (!this.roll(key, this.options.batchRate)) return;
      this.count('connector-between-batches');
      throw this.inject(key, new TransientError('Injected fault between batches'));
    };
  }
}

/** What identifies one invocation across its retries: the payload (request, store, operation...). */
function invocationKey(payload: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(payload) ?? '')
    .digest('hex')
    .slice(0, 16);
}
