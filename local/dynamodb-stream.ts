/**
 * The local stand-in for a Lambda event source mapping on a DynamoDB stream: polls a table's stream on
 * DynamoDB Local and hands its records, in batches, to the same handler the Lambda runs. The calls are made
 * raw: the Streams API's JSON is exactly the record shape of Lambda's event (an SDK client would turn dates
 * and binaries into objects first). As with ReportBatchItemFailures, a record the handler reports failed,
 * or a batch it throws on, is read again from there on the next poll; a shard's parent is read first.
 */
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { errorFields, log } from '../functions/lib/runtime/logger';
import { dynamoLocalCall } from './stores';

export interface StreamPollerOptions {
  endpoint: string;
  tableName: string;
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;
  /** Pause between polls once the stream is read to its end. */
  intervalMs?: number;
  batchSize?: number;
}

export interface StreamPoller {
  /** Resolves once every record written before the call has been handed to the handler and applied. */
  caughtUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface Shard {
  parentShardId?: string;
  iterator?: string;
  /** The last record the handler applied: reading resumes after it. */
  lastSequence?: string;
  closed: boolean;
}

interface ShardDescription {
  ShardId: string;
  ParentShardId?: string;
}

const CALL_TIMEOUT_MS = 5000;
/** The longest a new shard of an open stream can go unlisted (DynamoDB Local opens one per stream). */
const DESCRIBE_EVERY_MS = 1000;

class StreamCallError extends Error {
  override name = 'StreamCallError';
}

export async function startStreamPoller(options: StreamPollerOptions): Promise<StreamPoller> {
  const { endpoint, handler, intervalMs = 100, batchSize = 100 } = options;
  const call = async <T>(target: string, input: unknown): Promise<T> => {
    const { ok, body } = await dynamoLocalCall(endpoint, target, input, CALL_TIMEOUT_MS);
    if (!ok) throw new StreamCallError(`${target} failed: ${String((body as { __type?: unknown }).__type)}`);
    return body as T;
  };
  const streams = <T>(action: string, input: unknown) => call<T>(`DynamoDBStreams_20120810.${action}`, input);

  const { Table } = await call<{ Table?: { LatestStreamArn?: string } }>('DynamoDB_20120810.DescribeTable', {
    TableName: options.tableName,
  });
  const streamArn = Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`Table ${options.tableName} has no stream`);

  const shards = new Map<string, Shard>();
  const refreshShards = async () => {
    let startShardId: string | undefined;
    do {
      const { StreamDescription } = await streams<{
        StreamDescription: { Shards?: ShardDescription[]; LastEvaluatedShardId?: string };
      }>('DescribeStream', { StreamArn: streamArn, ExclusiveStartShardId: startShardId });
      for (const { ShardId, ParentShardId } of StreamDescription.Shards ?? []) {
        if (!shards.has(ShardId)) shards.set(ShardId, { parentShardId: ParentShardId, closed: false });
      }
      startShardId = StreamDescription.LastEvaluatedShardId;
    } while (startShardId);
  };

  /** Hands a batch over; answers how many records, from the first, were applied. */
  const deliver = async (records: DynamoDBRecord[]): Promise<number> => {
    try {
      // As Lambda's event source mapping does, each record names the stream it came from.
      const event = { Records: records.map((record) => ({ ...record, eventSourceARN: streamArn })) };
      const failed = (await handler(event))?.batchItemFailures?.[0]?.itemIdentifier;
      if (failed === undefined) return records.length;
      return Math.max(
        0,
        records.findIndex((record) => record.dynamodb?.SequenceNumber === failed),
      );
    } catch (error) {
      log.error('stream handler failed', { table: options.tableName, ...errorFields(error) });
      return 0;
    }
  };

  /*
   * DescribeStream only when the shards may have changed: while no shard is open, after one closed (its
   * children are listed then), after a failed poll, and at most a second apart otherwise. Described on
   * every poll, it doubled the calls of an idle stack, which polls all the time (CPU on a loaded machine).
   */
  let describeAgain = true;
  let describedAt = 0;
  /** Reads each readable shard once: `idle` when the stream had nothing new. */
  const pollOnce = async (): Promise<'idle' | 'applied' | 'failed'> => {
    const anyOpen = [...shards.values()].some((shard) => !shard.closed);
    if (describeAgain || !anyOpen || Date.now() - describedAt >= DESCRIBE_EVERY_MS) {
      await refreshShards();
      describeAgain = false;
      describedAt = Date.now();
    }
    let outcome: 'idle' | 'applied' | 'failed' = 'idle';
    for (const [shardId, shard] of shards) {
      const parent = shard.parentShardId ? shards.get(shard.parentShardId) : undefined;
      if (shard.closed || (parent && !parent.closed)) continue;
      shard.iterator ??= (
        await streams<{ ShardIterator: string }>('GetShardIterator', {
          StreamArn: streamArn,
          ShardId: shardId,
          ...(shard.lastSequence
            ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.lastSequence }
            : { ShardIteratorType: 'TRIM_HORIZON' }),
        })
      ).ShardIterator;
      const out = await streams<{ Records?: DynamoDBRecord[]; NextShardIterator?: string }>('GetRecords', {
        ShardIterator: shard.iterator,
        Limit: batchSize,
      });
      const records = out.Records ?? [];
      let allApplied = true;
      if (records.length > 0) {
        const applied = await deliver(records);
        const last = records[applied - 1]?.dynamodb?.SequenceNumber;
        if (last) shard.lastSequence = last;
        allApplied = applied === records.length;
        if (outcome !== 'failed') outcome = allApplied ? 'applied' : 'failed';
      }
      // Read on after the batch, or again from its first record not applied.
      shard.iterator = allApplied ? out.NextShardIterator : undefined;
      if (allApplied && !out.NextShardIterator) {
        shard.closed = true;
        // Its children are listed and read on the next poll, straight away: the stream is not read to
        // its end yet.
        describeAgain = true;
        if (outcome === 'idle') outcome = 'applied';
      }
    }
    return outcome;
  };

  let stopped = false;
  let pollsStarted = 0;
  let wake: (() => void) | undefined;
  const waiters = new Set<{ afterPoll: number; resolve: () => void }>();
  const pause = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, intervalMs).unref();
    });
  const loop = (async () => {
    while (!stopped) {
      const poll = ++pollsStarted;
      let outcome: 'idle' | 'applied' | 'failed';
      try {
        outcome = await pollOnce();
      } catch (error) {
        // An iterator expired or a shard was trimmed: read again from what was applied.
        for (const shard of shards.values()) shard.iterator = undefined;
        describeAgain = true;
        log.warn('stream poll failed', { table: options.tableName, ...errorFields(error) });
        outcome = 'failed';
      }
      if (outcome === 'idle') {
        for (const waiter of waiters) if (waiter.afterPoll < poll) waiter.resolve();
      }
      // Straight on while there is more to read; a pause when there is not, or before a retry.
      if (outcome !== 'applied') await pause();
    }
  })();

  return {
    caughtUp(timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`The ${options.tableName} stream was not read to its end within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = {
          // Only a poll that starts after this call has read what was written before it.
          afterPoll: pollsStarted,
          resolve: () => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve();
          },
        };
        waiters.add(waiter);
      });
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
