/**
 * Writes the demo data set (seed-data.ts) into the local stores. Deterministic and repeatable: a second
 * run overwrites the same items and objects with the same content.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { platformStores, serviceStores } from '../config/data-map';
import {
  DEMO_REFERENCE_DATE,
  buildDemoData,
  buildServiceDemoData,
  describeDemoData,
  logObjectBody,
  type DemoData,
  type DemoFixture,
  type DemoObject,
} from './seed-data';

export interface SeedClients {
  doc: DynamoDBDocumentClient;
  s3: S3Client;
}

/** Where the platform's stores live; defaults to the data map's names. */
export interface SeedTargets {
  accountsTable: string;
  paymentsTable: string;
  chatRoomsTable: string;
  chatMessagesTable: string;
  mediaBucket: string;
  logsBucket: string;
  marketingTable: string;
}

export const DEFAULT_SEED_TARGETS: SeedTargets = {
  accountsTable: platformStores.accounts.table.tableName,
  paymentsTable: platformStores.payments.table.tableName,
  chatRoomsTable: platformStores.chat.roomsTable.tableName,
  chatMessagesTable: platformStores.chat.messagesTable.tableName,
  mediaBucket: platformStores.media.bucketName,
  logsBucket: platformStores.logs.bucketName,
  marketingTable: platformStores.marketing.table.tableName,
};

export interface SeedSummary extends DemoFixture {
  elapsedMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function forEachLimit<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index] as T, index);
    }
  });
  await Promise.all(workers);
}

/** Puts items with BatchWriteItem (25 a request), retrying unprocessed items with backoff. */
export async function batchPut(
  doc: DynamoDBDocumentClient,
  tableName: string,
  items: readonly Record<string, unknown>[],
  concurrency = 4,
): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  await forEachLimit(batches, concurrency, async (batch) => {
    let pending = batch.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 8) throw new Error(`BatchWrite to ${tableName} kept leaving items unprocessed`);
      if (attempt > 0) await sleep(50 * 2 ** attempt);
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = (out.UnprocessedItems?.[tableName] ?? []).flatMap((request) =>
        request.PutRequest?.Item ? [{ PutRequest: { Item: request.PutRequest.Item } }] : [],
      );
    }
  });
}

export async function putObject(s3: S3Client, object: DemoObject): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: object.bucket,
      Key: object.key,
      Body: object.body,
      ContentType: object.contentType,
      ...(object.metadata ? { Metadata: object.metadata } : {}),
    }),
  );
}

/** A service's seed targets: its own stores where the data map gives it some, else the shared ones. */
export function serviceSeedTargets(service: string, shared: SeedTargets): SeedTargets {
  const own = serviceStores[service] ?? {};
  return {
    ...shared,
    ...(own.accountsTable ? { accountsTable: own.accountsTable } : {}),
    ...(own.paymentsTable ? { paymentsTable: own.paymentsTable } : {}),
    ...(own.chatRoomsTable ? { chatRoomsTable: own.chatRoomsTable } : {}),
    ...(own.chatMessagesTable ? { chatMessagesTable: own.chatMessagesTable } : {}),
    ...(own.marketingTable ? { marketingTable: own.marketingTable } : {}),
  };
}

/** Items and objects of the stores' shapes, any of them, to write into one set of stores. */
type StoreContent = Partial<Omit<DemoData, 'referenceDate'>>;

/** Writes each kind of item or object into its store of `targets`. */
async function writeContent(clients: SeedClients, targets: SeedTargets, content: StoreContent) {
  // Item shapes are plain records as far as the document client is concerned.
  const records = (items: readonly object[] = []) => items as readonly Record<string, unknown>[];
  await Promise.all([
    batchPut(clients.doc, targets.accountsTable, records(content.accounts)),
    batchPut(clients.doc, targets.paymentsTable, records(content.payments)),
    batchPut(clients.doc, targets.chatRoomsTable, records(content.rooms)),
    batchPut(clients.doc, targets.chatMessagesTable, records(content.messages)),
    batchPut(clients.doc, targets.marketingTable, records(content.marketingEvents)),
    forEachLimit(content.mediaObjects ?? [], 8, (object) =>
      putObject(clients.s3, { ...object, bucket: targets.mediaBucket }),
    ),
    forEachLimit(content.logObjects ?? [], 8, (object) =>
      putObject(clients.s3, {
        bucket: targets.logsBucket,
        key: object.key,
        body: logObjectBody(object),
        contentType: 'application/gzip',
      }),
    ),
  ]);
}

/**
 * Seeds the users of each service (seed-data.ts buildServiceDemoData) into their service's stores: an
 * item follows its account's service (a room, its members'), so METALIVE's land in `metalive-*`; media
 * and logs go to the shared buckets.
 */
async function seedServiceUsers(clients: SeedClients, shared: SeedTargets, referenceDate: string) {
  const data = buildServiceDemoData(referenceDate);
  const serviceOf = new Map(data.accounts.map((a) => [a.userId, a.service ?? '']));
  for (const service of new Set(serviceOf.values())) {
    const mine = (userId: string) => serviceOf.get(userId) === service;
    await writeContent(clients, serviceSeedTargets(service, shared), {
      accounts: data.accounts.filter((a) => mine(a.userId)),
      payments: data.payments.filter((p) => mine(p.userId)),
      rooms: data.rooms.filter((r) => [...r.members].some(mine)),
      messages: data.messages.filter((m) => mine(m.senderId)),
      marketingEvents: data.marketingEvents.filter((e) => mine(e.userId)),
    });
  }
  await writeContent(clients, shared, { mediaObjects: data.mediaObjects, logObjects: data.logObjects });
}

/**
 * Seeds the demo users into every platform store, and the users of each service into their service's
 * stores; returns what was written for the demo users, per user and store.
 */
export async function seedDemoData(
  clients: SeedClients,
  options: {
    referenceDate?: string;
    targets?: Partial<SeedTargets>;
    /** Also the users of each service (default): off where a test counts a store's every item. */
    serviceUsers?: boolean;
  } = {},
): Promise<SeedSummary> {
  const started = Date.now();
  const targets = { ...DEFAULT_SEED_TARGETS, ...options.targets };
  const data = buildDemoData(options.referenceDate ?? DEMO_REFERENCE_DATE);
  await writeContent(clients, targets, data);
  if (options.serviceUsers !== false)
    await seedServiceUsers(clients, targets, options.referenceDate ?? DEMO_REFERENCE_DATE);
  return { ...describeDemoData(data), elapsedMs: Date.now() - started };
}
