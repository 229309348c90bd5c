/**
 * Erasure of the accounts and payments stores against the real local stores (DynamoDB Local, s3rver):
 * inventory -> plan (the real planner and policy) -> erase -> inventory again, the retention vault,
 * holds, idempotence, and the sweep once the clock passes the retention period.
 */
import { createHash } from 'node:crypto';
import { ScanCommand as RawScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources, platformStores } from '../../config/data-map';
import { createAccountsConnector } from '../../functions/connectors/accounts/core';
import { createPaymentsConnector } from '../../functions/connectors/payments/core';
import { buildPlan } from '../../functions/lib/erasure/planner';
import { addDuration, loadDefaultPolicy } from '../../functions/lib/erasure/policy';
import {
  STORE_CATEGORIES,
  type CategoryInventory,
  type HoldScope,
  type Inventory,
  type StoreName,
} from '../../functions/lib/erasure/types';
import {
  runErase,
  runInventory,
  type ConnectorRuntime,
} from '../../functions/lib/connectors/connector-handler';
import type { Connector, StagedSubject } from '../../functions/lib/connectors/contract';
import { getJson, putJson, stagingKeys } from '../../functions/lib/aws/s3-objects';
import { DynamoVault } from '../../functions/lib/erasure/vault';
import { openVaultItems, vaultWriterKeys } from '../support/vault-keys';
import { batchPut, seedDemoData } from '../../local/seed';
import { DEMO_REFERENCE_DATE, buildDemoData } from '../../local/seed-data';
import { startTestStores, type TestStores } from '../support/local-stores';

const NOW = new Date(DEMO_REFERENCE_DATE);
const policy = loadDefaultPolicy();
const KEEP = policy.document.jurisdictions.KR?.retention.payments?.transactions?.keep ?? [];
const accountsTable = platformStores.accounts.table.tableName;
const paymentsTable = platformStores.payments.table.tableName;
const vaultTable = orchestratorResources.vaultTable.tableName;
const stagingBucket = orchestratorResources.stagingBucket;

let stores: TestStores;
let vault: DynamoVault;
let runtime: ConnectorRuntime;
let accounts: Connector;
let payments: Connector;
let requestCounter = 0;

/** Stands in for the keyed subject hash (any value that does not reveal the user id). */
const hashOf = (userId: string) => createHash('sha256').update(`test-key:${userId}`).digest('base64url');

beforeAll(async () => {
  stores = await startTestStores();
  await seedDemoData({ doc: stores.doc, s3: stores.s3 });
  vault = new DynamoVault(stores.doc, { tableName: vaultTable, keys: vaultWriterKeys() });
  runtime = { s3: stores.s3, stagingBucket, vault, clock: () => NOW };
  accounts = createAccountsConnector(stores.doc, { tableName: accountsTable }, { suppressions: vault });
  payments = createPaymentsConnector(stores.doc, { tableName: paymentsTable });
}, 120_000);

afterAll(async () => {
  await stores?.stop();
});

