/**
 * DynamoDB reading helpers shared by the table-backed connectors (payments, chat) and the API's listings:
 * paging through a whole Query or one caller's page of it, and turning what the document client returns
 * into plain JSON values.
 */
import { InvalidCursorError, classifyAwsError } from '../runtime/errors';
import {
  NumberValue,
  QueryCommand,
  paginateQuery,
  paginateScan,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type ScanCommandInput,
} from '@aws-sdk/lib-dynamodb';

export type Item = Record<string, unknown>;

export function isRecord(value: unknown): value is Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every item of a Query, page by page (no Limit: each page is up to 1 MB). Yields pages rather than
 * items so a caller can prepare a page's lookups together.
 */
export async function* queryPages(
  doc: DynamoDBDocumentClient,
  input: QueryCommandInput,
): AsyncGenerator<Item[]> {
  // A copy: the paginator writes each page's start key into the input it is given.
  for await (const page of paginateQuery({ client: doc }, { ...input, ExclusiveStartKey: undefined })) {
    yield page.Items ?? [];
  }
}

/** DynamoDB's refusal of a start key: one that is not a key of the index, or outside the key condition. */
function isStartKeyRefusal(error: unknown): boolean {
  const err = error as { name?: unknown; message?: unknown };
  return err.name === 'ValidationException' && /starting key|ExclusiveStartKey/i.test(String(err.message));
}

/**
 * One page of a Query for a caller: up to `limit` items from `cursor` on (the last key of the page
 * before), in at most 10 round trips (a filter may leave pages short), and the key to continue from. A
 * cursor DynamoDB refuses (a forged one, or one of another query) is an InvalidCursorError.
 */
export async function queryPage(
  doc: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey' | 'Limit'>,
  options: { limit: number; cursor?: Record<string, string> },
): Promise<{ items: Item[]; lastKey?: Record<string, string> }> {
  const items: Item[] = [];
  let startKey: Record<string, unknown> | undefined = options.cursor;
  for (let round = 0; round < 10 && items.length < options.limit; round++) {
    const page = await doc
      .send(new QueryCommand({ ...input, ExclusiveStartKey: startKey, Limit: options.limit - items.length }))
      .catch((error: unknown) => {
        throw round === 0 && options.cursor && isStartKeyRefusal(error) ? new InvalidCursorError() : error;
      });
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
    if (!startKey) break;
  }
  return { items, lastKey: startKey as Record<string, string> | undefined };
}

/**
 * Every item of a Scan (of one segment, when the input names one), page by page. Only for one-off
 * jobs over a whole table (a backfill): nothing that serves one request scans.
 */
export async function* scanPages(
  doc: DynamoDBDocumentClient,
  input: ScanCommandInput,
): AsyncGenerator<Item[]> {
  for await (const page of paginateScan({ client: doc }, { ...input, ExclusiveStartKey: undefined })) {
    yield page.Items ?? [];
  }
}

/**
 * A value as plain JSON. The document client returns sets as `Set`, numbers beyond 2^53 as `BigInt`
 * (or `NumberValue`), binaries as `Uint8Array`: none of them survives `JSON.stringify` (a BigInt throws,
 * a Set becomes `{}`). Sets become arrays, big numbers their exact decimal string, binaries base64.
 */
export function toJsonValue(value: unknown): unknown {
  if (value === undefined) return undefined;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof NumberValue) return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Set) return [...value].map((entry: unknown) => toJsonValue(entry));
  if (Array.isArray(value)) return value.map((entry) => toJsonValue(entry));
  if (isRecord(value)) {
    const out: Item = {};
    for (const [key, entry] of Object.entries(value)) {
      if (entry !== undefined) out[key] = toJsonValue(entry);
    }
    return out;
  }
  return null;
}

/** A list attribute as an array: lists and sets are accepted, anything else (or nothing) is empty. */
export function asList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...(value as Set<unknown>)];
  return [];
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * Removes attributes from an item if it still exists: an item that went meanwhile is never recreated
 * (the condition fails and that is fine). Other failures are classified for the workflow's retries.
 */
export async function removeAttributesIfPresent(
  doc: DynamoDBDocumentClient,
  tableName: string,
  key: Record<string, unknown>,
  attributes: readonly string[],
): Promise<void> {
  if (attributes.length === 0) return;
  const keyAttribute = Object.keys(key)[0] ?? '';
  try {
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: `REMOVE ${attributes.map((_, i) => `#a${i}`).join(', ')}`,
        ExpressionAttributeNames: {
          ...Object.fromEntries(attributes.map((a, i) => [`#a${i}`, a])),
          '#key': keyAttribute,
        },
        ConditionExpression: 'attribute_exists(#key)',
      }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'ConditionalCheckFailedException')
      throw classifyAwsError(error);
  }
}
