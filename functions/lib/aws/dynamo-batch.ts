/**
 * DynamoDB BatchWriteItem over any number of puts and deletes: the one batching loop the vault, the
 * user-keyed connectors (payments, marketing) and the log index share. BatchGetItem likewise, for the log
 * index and the readers of the requests table's indexes, which project keys and filters, not items.
 */
import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransientError, classifyAwsError } from '../runtime/errors';

/** BatchWriteItem's limit. */
export const BATCH_WRITE_SIZE = 25;
/** BatchGetItem's limit. */
export const BATCH_GET_SIZE = 100;
const MAX_ATTEMPTS = 9;

export const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export type WriteRequest =
  { PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Record<string, unknown> } };

/**
 * Writes requests with BatchWriteItem, 25 a call and a few calls in flight, retrying unprocessed items
 * with exponential backoff. Requests in one call must name distinct keys (the caller's concern).
 */
export async function batchWriteAll(
  doc: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly WriteRequest[],
  sleep: (ms: number) => Promise<void> = defaultSleep,
  concurrency = 4,
): Promise<void> {
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += BATCH_WRITE_SIZE)
    batches.push(requests.slice(i, i + BATCH_WRITE_SIZE));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let pending = batches[next++] ?? [];
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= MAX_ATTEMPTS)
          throw new TransientError('BatchWriteItem kept leaving items unprocessed');
        if (attempt > 0) await sleep(Math.min(25 * 2 ** attempt, 2000));
        let out;
        try {
          out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
        } catch (error) {
          throw classifyAwsError(error);
        }
        pending = (out.UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
}

type Key = Record<string, unknown>;

export interface BatchGetOptions {
  /** The attributes to read besides the keys (every attribute when absent). */
  attributes?: readonly string[];
  consistentRead?: boolean;
  sleep?: (ms: number) => Promise<void>;
  concurrency?: number;
}

/**
 * Reads the items of `keys` with BatchGetItem, 100 a call and a few calls in flight, retrying
 * unprocessed keys with exponential backoff. Answers in the order of `keys`: the item of each key, or
 * undefined where there is none (a key given twice is read once and answered twice).
 */
export async function batchGetAll(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Key[],
  options: BatchGetOptions = {},
): Promise<(Record<string, unknown> | undefined)[]> {
  const keyNames = Object.keys(keys[0] ?? {});
  const identity = (key: Key) => JSON.stringify(keyNames.map((name) => key[name]));
  const unique = [...new Map(keys.map((key) => [identity(key), key])).values()];
  const batches: Key[][] = [];
  for (let i = 0; i < unique.length; i += BATCH_GET_SIZE) batches.push(unique.slice(i, i + BATCH_GET_SIZE));
  const read = [...keyNames, ...(options.attributes ?? [])];
  const projection = options.attributes
    ? {
        ProjectionExpression: read.map((_, i) => `#p${i}`).join(', '),
        ExpressionAttributeNames: Object.fromEntries(read.map((name, i) => [`#p${i}`, name])),
      }
    : {};
  const sleep = options.sleep ?? defaultSleep;
  const found = new Map<string, Record<string, unknown>>();
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let pending = batches[next++] ?? [];
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= MAX_ATTEMPTS) throw new TransientError('BatchGetItem kept leaving keys unprocessed');
        if (attempt > 0) await sleep(Math.min(25 * 2 ** attempt, 2000));
        let out;
        try {
          out = await doc.send(
            new BatchGetCommand({
              RequestItems: {
                [tableName]: { Keys: pending, ConsistentRead: options.consistentRead, ...projection },
              },
            }),
          );
        } catch (error) {
          throw classifyAwsError(error);
        }
        for (const item of out.Responses?.[tableName] ?? []) found.set(identity(item), item);
        pending = out.UnprocessedKeys?.[tableName]?.Keys ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, batches.length) }, worker));
  return keys.map((key) => found.get(identity(key)));
}
