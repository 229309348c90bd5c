/**
 * The subject index of the logs, in a table of the orchestrator's own (`dsr-log-index`, docs/log-index.md).
 * Item layout (partition `pk`, sort `sk`):
 *
 *   entry      pk `h#<hash>`, sk `<object key>`, v `<version>`: the object named that subject when
 *              the version (its ETag's first characters) was indexed
 *   object     pk `o#<object key>`, sk `object`: etag, size, indexedAt, lines, hashes, chunks
 *   its hashes pk `o#<object key>`, sk `hashes#0000`…: `h`, the object's hashes end to end (to remove
 *              the entries a changed object no longer needs)
 *   watermark  pk `w#<prefix>`, sk `watermark`: after (the last key of the prefix fully indexed)
 *
 * Hashes are LogIndexHasher's (fixed length, no raw identifier anywhere). Entries are only ever removed
 * on a condition naming the version that wrote them, so an indexer working on an older version of an
 * object can never remove what a newer version needs.
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryPages } from '../aws/dynamo-paging';
import { batchGetAll, batchWriteAll } from '../aws/dynamo-batch';
import { forEachLimited } from '../runtime/concurrency';
import { classifyAwsError } from '../runtime/errors';

const OBJECT_SK = 'object';
const WATERMARK_SK = 'watermark';
const HASHES_SK = 'hashes#';
/** Hashes per chunk item: 15,000 of 22 characters stay well under DynamoDB's 400 KB item limit. */
const HASHES_PER_CHUNK = 15_000;
/** LogIndexHasher's hashes: 16 bytes in base64url. */
const HASH_LENGTH = 22;
const VERSION_LENGTH = 12;
/** DynamoDB bills (and stores) each item with 100 bytes of overhead on top of its names and values. */
const ITEM_OVERHEAD_BYTES = 100;

const entryPk = (hash: string) => `h#${hash}`;
const objectPk = (key: string) => `o#${key}`;
const watermarkPk = (prefix: string) => `w#${prefix}`;
const chunkSk = (n: number) => `${HASHES_SK}${String(n).padStart(4, '0')}`;

/** The version of an object an entry was written for: its ETag's first characters, without quotes. */
export function versionOf(etag: string): string {
  return normalEtag(etag).slice(0, VERSION_LENGTH);
}

/** An ETag as S3 gives it, quoted or not, without the quotes (listings and GetObject may differ). */
export function normalEtag(etag: string): string {
  return etag.replace(/"/g, '');
}

/** What the index keeps of one object it has read. */
export interface IndexedObject {
  key: string;
  etag: string;
  size: number;
  indexedAt: string;
  lines: number;
  hashes: string[];
}

type Item = Record<string, string | number>;

/** The stored size of an item, as DynamoDB counts it (UTF-8 of names and values, plus the overhead). */
function itemBytes(item: Item): number {
  let bytes = ITEM_OVERHEAD_BYTES;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name) + (typeof value === 'number' ? 8 : Buffer.byteLength(value));
  }
  return bytes;
}

const entryItem = (hash: string, key: string, version: string): Item => ({
  pk: entryPk(hash),
  sk: key,
  v: version,
});

function chunkItems(object: IndexedObject, hashesPerChunk: number): Item[] {
  const items: Item[] = [];
  for (let i = 0; i < object.hashes.length; i += hashesPerChunk) {
    const h = object.hashes.slice(i, i + hashesPerChunk).join('');
    items.push({ pk: objectPk(object.key), sk: chunkSk(items.length), h });
  }
  return items;
}

const recordItem = (object: IndexedObject): Item => ({
  pk: objectPk(object.key),
  sk: OBJECT_SK,
  etag: normalEtag(object.etag),
  size: object.size,
  indexedAt: object.indexedAt,
  lines: object.lines,
  hashes: object.hashes.length,
});

/** What one indexed object takes in the table: its entries, hash chunks and record (DynamoDB's item size). */
export function indexedObjectBytes(object: IndexedObject): number {
  const version = versionOf(object.etag);
  let bytes = itemBytes(recordItem(object));
  for (const item of chunkItems(object, HASHES_PER_CHUNK)) bytes += itemBytes(item);
  for (const hash of object.hashes) bytes += itemBytes(entryItem(hash, object.key, version));
  return bytes;
}

