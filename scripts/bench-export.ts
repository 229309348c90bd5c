/**
 * End-to-end export benchmark on the local stack (the heavy user):
 *
 *   npx tsx scripts/bench-export.ts [--media-mib 1024] [--media-files 200] [--chat 20000] [--payments 5000]
 *                                    [--log-lines 100000] [--days 90] [--cpu-prof]
 *
 * Seeds one heavy user, then times (1) the floor: reading the same items and bytes the export reads,
 * straight from the same local stores, every store in parallel; (2) the copy floor: the same reads, with
 * the media bytes also written once into the exports bucket as they are read (the least I/O any export
 * must do: local S3 writes cost several times its reads), and, for scale, writing those bytes alone
 * from memory; and (3) the export itself, through the API,
 * the real ASL and every connector, to a completed archive, with each task's start and duration. The
 * stores and the functions are warm for all three: the floor is read once untimed first, and an export
 * of nobody runs untimed before the timed one (so module loading, a Lambda cold start, is not counted).
 * Prints the ratios (goal: within 1.5x of the floor). Ratios, not absolute times, are comparable on a
 * shared machine. `--cpu-prof` writes a CPU profile of this process during the export.
 */
import '../local/polyfills';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { Upload } from '@aws-sdk/lib-storage';
import { roomActivityQuery } from '../functions/connectors/chat/queries';
import { queryPages } from '../functions/lib/aws/dynamo-paging';
import { listPages } from '../functions/lib/aws/s3-objects';
import { orchestratorResources, platformStores } from '../config/data-map';
import { seedHeavyUser } from '../local/heavy-user';
import { startScratchStack } from '../local/stack';
import { mintToken } from '../local/auth';
import { flag, numberOption } from './cli-options';

const MiB = 1024 * 1024;

async function queryAll(doc: DynamoDBDocumentClient, input: QueryCommandInput): Promise<number> {
  let count = 0;
  for await (const items of queryPages(doc, input)) count += items.length;
  return count;
}

/** Reads every object under `prefix`; with `sink`, also writes the bytes there (with backpressure). */
async function readPrefix(s3: S3Client, bucket: string, prefix: string, sink?: Writable): Promise<number> {
  let bytes = 0;
  for await (const page of listPages(s3, bucket, prefix)) {
    for (const object of page) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      for await (const chunk of out.Body as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (sink && !sink.write(chunk)) await once(sink, 'drain');
      }
    }
  }
  return bytes;
}

/** The chat connector's reads: the subject's messages, then each of their rooms and its mentions and reports. */
async function readChat(doc: DynamoDBDocumentClient, userId: string): Promise<void> {
  const messages = platformStores.chat.messagesTable;
  const roomIds = new Set<string>();
  const own = queryPages(doc, {
    TableName: messages.tableName,
    IndexName: messages.indexes[0].indexName,
    KeyConditionExpression: 'senderId = :u',
    ExpressionAttributeValues: { ':u': userId },
  });
  for await (const items of own) for (const item of items) roomIds.add(String(item.roomId));
  const chatConfig = {
    messagesTable: messages.tableName,
    includeConversationContext: false,
  } as Parameters<typeof roomActivityQuery>[0];
  await Promise.all(
    [...roomIds].map(async (roomId) => {
      await doc.send(
        new GetCommand({
          TableName: platformStores.chat.roomsTable.tableName,
          Key: { roomId },
          ConsistentRead: true,
        }),
      );
      await queryAll(doc, roomActivityQuery(chatConfig, roomId, [userId]));
    }),
  );
}

/**
 * The floor: the same reads the connectors make, with nothing written. With `copyMedia`, the "copy
 * floor": the same reads, and the media bytes also written once, as they are read, into one multipart
 * upload to the exports bucket: the least I/O any export of this user must do on these stores.
 */
async function readFloor(
  doc: DynamoDBDocumentClient,
  s3: S3Client,
  userId: string,
  options: { copyMedia: boolean },
): Promise<number> {
  const started = Date.now();
  const sink = options.copyMedia ? new PassThrough({ highWaterMark: 1024 * 1024 }) : undefined;
  const upload = sink
    ? new Upload({
        client: s3,
        params: { Bucket: orchestratorResources.exportsBucket, Key: 'bench/copy-floor.bin', Body: sink },
        partSize: 8 * MiB,
        queueSize: 2,
      }).done()
    : undefined;
  await Promise.all([
    queryAll(doc, {
      TableName: platformStores.accounts.table.tableName,
      KeyConditionExpression: 'userId = :u',
      ExpressionAttributeValues: { ':u': userId },
    }),
    queryAll(doc, {
      TableName: platformStores.payments.table.tableName,
      KeyConditionExpression: 'userId = :u',
      ExpressionAttributeValues: { ':u': userId },
    }),
    readChat(doc, userId),
    Promise.all(
      platformStores.media.subjectPrefixes.map((p) =>
        readPrefix(s3, platformStores.media.bucketName, p.replace('{userId}', userId), sink),
      ),
    ).then(() => sink?.end()),
    readPrefix(s3, platformStores.logs.bucketName, platformStores.logs.accessPrefix),
    readPrefix(s3, platformStores.logs.bucketName, platformStores.logs.voiceSessionsPrefix),
    upload,
  ]);
  return Date.now() - started;
}

/**
 * Writing alone: `bytes` from memory into one multipart upload to the exports bucket (8 MiB parts, 4
 * at once), nothing read. Storing the archive costs at least this, whatever the export does.
 */
