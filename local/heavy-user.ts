/**
 * A heavy user for the export benchmark: tens of thousands of chat messages and payments, a hundred
 * thousand access-log lines spread over months among other people's lines, and a gigabyte of media.
 * Everything is generated as it is written (batches, one log day at a time, media streamed through
 * multipart uploads), so memory stays small whatever the sizes.
 */
import { randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { Upload } from '@aws-sdk/lib-storage';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { DEMO_REFERENCE_DATE, clockAt, gzipLines, seededRandom, type AccessLogLine } from './seed-data';
import { DEFAULT_SEED_TARGETS, batchPut, forEachLimit, putObject, type SeedTargets } from './seed';

export interface HeavyUserOptions {
  userId: string;
  /** Messages the heavy user sends (others' replies come on top, a quarter as many). */
  chatMessages: number;
  payments: number;
  /** Access-log lines of the heavy user (as many lines of other people are mixed in). */
  logLines: number;
  days: number;
  mediaBytes: number;
  mediaFiles: number;
  referenceDate: string;
}

export const HEAVY_USER_DEFAULTS: HeavyUserOptions = {
  userId: 'u-heavy',
  chatMessages: 20_000,
  payments: 5_000,
  logLines: 100_000,
  days: 90,
  mediaBytes: 1024 ** 3,
  mediaFiles: 200,
  referenceDate: DEMO_REFERENCE_DATE,
};

/** Log part written for the heavy user's days, apart from the demo data's `part-00000`. */
export const HEAVY_LOG_PART = 'part-00900.jsonl.gz';

export interface HeavyUserSummary {
  userId: string;
  chatRooms: number;
  chatMessagesSent: number;
  chatMessagesFromOthers: number;
  mentions: number;
  payments: number;
  logObjects: number;
  accessLogLines: number;
  otherAccessLogLines: number;
  mediaFiles: number;
  mediaBytes: number;
  timings: { dynamoMs: number; logsMs: number; mediaMs: number; totalMs: number };
}

const CHUNK = 1024 * 1024;
const PART_SIZE = 5 * 1024 * 1024;
const OTHERS = ['u-bob', 'u-carol', 'u-dave'] as const;

/** `bytes` of random data, generated a chunk at a time as the consumer reads. */
export function randomStream(bytes: number): Readable {
  let left = bytes;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const size = Math.min(CHUNK, left);
      left -= size;
      this.push(randomFillSync(Buffer.allocUnsafe(size)));
    },
  });
}

function* chunksOf<T>(total: number, size: number, make: (index: number) => T): Generator<T[]> {
  for (let start = 0; start < total; start += size) {
    const end = Math.min(total, start + size);
    const chunk: T[] = [];
    for (let i = start; i < end; i++) chunk.push(make(i));
    yield chunk;
  }
}

