import {
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { createMediaConnector } from '../../functions/connectors/media/core';
import {
  DELETE_BATCH,
  MEDIA_BUCKET_VERSIONED_ENV,
  mediaBucketVersioned,
} from '../../functions/lib/connectors/media-objects';
import type { EraseContext, PlanEntryView, StagedSubject } from '../../functions/lib/connectors/contract';
import { fakeClient } from '../support/fake-client';

const PREFIXES = ['avatars/{userId}/', 'voice/{userId}/', 'uploads/{userId}/', 'behavior/{userId}/'];
const BUCKET = 'platform-media';

interface Entry {
  key: string;
  versionId: string;
  marker: boolean;
}

/**
 * A versioned bucket: every version and delete marker, listed in S3's order (key, then newest first)
 * `pageSize` at a time with KeyMarker/VersionIdMarker; DeleteObjects removes exactly the named versions.
 */
function versionedBucket(entries: Entry[], pageSize = 3) {
  let stored = [...entries].sort(
    (a, b) => a.key.localeCompare(b.key) || b.versionId.localeCompare(a.versionId),
  );
  const lists: { Prefix?: string; KeyMarker?: string; VersionIdMarker?: string }[] = [];
  const deletes: { Key?: string; VersionId?: string }[][] = [];
  const send = async (command: unknown) => {
    if (command instanceof ListObjectVersionsCommand) {
      const { Bucket, Prefix = '', KeyMarker, VersionIdMarker } = command.input;
      expect(Bucket).toBe(BUCKET);
      lists.push({ Prefix, KeyMarker, VersionIdMarker });
      const matching = stored.filter((e) => e.key.startsWith(Prefix));
      let start = 0;
      if (KeyMarker !== undefined) {
        const at = matching.findIndex((e) => e.key === KeyMarker && e.versionId === VersionIdMarker);
        start = at >= 0 ? at + 1 : matching.filter((e) => e.key <= KeyMarker).length;
      }
      const page = matching.slice(start, start + pageSize);
      const truncated = start + pageSize < matching.length;
      const last = page[page.length - 1];
      const shape = (e: Entry) => ({ Key: e.key, VersionId: e.versionId });
      return {
        Versions: page.filter((e) => !e.marker).map(shape),
        DeleteMarkers: page.filter((e) => e.marker).map(shape),
        IsTruncated: truncated,
        NextKeyMarker: truncated ? last?.key : undefined,
        NextVersionIdMarker: truncated ? last?.versionId : undefined,
      };
    }
    if (command instanceof DeleteObjectsCommand) {
      expect(command.input.Bucket).toBe(BUCKET);
      const objects = command.input.Delete?.Objects ?? [];
      expect(objects.length).toBeLessThanOrEqual(1000);
      deletes.push(objects.map((o) => ({ Key: o.Key, VersionId: o.VersionId })));
      const gone = new Set(objects.map((o) => `${o.Key}\u0000${o.VersionId}`));
      stored = stored.filter((e) => !gone.has(`${e.key}\u0000${e.versionId}`));
      return { Errors: [] };
    }
    throw new Error(`unexpected command ${String(command)}`);
  };
  return { s3: fakeClient(S3Client, { send }), lists, deletes, stored: () => stored };
}

/** An unversioned bucket (s3rver-like): ListObjectsV2 with continuation tokens, DeleteObjects by key. */
function plainBucket(keys: string[], pageSize = 2) {
  let stored = [...keys].sort();
  const commands: string[] = [];
  const deletes: { Key?: string; VersionId?: string }[][] = [];
  const send = async (command: unknown) => {
    commands.push(command?.constructor.name ?? '');
    if (command instanceof ListObjectsV2Command) {
      const { Prefix = '', ContinuationToken } = command.input;
      const matching = stored.filter((k) => k.startsWith(Prefix));
      const start = ContinuationToken ? Number(ContinuationToken) : 0;
      const page = matching.slice(start, start + pageSize);
      const truncated = start + pageSize < matching.length;
      return {
        Contents: page.map((Key) => ({ Key, Size: 1 })),
        IsTruncated: truncated,
        NextContinuationToken: truncated ? String(start + pageSize) : undefined,
      };
    }
    if (command instanceof DeleteObjectsCommand) {
      const objects = command.input.Delete?.Objects ?? [];
      deletes.push(objects.map((o) => ({ Key: o.Key, VersionId: o.VersionId })));
      const gone = new Set(objects.map((o) => o.Key));
      stored = stored.filter((k) => !gone.has(k));
      return {};
    }
    throw new Error(`unexpected command ${String(command)}`);
  };
  return { s3: fakeClient(S3Client, { send }), commands, deletes, stored: () => stored };
}

function subject(userIds: string[]): StagedSubject {
  return {
    requestId: 'req_1',
    subjectHash: 'hash',
    found: true,
    pseudonymSalt: 'salt',
    identifiers: { userIds, emails: [], phones: [], deviceIds: [], externalAccounts: [] },
  };
}

const CATEGORIES = ['avatars', 'voice-recordings', 'uploads', 'behavior', 'chat-attachments'];

function eraseContext(userIds: string[], actions: Record<string, PlanEntryView['action']>): EraseContext {
  const plan: PlanEntryView[] = CATEGORIES.map((category) => ({
    category,
    action: actions[category] ?? 'delete',
    liveAction: 'delete',
  }));
  return {
    requestId: 'req_1',
    subject: subject(userIds),
    tombstone: 'erased-user-x',
    now: () => new Date('2026-12-01T00:00:00Z'),
    plan,
    vault: {
      put: async () => {
        throw new Error('media never vaults');
      },
    },
  };
}

const v = (key: string, versionId: string, marker = false): Entry => ({ key, versionId, marker });

const ENTRIES: Entry[] = [
  v('avatars/u1/av-1.vrm', 'v3', true), // current: a delete marker (the user "deleted" it before)
  v('avatars/u1/av-1.vrm', 'v2'),
  v('avatars/u1/av-1.vrm', 'v1'),
  v('avatars/u1/av-2.vrm', 'v1'),
  v('avatars/u10/av-9.vrm', 'v1'), // another user whose id starts with the subject's
  v('voice/u1/2024-04-30/clip-1.ogg', 'v1'),
  v('uploads/u1/f1/old name.jpg', 'v2', true),
  v('uploads/u1/f1/old name.jpg', 'v1'),
  v('uploads/u2/f1/other.jpg', 'v1'),
  v('behavior/u1/2024-04-30.jsonl.gz', 'v1'),
  v('chat-attachments/r1/m1/x.jpg', 'v1'),
];

describe('media connector erasure, versioned bucket', () => {
  const connector = (s3: S3Client) =>
    createMediaConnector(s3, { bucket: BUCKET, subjectPrefixes: PREFIXES, versioned: true, concurrency: 2 });

  it('counts every version and delete marker under the subject prefixes, paging by key and version marker', async () => {
    const bucket = versionedBucket(ENTRIES, 2);
    const inventory = await connector(bucket.s3).inventory!(eraseContext(['u1'], {}));
    expect(inventory).toEqual({
      avatars: { count: 4 },
      'voice-recordings': { count: 1 },
      uploads: { count: 2 },
      behavior: { count: 1 },
      'chat-attachments': { count: 0 },
    });
    // avatars/u1/ holds 4 entries: two pages, the second continuing after the first's last version.
    expect(bucket.lists.filter((l) => l.Prefix === 'avatars/u1/')).toEqual([
      { Prefix: 'avatars/u1/', KeyMarker: undefined, VersionIdMarker: undefined },
      { Prefix: 'avatars/u1/', KeyMarker: 'avatars/u1/av-1.vrm', VersionIdMarker: 'v2' },
    ]);
  });

  it('deletes every version and delete marker by VersionId, and nothing of anyone else', async () => {
    const bucket = versionedBucket(ENTRIES, 2);
    const outcome = await connector(bucket.s3).erase!(eraseContext(['u1'], {}));
    expect(outcome).toEqual({
      avatars: { deleted: 4, anonymised: 0, retained: 0, untouched: 0 },
      'voice-recordings': { deleted: 1, anonymised: 0, retained: 0, untouched: 0 },
      uploads: { deleted: 2, anonymised: 0, retained: 0, untouched: 0 },
      behavior: { deleted: 1, anonymised: 0, retained: 0, untouched: 0 },
      'chat-attachments': { deleted: 0, anonymised: 0, retained: 0, untouched: 0 },
    });
    const deleted = bucket.deletes.flat();
    expect(deleted.every((d) => d.VersionId !== undefined)).toBe(true);
    expect(deleted).toContainEqual({ Key: 'avatars/u1/av-1.vrm', VersionId: 'v3' });
    expect(deleted).toContainEqual({ Key: 'avatars/u1/av-1.vrm', VersionId: 'v1' });
    expect(bucket.stored().map((e) => e.key)).toEqual([
      'avatars/u10/av-9.vrm',
      'chat-attachments/r1/m1/x.jpg',
      'uploads/u2/f1/other.jpg',
    ]);
    const after = await connector(bucket.s3).inventory!(eraseContext(['u1'], {}));
    expect(Object.values(after).every((c) => c.count === 0)).toBe(true);
  });

  it('deletes in batches of at most 1000 (DeleteObjects limit)', async () => {
    const many: Entry[] = [];
    for (let i = 0; i < 1201; i++) {
      const key = `behavior/u1/${String(i).padStart(5, '0')}.jsonl.gz`;
      many.push(v(key, 'v2'), v(key, 'v1'));
    }
    const bucket = versionedBucket(many, 1000);
    const outcome = await connector(bucket.s3).erase!(eraseContext(['u1'], {}));
    expect(outcome.behavior?.deleted).toBe(2402);
    expect(bucket.deletes.map((batch) => batch.length)).toEqual([DELETE_BATCH, DELETE_BATCH, 402]);
    expect(bucket.stored()).toEqual([]);
  });

  it('leaves a held category untouched and counts it', async () => {
    const bucket = versionedBucket(ENTRIES);
    const outcome = await connector(bucket.s3).erase!(
      eraseContext(['u1'], { avatars: 'held', uploads: 'none', 'chat-attachments': 'none' }),
    );
    expect(outcome.avatars).toEqual({ deleted: 0, anonymised: 0, retained: 0, untouched: 4 });
    expect(outcome.uploads).toEqual({ deleted: 0, anonymised: 0, retained: 0, untouched: 0 });
    const left = bucket.stored().map((e) => `${e.key}@${e.versionId}`);
    expect(left).toEqual(
      expect.arrayContaining([
        'avatars/u1/av-1.vrm@v3',
        'avatars/u1/av-1.vrm@v2',
        'avatars/u1/av-1.vrm@v1',
        'avatars/u1/av-2.vrm@v1',
        'uploads/u1/f1/old name.jpg@v1',
      ]),
    );
    expect(left).not.toContain('voice/u1/2024-04-30/clip-1.ogg@v1');
  });

  it('refuses to retain or anonymise objects', async () => {
    const bucket = versionedBucket(ENTRIES);
    await expect(
      connector(bucket.s3).erase!(eraseContext(['u1'], { uploads: 'retain' })),
    ).rejects.toMatchObject({
      name: 'ContractError',
    });
    expect(bucket.deletes).toEqual([]);
  });

  it('fails without naming keys when S3 refuses a delete', async () => {
    const send = async (command: unknown) => {
      if (command instanceof ListObjectVersionsCommand)
        return { Versions: [{ Key: 'avatars/u1/secret-name.vrm', VersionId: 'v1' }], IsTruncated: false };
      return { Errors: [{ Key: 'avatars/u1/secret-name.vrm', VersionId: 'v1', Code: 'AccessDenied' }] };
    };
    const error = await connector(fakeClient(S3Client, { send })).erase!(eraseContext(['u1'], {})).catch(
      (e: unknown) => e as Error,
    );
    expect(error).toMatchObject({ name: 'ConnectorError' });
    expect((error as Error).message).toContain('AccessDenied');
    expect((error as Error).message).not.toContain('secret-name');
  });

  it('skips user ids that would reach into another folder', async () => {
    const bucket = versionedBucket(ENTRIES);
    const inventory = await connector(bucket.s3).inventory!(eraseContext(['u1/../u2', '..', ''], {}));
    expect(Object.values(inventory).every((c) => c.count === 0)).toBe(true);
    expect(bucket.lists).toEqual([]);
  });
});

describe('media connector erasure, unversioned bucket', () => {
  it('lists with ListObjectsV2 and deletes by key only', async () => {
    const bucket = plainBucket([
      'avatars/u1/a.vrm',
      'avatars/u1/b.vrm',
      'avatars/u1/c.vrm',
      'uploads/u1/',
      'uploads/u1/f/x.png',
      'uploads/u10/f/y.png',
    ]);
    const media = createMediaConnector(bucket.s3, { bucket: BUCKET, subjectPrefixes: PREFIXES });
    const ctx = eraseContext(['u1'], {});
    expect(await media.inventory!(ctx)).toMatchObject({ avatars: { count: 3 }, uploads: { count: 2 } });
    const outcome = await media.erase!(ctx);
    expect(outcome.avatars?.deleted).toBe(3);
    expect(outcome.uploads?.deleted).toBe(2);
    expect(bucket.commands).not.toContain('ListObjectVersionsCommand');
    expect(bucket.deletes.flat().every((d) => d.VersionId === undefined)).toBe(true);
    expect(bucket.stored()).toEqual(['uploads/u10/f/y.png']);
  });
});

describe('mediaBucketVersioned', () => {
  it('defaults to the data map (versioned) and accepts only true or false', () => {
    expect(mediaBucketVersioned({})).toBe(true);
    expect(mediaBucketVersioned({ [MEDIA_BUCKET_VERSIONED_ENV]: 'false' })).toBe(false);
    expect(mediaBucketVersioned({ [MEDIA_BUCKET_VERSIONED_ENV]: 'true' })).toBe(true);
    expect(() => mediaBucketVersioned({ [MEDIA_BUCKET_VERSIONED_ENV]: 'no' })).toThrow(
      MEDIA_BUCKET_VERSIONED_ENV,
    );
  });
});