/** Every item of a table exactly as stored (raw attribute values), sorted, as JSON text. */
async function rawItems(table: string, keep: (item: Record<string, AttributeValue>) => boolean) {
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await stores.dynamo.send(
      new RawScanCommand({ TableName: table, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []).filter(keep));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items.map((i) => JSON.stringify(i, Object.keys(i).sort())).sort();
}

const notOf = (userId: string) => (item: Record<string, AttributeValue>) => item.userId?.S !== userId;
const of = (userId: string) => (item: Record<string, AttributeValue>) => item.userId?.S === userId;

async function vaultItems() {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await stores.doc.send(
      new ScanCommand({ TableName: vaultTable, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return openVaultItems(stores.doc, items);
}

/** Stages the subject, takes inventory of both stores, plans (other stores empty) and stages the plan. */
async function prepare(userId: string, jurisdiction: string, holds: HoldScope[] = []) {
  const requestId = `req_erasure_${String(++requestCounter).padStart(4, '0')}`;
  const subject: StagedSubject = {
    requestId,
    subjectHash: hashOf(userId),
    found: true,
    pseudonymSalt: 'salt',
    identifiers: { userIds: [userId], emails: [], phones: [], deviceIds: [], externalAccounts: [] },
  };
  await putJson(stores.s3, { bucket: stagingBucket, key: stagingKeys.subject(requestId) }, subject);
  const inventory: Record<string, Record<string, CategoryInventory>> = {};
  for (const store of Object.keys(STORE_CATEGORIES) as StoreName[]) {
    inventory[store] = Object.fromEntries(STORE_CATEGORIES[store].map((c) => [c, { count: 0 }]));
  }
  for (const connector of [accounts, payments]) {
    const result = await runInventory(connector, runtime, {
      requestId,
      store: connector.store,
      operation: 'inventory',
    });
    inventory[connector.store] = await getJson(stores.s3, result.inventory);
  }
  const plan = buildPlan({ policy, jurisdiction, inventory: inventory as Inventory, holds, now: NOW });
  await putJson(stores.s3, { bucket: stagingBucket, key: stagingKeys.plan(requestId) }, plan);
  return { requestId, plan, inventory };
}

async function erase(requestId: string) {
  const out: Record<string, Awaited<ReturnType<typeof runErase>>['outcome']> = {};
  for (const connector of [accounts, payments]) {
    out[connector.store] = (
      await runErase(connector, runtime, { requestId, store: connector.store, operation: 'erase' })
    ).outcome;
  }
  return out;
}

async function verify(requestId: string) {
  const out: Record<string, Record<string, { count: number }>> = {};
  for (const connector of [accounts, payments]) {
    const result = await runInventory(connector, runtime, {
      requestId,
      store: connector.store,
      operation: 'inventory',
      phase: 'verify',
    });
    out[connector.store] = await getJson(stores.s3, result.inventory);
  }
  return out;
}

const demo = buildDemoData();
const alicePayments = demo.payments.filter((p) => p.userId === 'u-alice');
const aliceRetained = alicePayments.filter((p) => addDuration(p.txnAt, 'P5Y').getTime() > NOW.getTime());

describe('erasing u-alice (KR) from accounts and payments', () => {
  let others: { accounts: string[]; payments: string[] };
  let requestId: string;

  beforeAll(async () => {
    others = {
      accounts: await rawItems(accountsTable, notOf('u-alice')),
      payments: await rawItems(paymentsTable, notOf('u-alice')),
    };
    expect(others.payments.length).toBeGreaterThan(0);
  });

  it('plans from the inventory, erases, and inventory then shows nothing of hers', async () => {
    const prepared = await prepare('u-alice', 'KR');
    requestId = prepared.requestId;
    expect(prepared.inventory.payments?.transactions?.count).toBe(alicePayments.length);
    expect(prepared.inventory.accounts?.devices?.count).toBe(3);
    const txnEntry = prepared.plan.entries.find(
      (e) => e.store === 'payments' && e.category === 'transactions',
    );
    expect(txnEntry?.action).toBe('retain');
    expect(txnEntry?.rule?.expired).toBeGreaterThan(0); // the legacy 2100-day-old purchase

    const outcome = await erase(requestId);
    expect(outcome.payments?.transactions).toEqual({
      deleted: alicePayments.length - aliceRetained.length,
      anonymised: 0,
      retained: aliceRetained.length,
      untouched: 0,
    });
    expect(outcome.accounts?.['marketing-consents']?.retained).toBe(1);
    expect(outcome.accounts?.profile?.deleted).toBe(1);

    const after = await verify(requestId);
    for (const [store, categories] of Object.entries(after)) {
      for (const [category, c] of Object.entries(categories)) {
        expect({ store, category, count: c.count }).toEqual({ store, category, count: 0 });
      }
    }
    expect(await rawItems(accountsTable, of('u-alice'))).toEqual([]);
    expect(await rawItems(paymentsTable, of('u-alice'))).toEqual([]);
  });

  it('the vault holds exactly her running transactions, kept fields only, each with its own expiry', async () => {
    const items = await vaultItems();
    const txns = items.filter((i) => i.store === 'payments');
    expect(txns.map((i) => i.recordId).sort()).toEqual(aliceRetained.map((p) => p.txnId).sort());
    for (const item of txns) {
      const source = aliceRetained.find((p) => p.txnId === item.recordId);
      expect(item.until).toBe(addDuration(source!.txnAt, 'P5Y').toISOString());
      expect(item.kind).toBe('vault');
      const data = item.data as Record<string, unknown>;
      const allowed = new Set(KEEP.map((k) => k.split('.')[0]));
      for (const key of Object.keys(data)) expect(allowed.has(key)).toBe(true);
      expect(data.txnId).toBe(source!.txnId);
      expect(data.amount).toBe(source!.amount);
      expect(data.userId).toBeUndefined();
    }
    const text = JSON.stringify(items);
    for (const secret of ['4242', '4111111111111111', 'billingAddress', '테헤란로', 'seoyeon', 'u-alice']) {
      expect(text).not.toContain(secret);
    }
    const consents = items.filter((i) => i.store === 'accounts');
    expect(consents).toHaveLength(1);
    expect(consents[0]?.data).toEqual({
      consents: demo.accounts.find((a) => a.userId === 'u-alice')!.consents,
    });

    const suppression = items.filter((i) => i.kind === 'suppression');
    expect(suppression).toEqual([
      expect.objectContaining({
        pk: `SUPPRESSION#${hashOf('u-alice')}`,
        subjectHash: hashOf('u-alice'),
        requestId,
        erasedAt: NOW.toISOString(),
      }),
    ]);
    expect(suppression[0]?.until).toBeUndefined();
    expect(await vault.isSuppressed(hashOf('u-alice'))).toBe(true);
  });

  it("leaves everyone else's items byte-for-byte unchanged", async () => {
    expect(await rawItems(accountsTable, notOf('u-alice'))).toEqual(others.accounts);
    expect(await rawItems(paymentsTable, notOf('u-alice'))).toEqual(others.payments);
  });

  it('a second run of the same erase is harmless', async () => {
    const vaultBefore = await rawItems(vaultTable, () => true);
    const outcome = await erase(requestId);
    for (const store of Object.values(outcome)) {
      for (const o of Object.values(store)) expect(o.deleted + o.retained + o.anonymised).toBe(0);
    }
    expect(await rawItems(vaultTable, () => true)).toEqual(vaultBefore);
    expect(await rawItems(paymentsTable, notOf('u-alice'))).toEqual(others.payments);
  });

  it('with a hold on payments, nothing in payments changes (accounts still go)', async () => {
    // Her data back, as seeded; the vault keeps what it has (the records are keyed, so nothing doubles).
    await seedDemoData({ doc: stores.doc, s3: stores.s3 });
    const paymentsBefore = await rawItems(paymentsTable, () => true);
    const vaultBefore = (await vaultItems()).filter((i) => i.store === 'payments').length;
    const { requestId: held, plan } = await prepare('u-alice', 'KR', [
      { holdId: 'hold-1', caseReference: 'CASE-2026-001', stores: ['payments'] },
    ]);
    expect(plan.entries.filter((e) => e.store === 'payments').map((e) => e.action)).toEqual(['held', 'held']);
    const outcome = await erase(held);
    expect(outcome.payments?.transactions?.untouched).toBe(alicePayments.length);
    expect(await rawItems(paymentsTable, () => true)).toEqual(paymentsBefore);
    expect((await vaultItems()).filter((i) => i.store === 'payments')).toHaveLength(vaultBefore);
    expect(await rawItems(accountsTable, of('u-alice'))).toEqual([]);
  });

  it('past the retention period, the sweep finds the records due and destroys them', async () => {
    const sixMonthsOn = addDuration(NOW, 'P7M');
    const dueSoon = await vault.listDue(sixMonthsOn, 100);
    expect(dueSoon.map((d) => d.store)).toEqual(['accounts']);

    const later = addDuration(NOW, 'P5Y1D');
    const due = await vault.listDue(later, 1000);
    const paymentsDue = due.filter((d) => d.store === 'payments');
    expect(paymentsDue.map((d) => d.pk.split('#').pop()).sort()).toEqual(
      aliceRetained.map((p) => p.txnId).sort(),
    );
    const sorted = [...due].sort((a, b) => (a.until < b.until ? -1 : 1));
    expect(due).toEqual(sorted);
    expect(await vault.listDue(later, 2)).toHaveLength(2);

    expect(await vault.destroy(due)).toBe(due.length);
    expect(await vault.listDue(later, 1000)).toEqual([]);
    const left = await vaultItems();
    expect(left.filter((i) => i.kind === 'vault')).toEqual([]);
    expect(left.filter((i) => i.kind === 'suppression')).toHaveLength(1);
  });
});

test('5,000 transactions are vaulted and deleted in seconds', async () => {
  const userId = 'u-bulk';
  const rows = Array.from({ length: 5000 }, (_, i) => {
    const txnAt = new Date(NOW.getTime() - (i + 1) * 3_600_000).toISOString();
    const txnId = `txn-bulk-${String(i).padStart(5, '0')}`;
    return {
      userId,
      sk: `${txnAt}#${txnId}`,
      txnId,
      txnAt,
      type: 'purchase',
      amount: 1000 + i,
      currency: 'KRW',
      item: { sku: `sku-${i % 50}`, title: 'Bulk item' },
      status: 'succeeded',
      card: { brand: 'visa', last4: '4242', expMonth: 1, expYear: 2030 },
      processor: 'sony-payment-services',
      processorRef: `sps_${i}`,
      billingAddress: 'Somewhere 1',
    };
  });
  let mark = Date.now();
  await batchPut(stores.doc, paymentsTable, rows, 8);
  const seedMs = Date.now() - mark;
  mark = Date.now();
  const { requestId } = await prepare(userId, 'KR');
  const prepareMs = Date.now() - mark;
  const started = Date.now();
  const outcome = (await runErase(payments, runtime, { requestId, store: 'payments', operation: 'erase' }))
    .outcome;
  const elapsed = Date.now() - started;
  expect(outcome.transactions?.retained).toBe(5000);
  expect(outcome['payment-instruments']?.deleted).toBe(5000);
  expect(await rawItems(paymentsTable, of(userId))).toEqual([]);
  const vaulted = (await vaultItems()).filter((i) => String(i.recordId).startsWith('txn-bulk-'));
  expect(vaulted).toHaveLength(5000);
  console.log(
    `5,000 transactions: seeded in ${seedMs} ms, inventory+plan ${prepareMs} ms, erase ${elapsed} ms`,
  );
  // Erase writes twice what the seed wrote (a vault copy and a delete per row) and reads them once: in
  // batches it stays within a small multiple of the seed's own batched writes on the same store, however
  // loaded the machine (one PutItem/DeleteItem per row would take many times longer).
  expect(elapsed).toBeLessThan(4 * seedMs + 5_000);
});
