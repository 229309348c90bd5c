/**
 * Payments connector: every transaction of the subject (purchases, refunds, subscriptions, payouts),
 * read by Query on the partition key for each of their user ids, never a Scan.
 * Collect: cards appear as brand, last 4 and expiry only; a legacy full card number only as its last 4;
 * a security code never.
 * Inventory and erase: each item holds two categories (docs/policy.md): `payment-instruments` = its
 * card data (`card`, legacy `cardNumber`/`cvc`, anything card-number- or secret-like) and
 * `billingAddress`; `transactions` = everything else. Retained transactions go to the vault stripped to
 * the rule's `keep` fields (card data is never among them), then the item is deleted.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type {
  CategoryInventoryView,
  CategoryOutcome,
  CollectContext,
  CollectionSpec,
  Connector,
  EraseContext,
  ErasureContext,
  PlanEntryView,
} from '../../lib/connectors/contract';
import { STORE_CATEGORIES } from '../../lib/erasure/types';
import { planByCategory, vaultCopy, zeroOutcome } from '../../lib/erasure/erasure-plan';
import { batchWriteAll } from '../../lib/aws/dynamo-batch';
import { pickKept } from '../../lib/erasure/vault';
import { isRecord, toJsonValue, type Item } from '../../lib/aws/dynamo-paging';
import { removeAttributesIfPresent } from '../../lib/aws/dynamo-paging';
import {
  isPanKey,
  isSecretKey,
  lastFourDigits,
  maskCardNumber,
  scrubCardData,
} from '../../lib/connectors/card-masking';
import {
  groupByDay,
  recordIdOf,
  recordInstant,
  userPartitionPages,
} from '../../lib/connectors/user-keyed-items';

export interface PaymentsConfig {
  tableName: string;
}

const transactionsSpec: CollectionSpec = {
  name: 'transactions',
  description:
    'Your purchases, refunds, subscriptions and payouts. Cards show brand, last 4 digits and expiry only.',
  tabular: true,
  recordSchema: {
    type: 'object',
    required: ['userId'],
    properties: {
      userId: { type: 'string' },
      txnId: { type: 'string' },
      txnAt: { type: 'string', format: 'date-time' },
      type: { type: 'string', description: 'purchase, refund, subscription or payout' },
      status: { type: 'string' },
      amount: { type: ['number', 'string'], description: 'In minor units of the currency (e.g. cents)' },
      amountMajor: { type: 'string', description: 'The amount in the currency unit, e.g. 12.34' },
      currency: { type: 'string', description: 'ISO 4217' },
      itemSku: { type: 'string' },
      itemTitle: { type: 'string' },
      cardBrand: { type: 'string' },
      cardLast4: { type: 'string', pattern: '^[0-9]{4}$' },
      cardExpMonth: { type: ['number', 'string'] },
      cardExpYear: { type: ['number', 'string'] },
      cardNumberMasked: {
        type: 'string',
        pattern: '^\\*{12}[0-9]{4}$',
        description: 'An old record held a full card number: only its last 4 digits are shown',
      },
      processor: { type: 'string', description: 'The payment processor that handled the transaction' },
      processorRef: { type: 'string', description: "The processor's reference for the transaction" },
      billingAddress: { type: 'string' },
    },
    additionalProperties: true,
  },
};

/** Attributes mapped to named columns (or dropped as storage detail), handled before the rest. */
const KNOWN = new Set([
  'userId',
  'sk',
  'txnId',
  'txnAt',
  'type',
  'status',
  'amount',
  'currency',
  'item',
  'card',
  'cardNumber',
  'processor',
  'processorRef',
  'billingAddress',
]);

/** Per currency code: building an Intl.NumberFormat costs more than all the rest of a record's work. */
const fractionDigitsCache = new Map<string, number | undefined>();

/** Fraction digits of a currency (JPY 0, USD 2, KWD 3), or undefined for an unknown code. */
function fractionDigits(currency: string): number | undefined {
  if (fractionDigitsCache.has(currency)) return fractionDigitsCache.get(currency);
  let digits: number | undefined;
  try {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    digits = undefined;
  }
  // Bounded: codes are three letters, and odd ones are few.
  if (fractionDigitsCache.size < 1000) fractionDigitsCache.set(currency, digits);
  return digits;
}

