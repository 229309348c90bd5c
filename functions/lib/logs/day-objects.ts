/**
 * The logs bucket's day objects: `<prefix>dt=YYYY-MM-DD/<name>.jsonl[.gz]` under each log prefix
 * (docs/data-stores.md). The connector, the indexer and the index's readers all list them the same way.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { listPages } from '../aws/s3-objects';

const DAY_OBJECT = /^dt=(\d{4}-\d{2}-\d{2})\/.+\.jsonl(\.gz)?$/;

/** A listed day object: its key, and the ETag and size the listing gave. */
export interface DayObject {
  key: string;
  etag?: string;
  size?: number;
}

/** True when `key`, listed under `prefix`, is a day object. */
export function isDayObject(key: string, prefix: string): boolean {
  return key.startsWith(prefix) && DAY_OBJECT.test(key.slice(prefix.length));
}

/**
 * Every day object under `prefix` (only those after `startAfter`, when given; only those of one `day`,
 * when given), in key order.
 */
export async function listDayObjectEntries(
  s3: S3Client,
  bucket: string,
  prefix: string,
  startAfter?: string,
  day?: string,
): Promise<DayObject[]> {
  const objects: DayObject[] = [];
  const listed = day === undefined ? prefix : `${prefix}dt=${day}/`;
  for await (const page of listPages(s3, bucket, listed, startAfter)) {
    for (const entry of page) {
      if (isDayObject(entry.Key, prefix))
        objects.push({ key: entry.Key, etag: entry.ETag, size: entry.Size });
    }
  }
  return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Every day object's key under `prefix`, in key order. */
export async function listDayObjects(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  return (await listDayObjectEntries(s3, bucket, prefix)).map((entry) => entry.key);
}

/** The `dt=` day of a day object's key (as listed under `prefix`), or undefined. */
export function dayOfKey(key: string, prefix: string): string | undefined {
  return DAY_OBJECT.exec(key.startsWith(prefix) ? key.slice(prefix.length) : '')?.[1];
}
