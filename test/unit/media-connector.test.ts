import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createMediaConnector, guessContentType } from '../../functions/connectors/media/core';
import { fakeCollect } from '../support/fake-collect';
import { fakeClient } from '../support/fake-client';

type Row = Record<string, unknown>;

const PREFIXES = ['avatars/{userId}/', 'voice/{userId}/', 'uploads/{userId}/', 'behavior/{userId}/'];
const MODIFIED = new Date('2024-05-01T12:00:00Z');

/** A fake S3 listing `keys` (sorted, as S3 does) `pageSize` at a time; any other command fails. */
function fakeBucket(objects: Record<string, number>, pageSize = 2) {
  const keys = Object.keys(objects).sort();
  const lists: Row[] = [];
  const send = async (command: unknown) => {
    if (!(command instanceof ListObjectsV2Command)) throw new Error(`unexpected command ${String(command)}`);
    const { Bucket, Prefix = '', ContinuationToken } = command.input;
    lists.push({ Bucket, Prefix, ContinuationToken });
    const matching = keys.filter((key) => key.startsWith(Prefix));
    const start = ContinuationToken ? Number(ContinuationToken) : 0;
    const page = matching.slice(start, start + pageSize);
    const truncated = start + pageSize < matching.length;
    return {
      Contents: page.map((Key) => ({ Key, Size: objects[Key], LastModified: MODIFIED })),
      IsTruncated: truncated,
      NextContinuationToken: truncated ? String(start + pageSize) : undefined,
      KeyCount: page.length,
    };
  };
  return { s3: fakeClient(S3Client, { send }), lists };
}

const objects: Record<string, number> = {
  'avatars/u1/av-1.vrm': 2_000_000,
  'avatars/u1/av-2.vrm': 1_000,
  'avatars/u10/av-9.vrm': 5, // another user whose id starts with the subject's
  'avatars/u10/secret/a.vrm': 6, // reachable only through a user id containing a slash
  'voice/u1/2024-04-30/clip-1.ogg': 300,
  'uploads/u1/': 0, // a folder placeholder
  'uploads/u1/f1/holiday photo 😀.jpg': 4_000,
  'uploads/u1/f2/..\\..\\etc\\passwd': 10,
  'uploads/u1/f3/../../etc/passwd': 11,
  'uploads/u1/f4/%2e%2e%2fsecret.txt': 12,
  'uploads/u1/f5/invoice\u202Egpj.exe': 13,
  'uploads/u1/f6/Report.PDF': 14,
  'uploads/u1/f7/report.pdf': 15,
  'uploads/u1/f8/a∕..∕..∕b.txt': 16,
  'uploads/u1/f9/nested/dirs/deep.png': 17,
  'behavior/u1/2024-04-30.jsonl.gz': 18,
  'uploads/u2/f1/other-person.jpg': 19,
  'avatars/u1-alt/AV-1.vrm': 21, // the subject's second account, same name in another case
  'chat-attachments/r1/m1/x.jpg': 20,
};

async function run(userIds: string[]) {
  const bucket = fakeBucket(objects);
  const fake = fakeCollect({ userIds }, 'salt-0123456789abcdef');
  await createMediaConnector(bucket.s3, { bucket: 'platform-media', subjectPrefixes: PREFIXES }).collect(
    fake.ctx,
  );
  const files = (fake.collections.get('files')?.records ?? []) as Row[];
  return { ...bucket, files, media: fake.media };
}