function majorAmount(amount: unknown, currency: unknown): string | undefined {
  if (typeof currency !== 'string') return undefined;
  const text = typeof amount === 'number' && Number.isInteger(amount) ? String(amount) : amount;
  if (typeof text !== 'string' || !/^-?[0-9]+$/.test(text)) return undefined;
  const digits = fractionDigits(currency);
  if (digits === undefined) return undefined;
  const negative = text.startsWith('-');
  const abs = (negative ? text.slice(1) : text).padStart(digits + 1, '0');
  const major = digits === 0 ? abs : `${abs.slice(0, abs.length - digits)}.${abs.slice(abs.length - digits)}`;
  return negative ? `-${major}` : major;
}

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** A column value: scalars as they are, anything nested after card scrubbing (CSV shows it as JSON). */
function put(out: Item, key: string, value: unknown, inCard = false): void {
  if (value === undefined) return;
  out[key] = scrubCardData(value, inCard);
}

/** One stored transaction as an exported, flat record. `raw` is the item as the document client returns it. */
export function toExportedTransaction(raw: Item): Item {
  const item = toJsonValue(raw) as Item;
  const out: Item = {};
  // Identifiers and codes defined by the store's contract are copied as they are; free text and anything
  // unknown goes through card scrubbing.
  for (const key of ['userId', 'txnId', 'txnAt', 'type', 'status', 'amount', 'currency'] as const) {
    if (item[key] !== undefined) out[key] = item[key];
  }
  const amountMajor = majorAmount(item.amount, item.currency);
  if (amountMajor !== undefined) out.amountMajor = amountMajor;

  if (isRecord(item.item)) {
    for (const [key, value] of Object.entries(item.item)) {
      if (!isSecretKey(key)) put(out, `item${capitalize(key)}`, value);
    }
  } else {
    put(out, 'item', item.item);
  }

  let cardNumberMasked = maskCardNumber(item.cardNumber);
  let last4FromNumber = lastFourDigits(item.cardNumber);
  if (isRecord(item.card)) {
    for (const [key, value] of Object.entries(item.card)) {
      if (isSecretKey(key)) continue;
      if (isPanKey(key, true)) {
        cardNumberMasked ??= maskCardNumber(value);
        last4FromNumber ??= lastFourDigits(value);
      } else if (key === 'last4') {
        // Whatever an old writer put here, only 4 digits leave.
        const last4 = lastFourDigits(value);
        if (last4 !== undefined) out.cardLast4 = last4;
      } else {
        put(out, `card${capitalize(key)}`, value, true);
      }
    }
  }
  if (out.cardLast4 === undefined && last4FromNumber !== undefined) out.cardLast4 = last4FromNumber;
  if (cardNumberMasked !== undefined) out.cardNumberMasked = cardNumberMasked;

  for (const key of ['processor', 'processorRef'] as const) {
    if (item[key] !== undefined) out[key] = item[key];
  }
  put(out, 'billingAddress', item.billingAddress);

  // Attributes this connector does not know: exported as they are, except secrets and card numbers.
  for (const [key, value] of Object.entries(item)) {
    if (KNOWN.has(key) || isSecretKey(key)) continue;
    if (isPanKey(key)) {
      const masked = maskCardNumber(value);
      if (masked !== undefined) out[key] = masked;
      continue;
    }
    if (out[key] === undefined) put(out, key, value);
  }
  return out;
}

type PaymentsCategory = (typeof STORE_CATEGORIES.payments)[number];

const KEY_ATTRIBUTES = new Set(['userId', 'sk']);
/** Concurrent UpdateItem calls when a hold keeps part of an item. */
const UPDATE_CONCURRENCY = 8;

/** Card data and the billing address: the payment-instruments category, never retained. */
function isInstrumentAttribute(name: string): boolean {
  return name === 'card' || name === 'billingAddress' || isPanKey(name) || isSecretKey(name);
}

interface ItemParts {
  transaction: string[];
  instrument: string[];
}

export function splitItem(item: Item): ItemParts {
  const parts: ItemParts = { transaction: [], instrument: [] };
  for (const name of Object.keys(item)) {
    if (KEY_ATTRIBUTES.has(name)) continue;
    (isInstrumentAttribute(name) ? parts.instrument : parts.transaction).push(name);
  }
  return parts;
}

/**
 * A transaction's date: `txnAt`, else the sort key's `<txnAt>#` prefix. Neither readable: now, so a
 * retention runs from now (never shorter than the statute asks).
 */
export function transactionDate(item: Item, now: Date): string {
  return recordInstant(item, 'txnAt', now);
}

