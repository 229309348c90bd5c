/**
 * Finding and deleting every object under a key prefix of the media bucket, used by the media connector
 * (the subject's own prefixes) and by the chat connector (its messages' attachment folders).
 *
 * Erasure must be irrecoverable: in a versioned bucket a plain DeleteObject only adds a delete marker and
 * keeps every old version, so the versioned path lists with ListObjectVersions and deletes each version
 * and delete marker by VersionId. The unversioned path (s3rver, which has no versioning) lists with
 * ListObjectsV2. Both delete with DeleteObjects, at most 1000 keys a request (the S3 limit).
 */
import {
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  type ObjectIdentifier,
  type S3Client,
} from '@aws-sdk/client-s3';
import { platformStores } from '../../../config/data-map';
import { ConfigError, optionalEnv } from '../runtime/config';
import { ConnectorError } from '../runtime/errors';
import { listPages } from '../aws/s3-objects';

/**
 * Whether the media bucket is versioned (`true` / `false`); defaults to the data map (true in AWS).
 * The local stack sets `false`: s3rver has no versioning and no ListObjectVersions.
 */
export const MEDIA_BUCKET_VERSIONED_ENV = 'MEDIA_BUCKET_VERSIONED';

export function mediaBucketVersioned(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = optionalEnv(MEDIA_BUCKET_VERSIONED_ENV, String(platformStores.media.versioned), env);
  // Anything else is refused: a typo read as `false` would leave every old version behind.
  if (value !== 'true' && value !== 'false')
    throw new ConfigError(`Environment variable ${MEDIA_BUCKET_VERSIONED_ENV} must be true or false`);
  return value === 'true';
}

/** One stored thing under a prefix: an object, or (versioned) one version or delete marker of it. */
export interface StoredEntry {
  key: string;
  versionId?: string;
}

export interface BucketRef {
  bucket: string;
  /** True where S3 versioning is (or ever was) enabled: every version and delete marker counts. */
  versioned: boolean;
}

/** The S3 limit of keys per DeleteObjects request. */
export const DELETE_BATCH = 1000;

/** Every entry under `prefix`, all pages. Entries outside the prefix (never expected) are ignored. */
export async function listEntries(s3: S3Client, ref: BucketRef, prefix: string): Promise<StoredEntry[]> {
  const entries: StoredEntry[] = [];
  if (ref.versioned) {
    // By hand: the SDK has no paginator for ListObjectVersions (it pages on two markers).
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: ref.bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionIdMarker,
        }),
      );
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        if (v.Key === undefined || !v.Key.startsWith(prefix)) continue;
        entries.push(v.VersionId === undefined ? { key: v.Key } : { key: v.Key, versionId: v.VersionId });
      }
      const more = page.IsTruncated === true;
      keyMarker = more ? page.NextKeyMarker : undefined;
      versionIdMarker = more ? page.NextVersionIdMarker : undefined;
      if (more && keyMarker === undefined)
        throw new ConnectorError('media', 'Version listing did not advance');
    } while (keyMarker !== undefined);
    return entries;
  }
  for await (const page of listPages(s3, ref.bucket, prefix)) {
    for (const o of page) entries.push({ key: o.Key });
  }
  return entries;
}

/**
 * Deletes the given entries (by VersionId where they have one), 1000 a request. Returns how many were
 * deleted; a key S3 refuses fails the whole call (without naming the key: keys carry personal data).
 */
export async function deleteEntries(
  s3: S3Client,
  bucket: string,
  entries: readonly StoredEntry[],
): Promise<number> {
  for (let i = 0; i < entries.length; i += DELETE_BATCH) {
    const objects: ObjectIdentifier[] = entries
      .slice(i, i + DELETE_BATCH)
      .map((e) => (e.versionId === undefined ? { Key: e.key } : { Key: e.key, VersionId: e.versionId }));
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }),
    );
    const errors = out.Errors ?? [];
    if (errors.length > 0) {
      const codes = [...new Set(errors.map((e) => e.Code ?? 'unknown'))].join(', ');
      throw new ConnectorError('media', `DeleteObjects refused ${errors.length} entries (${codes})`);
    }
  }
  return entries.length;
}

/** Lists and deletes everything under `prefix` (every version where versioned); returns the count. */
export async function erasePrefix(s3: S3Client, ref: BucketRef, prefix: string): Promise<number> {
  return deleteEntries(s3, ref.bucket, await listEntries(s3, ref, prefix));
}

/**
 * A key segment taken from stored data (a user id, room id, message id) that is safe to build a prefix
 * from: a `/` or `\` in it, or a `.`/`..` segment, would reach into another folder.
 */
export function usableInPrefix(segment: string): boolean {
  return segment !== '' && !/[/\\]/.test(segment) && segment !== '.' && segment !== '..';
}