export async function seedHeavyUser(
  clients: { doc: DynamoDBDocumentClient; s3: S3Client },
  options: Partial<HeavyUserOptions> & { targets?: Partial<SeedTargets> } = {},
): Promise<HeavyUserSummary> {
  const opts: HeavyUserOptions = { ...HEAVY_USER_DEFAULTS, ...options };
  const targets = { ...DEFAULT_SEED_TARGETS, ...options.targets };
  const { userId, days } = opts;
  if (days < 1) throw new Error('days must be at least 1');
  const clock = clockAt(opts.referenceDate);
  const started = Date.now();
  const dayOf = (i: number, n: number) => days - 1 - Math.floor((i * days) / Math.max(n, 1));
  const timeOf = (i: number) => {
    const seconds = (i * 7919) % 86_400;
    return [Math.floor(seconds / 3600), Math.floor(seconds / 60) % 60, seconds % 60]
      .map((v) => String(v).padStart(2, '0'))
      .join(':');
  };

  // --- DynamoDB: account, rooms, messages, payments --------------------------------------------------
  const rooms = [
    { roomId: `room-${userId}-dm-bob`, kind: 'direct', members: new Set([userId, 'u-bob']) },
    ...[1, 2, 3, 4].map((n) => ({
      roomId: `room-${userId}-world-${n}`,
      kind: 'public-world',
      worldId: `world-bench-${n}`,
      members: new Set([userId, ...OTHERS]),
    })),
  ].map((room) => ({ ...room, createdAt: clock.at(days + 1) }));
  const phoneDigits = String(
    [...userId].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 100_000_000, 7),
  ).padStart(8, '0');
  await batchPut(clients.doc, targets.accountsTable, [
    {
      userId,
      email: `${userId}@bench.example.com`,
      phone: `+8210${phoneDigits}`,
      name: { first: '하늘', last: '최' },
      nickname: userId,
      country: 'KR',
      locale: 'ko-KR',
      createdAt: clock.at(days + 30),
      status: 'active',
      devices: [
        {
          deviceId: `dev-${userId}-phone`,
          platform: 'ios',
          firstSeen: clock.at(days),
          lastSeen: clock.at(1),
        },
      ],
    },
  ]);
  await batchPut(clients.doc, targets.chatRoomsTable, rooms);

  const othersCount = Math.floor(opts.chatMessages / 4);
  let mentions = 0;
  const message = (i: number, senderId: string, total: number, body: string) => {
    // Others write in the world rooms only: the direct room is the heavy user's and u-bob's.
    const room = senderId === userId ? rooms[i % rooms.length] : rooms[1 + (i % (rooms.length - 1))];
    if (!room) throw new Error('no rooms');
    const sentAt = clock.at(dayOf(i, total), timeOf(i));
    const messageId = `hm-${senderId === userId ? 'u' : 'o'}-${String(i).padStart(6, '0')}`;
    return { roomId: room.roomId, sk: `${sentAt}#${messageId}`, messageId, sentAt, senderId, body };
  };
  for (const chunk of chunksOf(opts.chatMessages, 1000, (i) =>
    message(i, userId, opts.chatMessages, `Benchmark message ${i}: 오늘도 월드에서 만나요 🌏`),
  )) {
    await batchPut(clients.doc, targets.chatMessagesTable, chunk, 6);
  }
  for (const chunk of chunksOf(othersCount, 1000, (i) => {
    const item = message(i, OTHERS[i % OTHERS.length] ?? 'u-bob', othersCount, `Reply ${i}`);
    if (i % 2 === 0) {
      mentions++;
      return { ...item, body: `@${userId} ${item.body}`, mentions: [userId] };
    }
    return item;
  })) {
    await batchPut(clients.doc, targets.chatMessagesTable, chunk, 6);
  }

  const types = [
    'purchase',
    'purchase',
    'purchase',
    'subscription',
    'purchase',
    'refund',
    'purchase',
    'payout',
  ];
  for (const chunk of chunksOf(opts.payments, 1000, (i) => {
    const type = types[i % types.length] ?? 'purchase';
    const txnAt = clock.at(dayOf(i, opts.payments), timeOf(i));
    const txnId = `txn-heavy-${String(i).padStart(6, '0')}`;
    return {
      userId,
      sk: `${txnAt}#${txnId}`,
      txnId,
      txnAt,
      type,
      amount: 1000 + ((i * 37) % 50) * 100,
      currency: 'KRW',
      status: type === 'payout' ? 'paid' : 'succeeded',
      processor: 'sony-payment-services',
      processorRef: `sps_bench_${i}`,
      ...(type === 'payout'
        ? {}
        : {
            item: { sku: `sku-bench-${i % 40}`, title: `벤치마크 아이템 ${i % 40}` },
            card: { brand: 'visa', last4: '4242', expMonth: 8, expYear: 2029 },
          }),
    };
  })) {
    await batchPut(clients.doc, targets.paymentsTable, chunk, 6);
  }
  const dynamoMs = Date.now() - started;

  // --- Logs: one gzip object a day, the user's lines among others' ---------------------------------
  const logsStarted = Date.now();
  let myLines = 0;
  let otherLines = 0;
  const dayIndexes = Array.from({ length: days }, (_, d) => d);
  await forEachLimit(dayIndexes, 4, async (d) => {
    const daysBefore = d + 1;
    // One generator a day: days are written concurrently, and each stays reproducible.
    const random = seededRandom(0x4eaf + d);
    const mine = Math.floor(opts.logLines / days) + (d < opts.logLines % days ? 1 : 0);
    const lines: AccessLogLine[] = [];
    const push = (who: string | null, n: number) => {
      for (let i = 0; i < n; i++) {
        const seconds = Math.floor(random() * 86_400);
        lines.push({
          ts: clock.plusSeconds(clock.at(daysBefore, '00:00:00'), seconds),
          userId: who,
          ip: who === userId ? '203.0.113.200' : `198.51.100.${Math.floor(random() * 200)}`,
          deviceId: who === null ? null : `dev-${who}-phone`,
          userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) MetaverseApp/4.12.0',
          method: 'GET',
          path: `/api/v1/worlds/world-bench-${1 + (i % 4)}`,
          status: 200,
          referrer: null,
          country: 'KR',
          region: 'KR-11',
        });
      }
    };
    push(userId, mine);
    for (const other of OTHERS) push(other, Math.ceil(mine / 4));
    push(null, Math.ceil(mine / 4));
    myLines += mine;
    otherLines += lines.length - mine;
    lines.sort((a, b) => a.ts.localeCompare(b.ts));
    await putObject(clients.s3, {
      bucket: targets.logsBucket,
      key: `access/dt=${clock.day(daysBefore)}/${HEAVY_LOG_PART}`,
      body: gzipLines(lines),
      contentType: 'application/gzip',
    });
  });
  const logsMs = Date.now() - logsStarted;

  // --- Media: streamed multipart uploads ------------------------------------------------------------
  const mediaStarted = Date.now();
  const perFile = opts.mediaFiles > 0 ? Math.floor(opts.mediaBytes / opts.mediaFiles) : 0;
  const files = Array.from({ length: opts.mediaFiles }, (_, i) => i);
  await forEachLimit(files, 3, async (i) => {
    const size = i === opts.mediaFiles - 1 ? opts.mediaBytes - perFile * (opts.mediaFiles - 1) : perFile;
    const n = String(i).padStart(4, '0');
    const key =
      i % 2 === 0
        ? `voice/${userId}/${clock.day(dayOf(i, opts.mediaFiles) + 1)}/clip-${n}.ogg`
        : `uploads/${userId}/file-${n}/video-${n}.mp4`;
    await new Upload({
      client: clients.s3,
      partSize: PART_SIZE,
      queueSize: 2,
      params: {
        Bucket: targets.mediaBucket,
        Key: key,
        Body: randomStream(size),
        ContentType: i % 2 === 0 ? 'audio/ogg' : 'video/mp4',
        Metadata: { 'user-id': userId },
      },
    }).done();
  });
  const mediaMs = Date.now() - mediaStarted;

  return {
    userId,
    chatRooms: rooms.length,
    chatMessagesSent: opts.chatMessages,
    chatMessagesFromOthers: othersCount,
    mentions,
    payments: opts.payments,
    logObjects: days,
    accessLogLines: myLines,
    otherAccessLogLines: otherLines,
    mediaFiles: opts.mediaFiles,
    mediaBytes: opts.mediaBytes,
    timings: { dynamoMs, logsMs, mediaMs, totalMs: Date.now() - started },
  };
}
