/**
 * Erasure test helpers (not a test file): snapshots of every store, the "others untouched" check, the
 * vault's contents, and the sweep wired to a test stack.
 */
import { gunzipSync } from 'node:zlib';
import { openVaultItems } from '../support/vault-keys';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources, platformStores } from '../../config/data-map';
import { STATE_MACHINES } from '../../functions/lib/connectors/catalog';
import { HoldRepository } from '../../functions/lib/holds/holds';
import { EventLog } from '../../functions/lib/requests/event-log';
import { requestTable } from '../../functions/lib/requests/request-table';
import { RequestRepository } from '../../functions/lib/requests/requests';
import { DynamoVault } from '../../functions/lib/erasure/vault';
import { runSweep, StepFunctionsResumeStarter, type SweepReport } from '../../functions/sweep/core';
import { ErasureSchedule } from '../../functions/lib/erasure/schedule';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/stores';
import type { TestStack } from '../support/local-stack';

export type Item = Record<string, unknown>;

export interface Snapshot {
  accounts: Item[];
  payments: Item[];
  messages: Item[];
  rooms: Item[];
  marketing: Item[];
  /** key -> ETag */
  media: Map<string, string>;
  /** key -> lines */
  logs: Map<string, string[]>;
}

async function scanAll(stack: TestStack, table: string): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await stack.doc.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

async function listKeys(stack: TestStack, bucket: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await stack.s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) out.set(o.Key, String(o.ETag));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export async function snapshot(stack: TestStack): Promise<Snapshot> {
  const logs = new Map<string, string[]>();
  for (const key of (await listKeys(stack, platformStores.logs.bucketName)).keys()) {
    const out = await stack.s3.send(
      new GetObjectCommand({ Bucket: platformStores.logs.bucketName, Key: key }),
    );
    const bytes = Buffer.from(await out.Body!.transformToByteArray());
    const text = key.endsWith('.gz') ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
    logs.set(
      key,
      text.split('\n').filter((l) => l !== ''),
    );
  }
  return {
    accounts: await scanAll(stack, platformStores.accounts.table.tableName),
    payments: await scanAll(stack, platformStores.payments.table.tableName),
    messages: await scanAll(stack, platformStores.chat.messagesTable.tableName),
    rooms: await scanAll(stack, platformStores.chat.roomsTable.tableName),
    marketing: await scanAll(stack, platformStores.marketing.table.tableName),
    media: await listKeys(stack, platformStores.media.bucketName),
    logs,
  };
}

/** Every identifier of a user, as JSON string tokens (`"u-alice"`), to find their data anywhere. */
export async function identifierTokens(stack: TestStack, userId: string): Promise<string[]> {
  const { Item } = await stack.doc.send(
    new GetCommand({ TableName: platformStores.accounts.table.tableName, Key: { userId } }),
  );
  if (!Item) throw new Error('no such seeded user');
  const ids = [
    userId,
    Item.email,
    Item.phone,
    ...((Item.devices ?? []) as { deviceId: string }[]).map((d) => d.deviceId),
    ...((Item.externalAccounts ?? []) as { providerUserId: string }[]).map((x) => x.providerUserId),
  ].filter((v): v is string => typeof v === 'string' && v !== '');
  return ids.map((v) => JSON.stringify(v));
}

const canon = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (v instanceof Set ? [...(v as Set<unknown>)].sort() : v));

export const mentions = (text: string, tokens: readonly string[]) => tokens.some((t) => text.includes(t));

/**
 * Others' data is byte-for-byte unchanged: every item/line/object that did not name the subject is
 * identical after; items that named the subject and are someone else's no longer name them (unless
 * `keep` says the subject's data there is held or retained in place). Returns the subject's leftovers.
 */
export function checkOthersUntouched(
  before: Snapshot,
  after: Snapshot,
  tokens: readonly string[],
  keep: (kind: keyof Snapshot, text: string) => boolean = () => false,
): { leftovers: { kind: string; text: string }[] } {
  const leftovers: { kind: string; text: string }[] = [];
  const tables = ['accounts', 'payments', 'messages', 'rooms', 'marketing'] as const;
  const keyOf: Record<(typeof tables)[number], (i: Item) => string> = {
    accounts: (i) => String(i.userId),
    payments: (i) => `${String(i.userId)}|${String(i.sk)}`,
    messages: (i) => `${String(i.roomId)}|${String(i.sk)}`,
    rooms: (i) => String(i.roomId),
    marketing: (i) => `${String(i.userId)}|${String(i.sk)}`,
  };
  for (const kind of tables) {
    const afterByKey = new Map(after[kind].map((i) => [keyOf[kind](i), canon(i)]));
    for (const item of before[kind]) {
      const text = canon(item);
      const now = afterByKey.get(keyOf[kind](item));
      if (!mentions(text, tokens)) {
        expect({ kind, key: keyOf[kind](item), same: now === text }).toEqual({
          kind,
          key: keyOf[kind](item),
          same: true,
        });
      } else if (now !== undefined && mentions(now, tokens)) {
        leftovers.push({ kind, text: now });
      }
    }
    // Nothing new appeared.
    const beforeKeys = new Set(before[kind].map(keyOf[kind]));
    expect(after[kind].map(keyOf[kind]).filter((k) => !beforeKeys.has(k))).toEqual([]);
  }
  for (const [key, etag] of after.media) {
    expect({ key, existedBefore: before.media.has(key) }).toEqual({ key, existedBefore: true });
    expect({ key, etag }).toEqual({ key, etag: before.media.get(key) });
  }
  for (const [key, lines] of before.logs) {
    const now = after.logs.get(key) ?? [];
    const othersBefore = lines.filter((l) => !mentions(l, tokens));
    const othersNow = now.filter((l) => !mentions(l, tokens));
    // Lines naming the subject were rewritten (anonymised) or dropped: the rest are the very same lines.
    const rewritten = now.filter((l) => !lines.includes(l));
    expect({ key, others: othersNow.filter((l) => !rewritten.includes(l)) }).toEqual({
      key,
      others: othersBefore,
    });
    for (const l of now)
      if (mentions(l, tokens) && !keep('logs', l)) leftovers.push({ kind: 'logs', text: l });
  }
  return { leftovers: leftovers.filter((l) => !keep(l.kind as keyof Snapshot, l.text)) };
}

