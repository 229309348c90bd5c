/**
 * Erasure of u-alice from chat and media on the real local stores (DynamoDB Local, s3rver): inventory,
 * a KR plan from the planner, erase through the connector handler's runErase, verification inventory.
 * Everyone else's messages, rooms and files must come out byte for byte as they went in.
 */
import { createHash } from 'node:crypto';
import { ScanCommand as RawScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { orchestratorResources, platformStores } from '../../config/data-map';
import { createChatConnector, type ChatConfig } from '../../functions/connectors/chat/core';
import { createMediaConnector } from '../../functions/connectors/media/core';
import { buildPlan } from '../../functions/lib/erasure/planner';
import { loadDefaultPolicy } from '../../functions/lib/erasure/policy';
import { STORE_CATEGORIES, type HoldScope, type Inventory } from '../../functions/lib/erasure/types';
import {
  runErase,
  runInventory,
  tombstoneFor,
  type ConnectorRuntime,
} from '../../functions/lib/connectors/connector-handler';
import type {
  CategoryInventoryView,
  Connector,
  StagedSubject,
  StoreName,
} from '../../functions/lib/connectors/contract';
import { getJson, putJson, stagingKeys } from '../../functions/lib/aws/s3-objects';
import { DynamoVault } from '../../functions/lib/erasure/vault';
import { openVaultItems, vaultWriterKeys } from '../support/vault-keys';
import { DEMO_REFERENCE_DATE } from '../../local/seed-data';
import { seedDemoData } from '../../local/seed';
import { startTestStores, type TestStores } from '../support/local-stores';

const NOW = new Date(DEMO_REFERENCE_DATE);
const STAGING = orchestratorResources.stagingBucket;
const MEDIA = platformStores.media.bucketName;
const ROOMS = platformStores.chat.roomsTable.tableName;
const MESSAGES = platformStores.chat.messagesTable.tableName;
const OTHERS = ['u-bob', 'u-carol', 'u-dave', 'u-minnie', 'u-frank', 'u-frank2'];

let stores: TestStores;
let chat: Connector;
let media: Connector;
let runtime: ConnectorRuntime;

beforeAll(async () => {
  process.env.LOG_LEVEL = 'silent';
  stores = await startTestStores();
  await seedDemoData({ doc: stores.doc, s3: stores.s3 });
  const chatConfig: ChatConfig = {
    roomsTable: ROOMS,
    messagesTable: MESSAGES,
    bySenderIndex: platformStores.chat.messagesTable.indexes[0].indexName,
    mediaBucket: MEDIA,
    // s3rver has no versioning: the unversioned path (the versioned one is unit-tested with a mock).
    mediaVersioned: false,
    attachmentsPrefix: platformStores.media.chatAttachmentsPrefix,
    subjectMediaPrefixes: platformStores.media.subjectPrefixes,
    includeConversationContext: false,
  };
  chat = createChatConnector(stores.doc, chatConfig, stores.s3);
  media = createMediaConnector(stores.s3, {
    bucket: MEDIA,
    subjectPrefixes: platformStores.media.subjectPrefixes,
    versioned: false,
  });
  runtime = {
    s3: stores.s3,
    stagingBucket: STAGING,
    clock: () => NOW,
    vault: new DynamoVault(stores.doc, {
      tableName: orchestratorResources.vaultTable.tableName,
      keys: vaultWriterKeys(),
    }),
  };
}, 120_000);

afterAll(async () => {
  await stores?.stop();
});

function subject(requestId: string): StagedSubject {
  return {
    requestId,
    subjectHash: `hash-${requestId}`,
    found: true,
    pseudonymSalt: 'salt-0123456789abcdef',
    identifiers: { userIds: ['u-alice'], emails: [], phones: [], deviceIds: [], externalAccounts: [] },
  };
}

async function inventoryOf(connector: Connector, requestId: string, phase: 'plan' | 'verify') {
  const result = await runInventory(connector, runtime, {
    requestId,
    store: connector.store,
    operation: 'inventory',
    phase,
  });
  return getJson<Record<string, CategoryInventoryView>>(stores.s3, result.inventory);
}

/** Stages the subject and a KR plan built from chat's and media's inventories (other stores empty). */
async function stagePlan(requestId: string, holds: HoldScope[] = []) {
  await putJson(stores.s3, { bucket: STAGING, key: stagingKeys.subject(requestId) }, subject(requestId));
  const inventory: Partial<Record<StoreName, Record<string, CategoryInventoryView>>> = {};
  for (const store of Object.keys(STORE_CATEGORIES) as StoreName[])
    inventory[store] = Object.fromEntries(STORE_CATEGORIES[store].map((c) => [c, { count: 0 }]));
  inventory.chat = await inventoryOf(chat, requestId, 'plan');
  inventory.media = await inventoryOf(media, requestId, 'plan');
  const plan = buildPlan({
    policy: loadDefaultPolicy(),
    jurisdiction: 'KR',
    inventory: inventory as Inventory,
    holds,
    now: NOW,
  });
  await putJson(stores.s3, { bucket: STAGING, key: stagingKeys.plan(requestId) }, plan);
  return { plan, inventory };
}

const erase = (connector: Connector, requestId: string) =>
  runErase(connector, runtime, { requestId, store: connector.store, operation: 'erase' });

/** Every item of a table as DynamoDB stores it (string sets sorted: their order is not data). */
async function tableItems(table: string): Promise<Map<string, Record<string, AttributeValue>>> {
  const items = new Map<string, Record<string, AttributeValue>>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await stores.dynamo.send(new RawScanCommand({ TableName: table, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      for (const value of Object.values(item)) value.SS?.sort();
      items.set(`${item.roomId?.S ?? ''}|${item.sk?.S ?? ''}`, item);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Every media object: key -> sha256 of the bytes, content type and user metadata. */
async function mediaObjects(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await stores.s3.send(new ListObjectsV2Command({ Bucket: MEDIA, ContinuationToken: token }));
    for (const { Key } of page.Contents ?? []) {
      const object = await stores.s3.send(new GetObjectCommand({ Bucket: MEDIA, Key }));
      const bytes = Buffer.from(await object.Body!.transformToByteArray());
      const sha = createHash('sha256').update(bytes).digest('hex');
      out.set(Key!, JSON.stringify({ sha, type: object.ContentType, meta: object.Metadata }));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function snapshot() {
  return {
    rooms: await tableItems(ROOMS),
    messages: await tableItems(MESSAGES),
    media: await mediaObjects(),
  };
}

const counts = (inv: Record<string, CategoryInventoryView>) =>
  Object.fromEntries(Object.entries(inv).map(([c, v]) => [c, v.count]));

describe('erasing u-alice from chat and media', () => {
  it('with a hold on chat, changes nothing in chat (media still goes)', async () => {
    const requestId = 'req_hold_chat';
    const before = await snapshot();
    const { plan, inventory } = await stagePlan(requestId, [
      { holdId: 'hold-1', caseReference: 'CASE-1', stores: ['chat'] },
    ]);
    // 2 avatars, 2 voice clips, 8 uploads (hostile names included), 2 behaviour files.
    expect(counts(inventory.media!)).toEqual({
      avatars: 2,
      'voice-recordings': 2,
      uploads: 8,
      behavior: 2,
      'chat-attachments': 0,
    });
    expect(
      plan.entries.filter((e) => e.store === 'chat' && e.count > 0).every((e) => e.action === 'held'),
    ).toBe(true);
    const chatOutcome = await erase(chat, requestId);
    expect(Object.values(chatOutcome.outcome).every((o) => o.deleted + o.anonymised + o.retained === 0)).toBe(
      true,
    );
    expect(chatOutcome.outcome.messages?.untouched).toBeGreaterThan(0);
    const mediaOutcome = await erase(media, requestId);
    expect(Object.values(mediaOutcome.outcome).map((o) => o.deleted)).toEqual([2, 2, 8, 2, 0]);
    expect(Object.values(counts(await inventoryOf(media, requestId, 'verify')))).toEqual([0, 0, 0, 0, 0]);
    const after = await snapshot();
    expect(after.rooms).toEqual(before.rooms);
    expect(after.messages).toEqual(before.messages);
    // Attachments are chat's: held with their messages.
    const attachments = (m: Map<string, string>) =>
      [...m].filter(([key]) => key.startsWith(platformStores.media.chatAttachmentsPrefix));
    expect(attachments(after.media)).toEqual(attachments(before.media));
    expect([...after.media.keys()].some((k) => /^(avatars|voice|uploads|behavior)\/u-alice\//.test(k))).toBe(
      false,
    );
  });

  it('erases per the KR plan, keeps complaints in the vault, and leaves everyone else as they were', async () => {
    const requestId = 'req_erase_alice';
    const before = await snapshot();
    const { plan, inventory } = await stagePlan(requestId);
    expect(counts(inventory.chat!)).toEqual({
      messages: 5,
      complaints: 1,
      mentions: 4,
      'room-memberships': 2,
    });
    // Avatars, voice and behaviour are gone already (the hold test erased media); nothing left but chat's.
    const byCategory = new Map(plan.entries.filter((e) => e.store === 'chat').map((e) => [e.category, e]));
    expect(byCategory.get('complaints')).toMatchObject({ action: 'retain', count: 1 });
    expect(byCategory.get('mentions')).toMatchObject({ action: 'anonymise', count: 4 });

    const chatResult = await erase(chat, requestId);
    expect(chatResult.outcome).toEqual({
      messages: { deleted: 5, anonymised: 0, retained: 0, untouched: 0 },
      complaints: { deleted: 0, anonymised: 0, retained: 1, untouched: 0 },
      mentions: { deleted: 0, anonymised: 4, retained: 0, untouched: 0 },
      'room-memberships': { deleted: 2, anonymised: 0, retained: 0, untouched: 0 },
    });
    await erase(media, requestId);

    // Verification: nothing the plan said would go is left.
    expect(Object.values(counts(await inventoryOf(chat, requestId, 'verify')))).toEqual([0, 0, 0, 0]);
    expect(Object.values(counts(await inventoryOf(media, requestId, 'verify')))).toEqual([0, 0, 0, 0, 0]);

    // The complaint (the reported spam message) is in the vault with its kept fields only.
    const vault = await stores.doc.send(
      new ScanCommand({ TableName: orchestratorResources.vaultTable.tableName }),
    );
    const kept = await openVaultItems(
      stores.doc,
      (vault.Items ?? []).filter((i) => i.store === 'chat'),
    );
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({
      category: 'complaints',
      until: '2029-10-27T00:12:30.000Z',
      data: {
        roomId: 'room-world-sakura-plaza',
        body: 'cheap coins here → http://coins.example.net/?ref=alice !!!',
        reports: [
          { reason: 'spam', at: '2026-10-27T00:10:00.000Z' },
          { reason: 'scam-link', at: '2026-10-27T00:12:30.000Z' },
        ],
      },
    });
    expect(JSON.stringify(kept[0]?.data)).not.toMatch(/u-(alice|carol|dave)/);

    const after = await snapshot();
    const tomb = tombstoneFor(subject(requestId));
    // Messages: alice's are gone; every other item is as it was, except alice's id in `mentions`.
    for (const [key, item] of before.messages) {
      const now = after.messages.get(key);
      if (item.senderId?.S === 'u-alice') {
        expect(now).toBeUndefined();
        continue;
      }
      const mentions = item.mentions?.L;
      const expected = mentions
        ? {
            ...item,
            mentions: { L: mentions.map((m) => (m.S === 'u-alice' ? { S: tomb } : m)) },
          }
        : item;
      expect(now).toEqual(expected);
    }
    expect(after.messages.size).toBe(before.messages.size - 6);
    // Rooms: only alice left their member lists.
    for (const [key, room] of before.rooms) {
      const members = room.members?.SS?.filter((id) => id !== 'u-alice');
      expect(after.rooms.get(key)).toEqual(members ? { ...room, members: { SS: members } } : room);
    }
    // Media: alice's objects and her attachments gone; all others' byte for byte (carol's attachment too).
    const aliceAttachments = [...before.messages.values()]
      .filter((m) => m.senderId?.S === 'u-alice')
      .flatMap((m) => m.attachments?.L ?? [])
      .map((a) => a.M?.key?.S);
    expect(aliceAttachments).toHaveLength(1);
    for (const [key, object] of before.media) {
      if (aliceAttachments.includes(key) || /^\w+\/u-alice\//.test(key))
        expect(after.media.has(key)).toBe(false);
      else expect(after.media.get(key)).toBe(object);
    }
    expect([...after.media.keys()].some((k) => OTHERS.some((u) => k.includes(`/${u}/`)))).toBe(true);

    // Idempotent: a second run finds nothing and changes nothing.
    const again = await erase(chat, requestId);
    expect(Object.values(again.outcome).every((o) => o.deleted + o.anonymised + o.retained === 0)).toBe(true);
    await erase(media, requestId);
    expect(await snapshot()).toEqual(after);
  });
});