export class LogIndexStore {
  /** Hashes per chunk item (smaller in tests, to exercise several chunks). */
  private readonly hashesPerChunk: number;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: { hashesPerChunk?: number } = {},
  ) {
    this.hashesPerChunk = options.hashesPerChunk ?? HASHES_PER_CHUNK;
  }

  /** Keys of the objects under `prefix` whose entries name `hash`. */
  async objectsNaming(hash: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    try {
      for await (const page of queryPages(this.doc, {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': entryPk(hash), ':prefix': prefix },
        ProjectionExpression: 'sk',
      })) {
        for (const item of page) if (typeof item.sk === 'string') keys.push(item.sk);
      }
    } catch (error) {
      throw classifyAwsError(error);
    }
    return keys;
  }

  /** The ETag each of `keys` was last indexed at (keys never indexed are absent). */
  async indexedEtags(keys: readonly string[]): Promise<Map<string, string>> {
    const etags = new Map<string, string>();
    const items = await batchGetAll(
      this.doc,
      this.tableName,
      keys.map((key) => ({ pk: objectPk(key), sk: OBJECT_SK })),
      { attributes: ['etag'] },
    );
    for (const item of items) {
      if (typeof item?.pk === 'string' && typeof item.etag === 'string')
        etags.set(item.pk.slice(2), normalEtag(item.etag));
    }
    return etags;
  }

  /** What the index holds of one object (and its chunk items), or undefined when it was never indexed. */
  async indexed(key: string): Promise<(IndexedObject & { chunks: number }) | undefined> {
    let record: Record<string, unknown> | undefined;
    const chunks: string[] = [];
    try {
      for await (const page of queryPages(this.doc, {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': objectPk(key) },
      })) {
        for (const item of page) {
          if (item.sk === OBJECT_SK) record = item;
          else if (typeof item.h === 'string') chunks.push(item.h);
        }
      }
    } catch (error) {
      throw classifyAwsError(error);
    }
    if (!record || typeof record.etag !== 'string') return undefined;
    const hashes: string[] = [];
    // Every chunk item found counts, surplus ones of an interrupted rewrite included: their hashes only
    // make the next re-index try to remove entries, which it does on the version that wrote them only.
    for (const chunk of chunks) {
      for (let i = 0; i + HASH_LENGTH <= chunk.length; i += HASH_LENGTH)
        hashes.push(chunk.slice(i, i + HASH_LENGTH));
    }
    return {
      key,
      etag: normalEtag(record.etag),
      size: Number(record.size ?? 0),
      indexedAt: String(record.indexedAt ?? ''),
      lines: Number(record.lines ?? 0),
      hashes,
      chunks: chunks.length,
    };
  }

  /** Writes (or rewrites) the entries naming `hashes` for `key` at `version`. Returns their stored bytes. */
  async putEntries(key: string, version: string, hashes: readonly string[]): Promise<number> {
    let bytes = 0;
    const requests = hashes.map((hash) => {
      const item = entryItem(hash, key, version);
      bytes += itemBytes(item);
      return { PutRequest: { Item: item } };
    });
    await batchWriteAll(this.doc, this.tableName, requests);
    return bytes;
  }

  /**
   * Removes the entries naming `hashes` for `key`, each only if it was written for `version` (an entry
   * rewritten for another version since is left alone). Returns how many went.
   */
  async removeEntries(key: string, version: string, hashes: readonly string[]): Promise<number> {
    let removed = 0;
    await forEachLimited(hashes, 8, async (hash) => {
      try {
        await this.doc.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: { pk: entryPk(hash), sk: key },
            ConditionExpression: 'v = :version',
            ExpressionAttributeValues: { ':version': version },
          }),
        );
        removed += 1;
      } catch (error) {
        if ((error as { name?: string }).name !== 'ConditionalCheckFailedException')
          throw classifyAwsError(error);
      }
    });
    return removed;
  }

  /**
   * Records what was indexed of an object: its hashes first (in chunks), then the object item, which is
   * what says the object is indexed at that ETag; chunks a previous, longer list left are removed last.
   * Returns the stored bytes.
   */
  async putObject(object: IndexedObject, previousChunks: number): Promise<number> {
    const chunks = chunkItems(object, this.hashesPerChunk);
    const record = recordItem(object);
    let bytes = itemBytes(record);
    try {
      for (const item of chunks) {
        bytes += itemBytes(item);
        await this.doc.send(new PutCommand({ TableName: this.tableName, Item: item }));
      }
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: record }));
      for (let n = chunks.length; n < previousChunks; n++) {
        await this.doc.send(
          new DeleteCommand({ TableName: this.tableName, Key: { pk: objectPk(object.key), sk: chunkSk(n) } }),
        );
      }
    } catch (error) {
      throw classifyAwsError(error);
    }
    return bytes;
  }

  /** The last key of `prefix` up to which every object is indexed, if any. */
  async watermark(prefix: string): Promise<string | undefined> {
    try {
      const out = await this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: watermarkPk(prefix), sk: WATERMARK_SK },
          ConsistentRead: true,
        }),
      );
      return typeof out.Item?.after === 'string' ? out.Item.after : undefined;
    } catch (error) {
      throw classifyAwsError(error);
    }
  }

  /** Moves the watermark of `prefix` forward to `after` (never back: a slower run cannot undo a faster). */
  async advanceWatermark(prefix: string, after: string, at: Date): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: watermarkPk(prefix), sk: WATERMARK_SK, after, advancedAt: at.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk) OR #after < :after',
          ExpressionAttributeNames: { '#after': 'after' },
          ExpressionAttributeValues: { ':after': after },
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException')
        throw classifyAwsError(error);
    }
  }
}