describe('media connector', () => {
  it('lists every prefix of every user id with paging, and nothing else', async () => {
    const { files, lists } = await run(['u1']);
    expect(files.map((f) => f.objectKey).sort()).toEqual(
      Object.keys(objects)
        .filter((key) => /^(avatars|voice|uploads|behavior)\/u1\/./.test(key) && objects[key] !== 0)
        .sort(),
    );
    expect(new Set(lists.map((l) => l.Prefix))).toEqual(
      new Set(['avatars/u1/', 'voice/u1/', 'uploads/u1/', 'behavior/u1/']),
    );
    // uploads/u1/ holds 10 keys: 5 pages of 2, each continuing where the last ended.
    expect(lists.filter((l) => l.Prefix === 'uploads/u1/').map((l) => l.ContinuationToken)).toEqual([
      undefined,
      '2',
      '4',
      '6',
      '8',
    ]);
    expect(lists.every((l) => l.Bucket === 'platform-media')).toBe(true);
  });

  it('registers each object as media with its size, under a path by kind', async () => {
    const { files, media } = await run(['u1']);
    expect(media).toHaveLength(files.length);
    const avatar = files.find((f) => f.objectKey === 'avatars/u1/av-1.vrm');
    expect(avatar).toEqual({
      archivePath: 'avatars/av-1.vrm',
      kind: 'avatar',
      userId: 'u1',
      objectKey: 'avatars/u1/av-1.vrm',
      originalFileName: 'av-1.vrm',
      bytes: 2_000_000,
      lastModified: '2024-05-01T12:00:00.000Z',
      contentType: 'model/gltf-binary',
    });
    expect(media.find((m) => m.source.key === 'avatars/u1/av-1.vrm')).toEqual({
      source: { bucket: 'platform-media', key: 'avatars/u1/av-1.vrm' },
      bytes: 2_000_000,
      contentType: 'model/gltf-binary',
      archivePath: 'avatars/av-1.vrm',
    });
    expect(files.find((f) => f.kind === 'voice')?.archivePath).toBe('voice/2024-04-30/clip-1.ogg');
    expect(files.find((f) => f.kind === 'behavior')).toMatchObject({
      archivePath: 'behavior/2024-04-30.jsonl.gz',
      contentType: 'application/gzip',
    });
    expect(files.find((f) => f.objectKey === 'uploads/u1/f1/holiday photo 😀.jpg')).toMatchObject({
      kind: 'upload',
      fileId: 'f1',
      originalFileName: 'holiday photo 😀.jpg',
      archivePath: 'uploads/f1/holiday photo 😀.jpg',
      contentType: 'image/jpeg',
    });
    expect(files.find((f) => f.fileId === 'f9')).toMatchObject({
      originalFileName: 'nested/dirs/deep.png',
      archivePath: 'uploads/f9/nested/dirs/deep.png',
    });
  });

  it('gives hostile names safe, unique archive paths and keeps the originals in the data file', async () => {
    const { files } = await run(['u1']);
    const byFileId = new Map(files.map((f) => [f.fileId, f]));
    expect(byFileId.get('f2')).toMatchObject({
      originalFileName: '..\\..\\etc\\passwd',
      objectKey: 'uploads/u1/f2/..\\..\\etc\\passwd',
      archivePath: 'uploads/f2/etc/passwd',
    });
    expect(byFileId.get('f3')).toMatchObject({
      originalFileName: '../../etc/passwd',
      archivePath: 'uploads/f3/etc/passwd',
    });
    expect(byFileId.get('f4')).toMatchObject({
      originalFileName: '%2e%2e%2fsecret.txt',
      archivePath: 'uploads/f4/secret.txt',
    });
    expect(byFileId.get('f5')?.archivePath).toBe('uploads/f5/invoicegpj.exe');
    expect(byFileId.get('f8')?.archivePath).toBe('uploads/f8/a_.._.._b.txt');

    const paths = files.map((f) => String(f.archivePath));
    expect(new Set(paths.map((path) => path.toLowerCase())).size).toBe(paths.length);
    for (const path of paths) {
      expect(path.split('/')).not.toContain('..');
      expect(path).not.toMatch(/^\/|\\|\u202e|^[A-Za-z]:/);
    }
  });

  it('keeps case-insensitive collisions apart when two user ids hold the same names', async () => {
    const { files } = await run(['u1', 'u1-alt']);
    expect(files.find((f) => f.objectKey === 'avatars/u1/av-1.vrm')?.archivePath).toBe('avatars/av-1.vrm');
    expect(files.find((f) => f.objectKey === 'avatars/u1-alt/AV-1.vrm')).toMatchObject({
      userId: 'u1-alt',
      archivePath: 'avatars/AV-1 (2).vrm',
    });
    const paths = files.map((f) => String(f.archivePath).toLowerCase());
    expect(new Set(paths).size).toBe(paths.length);
  });

  it('does not reach into other users’ folders', async () => {
    const { files, media, lists } = await run(['u1', 'u10/secret', '']);
    const keys = [...files.map((f) => String(f.objectKey)), ...media.map((m) => m.source.key)];
    expect(keys.some((key) => key.includes('u10') || key.includes('u2/') || key.startsWith('chat-'))).toBe(
      false,
    );
    expect(lists.some((l) => String(l.Prefix).includes('u10'))).toBe(false);
  });

  it('handles a subject with no objects', async () => {
    const { files, media } = await run(['nobody']);
    expect(files).toEqual([]);
    expect(media).toEqual([]);
  });

  it('guesses content types from names without asking S3', () => {
    expect(guessContentType('x.OGG')).toBe('audio/ogg');
    expect(guessContentType('noext')).toBeUndefined();
    expect(guessContentType('archive.tar.unknown')).toBeUndefined();
  });
});
