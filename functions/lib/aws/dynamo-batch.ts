/**
 * DynamoDB BatchWriteItem over any number of puts and deletes: the one batching loop the vault, the
 * user-keyed connectors (payments, marketing) and the log index share.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransientError, classifyAwsError } from '../runtime/errors';

/** BatchWriteItem's limit. */
export const BATCH_WRITE_SIZE = 25;
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
