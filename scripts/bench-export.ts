/**
 * End-to-end export benchmark on the local stack (issue 3's heavy user):
 *
 *   npx tsx scripts/bench-export.ts [--media-mib 1024] [--media-files 200] [--chat 20000] [--payments 5000]
 *                                    [--log-lines 100000] [--days 90]
 *
 * Seeds one heavy user, then times (1) the floor: reading the same items and bytes the export reads,
 * straight from the same local stores, every store in parallel; and (2) the export itself, through the
 * API, the real ASL and every connector, to a completed archive. Prints both and their ratio (goal:
 * within 1.5x of the floor). Ratios, not absolute times, are comparable on a shared machine.
 */
import '../local/polyfills';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { platformStores } from '../config/data-map';
import { seedHeavyUser } from '../local/heavy-user';
import { startLocalStack } from '../local/stack';
import { findFreePort } from '../local/stores';
import { mintToken } from '../local/auth';

const MiB = 1024 * 1024;

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at === -1) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number`);
  return value;
}

async function queryAll(doc: DynamoDBDocumentClient, input: ConstructorParameters<typeof QueryCommand>[0]) {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
    count += page.Items?.length ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return count;
}

async function readPrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let bytes = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      for await (const chunk of out.Body as AsyncIterable<Buffer>) bytes += chunk.length;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return bytes;
}

/** The floor: the same reads the connectors make, with nothing written. */
async function readFloor(doc: DynamoDBDocumentClient, s3: S3Client, userId: string): Promise<number> {
  const started = Date.now();
  const messages = platformStores.chat.messagesTable;
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
    queryAll(doc, {
      TableName: messages.tableName,
      IndexName: 'bySender',
      KeyConditionExpression: 'senderId = :u',
      ExpressionAttributeValues: { ':u': userId },
    }),
    ...platformStores.media.subjectPrefixes.map((p) =>
      readPrefix(s3, platformStores.media.bucketName, p.replace('{userId}', userId)),
    ),
    readPrefix(s3, platformStores.logs.bucketName, platformStores.logs.accessPrefix),
    readPrefix(s3, platformStores.logs.bucketName, platformStores.logs.voiceSessionsPrefix),
  ]);
  return Date.now() - started;
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  const dataDir = mkdtempSync(join(tmpdir(), 'dsr-bench-'));
  const stack = await startLocalStack({
    dataDir,
    apiPort: await findFreePort(),
    ddbPort: await findFreePort(),
    s3Port: await findFreePort(),
    sfnPort: await findFreePort(),
    persist: false,
    seed: false,
  });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  try {
    const userId = 'u-heavy';
    const seeded = await seedHeavyUser(
      { doc: stack.doc, s3: stack.s3 },
      {
        userId,
        chatMessages: option('chat', 20_000),
        payments: option('payments', 5_000),
        logLines: option('log-lines', 100_000),
        days: option('days', 90),
        mediaBytes: option('media-mib', 1024) * MiB,
        mediaFiles: option('media-files', 200),
      },
    );
    console.log(
      `seeded ${userId}: ${seeded.chatMessagesSent} messages, ${seeded.payments} payments, ` +
        `${seeded.accessLogLines} of ${seeded.accessLogLines + seeded.otherAccessLogLines} log lines in ${seeded.logObjects} objects, ` +
        `${seeded.mediaFiles} media files (${(seeded.mediaBytes / MiB).toFixed(0)} MiB) in ${(seeded.timings.totalMs / 1000).toFixed(1)} s`,
    );

    const floorMs = await readFloor(stack.doc, stack.s3, userId);
    console.log(`floor (read the same items and bytes): ${(floorMs / 1000).toFixed(1)} s`);

    peakRss = 0;
    const token = mintToken(stack.tokenKey, 'support');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const started = Date.now();
    const created = await fetch(`${stack.apiUrl}/v1/requests`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ type: 'export', subject: { userId } }),
    });
    const { requestId } = (await created.json()) as { requestId: string };
    let status = '';
    let body: Record<string, unknown> = {};
    while (status !== 'completed' && status !== 'failed') {
      await new Promise((r) => setTimeout(r, 250));
      body = (await (await fetch(`${stack.apiUrl}/v1/requests/${requestId}`, { headers })).json()) as Record<
        string,
        unknown
      >;
      status = String(body.status);
    }
    const exportMs = Date.now() - started;
    if (status !== 'completed') throw new Error(`export failed: ${JSON.stringify(body.failure)}`);
    const archive = body.export as { bytes: number; files: number; records: number };
    console.log(
      `export: ${(exportMs / 1000).toFixed(1)} s -> archive ${(archive.bytes / MiB).toFixed(0)} MiB, ` +
        `${archive.files} files, ${archive.records} records`,
    );
    console.log(`ratio export / floor: ${(exportMs / floorMs).toFixed(2)}x (goal <= 1.5x)`);
    console.log(
      `peak RSS of this process during the export: ${(peakRss / MiB).toFixed(0)} MiB ` +
        '(the whole local stack in one process: API, workflow, connectors, assembler and s3rver; ' +
        'the assembler alone is measured by scripts/bench-assemble.ts)',
    );
  } finally {
    clearInterval(sampler);
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
