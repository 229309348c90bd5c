/**
 * Media connector, collect side: every object under the subject's own prefixes (avatars, voice clips,
 * uploads, behaviour data), listed with ListObjectsV2 and copied into the archive as original files, plus
 * a `files` table naming each one with its original key and file name. Object keys and file names come
 * from users' devices: the archive path is always sanitised (functions/lib/export/archive-path.ts), the
 * original is kept in the table. Chat attachments are exported by the chat connector with their message.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { listPages } from '../../lib/aws/s3-objects';
import type {
  CategoryInventoryView,
  CategoryOutcome,
  CollectContext,
  CollectionSpec,
  Connector,
  EraseContext,
  ErasureContext,
} from '../../lib/connectors/contract';
import { ContractError } from '../../lib/runtime/errors';
import { zeroOutcome } from '../../lib/erasure/erasure-plan';
import { log } from '../../lib/runtime/logger';
import { forEachLimited } from '../../lib/runtime/concurrency';
import {
  deleteEntries,
  listEntries,
  usableInPrefix,
  type StoredEntry,
} from '../../lib/connectors/media-objects';

export interface MediaConfig {
  bucket: string;
  /** Prefix templates with `{userId}`, e.g. `uploads/{userId}/`. */
  subjectPrefixes: readonly string[];
  /**
   * S3 versioning on the bucket (data map: true in AWS). Erasure then lists and deletes every version and
   * delete marker; the local stack (s3rver has no versioning) sets it false.
   */
  versioned?: boolean;
  /** Prefixes listed at once. */
  concurrency?: number;
}

const filesSpec: CollectionSpec = {
  name: 'files',
  description:
    'Files you stored with us: avatars, voice recordings, uploads and behaviour data. Each is included in media/media/.',
  tabular: true,
  recordSchema: {
    type: 'object',
    required: ['archivePath', 'kind', 'objectKey'],
    properties: {
      archivePath: { type: 'string', description: 'Where the file is in this archive, under media/media/' },
      kind: { type: 'string', description: 'avatar, voice, upload or behavior' },
      userId: { type: 'string' },
      objectKey: { type: 'string', description: 'The key the file is stored under, exactly as stored' },
      fileId: { type: 'string', description: 'For uploads: the id of the upload' },
      originalFileName: { type: 'string', description: 'The file name as your device sent it' },
      bytes: { type: 'integer' },
      lastModified: { type: 'string', format: 'date-time' },
      contentType: { type: 'string', description: 'Guessed from the file name' },
    },
    additionalProperties: false,
  },
};

const KINDS: Record<string, string> = {
  avatars: 'avatar',
  voice: 'voice',
  uploads: 'upload',
  behavior: 'behavior',
};

/** Content types by extension: cheap to guess, and not worth a HEAD request per object. */
const CONTENT_TYPES: Record<string, string> = {
  vrm: 'model/gltf-binary',
  glb: 'model/gltf-binary',
  gltf: 'model/gltf+json',
  fbx: 'application/octet-stream',
  ogg: 'audio/ogg',
  opus: 'audio/ogg',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  wav: 'audio/wav',
  webm: 'video/webm',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  pdf: 'application/pdf',
  txt: 'text/plain',
  json: 'application/json',
  jsonl: 'application/x-ndjson',
  gz: 'application/gzip',
  zip: 'application/zip',
};

export function guessContentType(fileName: string): string | undefined {
  const dot = fileName.lastIndexOf('.');
  return dot >= 0 ? CONTENT_TYPES[fileName.slice(dot + 1).toLowerCase()] : undefined;
}

interface ListedObject {
  key: string;
  bytes: number;
  lastModified?: string;
}

interface PrefixListing {
  userId: string;
  prefix: string;
  folder: string;
  objects: ListedObject[];
}

async function listAll(s3: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  for await (const page of listPages(s3, bucket, prefix)) {
    for (const entry of page) {
      objects.push({
        key: entry.Key,
        bytes: entry.Size ?? 0,
        lastModified: entry.LastModified?.toISOString(),
      });
    }
  }
  return objects;
}

/**
 * Erasure categories of the subject prefixes, by the prefix's first segment. `chat-attachments` is not
 * here: attachment objects are keyed by room and message, not by user, so the chat connector (which
 * knows the subject's messages) deletes them with their messages and media reports the category as 0.
 */
const CATEGORY_BY_FOLDER: Readonly<Record<string, string>> = {
  avatars: 'avatars',
  voice: 'voice-recordings',
  uploads: 'uploads',
  behavior: 'behavior',
};

interface CategoryPrefix {
  category: string;
  prefix: string;
}

/** Every subject prefix (per usable user id) with its erasure category. */
function categoryPrefixes(config: MediaConfig, userIds: readonly string[]): CategoryPrefix[] {
  const out: CategoryPrefix[] = [];
  for (const userId of new Set(userIds)) {
    if (!usableInPrefix(userId)) continue;
    for (const template of config.subjectPrefixes) {
      const category = CATEGORY_BY_FOLDER[template.split('/')[0] ?? ''];
      if (category === undefined)
        throw new ContractError('Media prefix template without an erasure category');
      out.push({ category, prefix: template.replaceAll('{userId}', userId) });
    }
  }
  return out;
}