async function forEachLimit<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++] as T);
  });
  await Promise.all(workers);
}

export function createPaymentsConnector(doc: DynamoDBDocumentClient, config: PaymentsConfig): Connector {
  const allPages = (userIds: readonly string[]) => userPartitionPages(doc, config.tableName, userIds);

  return {
    store: 'payments',
    async collect(ctx: CollectContext): Promise<void> {
      const transactions = ctx.collection(transactionsSpec);
      for await (const items of allPages(ctx.subject.identifiers.userIds)) {
        for (const item of items) await transactions.write(toExportedTransaction(item));
        await ctx.betweenBatches?.();
      }
    },

    async inventory(ctx: ErasureContext): Promise<Record<string, CategoryInventoryView>> {
      const dates: string[] = [];
      let instruments = 0;
      const now = ctx.now();
      for await (const items of allPages(ctx.subject.identifiers.userIds)) {
        for (const item of items) {
          const parts = splitItem(item);
          if (parts.transaction.length > 0) dates.push(transactionDate(item, now));
          if (parts.instrument.length > 0) instruments += 1;
        }
      }
      return {
        transactions: {
          count: dates.length,
          ...(dates.length > 0 ? { dates: { transactionDate: groupByDay(dates) } } : {}),
        },
        'payment-instruments': { count: instruments },
      };
    },

    async erase(ctx: EraseContext): Promise<Record<string, CategoryOutcome>> {
      const plan = planByCategory('payments', ctx.plan, {
        canAnonymise: false,
        neverRetained: ['payment-instruments'],
      });
      const txn = plan.get('transactions');
      const inst = plan.get('payment-instruments');
      const goes = (entry: PlanEntryView | undefined) =>
        entry?.action === 'delete' || entry?.action === 'retain';
      const outcome: Record<PaymentsCategory, CategoryOutcome> = {
        transactions: zeroOutcome(),
        'payment-instruments': zeroOutcome(),
      };
      const now = ctx.now();

      for await (const items of allPages(ctx.subject.identifiers.userIds)) {
        const vaulted: Promise<void>[] = [];
        const deletes: { userId: unknown; sk: unknown }[] = [];
        const updates: { key: { userId: unknown; sk: unknown }; remove: string[] }[] = [];
        for (const item of items) {
          const parts = splitItem(item);
          const txnGoes = parts.transaction.length > 0 && goes(txn);
          const instGoes = parts.instrument.length > 0 && goes(inst);
          if (parts.transaction.length > 0) {
            if (txn?.action === 'held') outcome.transactions.untouched += 1;
            else if (txn?.action === 'retain' && txn.rule) {
              const copy = vaultCopy(txn.rule, transactionDate(item, now), now, {
                store: 'payments',
                category: 'transactions',
                recordId: recordIdOf(item, 'txnId'),
                // Card data is never kept, even if a rule named it: scrubbed after picking.
                data: (keep) => scrubCardData(pickKept(toJsonValue(item) as Item, keep)) as Item,
              });
              if (copy) {
                vaulted.push(ctx.vault.put(copy));
                outcome.transactions.retained += 1;
              } else outcome.transactions.deleted += 1;
            } else if (txnGoes) outcome.transactions.deleted += 1;
          }
          if (parts.instrument.length > 0) {
            if (inst?.action === 'held') outcome['payment-instruments'].untouched += 1;
            else if (instGoes) outcome['payment-instruments'].deleted += 1;
          }

          const remove = [...(txnGoes ? parts.transaction : []), ...(instGoes ? parts.instrument : [])];
          const key = { userId: item.userId, sk: item.sk };
          if (remove.length === parts.transaction.length + parts.instrument.length) {
            if (remove.length > 0 || goes(txn)) deletes.push(key);
          } else if (remove.length > 0) {
            // A hold keeps the other part of the item: only this category's attributes go.
            updates.push({ key, remove });
          }
        }
        // Every kept copy is stored before any live record goes.
        await Promise.all(vaulted);
        await batchWriteAll(
          doc,
          config.tableName,
          deletes.map((Key) => ({ DeleteRequest: { Key } })),
        );
        await forEachLimit(updates, UPDATE_CONCURRENCY, ({ key, remove }) =>
          removeAttributesIfPresent(doc, config.tableName, key, remove),
        );
        await ctx.betweenBatches?.();
      }
      return outcome;
    },
  };
}