/** Vault items by `store/category`. */
export async function vaultCounts(stack: TestStack): Promise<Record<string, number>> {
  const items = await scanAll(stack, orchestratorResources.vaultTable.tableName);
  const out: Record<string, number> = {};
  for (const i of items.filter((i) => i.kind === 'vault')) {
    const k = `${String(i.store)}/${String(i.category)}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Vault records, their kept data opened (`data`) as the vault reader sees it. */
export async function vaultItems(stack: TestStack): Promise<Item[]> {
  const items = (await scanAll(stack, orchestratorResources.vaultTable.tableName)).filter(
    (i) => i.kind === 'vault',
  );
  return (await openVaultItems(stack.doc, items)) as Item[];
}

/** The sweep as the schedule runs it, against the test stack's stores and Step Functions. */
export function sweeper(stack: TestStack): (now: Date) => Promise<SweepReport> {
  const table = requestTable(stack.doc, orchestratorResources.requestsTable.tableName);
  const sfn = new SFNClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: stack.sfnEndpoint,
  });
  const deps = {
    requests: new RequestRepository(table),
    events: new EventLog(table),
    holds: new HoldRepository(table),
    schedule: new ErasureSchedule(table),
    vault: new DynamoVault(stack.doc, { tableName: orchestratorResources.vaultTable.tableName }),
    starter: new StepFunctionsResumeStarter(sfn, stack.workflows.arnOf(STATE_MACHINES.erasure.localName)),
  };
  return (now) => runSweep(deps, now);
}

export async function rawRequest(stack: TestStack, requestId: string): Promise<Item | undefined> {
  const { Item } = await stack.doc.send(
    new GetCommand({
      TableName: orchestratorResources.requestsTable.tableName,
      Key: { pk: `REQ#${requestId}`, sk: 'REQUEST' },
      ConsistentRead: true,
    }),
  );
  return Item;
}

export interface CertCategory {
  category: string;
  state: string;
  deleted: number;
  anonymised: number;
  retained?: { location: string; records: number; destroyed: number; until: string | null };
  held?: { holdId: string; caseReference: string }[];
  pending?: { records: number; reason: string };
}

export function certCategory(
  payload: { stores: { store: string; categories: CertCategory[] }[] },
  store: string,
  category: string,
): CertCategory | undefined {
  return payload.stores.find((s) => s.store === store)?.categories.find((c) => c.category === category);
}

/**
 * After an erasure whose chat is held: every message and room exactly as before, and nothing else of
 * the subject left but the log lines waiting for the log-erasure job. Returns the snapshot taken.
 */
export async function expectOnlyChatKept(
  stack: TestStack,
  before: Snapshot,
  tokens: readonly string[],
  userId: string,
): Promise<Snapshot> {
  const mid = await snapshot(stack);
  expect(mid.messages).toEqual(before.messages);
  expect(mid.rooms).toEqual(before.rooms);
  const chatText = (t: string) =>
    before.messages.some((m) => JSON.stringify(m) === t) || before.rooms.some((r) => JSON.stringify(r) === t);
  const held = checkOthersUntouched(before, mid, tokens, (kind) => kind === 'messages' || kind === 'rooms');
  expect(held.leftovers.filter((l) => !chatText(l.text) && l.kind !== 'logs')).toEqual([]);
  expect(mid.accounts.some((a) => a.userId === userId)).toBe(false);
  return mid;
}

/** Waits until the request's certificate `number` is issued and its run has ended; returns the request. */
export async function waitForCertificate(
  stack: TestStack,
  requestId: string,
  number: number,
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await stack.call('GET', `/v1/requests/${requestId}`);
    const cert = (res.body.erasure as { certificate?: { number: number } } | undefined)?.certificate;
    if (cert?.number === number && res.body.status !== 'in_progress') return res.body;
    if (Date.now() > deadline) throw new Error(`certificate ${number} not issued`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