/** Every entry (every version and delete marker where versioned) per category. */
async function entriesByCategory(
  s3: S3Client,
  config: MediaConfig,
  ctx: ErasureContext,
): Promise<Map<string, StoredEntry[]>> {
  const byCategory = new Map<string, StoredEntry[]>();
  const ref = { bucket: config.bucket, versioned: config.versioned ?? false };
  await forEachLimited(
    categoryPrefixes(config, ctx.subject.identifiers.userIds),
    config.concurrency ?? 4,
    async ({ category, prefix }) => {
      const entries = await listEntries(s3, ref, prefix);
      byCategory.set(category, [...(byCategory.get(category) ?? []), ...entries]);
    },
  );
  return byCategory;
}

export function createMediaConnector(s3: S3Client, config: MediaConfig): Connector {
  return {
    store: 'media',

    /** Every object under the subject's prefixes; where versioned, every version and delete marker. */
    async inventory(ctx: ErasureContext): Promise<Record<string, CategoryInventoryView>> {
      const byCategory = await entriesByCategory(s3, config, ctx);
      const out: Record<string, CategoryInventoryView> = {};
      for (const category of Object.values(CATEGORY_BY_FOLDER))
        out[category] = { count: byCategory.get(category)?.length ?? 0 };
      out['chat-attachments'] = { count: 0 };
      return out;
    },

    /** Deletes everything inventory counts, per the plan; held categories are left as they are. */
    async erase(ctx: EraseContext): Promise<Record<string, CategoryOutcome>> {
      const outcome: Record<string, CategoryOutcome> = {};
      for (const category of [...Object.values(CATEGORY_BY_FOLDER), 'chat-attachments'])
        outcome[category] = zeroOutcome();
      const planned = new Map(ctx.plan.map((entry) => [entry.category, entry]));
      for (const entry of ctx.plan) {
        if (entry.category === 'chat-attachments' || !(entry.category in outcome)) continue;
        if (entry.action === 'retain' || entry.action === 'anonymise')
          throw new ContractError(
            `Media cannot ${entry.action} '${entry.category}': objects are only deleted`,
          );
      }
      const byCategory = await entriesByCategory(s3, config, ctx);
      for (const [category, entries] of byCategory) {
        const action = planned.get(category)?.action;
        const result = outcome[category] ?? zeroOutcome();
        if (action === 'held') result.untouched = entries.length;
        else if (action === 'delete') result.deleted = await deleteEntries(s3, config.bucket, entries);
        outcome[category] = result;
        await ctx.betweenBatches?.();
      }
      return outcome;
    },

    async collect(ctx: CollectContext): Promise<void> {
      const files = ctx.collection(filesSpec);
      const listings: PrefixListing[] = [];
      let skippedIds = 0;
      for (const userId of new Set(ctx.subject.identifiers.userIds)) {
        if (!usableInPrefix(userId)) {
          skippedIds += 1;
          continue;
        }
        for (const template of config.subjectPrefixes) {
          const folder = template.split('/')[0] ?? template;
          listings.push({ userId, prefix: template.replaceAll('{userId}', userId), folder, objects: [] });
        }
      }
      if (skippedIds > 0)
        log.warn('media: user ids unusable in a key prefix were skipped', { count: skippedIds });

      // Listing runs in parallel; registering runs in a fixed order, so archive paths do not depend on timing.
      await forEachLimited(listings, config.concurrency ?? 4, async (listing) => {
        listing.objects = await listAll(s3, config.bucket, listing.prefix);
      });

      for (const { userId, prefix, folder, objects } of listings) {
        const kind = KINDS[folder] ?? folder;
        for (const object of objects) {
          const rest = object.key.slice(prefix.length);
          // A zero-byte "folder" placeholder is not a file.
          if (rest === '' || (rest.endsWith('/') && object.bytes === 0)) continue;
          const slash = rest.indexOf('/');
          const fileId = kind === 'upload' && slash > 0 ? rest.slice(0, slash) : undefined;
          const originalFileName =
            fileId !== undefined ? rest.slice(slash + 1) : rest.slice(rest.lastIndexOf('/') + 1);
          const contentType = guessContentType(originalFileName);
          const archivePath = ctx.addMedia({
            source: { bucket: config.bucket, key: object.key },
            bytes: object.bytes,
            ...(contentType ? { contentType } : {}),
            suggestedPath: `${folder}/${rest}`,
          });
          const record: Record<string, unknown> = {
            archivePath,
            kind,
            userId,
            objectKey: object.key,
            fileId,
            originalFileName,
            bytes: object.bytes,
            lastModified: object.lastModified,
            contentType,
          };
          for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
          await files.write(record);
        }
      }
    },
  };
}
