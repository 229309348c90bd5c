/**
 * Payments connector, collect side: every transaction of the subject (purchases, refunds, subscriptions,
 * payouts), read by Query on the partition key for each of their user ids, never a Scan. Cards appear as
 * brand, last 4 and expiry only; a legacy full card number only as its last 4; a security code never.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CollectContext, CollectionSpec, Connector } from '../../shared/contract';
import { isRecord, queryPages, toJsonValue, type Item } from './dynamo-items';
import { isPanKey, isSecretKey, lastFourDigits, maskCardNumber, scrubCardData } from './masking';

export interface PaymentsConfig {
  tableName: string;
}

export const transactionsSpec: CollectionSpec = {
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

/** Fraction digits of a currency (JPY 0, USD 2, KWD 3), or undefined for an unknown code. */
function fractionDigits(currency: string): number | undefined {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    return undefined;
  }
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

export function createPaymentsConnector(doc: DynamoDBDocumentClient, config: PaymentsConfig): Connector {
  return {
    store: 'payments',
    async collect(ctx: CollectContext): Promise<void> {
      const transactions = ctx.collection(transactionsSpec);
      for (const userId of new Set(ctx.subject.identifiers.userIds)) {
        const pages = queryPages(doc, {
          TableName: config.tableName,
          KeyConditionExpression: '#userId = :userId',
          ExpressionAttributeNames: { '#userId': 'userId' },
          ExpressionAttributeValues: { ':userId': userId },
          ConsistentRead: true,
        });
        for await (const items of pages) {
          for (const item of items) await transactions.write(toExportedTransaction(item));
        }
      }
    },
  };
}
