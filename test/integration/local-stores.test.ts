import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
} from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, ScanCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  ALL_ORCHESTRATOR_BUCKETS,
  ALL_ORCHESTRATOR_TABLES,
  ALL_PLATFORM_BUCKETS,
  ALL_PLATFORM_TABLES,
  serviceOwnTables,
  defaultResourceEnv,
  platformStores,
} from '../../config/data-map';
import { bootstrapResources } from '../../local/bootstrap';
import { HEAVY_LOG_PART, randomStream, seedHeavyUser } from '../../local/heavy-user';
import { resetLocalData } from '../../local/reset';
import { seedDemoData, type SeedSummary } from '../../local/seed';
import {
  DEMO_USER_IDS,
  LARGE_MESSAGE_BYTES,
  buildDemoData,
  demoFixture,
  type AccessLogLine,
  type UserCounts,
  type VoiceSessionLine,
} from '../../local/seed-data';
import { startDynamoLocal, startS3Local } from '../../local/stores';
import { localClients, startTestStores, type TestStores } from '../support/local-stores';

const MEDIA = 'platform-media';
const LOGS = 'platform-logs';

let stores: TestStores;
let seeded: SeedSummary;

beforeAll(async () => {
  stores = await startTestStores();
  // The demo users only: these tests count every item of the stores (the services' users have their own test).
  seeded = await seedDemoData(stores, { serviceUsers: false });
}, 90_000);

afterAll(async () => {
  await stores?.stop();
});

async function countQuery(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const out = await stores.doc.send(new QueryCommand({ ...input, ExclusiveStartKey }));
    items.push(...(out.Items ?? []));
    ExclusiveStartKey = out.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

async function scanAll(TableName: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const out = await stores.doc.send(new ScanCommand({ TableName, ExclusiveStartKey }));
    items.push(...(out.Items ?? []));
    ExclusiveStartKey = out.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

async function listAll(
  s3: S3Client,
  Bucket: string,
  Prefix: string,
): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken }));
    out.push(...(page.Contents ?? []).map((c) => ({ key: c.Key ?? '', size: c.Size ?? 0 })));
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return out;
}