async function writeAlone(s3: S3Client, bytes: number): Promise<number> {
  const block = Buffer.alloc(MiB, 0x5a);
  const started = Date.now();
  await new Upload({
    client: s3,
    params: {
      Bucket: orchestratorResources.exportsBucket,
      Key: 'bench/write-alone.bin',
      Body: Readable.from(
        (function* () {
          for (let left = bytes; left > 0; left -= MiB) yield left >= MiB ? block : block.subarray(0, left);
        })(),
      ),
    },
    partSize: 8 * MiB,
    queueSize: 4,
  }).done();
  return Date.now() - started;
}

/** `--cpu-prof`: profiles this process during the export only (open the file in Chrome DevTools). */
async function startProfiler(): Promise<{ stop(): Promise<string> }> {
  const session = new Session();
  session.connect();
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post('Profiler.enable');
  await post('Profiler.start');
  return {
    async stop() {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      const file = join(tmpdir(), `bench-export-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      return file;
    },
  };
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  const steps: { functionName: string; started: number; ms: number }[] = [];
  const stack = await startScratchStack({
    seed: false,
    workflows: {
      // Time every task the workflow dispatches, for the per-step breakdown printed below.
      interceptor: async (functionName, _payload, invoke) => {
        const started = Date.now();
        try {
          return await invoke();
        } finally {
          steps.push({ functionName, started, ms: Date.now() - started });
        }
      },
    },
  });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  try {
    const userId = 'u-heavy';
    const seeded = await seedHeavyUser(
      { doc: stack.doc, s3: stack.s3 },
      {
        userId,
        chatMessages: numberOption('chat', 20_000),
        payments: numberOption('payments', 5_000),
        logLines: numberOption('log-lines', 100_000),
        days: numberOption('days', 90),
        mediaBytes: numberOption('media-mib', 1024) * MiB,
        mediaFiles: numberOption('media-files', 200),
      },
    );
    console.log(
      `seeded ${userId}: ${seeded.chatMessagesSent} messages, ${seeded.payments} payments, ` +
        `${seeded.accessLogLines} of ${seeded.accessLogLines + seeded.otherAccessLogLines} log lines in ${seeded.logObjects} objects, ` +
        `${seeded.mediaFiles} media files (${(seeded.mediaBytes / MiB).toFixed(0)} MiB) in ${(seeded.timings.totalMs / 1000).toFixed(1)} s`,
    );

    // Once untimed: the first read of a fresh store warms its JIT and caches, which the export finds warm.
    await readFloor(stack.doc, stack.s3, userId, { copyMedia: false });
    const floorMs = await readFloor(stack.doc, stack.s3, userId, { copyMedia: false });
    console.log(`floor (read the same items and bytes): ${(floorMs / 1000).toFixed(1)} s`);
    const copyFloorMs = await readFloor(stack.doc, stack.s3, userId, { copyMedia: true });
    const writeAloneMs = await writeAlone(stack.s3, seeded.mediaBytes);
    console.log(
      `copy floor (the same reads, media bytes also written once to the exports bucket): ${(copyFloorMs / 1000).toFixed(1)} s`,
    );

    peakRss = 0;
    steps.length = 0;
    const profiler = flag('cpu-prof') ? await startProfiler() : undefined;
    const token = mintToken(stack.tokenKey, 'support');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    /** Creates an export of `subject` and polls it to its end. */
    const exportOf = async (subject: string) => {
      const created = await fetch(`${stack.apiUrl}/v1/requests`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ type: 'export', service: 'klub-outside', subject: { userId: subject } }),
      });
      const { requestId } = (await created.json()) as { requestId: string };
      let body: Record<string, unknown> = {};
      while (body.status !== 'completed' && body.status !== 'failed') {
        await new Promise((r) => setTimeout(r, 250));
        const polled = await fetch(`${stack.apiUrl}/v1/requests/${requestId}`, { headers });
        body = (await polled.json()) as Record<string, unknown>;
      }
      return body;
    };
    // Untimed, an export of nobody: every function is loaded once (warm, as the floor's stores are).
    await exportOf('u-nobody');
    await stack.workflows.idle();
    peakRss = 0;
    steps.length = 0;

    const started = Date.now();
    const body = await exportOf(userId);
    const status = String(body.status);
    const exportMs = Date.now() - started;
    if (profiler) console.log(`CPU profile of the export: ${await profiler.stop()}`);
    if (status !== 'completed') throw new Error(`export failed: ${JSON.stringify(body.failure)}`);
    const archive = body.export as { bytes: number; files: number; records: number };
    console.log(
      `export: ${(exportMs / 1000).toFixed(1)} s -> archive ${(archive.bytes / MiB).toFixed(0)} MiB, ` +
        `${archive.files} files, ${archive.records} records`,
    );
    for (const step of steps) {
      console.log(
        `  ${step.functionName.padEnd(32)} +${((step.started - started) / 1000).toFixed(1).padStart(5)} s  ${(step.ms / 1000).toFixed(1).padStart(5)} s`,
      );
    }
    console.log(`ratio export / floor: ${(exportMs / floorMs).toFixed(2)}x (goal <= 1.5x)`);
    console.log(`ratio export / copy floor: ${(exportMs / copyFloorMs).toFixed(2)}x`);
    console.log(
      `writing the media's bytes alone (from memory, nothing read): ${(writeAloneMs / 1000).toFixed(1)} s = ` +
        `${(writeAloneMs / floorMs).toFixed(2)}x the floor`,
    );
    console.log(
      `peak RSS of this process during the export: ${(peakRss / MiB).toFixed(0)} MiB ` +
        '(the whole local stack in one process: API, workflow, connectors, assembler and s3rver; ' +
        'the assembler alone is measured by scripts/bench-assemble.ts)',
    );
  } finally {
    clearInterval(sampler);
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
