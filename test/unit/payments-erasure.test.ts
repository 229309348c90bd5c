import {
  createPaymentsConnector,
  splitItem,
  transactionDate,
} from '../../functions/connectors/payments/core';
import { addDuration } from '../../functions/lib/erasure/policy';
import type { HoldScope } from '../../functions/lib/erasure/types';
import type {
  CategoryInventoryView,
  EraseContext,
  ErasureContext,
  PlanEntryView,
  VaultRecord,
} from '../../functions/lib/connectors/contract';
import { ContractError } from '../../functions/lib/runtime/errors';
import { planEntriesFor } from '../support/erasure-plans';
import { erasureContextFor, fakeUserKeyedTable } from '../support/user-keyed-table';

type Item = Record<string, unknown>;
const NOW = new Date('2026-11-01T00:00:00.000Z');
const KEEP = ['txnId', 'txnAt', 'type', 'amount', 'currency', 'item', 'status', 'processor', 'processorRef'];

function txn(userId: string, i: number, txnAt: string, extra: Item = {}): Item {
  return {
    userId,
    sk: `${txnAt}#t-${userId}-${i}`,
    txnId: `t-${userId}-${i}`,
    txnAt,
    type: 'purchase',
    amount: 1250,
    currency: 'KRW',
    item: { sku: 'sku-1', title: 'Outfit', internalNote: 'x' },
    status: 'succeeded',
    card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2027 },
    processor: 'sony-payment-services',
    processorRef: `psp-${i}`,
    billingAddress: '1-2-3 Gangnam',
    ...extra,
  };
}

/** An in-memory payments table: Query pages by key, BatchWriteItem deletes, UpdateItem REMOVE. */
function fakeTable(items: Item[], options: { pageSize?: number; unprocessedOnce?: boolean } = {}) {
  return fakeUserKeyedTable('platform-payments', items, options);
}

function erasureCtx(userIds: string[], now = NOW): ErasureContext {
  return erasureContextFor(userIds, now);
}

function planFor(
  inv: Record<string, CategoryInventoryView>,
  jurisdiction: string,
  holds: HoldScope[] = [],
): PlanEntryView[] {
  return planEntriesFor('payments', inv, { jurisdiction, holds, now: NOW });
}

function harness(items: Item[], options: Parameters<typeof fakeTable>[1] = {}) {
  const fake = fakeTable(items, options);
  const vaulted: VaultRecord[] = [];
  let failVault = false;
  const connector = createPaymentsConnector(fake.doc, { tableName: 'platform-payments' });
  return {
    ...fake,
    vaulted,
    failVault: () => void (failVault = true),
    inventory: (userIds: string[]) => connector.inventory!(erasureCtx(userIds)),
    erase: (userIds: string[], plan: PlanEntryView[], now = NOW) => {
      const ctx: EraseContext = {
        ...erasureCtx(userIds, now),
        plan,
        vault: {
          put: async (r) => {
            await new Promise((resolve) => setImmediate(resolve));
            if (failVault) throw new Error('vault down');
            vaulted.push(structuredClone(r));
          },
        },
      };
      return connector.erase!(ctx);
    },
  };
}

const recent = ['2026-10-01T10:00:00.000Z', '2026-10-01T23:00:00.000Z', '2025-03-05T08:00:00.000Z'];
const old = '2020-06-01T00:00:00.000Z'; // more than 5 years before NOW
const legacy = (userId: string) =>
  txn(userId, 9, old, { cardNumber: '4111111111111111', cvc: '737', card: { brand: 'visa', last4: '1111' } });

function aliceAndBob(): Item[] {
  return [
    ...recent.map((at, i) => txn('u-a', i, at)),
    legacy('u-a'),
    txn('u-a', 5, '2026-02-01T00:00:00.000Z', { type: 'payout', card: undefined, billingAddress: undefined }),
    txn('u-b', 1, '2026-10-02T00:00:00.000Z'),
  ].map((i) => JSON.parse(JSON.stringify(i)) as Item);
}

describe('payments inventory', () => {
  it('counts transactions (dated per UTC day, latest instant) and items carrying card data', async () => {
    const h = harness(aliceAndBob());
    const inv = await h.inventory(['u-a', 'u-a']);
    expect(inv['payment-instruments']).toEqual({ count: 4 });
    expect(inv.transactions?.count).toBe(5);
    expect(inv.transactions?.dates?.transactionDate).toEqual([
      { at: old, count: 1 },
      { at: '2025-03-05T08:00:00.000Z', count: 1 },
      { at: '2026-02-01T00:00:00.000Z', count: 1 },
      { at: '2026-10-01T23:00:00.000Z', count: 2 },
    ]);
  });

  it('classifies card data and secrets as instruments, and dates from txnAt, else the sort key, else now', () => {
    expect(splitItem(legacy('u'))).toEqual({
      transaction: [
        'txnId',
        'txnAt',
        'type',
        'amount',
        'currency',
        'item',
        'status',
        'processor',
        'processorRef',
      ],
      instrument: ['card', 'billingAddress', 'cardNumber', 'cvc'],
    });
    expect(transactionDate({ sk: '2024-01-02T03:04:05Z#t1' }, NOW)).toBe('2024-01-02T03:04:05.000Z');
    expect(transactionDate({ sk: 'garbage', txnAt: 'nope' }, NOW)).toBe(NOW.toISOString());
  });
});