async function getBytes(Bucket: string, Key: string): Promise<Buffer> {
  const out = await stores.s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(
    await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

async function readJsonLines<T>(prefix: string): Promise<{ key: string; lines: T[] }[]> {
  const objects = await listAll(stores.s3, LOGS, prefix);
  return Promise.all(
    objects.map(async ({ key }) => ({
      key,
      lines: gunzipSync(await getBytes(LOGS, key))
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as T),
    })),
  );
}

describe('tables and buckets', () => {
  // Typed in from ../shared/stores.md, not read from the data map: this is the contract check.
  const CONTRACT: Record<string, { keys: string[][]; indexes: Record<string, string[][]> }> = {
    'platform-accounts': {
      keys: [['userId', 'HASH']],
      indexes: { byEmail: [['email', 'HASH']], byPhone: [['phone', 'HASH']] },
    },
    'platform-payments': {
      keys: [
        ['userId', 'HASH'],
        ['sk', 'RANGE'],
      ],
      indexes: {},
    },
    'platform-chat-rooms': { keys: [['roomId', 'HASH']], indexes: {} },
    'platform-chat-messages': {
      keys: [
        ['roomId', 'HASH'],
        ['sk', 'RANGE'],
      ],
      indexes: {
        bySender: [
          ['senderId', 'HASH'],
          ['sk', 'RANGE'],
        ],
      },
    },
    'platform-marketing-events': {
      keys: [
        ['userId', 'HASH'],
        ['sk', 'RANGE'],
      ],
      indexes: {},
    },
  };

  it.each(Object.keys(CONTRACT))('creates %s with the keys and indexes of stores.md', async (TableName) => {
    const expected = CONTRACT[TableName];
    const { Table } = await stores.dynamo.send(new DescribeTableCommand({ TableName }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.KeySchema?.map((k) => [k.AttributeName, k.KeyType])).toEqual(expected?.keys);
    const indexes = Object.fromEntries(
      (Table?.GlobalSecondaryIndexes ?? []).map((index) => [
        index.IndexName,
        index.KeySchema?.map((k) => [k.AttributeName, k.KeyType]),
      ]),
    );
    expect(indexes).toEqual(expected?.indexes);
    for (const index of Table?.GlobalSecondaryIndexes ?? [])
      expect(index.Projection?.ProjectionType).toBe('ALL');
  });

  it('creates every table and bucket of the data map, under the names handlers are given', async () => {
    const { TableNames = [] } = await stores.dynamo.send(new ListTablesCommand({}));
    const { Buckets = [] } = await stores.s3.send(new ListBucketsCommand({}));
    const tables = [
      ...ALL_PLATFORM_TABLES,
      ...serviceOwnTables().map((t) => t.spec),
      ...ALL_ORCHESTRATOR_TABLES,
    ].map((t) => t.tableName);
    const buckets = [...ALL_PLATFORM_BUCKETS, ...ALL_ORCHESTRATOR_BUCKETS];
    expect([...TableNames].sort()).toEqual([...tables].sort());
    expect(Buckets.map((b) => b.Name).sort()).toEqual([...buckets].sort());
    const env = defaultResourceEnv();
    for (const [name, value] of Object.entries(env)) expect(stores.env[name]).toBe(value);
    expect(stores.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(stores.ddbEndpoint);
    expect(stores.env.AWS_ENDPOINT_URL_S3).toBe(stores.s3Endpoint);
  });

  it('bootstraps idempotently', async () => {
    const again = await bootstrapResources({ dynamo: stores.dynamo, s3: stores.s3 });
    expect(again.createdTables).toEqual([]);
    expect(again.createdBuckets).toEqual([]);
    expect(again.existingTables).toHaveLength(
      ALL_PLATFORM_TABLES.length + serviceOwnTables().length + ALL_ORCHESTRATOR_TABLES.length,
    );
    expect(again.existingBuckets).toHaveLength(ALL_PLATFORM_BUCKETS.length + ALL_ORCHESTRATOR_BUCKETS.length);
  });
});

describe('demo data', () => {
  const fixture = demoFixture();

  it('is deterministic and reports the fixture it wrote', () => {
    expect(buildDemoData()).toEqual(buildDemoData());
    const { elapsedMs, ...summary } = seeded;
    expect(elapsedMs).toBeGreaterThan(0);
    expect(summary).toEqual(fixture);
  });

  it('matches the fixture per user and store, counted from the stores themselves', async () => {
    const messages = await scanAll(platformStores.chat.messagesTable.tableName);
    const rooms = await scanAll(platformStores.chat.roomsTable.tableName);
    const access = (await readJsonLines<AccessLogLine>('access/')).flatMap((o) => o.lines);
    const voice = (await readJsonLines<VoiceSessionLine>('voice-sessions/')).flatMap((o) => o.lines);

    for (const userId of DEMO_USER_IDS) {
      const payments = await countQuery({
        TableName: 'platform-payments',
        KeyConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': userId },
      });
      const marketingEvents = await countQuery({
        TableName: 'platform-marketing-events',
        KeyConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': userId },
      });
      const sent = await countQuery({
        TableName: 'platform-chat-messages',
        IndexName: 'bySender',
        KeyConditionExpression: 'senderId = :u',
        ExpressionAttributeValues: { ':u': userId },
      });
      let mediaObjects = 0;
      for (const prefix of ['avatars', 'voice', 'uploads', 'behavior']) {
        mediaObjects += (await listAll(stores.s3, MEDIA, `${prefix}/${userId}/`)).length;
      }
      const attachmentKeys = sent.flatMap((m) =>
        ((m.attachments ?? []) as { key: string }[]).map((a) => a.key),
      );
      for (const Key of attachmentKeys) await stores.s3.send(new HeadObjectCommand({ Bucket: MEDIA, Key }));

      const actual: UserCounts = {
        payments: payments.length,
        chatRooms: rooms.filter((r) => (r.members as Set<string>).has(userId)).length,
        chatMessagesSent: sent.length,
        mentions: messages.filter(
          (m) => m.senderId !== userId && ((m.mentions ?? []) as string[]).includes(userId),
        ).length,
        reportsAgainst: sent.reduce((n, m) => n + ((m.reports ?? []) as unknown[]).length, 0),
        mediaObjects,
        chatAttachments: attachmentKeys.length,
        accessLogLines: access.filter((l) => l.userId === userId).length,
        voiceSessions: voice.filter((s) => s.participants.some((p) => p.userId === userId)).length,
        marketingEvents: marketingEvents.length,
      };
      expect({ userId, ...actual }).toEqual({ userId, ...fixture.users[userId] });
    }

    expect((await scanAll('platform-accounts')).length).toBe(fixture.totals.accounts);
    expect((await scanAll('platform-payments')).length).toBe(fixture.totals.payments);
    expect(rooms.length).toBe(fixture.totals.chatRooms);
    expect(messages.length).toBe(fixture.totals.chatMessages);
    expect((await listAll(stores.s3, MEDIA, '')).length).toBe(fixture.totals.mediaObjects);
    expect(access.length).toBe(fixture.totals.accessLogLines);
    expect(access.filter((l) => l.userId === null).length).toBe(fixture.totals.signedOutLogLines);
    expect(voice.length).toBe(fixture.totals.voiceSessions);
    expect((await scanAll('platform-marketing-events')).length).toBe(fixture.totals.marketingEvents);
  });

  it('gives alice data in every store and erin none outside accounts', () => {
    for (const value of Object.values(fixture.users['u-alice'])) expect(value).toBeGreaterThan(0);
    for (const value of Object.values(fixture.users['u-erin'])) expect(value).toBe(0);
  });

  it('holds the identity hard cases: full profile, shared phone, minor with a guardian', async () => {
    const get = async (userId: string) =>
      (await stores.doc.send(new GetCommand({ TableName: 'platform-accounts', Key: { userId } }))).Item;
    const alice = await get('u-alice');
    expect(alice?.passwordHash).toEqual(expect.any(String));
    expect(alice?.externalAccounts).toEqual(
      expect.arrayContaining([expect.objectContaining({ accessToken: expect.any(String) })]),
    );
    expect((alice?.devices as { deviceId: string }[]).map((d) => d.deviceId)).toEqual(
      fixture.cases.alice.deviceIds,
    );
    expect(fixture.cases.alice.deviceIds).toContain('dev-alice-phone');
    expect(alice?.bankAccount).toEqual(expect.objectContaining({ accountNumber: expect.any(String) }));
    expect(alice?.phone).toMatch(/^\+[1-9]\d{6,14}$/);

    const byEmail = await countQuery({
      TableName: 'platform-accounts',
      IndexName: 'byEmail',
      KeyConditionExpression: 'email = :e',
      ExpressionAttributeValues: { ':e': fixture.cases.alice.email },
    });
    expect(byEmail.map((a) => a.userId)).toEqual(['u-alice']);
    const byPhone = await countQuery({
      TableName: 'platform-accounts',
      IndexName: 'byPhone',
      KeyConditionExpression: 'phone = :p',
      ExpressionAttributeValues: { ':p': fixture.cases.sharedPhone.phone },
    });
    expect(byPhone.map((a) => a.userId).sort()).toEqual(['u-frank', 'u-frank2']);
    expect(fixture.cases.sharedPhone.userIds.sort()).toEqual(['u-frank', 'u-frank2']);

    const minor = await get(fixture.cases.minor.userId);
    expect(minor?.guardianUserId).toBe(fixture.cases.minor.guardianUserId);
    expect(await get(fixture.cases.minor.guardianUserId)).toBeDefined();
    expect(await get('u-erin')).toEqual(expect.objectContaining({ userId: 'u-erin', status: 'active' }));
  });

  it('holds the payments and chat hard cases', async () => {
    const legacy = (
      await stores.doc.send(
        new GetCommand({ TableName: 'platform-payments', Key: fixture.cases.legacyCardRow }),
      )
    ).Item;
    expect(legacy).toEqual(expect.objectContaining({ cardNumber: '4111111111111111', cvc: '737' }));
    const alicePayments = await countQuery({
      TableName: 'platform-payments',
      KeyConditionExpression: 'userId = :u',
      ExpressionAttributeValues: { ':u': 'u-alice' },
    });
    expect(new Set(alicePayments.map((p) => p.type))).toEqual(
      new Set(['purchase', 'refund', 'subscription', 'payout']),
    );
    for (const p of alicePayments) expect(p.sk).toBe(`${String(p.txnAt)}#${String(p.txnId)}`);

    const large = (
      await stores.doc.send(
        new GetCommand({
          TableName: 'platform-chat-messages',
          Key: { roomId: fixture.cases.largeMessage.roomId, sk: fixture.cases.largeMessage.sk },
        }),
      )
    ).Item;
    const bodyBytes = Buffer.byteLength(String(large?.body), 'utf8');
    expect(bodyBytes).toBe(LARGE_MESSAGE_BYTES);
    expect(fixture.cases.largeMessage.bodyBytes).toBe(bodyBytes);
    const itemBytes = Object.entries(large ?? {}).reduce(
      (n, [name, value]) => n + name.length + Buffer.byteLength(String(value), 'utf8'),
      0,
    );
    expect(itemBytes).toBeLessThan(400 * 1024);

    const reported = (
      await stores.doc.send(
        new GetCommand({ TableName: 'platform-chat-messages', Key: fixture.cases.reportedMessage }),
      )
    ).Item;
    expect(reported?.senderId).toBe('u-alice');
    expect((reported?.reports as { reportedBy: string }[]).map((r) => r.reportedBy)).not.toContain('u-alice');

    const plaza = (
      await stores.doc.send(
        new GetCommand({ TableName: 'platform-chat-rooms', Key: { roomId: 'room-world-sakura-plaza' } }),
      )
    ).Item;
    expect(plaza?.kind).toBe('public-world');
    expect([...(plaza?.members as Set<string>)].filter((m) => m !== 'u-alice')).toHaveLength(3);

    const attachment = await stores.s3.send(
      new HeadObjectCommand({ Bucket: MEDIA, Key: fixture.cases.attachmentKey }),
    );
    expect(attachment.Metadata?.['user-id']).toBe('u-alice');
    expect(fixture.cases.attachmentKey).toMatch(/^chat-attachments\/[^/]+\/msg-\d+\/[^/]+$/);
  });

  it('stores hostile upload names verbatim, backslashes included', async () => {
    const keys = (await listAll(stores.s3, MEDIA, 'uploads/u-alice/')).map((o) => o.key);
    expect(fixture.cases.hostileUploadKeys.length).toBeGreaterThanOrEqual(4);
    for (const key of fixture.cases.hostileUploadKeys) expect(keys).toContain(key);
    const backslashed = fixture.cases.hostileUploadKeys.find((k) => k.endsWith('..\\..\\etc\\passwd'));
    expect(backslashed).toBeDefined();
    const body = await getBytes(MEDIA, backslashed ?? '');
    expect(body.toString('utf8')).toMatch(/Not a system file/);
    // The media `uploads/u-frank/` listing must not pick up u-frank2's files.
    const frank = await listAll(stores.s3, MEDIA, 'uploads/u-frank/');
    expect(frank.map((o) => o.key)).toEqual(['uploads/u-frank/file-01/receipt.jpg']);
  });

  it('writes gzipped JSON-lines logs mixing users, signed-out lines and other participants', async () => {
    const objects = await readJsonLines<AccessLogLine>('access/');
    expect(objects.every((o) => /^access\/dt=\d{4}-\d{2}-\d{2}\/part-\d{5}\.jsonl\.gz$/.test(o.key))).toBe(
      true,
    );
    const keys = [
      'ts',
      'userId',
      'ip',
      'deviceId',
      'userAgent',
      'method',
      'path',
      'status',
      'referrer',
      'country',
      'region',
    ];
    for (const { lines } of objects) {
      for (const line of lines) {
        expect(Object.keys(line).sort()).toEqual([...keys].sort());
        expect(Number.isNaN(Date.parse(line.ts))).toBe(false);
        expect(typeof line.status).toBe('number');
      }
    }
    const mixed = objects.filter(
      ({ lines }) =>
        lines.some((l) => l.userId === 'u-alice') &&
        lines.some((l) => l.userId === null) &&
        lines.some((l) => l.userId !== null && l.userId !== 'u-alice'),
    );
    expect(mixed.map((o) => o.key)).toEqual(objects.map((o) => o.key));
    expect(
      new Set(objects.map((o) => o.key.slice(0, 'access/dt=YYYY-MM-DD'.length))).size,
    ).toBeGreaterThanOrEqual(5);
    for (const day of fixture.cases.expiredLogDays)
      expect(objects.some((o) => o.key.includes(`dt=${day}/`))).toBe(true);

    const sessions = (await readJsonLines<VoiceSessionLine>('voice-sessions/')).flatMap((o) => o.lines);
    const withAlice = sessions.filter((s) => s.participants.some((p) => p.userId === 'u-alice'));
    const others = new Set(withAlice.flatMap((s) => s.participants.map((p) => p.userId)));
    expect(others.has('u-bob') && others.has('u-carol')).toBe(true);
    expect(sessions.some((s) => !s.participants.some((p) => p.userId === 'u-alice'))).toBe(true);
    for (const s of sessions) {
      for (const p of s.participants)
        expect(Object.keys(p).sort()).toEqual(['ip', 'joinedAt', 'leftAt', 'userId']);
    }
  });
});

describe('S3 key guard', () => {
  it('refuses a key with .. segments instead of letting s3rver resolve it', async () => {
    for (const Key of ['uploads/u-test/f/../../etc/passwd', '../../../../../../tmp/dsr-escape']) {
      await expect(
        stores.s3.send(new PutObjectCommand({ Bucket: MEDIA, Key, Body: 'x' })),
      ).rejects.toMatchObject({
        name: 'InvalidObjectName',
        $metadata: { httpStatusCode: 400 },
      });
    }
    expect(await listAll(stores.s3, MEDIA, 'uploads/etc/')).toEqual([]);
    expect(await listAll(stores.s3, MEDIA, 'uploads/u-test/')).toEqual([]);
  });

  it('refuses percent-encoded dot segments with an S3 XML error, and anonymous requests', async () => {
    // Raw HTTP: fetch would resolve %2e%2e itself (WHATWG URL) before sending.
    const raw = (method: string, target: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = http.request(`${stores.s3Endpoint}/`, { method, path: target }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
        });
        request.on('error', reject);
        request.end('x');
      });
    const dotted = await raw('PUT', `/${MEDIA}/uploads/u1/%2e%2e/%2E%2E/x`);
    expect(dotted.status).toBe(400);
    expect(dotted.body).toMatch(/<Code>InvalidObjectName<\/Code>/);
    const anonymous = await raw('PUT', `/${MEDIA}/x`);
    expect(anonymous.status).toBe(403);
    expect(anonymous.body).toMatch(/<Code>AccessDenied<\/Code>/);
    expect(await listAll(stores.s3, MEDIA, 'x')).toEqual([]);
  });

  it('checks DeleteObjects keys and passes legal deletes through', async () => {
    await stores.s3.send(new PutObjectCommand({ Bucket: MEDIA, Key: 'tmp/guard/a\\b.txt', Body: 'x' }));
    await expect(
      stores.s3.send(
        new DeleteObjectsCommand({
          Bucket: MEDIA,
          Delete: { Objects: [{ Key: 'tmp/guard/../../avatars/u-bob/x' }] },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidObjectName' });
    await stores.s3.send(
      new DeleteObjectsCommand({ Bucket: MEDIA, Delete: { Objects: [{ Key: 'tmp/guard/a\\b.txt' }] } }),
    );
    expect(await listAll(stores.s3, MEDIA, 'tmp/guard/')).toEqual([]);
  });

  it('round-trips streamed and multipart uploads byte for byte', async () => {
    const small = Buffer.from('streamed body, sent aws-chunked by the SDK');
    await stores.s3.send(
      new PutObjectCommand({
        Bucket: MEDIA,
        Key: 'tmp/stream.bin',
        Body: Readable.from([small]),
        ContentLength: small.length,
      }),
    );
    const head = await stores.s3.send(new HeadObjectCommand({ Bucket: MEDIA, Key: 'tmp/stream.bin' }));
    expect(head.ContentEncoding ?? '').not.toMatch(/aws-chunked/);
    expect((await getBytes(MEDIA, 'tmp/stream.bin')).equals(small)).toBe(true);

    const size = 11 * 1024 * 1024 + 123;
    const hash = createHash('sha256');
    const source = randomStream(size);
    source.on('data', (chunk: Buffer) => hash.update(chunk));
    const completed = await new Upload({
      client: stores.s3,
      partSize: 5 * 1024 * 1024,
      params: { Bucket: MEDIA, Key: 'tmp/multipart.bin', Body: source },
    }).done();
    const stored = await getBytes(MEDIA, 'tmp/multipart.bin');
    expect(stored.length).toBe(size);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(hash.digest('hex'));
    // As in S3, a multipart object's ETag is the MD5 of its parts' MD5s, with the part count.
    const partMd5s = [0, 1, 2].map((n) =>
      createHash('md5')
        .update(stored.subarray(n * 5 * 1024 * 1024, (n + 1) * 5 * 1024 * 1024))
        .digest(),
    );
    const expectedEtag = `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-3"`;
    expect(completed.ETag).toBe(expectedEtag);
    const storedHead = await stores.s3.send(
      new HeadObjectCommand({ Bucket: MEDIA, Key: 'tmp/multipart.bin' }),
    );
    expect(storedHead.ETag).toBe(expectedEtag);
    expect(storedHead.ContentLength).toBe(size);
    await stores.s3.send(
      new DeleteObjectsCommand({
        Bucket: MEDIA,
        Delete: { Objects: [{ Key: 'tmp/stream.bin' }, { Key: 'tmp/multipart.bin' }] },
      }),
    );
  });
  it('aborts a multipart upload as S3 does: parts gone, the upload unknown afterwards', async () => {
    const Key = 'tmp/aborted.bin';
    const { UploadId } = await stores.s3.send(new CreateMultipartUploadCommand({ Bucket: MEDIA, Key }));
    const part = await stores.s3.send(
      new UploadPartCommand({ Bucket: MEDIA, Key, UploadId, PartNumber: 1, Body: randomBytes(1024) }),
    );
    await stores.s3.send(new AbortMultipartUploadCommand({ Bucket: MEDIA, Key, UploadId }));
    const completing = stores.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: MEDIA,
        Key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    await expect(completing).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    await expect(
      stores.s3.send(new AbortMultipartUploadCommand({ Bucket: MEDIA, Key, UploadId })),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
    await expect(stores.s3.send(new HeadObjectCommand({ Bucket: MEDIA, Key }))).rejects.toMatchObject({
      name: 'NotFound',
    });
  });
});

describe('heavy user (scaled down)', () => {
  it('writes what it reports', async () => {
    const summary = await seedHeavyUser(stores, {
      userId: 'u-heavy-test',
      chatMessages: 260,
      payments: 120,
      logLines: 900,
      days: 4,
      mediaBytes: 6 * 1024 * 1024 + 77,
      mediaFiles: 3,
    });
    const sent = await countQuery({
      TableName: 'platform-chat-messages',
      IndexName: 'bySender',
      KeyConditionExpression: 'senderId = :u',
      ExpressionAttributeValues: { ':u': 'u-heavy-test' },
    });
    expect(sent.length).toBe(summary.chatMessagesSent);
    expect(sent.length).toBe(260);
    const payments = await countQuery({
      TableName: 'platform-payments',
      KeyConditionExpression: 'userId = :u',
      ExpressionAttributeValues: { ':u': 'u-heavy-test' },
    });
    expect(payments.length).toBe(120);

    const logs = (await readJsonLines<AccessLogLine>('access/')).filter((o) =>
      o.key.endsWith(HEAVY_LOG_PART),
    );
    expect(logs).toHaveLength(4);
    const lines = logs.flatMap((o) => o.lines);
    expect(lines.filter((l) => l.userId === 'u-heavy-test')).toHaveLength(900);
    expect(lines.filter((l) => l.userId !== 'u-heavy-test')).toHaveLength(summary.otherAccessLogLines);
    expect(summary.otherAccessLogLines).toBeGreaterThan(0);

    const media = [
      ...(await listAll(stores.s3, MEDIA, 'voice/u-heavy-test/')),
      ...(await listAll(stores.s3, MEDIA, 'uploads/u-heavy-test/')),
    ];
    expect(media).toHaveLength(3);
    expect(media.reduce((n, o) => n + o.size, 0)).toBe(6 * 1024 * 1024 + 77);
  });
});

describe('store start-up', () => {
  it('keeps tables in its data directory across restarts, whatever the credentials', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'dsr-ddb-'));
    const running: { stop(): Promise<void> }[] = [];
    try {
      const first = await startDynamoLocal({ port: 0, dataDir });
      running.push(first);
      const clients = localClients(first.endpoint, stores.s3Endpoint);
      await clients.dynamo.send(
        new CreateTableCommand({
          TableName: 'persisted',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        }),
      );
      clients.dynamo.destroy();
      await first.stop();
      expect(await readdir(dataDir)).toContain('shared-local-instance.db');

      const second = await startDynamoLocal({ port: 0, dataDir });
      running.push(second);
      // Other credentials and region: -sharedDb makes them see the same tables.
      const other = new DynamoDBClient({
        endpoint: second.endpoint,
        region: 'eu-west-3',
        credentials: { accessKeyId: 'SomeoneElse42', secretAccessKey: 'x' },
      });
      const { TableNames } = await other.send(new ListTablesCommand({}));
      other.destroy();
      expect(TableNames).toEqual(['persisted']);
    } finally {
      for (const store of running) await store.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('binds DynamoDB Local to 127.0.0.1 only', async () => {
    const reaches = (host: string, port: number) =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect({ host, port });
        socket.setTimeout(2000, () => socket.destroy(new Error('timeout')));
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    // Addresses of this machine other than 127.0.0.1 (Linux routes all of 127/8 to loopback), kept when
    // a server listening on every interface is reachable there: so each one can tell the difference.
    const others = [
      '127.0.0.2',
      ...Object.values(os.networkInterfaces())
        .flat()
        .filter((info) => info !== undefined && info.family === 'IPv4' && !info.internal)
        .map((info) => info!.address),
    ];
    const everywhere = net.createServer();
    await new Promise<void>((resolve) => everywhere.listen(0, () => resolve()));
    const controlPort = (everywhere.address() as net.AddressInfo).port;
    const usable: string[] = [];
    try {
      for (const host of others) if (await reaches(host, controlPort)) usable.push(host);
    } finally {
      everywhere.close();
    }
    expect(usable.length).toBeGreaterThan(0);

    const port = Number(new URL(stores.ddbEndpoint).port);
    expect(await reaches('127.0.0.1', port)).toBe(true);
    for (const host of usable)
      expect({ host, reachable: await reaches(host, port) }).toEqual({ host, reachable: false });
  });

  it('fails clearly when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, () => resolve()));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(startDynamoLocal({ port })).rejects.toMatchObject({
        name: 'StoreStartError',
        message: expect.stringContaining(`Port ${port} is already in use`),
      });
    } finally {
      blocker.close();
    }
  });

  it('fails clearly when the S3 port is taken', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'dsr-s3-'));
    try {
      await expect(
        startS3Local({ port: Number(new URL(stores.s3Endpoint).port), dataDir }),
      ).rejects.toMatchObject({
        name: 'StoreStartError',
        message: expect.stringContaining('already in use'),
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('fails clearly when Java is missing', async () => {
    const savedPath = process.env.PATH;
    process.env.PATH = path.join(os.tmpdir(), 'no-java-here');
    try {
      const attempt = startDynamoLocal({ port: 0 });
      // Never leave a JVM behind should this test fail.
      attempt.then((store) => store.stop()).catch(() => undefined);
      await expect(attempt).rejects.toThrow(/java.*not found/i);
    } finally {
      process.env.PATH = savedPath;
    }
  });
});

describe('resetLocalData', () => {
  it('removes the data directory and everything in it', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'dsr-reset-'));
    const dir = path.join(root, '.local');
    await mkdir(path.join(dir, 'dynamodb'), { recursive: true });
    await mkdir(path.join(dir, 's3', 'platform-media'), { recursive: true });
    await writeFile(path.join(dir, 'dynamodb', 'shared-local-instance.db'), 'x');
    try {
      expect(resetLocalData(dir)).toEqual({ path: dir, removed: true });
      expect(await readdir(root)).toEqual([]);
      expect(resetLocalData(dir)).toEqual({ path: dir, removed: false });
      expect(() => resetLocalData(process.cwd())).toThrow(/Refusing/);
      expect(() => resetLocalData('/')).toThrow(/Refusing/);
      expect(() => resetLocalData(os.homedir())).toThrow(/Refusing/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
