/**
 * The local S3 starts on whatever a crash left: objects whose metadata is empty or cut short, whose
 * checksum is missing, or whose content was rewritten after its metadata are set aside (with their
 * paths) under the quarantine directory, and listing, reading and writing work again.
 */
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
  WriteStream,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  serveS3Local,
  startS3Local,
  type RunningStore,
} from '../../local/stores';
import { repairS3DataDir } from '../../local/s3-repair';

const BUCKET = 'dsr-staging';
let dir: string;
const running: RunningStore[] = [];

function client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function start(): Promise<{ store: RunningStore; s3: S3Client }> {
  const store = await startS3Local({ port: 0, dataDir: join(dir, 's3') });
  running.push(store);
  return { store, s3: client(store.endpoint) };
}

const objectFile = (key: string, part: string) => join(dir, 's3', BUCKET, `${key}._S3rver_${part}`);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dsr-s3-repair-'));
});

afterAll(async () => {
  for (const store of running) await store.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('torn objects are set aside at start; the bucket lists and serves the rest', async () => {
  const first = await start();
  await first.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (const key of ['whole', 'empty-metadata', 'cut-metadata', 'no-checksum', 'rewritten']) {
    await first.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `content of ${key}` }));
  }
  await first.store.stop();
  first.s3.destroy();

  // What kill -9 between s3rver's three writes leaves behind.
  writeFileSync(objectFile('empty-metadata', 'metadata.json'), '');
  writeFileSync(objectFile('cut-metadata', 'metadata.json'), '{\n  "content-type": "te');
  rmSync(objectFile('no-checksum', 'object.md5'));
  truncateSync(objectFile('rewritten', 'object'), 3);
  const later = new Date(Date.now() + 60_000);
  utimesSync(objectFile('rewritten', 'object'), later, later);
  writeFileSync(join(dir, 's3', BUCKET, '._S3rver_cors.xml'), '');

  const second = await start();
  expect(second.store.repair?.checked).toBe(5);
  expect(second.store.repair?.quarantined.map((q) => q.reason).sort()).toEqual(
    [
      ...Array(2).fill('checksum missing or unreadable'),
      'configuration empty',
      ...Array(3).fill('content newer than its metadata'),
      ...Array(6).fill('metadata unreadable'),
    ].sort(),
  );
  const listed = await second.s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['whole']);
  const body = await second.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'whole' }));
  expect(await body.Body?.transformToString()).toBe('content of whole');
  // The writer's retry puts a set-aside object again.
  await second.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'rewritten', Body: 'again' }));
  const again = await second.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'rewritten' }));
  expect(await again.Body?.transformToString()).toBe('again');

  // The torn files are kept to look at, beside the data directory, not in it.
  const quarantine = second.store.repair?.quarantineDir ?? '';
  expect(quarantine.startsWith(join(dir, 's3-quarantine'))).toBe(true);
  expect(readdirSync(join(quarantine, BUCKET)).sort()).toContain('empty-metadata._S3rver_metadata.json');
  second.s3.destroy();
});

test('a whole object whose content landed after its metadata is kept, and a PUT is answered only once its content is written', async () => {
  // Every file write of the store is slowed down: its content cannot be in the file before the answer
  // unless the store waits for it.
  const write = WriteStream.prototype._write;
  WriteStream.prototype._write = function (this: WriteStream, ...args: Parameters<typeof write>) {
    setTimeout(() => write.apply(this, args), 200);
  };
  const inProcess = await serveS3Local({ port: 0, dataDir: join(dir, 's3') });
  const direct = client(inProcess.endpoint);
  try {
    await direct.send(new CreateBucketCommand({ Bucket: BUCKET })).catch(() => undefined);
    await direct.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'avatar.vrm', Body: 'a seeded avatar' }));
    expect(readFileSync(objectFile('avatar.vrm', 'object'), 'utf8')).toBe('a seeded avatar');
  } finally {
    WriteStream.prototype._write = write;
    await inProcess.stop();
    direct.destroy();
  }

  // What s3rver's unpatched write left: the content's last bytes written after its metadata, at a
  // later tick of the file system's clock. The object is whole (its MD5 is the recorded one).
  const metadataTime = statSync(objectFile('avatar.vrm', 'metadata.json')).mtime;
  const later = new Date(metadataTime.getTime() + 4);
  utimesSync(objectFile('avatar.vrm', 'object'), later, later);

  const second = await start();
  expect(second.store.repair?.quarantined).toEqual([]);
  const body = await second.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'avatar.vrm' }));
  expect(await body.Body?.transformToString()).toBe('a seeded avatar');
  second.s3.destroy();
});

test('a missing or empty data directory needs no repair', () => {
  expect(repairS3DataDir(join(dir, 'none'))).toEqual({ checked: 0, quarantined: [] });
  expect(existsSync(join(dir, 'none-quarantine'))).toBe(false);
});