describe('payments erase', () => {
  it('KR: vaults running transactions with kept fields only, deletes them and the expired one', async () => {
    const h = harness(aliceAndBob(), { pageSize: 2 });
    const plan = planFor(await h.inventory(['u-a']), 'KR');
    expect(plan.find((e) => e.category === 'transactions')?.action).toBe('retain');
    const outcome = await h.erase(['u-a'], plan);
    expect(outcome.transactions).toEqual({ deleted: 1, anonymised: 0, retained: 4, untouched: 0 });
    expect(outcome['payment-instruments']).toEqual({ deleted: 4, anonymised: 0, retained: 0, untouched: 0 });

    expect(h.vaulted.map((v) => v.recordId).sort()).toEqual(['t-u-a-0', 't-u-a-1', 't-u-a-2', 't-u-a-5']);
    for (const v of h.vaulted) {
      expect(v).toMatchObject({ store: 'payments', category: 'transactions' });
      expect(Object.keys(v.data).sort()).toEqual([...KEEP].sort());
      expect(v.data.item).toEqual({ sku: 'sku-1', title: 'Outfit' });
      expect(v.until).toBe(addDuration(String(v.data.txnAt), 'P5Y').toISOString());
      expect(JSON.stringify(v)).not.toMatch(/4242|4111|737|billing|card|Gangnam|u-a"/);
    }
    expect([...h.table.values()].map((i) => i.userId)).toEqual(['u-b']);
    expect(await h.inventory(['u-a'])).toEqual({
      transactions: { count: 0 },
      'payment-instruments': { count: 0 },
    });
  });

  it('default jurisdiction: everything is deleted, nothing vaulted; a re-run is harmless', async () => {
    const h = harness(aliceAndBob(), { unprocessedOnce: true });
    const plan = planFor(await h.inventory(['u-a']), 'JP');
    const outcome = await h.erase(['u-a'], plan);
    expect(outcome.transactions?.deleted).toBe(5);
    expect(h.vaulted).toEqual([]);
    expect([...h.table.values()].map((i) => i.userId)).toEqual(['u-b']);
    const again = await h.erase(['u-a'], plan);
    expect(again.transactions).toEqual({ deleted: 0, anonymised: 0, retained: 0, untouched: 0 });
  });

  it('stores nothing live-side until every vault copy of the page is stored', async () => {
    const h = harness(aliceAndBob());
    const plan = planFor(await h.inventory(['u-a']), 'KR');
    h.failVault();
    await expect(h.erase(['u-a'], plan)).rejects.toThrow('vault down');
    expect(h.log).toEqual([]);
    expect(h.table.size).toBe(6);
  });

  it('a hold on transactions keeps them; their card data still goes', async () => {
    const h = harness(aliceAndBob());
    const plan = planFor(await h.inventory(['u-a']), 'KR', [
      { holdId: 'h1', caseReference: 'C-1', categories: ['transactions'] },
    ]);
    const outcome = await h.erase(['u-a'], plan);
    expect(outcome.transactions?.untouched).toBe(5);
    expect(outcome['payment-instruments']?.deleted).toBe(4);
    expect(h.vaulted).toEqual([]);
    const left = [...h.table.values()].filter((i) => i.userId === 'u-a');
    expect(left).toHaveLength(5);
    for (const item of left) expect(splitItem(item).instrument).toEqual([]);
    expect(left.find((i) => i.txnId === 't-u-a-0')).toMatchObject({ amount: 1250, processorRef: 'psp-0' });
    expect(await h.inventory(['u-a'])).toMatchObject({
      'payment-instruments': { count: 0 },
      transactions: { count: 5 },
    });
  });

  it('a hold on instruments keeps the card data only; the transactions are vaulted and removed', async () => {
    const h = harness(aliceAndBob());
    const plan = planFor(await h.inventory(['u-a']), 'KR', [
      { holdId: 'h1', caseReference: 'C-1', categories: ['payment-instruments'] },
    ]);
    const outcome = await h.erase(['u-a'], plan);
    expect(outcome.transactions).toMatchObject({ retained: 4, deleted: 1 });
    expect(outcome['payment-instruments']?.untouched).toBe(4);
    const left = [...h.table.values()].filter((i) => i.userId === 'u-a');
    expect(left).toHaveLength(4); // the payout had no card data: gone entirely
    for (const item of left) expect(splitItem(item).transaction).toEqual([]);
    expect(await h.inventory(['u-a'])).toMatchObject({
      transactions: { count: 0 },
      'payment-instruments': { count: 4 },
    });
  });

  it('names a transaction without txnId in the vault by a hash of its key, never the user id', async () => {
    const row = txn('u-a', 1, '2026-10-01T10:00:00.000Z', { txnId: undefined });
    const h = harness([JSON.parse(JSON.stringify(row)) as Item]);
    await h.erase(['u-a'], planFor(await h.inventory(['u-a']), 'KR'));
    expect(h.vaulted).toHaveLength(1);
    expect(h.vaulted[0]?.recordId).toMatch(/^key-[0-9a-f]{32}$/);
    expect(h.table.size).toBe(0);
  });

  it('a hold on the whole store touches nothing', async () => {
    const h = harness(aliceAndBob());
    const plan = planFor(await h.inventory(['u-a']), 'KR', [
      { holdId: 'h', caseReference: 'c', stores: ['payments'] },
    ]);
    const outcome = await h.erase(['u-a'], plan);
    expect(outcome.transactions?.untouched).toBe(5);
    expect(h.log).toEqual([]);
    expect(h.vaulted).toEqual([]);
  });

  it('refuses a plan it cannot carry out', async () => {
    const h = harness(aliceAndBob());
    await expect(
      h.erase(['u-a'], [{ category: 'transactions', action: 'retain', liveAction: 'delete' }]),
    ).rejects.toBeInstanceOf(ContractError);
    await expect(
      h.erase(['u-a'], [{ category: 'refunds', action: 'delete', liveAction: 'delete' }]),
    ).rejects.toBeInstanceOf(ContractError);
    expect(h.log).toEqual([]);
  });
});
