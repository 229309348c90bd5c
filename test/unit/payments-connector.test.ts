import { QueryCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createPaymentsConnector, toExportedTransaction } from '../../functions/connectors/payments/core';
import type { SubjectIdentifiers } from '../../functions/lib/connectors/contract';
import { fakeCollect } from '../support/fake-collect';
import { fakeClient } from '../support/fake-client';

type Row = Record<string, unknown>;

/** fakeCollect, read back as the staging writer would serialise it (JSON: a BigInt or Set would not survive). */
function fakeContext(identifiers: Partial<SubjectIdentifiers>, salt = 'salt-0123456789abcdef') {
  const fake = fakeCollect(identifiers, salt);
  const json = () => JSON.stringify({ collections: [...fake.collections], media: fake.media });
  const records = (name: string): Row[] =>
    JSON.parse(JSON.stringify(fake.collections.get(name)?.records ?? [])) as Row[];
  return { ctx: fake.ctx, media: fake.media, records, json };
}

/** A fake document client: pages each user's rows `pageSize` at a time; any command but Query fails. */
function fakeTable(rowsByUser: Record<string, Row[]>, pageSize = 2) {
  const queries: Row[] = [];
  const send = async (command: unknown) => {
    if (!(command instanceof QueryCommand)) throw new Error(`unexpected command ${String(command)}`);
    const input = command.input;
    // A copy: the SDK's paginator writes every page's start key into one and the same input object.
    queries.push({ ...input } as Row);
    const userId = input.ExpressionAttributeValues?.[':userId'] as string;
    const rows = rowsByUser[userId] ?? [];
    const start = input.ExclusiveStartKey
      ? Number((input.ExclusiveStartKey as { sk: string }).sk.split('#')[1]) + 1
      : 0;
    const page = rows.slice(start, start + pageSize);
    const more = start + pageSize < rows.length;
    return { Items: page, LastEvaluatedKey: more ? { userId, sk: `x#${start + pageSize - 1}` } : undefined };
  };
  return { doc: fakeClient(DynamoDBDocumentClient, { send }), queries };
}

const config = { tableName: 'platform-payments' };

function txn(userId: string, i: number, extra: Row = {}): Row {
  return {
    userId,
    sk: `2024-03-0${(i % 9) + 1}T10:00:00Z#t${i}`,
    txnId: `t-${userId}-${i}`,
    txnAt: `2024-03-0${(i % 9) + 1}T10:00:00Z`,
    type: 'purchase',
    amount: 1250,
    currency: 'USD',
    item: { sku: 'sku-1', title: 'Avatar outfit' },
    status: 'settled',
    card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2027 },
    processor: 'sony-payment-services',
    processorRef: `psp-${i}`,
    billingAddress: '1-2-3 Shibuya, Tokyo',
    ...extra,
  };
}

