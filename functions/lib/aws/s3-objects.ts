import {
  DeleteObjectsCommand,
  GetObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  type _Object,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3Pointer } from '../connectors/contract';

export async function getJson<T>(s3: S3Client, pointer: S3Pointer): Promise<T> {
  const out = await s3.send(new GetObjectCommand({ Bucket: pointer.bucket, Key: pointer.key }));
  if (!out.Body) throw new Error(`Empty object at ${pointer.key}`);
  return JSON.parse(await out.Body.transformToString('utf8')) as T;
}

/**
 * Every object under `prefix` (or only those after the key `startAfter`), a listing page (up to 1,000) at
 * a time; only keys that really start with the prefix are yielded, whatever the store answers.
 */
export async function* listPages(
  s3: S3Client,
  bucket: string,
  prefix: string,
  startAfter?: string,
): AsyncGenerator<(_Object & { Key: string })[]> {
  for await (const page of paginateListObjectsV2(
    { client: s3 },
    { Bucket: bucket, Prefix: prefix, ...(startAfter === undefined ? {} : { StartAfter: startAfter }) },
  )) {
    yield (page.Contents ?? []).filter(
      (o): o is _Object & { Key: string } => o.Key?.startsWith(prefix) === true,
    );
  }
}

/** Whether an S3 error says there is no such object (GetObject's NoSuchKey, HeadObject's NotFound). */
export function isNoSuchObject(error: unknown): boolean {
  const err = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
}

/** The JSON at `pointer`, or undefined when there is no such object. */
export async function getJsonIfExists<T>(s3: S3Client, pointer: S3Pointer): Promise<T | undefined> {
  try {
    return await getJson<T>(s3, pointer);
  } catch (error) {
    if (isNoSuchObject(error)) return undefined;
    throw error;
  }
}

/**
 * Deletes every object under `prefix` (only those `keep` does not keep), a listing page at a time;
 * returns how many went. Idempotent.
 */
export async function deleteUnder(
  s3: S3Client,
  bucket: string,
  prefix: string,
  keep: (object: _Object) => boolean = () => false,
): Promise<number> {
  let deleted = 0;
  for await (const page of listPages(s3, bucket, prefix)) {
    const keys = page.filter((o) => !keep(o)).map((o) => ({ Key: o.Key }));
    if (keys.length === 0) continue;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    deleted += keys.length;
  }
  return deleted;
}

export async function putJson(s3: S3Client, pointer: S3Pointer, value: unknown): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: pointer.bucket,
      Key: pointer.key,
      Body: JSON.stringify(value),
      ContentType: 'application/json',
    }),
  );
}

/** Staging layout: everything of one request lives under its own prefix, removed as a whole. */
export const stagingKeys = {
  prefix: (requestId: string) => `requests/${requestId}/`,
  subject: (requestId: string) => `requests/${requestId}/subject.json`,
  storeIndex: (requestId: string, store: string) => `requests/${requestId}/${store}/index.json`,
  inventory: (requestId: string, store: string, phase: 'plan' | 'verify') =>
    `requests/${requestId}/${store}/inventory-${phase}.json`,
  plan: (requestId: string) => `requests/${requestId}/plan.json`,
  /** Holds a store's erase step found that its plan did not know (lib/erasure/staged-plan.ts). */
  lateHolds: (requestId: string, store: string) => `requests/${requestId}/${store}/late-holds.json`,
  collection: (requestId: string, store: string, name: string) =>
    `requests/${requestId}/${store}/${name}.ndjson`,
};