describe('payments connector', () => {
  it('queries every user id by key and pages through everything', async () => {
    const { doc, queries } = fakeTable({
      'user-1': Array.from({ length: 5 }, (_, i) => txn('user-1', i)),
      'user-1b': [txn('user-1b', 0)],
    });
    const { ctx, records } = fakeContext({ userIds: ['user-1', 'user-1b'] });
    await createPaymentsConnector(doc, config).collect(ctx);

    expect(records('transactions').map((r) => r.txnId)).toEqual([
      't-user-1-0',
      't-user-1-1',
      't-user-1-2',
      't-user-1-3',
      't-user-1-4',
      't-user-1b-0',
    ]);
    // 3 pages for user-1 (2 + 2 + 1), 1 for user-1b; each continuing from the previous LastEvaluatedKey.
    expect(queries).toHaveLength(4);
    expect(queries.map((q) => q.ExclusiveStartKey)).toEqual([
      undefined,
      { userId: 'user-1', sk: 'x#1' },
      { userId: 'user-1', sk: 'x#3' },
      undefined,
    ]);
    for (const q of queries) {
      expect(q.TableName).toBe('platform-payments');
      expect(q.KeyConditionExpression).toBe('#userId = :userId');
      expect(q.Limit).toBeUndefined();
    }
  });

  it('flattens a transaction into columns', async () => {
    const { doc } = fakeTable({ 'user-1': [txn('user-1', 0)] });
    const { ctx, records } = fakeContext({ userIds: ['user-1'] });
    await createPaymentsConnector(doc, config).collect(ctx);
    expect(records('transactions')).toEqual([
      {
        userId: 'user-1',
        txnId: 't-user-1-0',
        txnAt: '2024-03-01T10:00:00Z',
        type: 'purchase',
        status: 'settled',
        amount: 1250,
        currency: 'USD',
        amountMajor: '12.50',
        itemSku: 'sku-1',
        itemTitle: 'Avatar outfit',
        cardBrand: 'visa',
        cardLast4: '4242',
        cardExpMonth: 12,
        cardExpYear: 2027,
        processor: 'sony-payment-services',
        processorRef: 'psp-0',
        billingAddress: '1-2-3 Shibuya, Tokyo',
      },
    ]);
    for (const record of records('transactions')) {
      for (const value of Object.values(record))
        expect(typeof value === 'object' && value !== null).toBe(false);
    }
  });

  it('never lets a full card number or a CVC out of a legacy row', async () => {
    const legacy = txn('user-1', 1, {
      cardNumber: '4111 1111 1111 1111',
      cvc: '987',
      card: { brand: 'visa', expMonth: 1, expYear: 2026, cvc: '987', number: '4111111111111111' },
      legacyPan: 5555555555554444n, // a number attribute beyond 2^53, as the document client returns it
      notes: 'customer read 4012888888881881 over the phone',
      extra: { cvv2: '987', fallbackCard: { number: '378282246310005' } },
      paymentToken: 'tok_live_secret',
    });
    const cardOnlyNumber = txn('user-1', 2, { card: undefined, cardNumber: '5105105105105100', CVV: 987 });
    const { doc } = fakeTable({ 'user-1': [legacy, cardOnlyNumber] });
    const { ctx, records, json } = fakeContext({ userIds: ['user-1'] });
    await createPaymentsConnector(doc, config).collect(ctx);

    const output = json();
    expect(output).not.toContain('987');
    expect(output).not.toContain('tok_live_secret');
    for (const pan of [
      '4111111111111111',
      '5555555555554444',
      '4012888888881881',
      '378282246310005',
      '5105105105105100',
    ]) {
      expect(output.replace(/[ -]/g, '')).not.toContain(pan.slice(0, 8));
    }
    // No run of more than 4 digits anywhere but in the known, non-card columns.
    for (const record of records('transactions')) {
      const { amount: _a, txnAt: _t, cardExpYear: _y, ...rest } = record;
      expect(JSON.stringify(rest).match(/[0-9](?:[ -]?[0-9]){4,}/g) ?? []).toEqual([]);
    }

    const [first, second] = records('transactions');
    expect(first).toMatchObject({
      cardBrand: 'visa',
      cardLast4: '1111',
      cardNumberMasked: '************1111',
      legacyPan: '************4444',
      notes: 'customer read ************1881 over the phone',
      extra: { fallbackCard: { number: '************0005' } },
    });
    expect(first).not.toHaveProperty('cvc');
    expect(first).not.toHaveProperty('cardCvc');
    expect(first).not.toHaveProperty('paymentToken');
    expect(second).toMatchObject({ cardLast4: '5100', cardNumberMasked: '************5100' });
    expect(second).not.toHaveProperty('CVV');
  });

  it('cuts a card.last4 that holds more than 4 digits', () => {
    const out = toExportedTransaction({ userId: 'u', card: { last4: '4111111111111111' } });
    expect(out.cardLast4).toBe('1111');
  });

  it('copes with missing and unknown attributes', async () => {
    const { doc } = fakeTable({
      'user-1': [
        { userId: 'user-1', sk: '2020-01-01T00:00:00Z#old' },
        {
          userId: 'user-1',
          sk: 's#2',
          type: 'payout',
          amount: 500,
          currency: 'JPY',
          promoCode: 'SPRING',
          meta: { a: [1, 2] },
        },
        { userId: 'user-1', sk: 's#3', amount: 123456789012345678901n, currency: 'KWD', item: 'legacy-item' },
      ],
    });
    const { ctx, records } = fakeContext({ userIds: ['user-1'] });
    await createPaymentsConnector(doc, config).collect(ctx);
    expect(records('transactions')).toEqual([
      { userId: 'user-1' },
      {
        userId: 'user-1',
        type: 'payout',
        amount: 500,
        currency: 'JPY',
        amountMajor: '500',
        promoCode: 'SPRING',
        meta: { a: [1, 2] },
      },
      {
        userId: 'user-1',
        amount: '123456789012345678901',
        currency: 'KWD',
        amountMajor: '123456789012345678.901',
        item: 'legacy-item',
      },
    ]);
  });

  it('writes nothing (and reads nothing) for a subject without user ids', async () => {
    const { doc, queries } = fakeTable({});
    const { ctx, records } = fakeContext({ userIds: [] });
    await createPaymentsConnector(doc, config).collect(ctx);
    expect(queries).toHaveLength(0);
    expect(records('transactions')).toEqual([]);
  });
});
