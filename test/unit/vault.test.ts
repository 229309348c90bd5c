import {
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { VaultRecord } from '../../functions/lib/connectors/contract';
import { ContractError, TransientError } from '../../functions/lib/runtime/errors';
import {
  DynamoVault,
  VaultReader,
  pickKept,
  suppressionKey,
  toVaultItem,
  vaultContext,
  vaultKey,
} from '../../functions/lib/erasure/vault';
import { batchWriteAll } from '../../functions/lib/aws/dynamo-batch';
import { LocalKeyStandIn, SharedKeySealer } from '../../functions/lib/crypto/envelope';

const noSleep = async () => undefined;
const vaultKeyBytes = Buffer.alloc(32, 7);
const writerKeys = new LocalKeyStandIn(vaultKeyBytes, new Set(['kms:GenerateDataKey']));
const readerKeys = new LocalKeyStandIn(vaultKeyBytes, new Set(['kms:Decrypt']));

describe('pickKept', () => {
  const session = {
    sessionId: 's-1',
    worldId: 'w-1',
    startedAt: '2026-10-01T10:00:00Z',
    secretNote: 'drop me',
    participants: [
      { userId: 'u-other', ip: '198.51.100.1', joinedAt: 'a', leftAt: 'b' },
      { userId: 'u-me', ip: '203.0.113.5', joinedAt: 'c', leftAt: 'd' },
      { userId: 'u-third', ip: '192.0.2.9' },
    ],
  };

  it('keeps dot paths and nothing else', () => {
    const txn = {
      txnId: 't1',
      amount: 100,
      item: { sku: 'sku-1', title: 'T', internal: 'x' },
      card: { brand: 'visa', last4: '4242' },
      cvc: '737',
    };
    expect(
      pickKept(txn, ['txnId', 'amount', 'item.sku', 'item.title', 'missing', 'item.nope.deeper']),
    ).toEqual({
      txnId: 't1',
      amount: 100,
      item: { sku: 'sku-1', title: 'T' },
    });
  });

  it('keeps a field of every element with a[] and of the subject only with a[subject]', () => {
    const kept = pickKept(
      session,
      [
        'sessionId',
        'participants[].userId',
        'participants[subject].ip',
        'participants[subject].joinedAt',
        'participants[subject].leftAt',
      ],
      { isSubjectElement: (el) => (el as { userId?: string }).userId === 'u-me' },
    );
    expect(kept).toEqual({
      sessionId: 's-1',
      participants: [
        { userId: 'u-other' },
        { userId: 'u-me', ip: '203.0.113.5', joinedAt: 'c', leftAt: 'd' },
        { userId: 'u-third' },
      ],
    });
  });

  it('keeps nothing for a[subject] without a subject predicate, and drops elements with nothing kept', () => {
    expect(pickKept(session, ['participants[subject].ip'])).toEqual({});
    const reports = { reports: [{ reason: 'spam', by: 'u-x' }, { by: 'u-y' }, { reason: 'abuse', at: 't' }] };
    expect(pickKept(reports, ['reports[].reason'])).toEqual({
      reports: [{ reason: 'spam' }, { reason: 'abuse' }],
    });
  });

  it('shares nothing with its input', () => {
    const record = { item: { tags: ['a'] } };
    const kept = pickKept(record, ['item.tags']);
    (kept.item as { tags: string[] }).tags.push('b');
    expect(record.item.tags).toEqual(['a']);
  });

  it('refuses a malformed path', () => {
    expect(() => pickKept({}, ['a[x].b'])).toThrow(ContractError);
    expect(() => pickKept({}, ['a..b'])).toThrow(ContractError);
  });
});

/** A fake document client recording every command; `reply` may answer differently per call. */
function fakeDoc(reply: (command: unknown, call: number) => unknown = () => ({})) {
  const commands: unknown[] = [];
  const doc = {
    send: async (command: unknown) => {
      commands.push(command);
      await new Promise((r) => setImmediate(r));
      return reply(command, commands.length);
    },
  } as unknown as DynamoDBDocumentClient;
  return { doc, commands };
}

function record(i: number, extra: Partial<VaultRecord> = {}): VaultRecord {
  return {
    store: 'payments',
    category: 'transactions',
    recordId: `txn-${i}`,
    until: '2031-01-01T00:00:00Z',
    basis: 'Act, Art. 6',
    data: { txnId: `txn-${i}` },
    ...extra,
  };
}

describe('DynamoVault.put', () => {
  it('writes concurrent puts in BatchWriteItem calls of at most 25, each resolving once stored', async () => {
    const { doc, commands } = fakeDoc();
    const vault = new DynamoVault(doc, { tableName: 'vault', sleep: noSleep, keys: writerKeys });
    await Promise.all(Array.from({ length: 60 }, (_, i) => vault.put(record(i))));
    const batches = commands.filter((c): c is BatchWriteCommand => c instanceof BatchWriteCommand);
    expect(batches).toHaveLength(commands.length);
    expect(batches.map((b) => b.input.RequestItems?.vault?.length)).toEqual([25, 25, 10]);
    const stored = batches.flatMap((b) => b.input.RequestItems?.vault ?? []).map((r) => r.PutRequest?.Item);
    expect(new Set(stored.map((i) => i?.pk)).size).toBe(60);
    expect(stored[0]).toMatchObject({
      pk: 'VAULT#payments#transactions#txn-0',
      sk: 'RECORD',
      kind: 'vault',
      until: '2031-01-01T00:00:00.000Z',
    });
    // The kept data is stored sealed only; the reader opens it.
    expect(stored[0]).not.toHaveProperty('data');
    expect(JSON.stringify(stored[0])).not.toContain('txn-0"}');
    const reader = new VaultReader(doc, { tableName: 'vault', keys: readerKeys });
    expect((await reader.openItem(stored[0]!)).data).toEqual({ txnId: 'txn-0' });
  });

  it('refuses to add records without data keys (the sweep holds none)', async () => {
    const { doc, commands } = fakeDoc();
    await expect(new DynamoVault(doc, { tableName: 'vault' }).put(record(1))).rejects.toBeInstanceOf(
      ContractError,
    );
    expect(commands).toHaveLength(0);
  });

  it('never puts the same key twice in one batch', async () => {
    const { doc, commands } = fakeDoc();
    const vault = new DynamoVault(doc, { tableName: 'vault', sleep: noSleep, keys: writerKeys });
    await Promise.all([
      vault.put(record(1)),
      vault.put(record(2)),
      vault.put(record(1)),
      vault.put(record(3)),
    ]);
    const batches = commands.map((c) => (c as BatchWriteCommand).input.RequestItems?.vault ?? []);
    for (const batch of batches) {
      const keys = batch.map((r) => r.PutRequest?.Item?.pk);
      expect(new Set(keys).size).toBe(keys.length);
    }
    expect(batches.flat()).toHaveLength(4);
  });

  it('retries unprocessed items and rejects every put of a batch that fails', async () => {
    let first = true;
    const { doc, commands } = fakeDoc((command) => {
      const items = (command as BatchWriteCommand).input.RequestItems?.vault ?? [];
      if (first) {
        first = false;
        return { UnprocessedItems: { vault: items.slice(1) } };
      }
      return {};
    });
    const vault = new DynamoVault(doc, { tableName: 'vault', sleep: noSleep, keys: writerKeys });
    await Promise.all([vault.put(record(1)), vault.put(record(2)), vault.put(record(3))]);
    expect(commands.map((c) => (c as BatchWriteCommand).input.RequestItems?.vault?.length)).toEqual([3, 2]);

    const failing = new DynamoVault(
      fakeDoc(() => {
        throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
      }).doc,
      { tableName: 'vault', sleep: noSleep, keys: writerKeys },
    );
    const results = await Promise.allSettled([failing.put(record(1)), failing.put(record(2))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(TransientError);
  });

  it('refuses a record without a valid until or id, before writing anything', async () => {
    const { doc, commands } = fakeDoc();
    const vault = new DynamoVault(doc, { tableName: 'vault', keys: writerKeys });
    await expect(vault.put(record(1, { until: 'soon' }))).rejects.toBeInstanceOf(ContractError);
    await expect(vault.put(record(1, { recordId: '' }))).rejects.toBeInstanceOf(ContractError);
    expect(commands).toHaveLength(0);
  });
});

describe('batchWriteAll', () => {
  it('gives up with a TransientError when items stay unprocessed', async () => {
    const { doc, commands } = fakeDoc((command) => ({
      UnprocessedItems: (command as BatchWriteCommand).input.RequestItems,
    }));
    await expect(
      batchWriteAll(doc, 't', [{ DeleteRequest: { Key: { pk: 'a', sk: 'b' } } }], noSleep),
    ).rejects.toBeInstanceOf(TransientError);
    expect(commands.length).toBe(9);
  });
});

describe('the sweep side', () => {
  // What the keys-only index holds of an item.
  const due = (i: number) => ({
    pk: `VAULT#payments#transactions#t${i}`,
    sk: 'RECORD',
    until: `2030-01-0${i}T00:00:00.000Z`,
  });

  it('listDue queries the byUntil index for kind vault up to now, paging until the limit', async () => {
    const { doc, commands } = fakeDoc((_command, call) =>
      call === 1 ? { Items: [due(1), due(2)], LastEvaluatedKey: { pk: 'x' } } : { Items: [due(3)] },
    );
    const vault = new DynamoVault(doc, { tableName: 'vault' });
    const now = new Date('2030-06-01T00:00:00Z');
    const items = await vault.listDue(now, 5);
    expect(items.map((i) => i.pk)).toEqual([due(1).pk, due(2).pk, due(3).pk]);
    expect(items[0]).toEqual({ ...due(1), store: 'payments', category: 'transactions' });
    const [first, second] = commands as QueryCommand[];
    expect(first?.input).toMatchObject({
      TableName: 'vault',
      IndexName: 'byUntil',
      KeyConditionExpression: '#kind = :kind AND #until <= :now',
      ExpressionAttributeValues: { ':kind': 'vault', ':now': '2030-06-01T00:00:00.000Z' },
      Limit: 5,
    });
    expect(first?.input.ProjectionExpression).toBe('#pk, #sk, #until');
    expect(second?.input).toMatchObject({ Limit: 3, ExclusiveStartKey: { pk: 'x' } });
    await expect(vault.listDue(now, 0)).rejects.toBeInstanceOf(ContractError);
  });

  it('destroy deletes each vault key once, and refuses anything that is not a vault record', async () => {
    const { doc, commands } = fakeDoc();
    const vault = new DynamoVault(doc, { tableName: 'vault' });
    expect(await vault.destroy([due(1), due(2), due(1)])).toBe(2);
    const requests = (commands[0] as BatchWriteCommand).input.RequestItems?.vault ?? [];
    expect(requests.map((r) => r.DeleteRequest?.Key)).toEqual([
      { pk: due(1).pk, sk: 'RECORD' },
      { pk: due(2).pk, sk: 'RECORD' },
    ]);
    await expect(vault.destroy([suppressionKey('h')])).rejects.toBeInstanceOf(ContractError);
  });
});

describe('suppression', () => {
  it('puts one conditional item under the subject hash; a second erasure changes nothing', async () => {
    let exists = false;
    const { doc, commands } = fakeDoc((command) => {
      if (command instanceof PutCommand) {
        if (exists) throw Object.assign(new Error('exists'), { name: 'ConditionalCheckFailedException' });
        exists = true;
        return {};
      }
      if (command instanceof GetCommand) return { Item: exists ? { pk: 'x' } : undefined };
      throw new Error('unexpected');
    });
    const vault = new DynamoVault(doc, { tableName: 'vault' });
    expect(await vault.isSuppressed('hash-1')).toBe(false);
    const s = { subjectHash: 'hash-1', erasedAt: '2026-11-01T00:00:00.000Z', requestId: 'req_1' };
    await vault.suppress(s);
    await vault.suppress({ ...s, requestId: 'req_2' });
    expect(await vault.isSuppressed('hash-1')).toBe(true);
    const puts = commands.filter((c): c is PutCommand => c instanceof PutCommand);
    expect(puts[0]?.input).toMatchObject({
      Item: { pk: 'SUPPRESSION#hash-1', sk: 'SUPPRESSION', kind: 'suppression', ...s },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(puts[0]?.input.Item?.until).toBeUndefined();
  });

  it('passes other failures on', async () => {
    const { doc } = fakeDoc(() => {
      throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
    });
    await expect(
      new DynamoVault(doc, { tableName: 'vault' }).suppress({
        subjectHash: 'h',
        erasedAt: 'x',
        requestId: 'r',
      }),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});

test('keys and items are laid out as documented', async () => {
  expect(vaultKey('accounts', 'marketing-consents', 'r1')).toEqual({
    pk: 'VAULT#accounts#marketing-consents#r1',
    sk: 'RECORD',
  });
  const item = await toVaultItem(
    record(7, { until: '2031-01-01T09:00:00+09:00' }),
    new Date('2026-01-01T00:00:00Z'),
    new SharedKeySealer(writerKeys),
  );
  expect(item).toMatchObject({
    until: '2031-01-01T00:00:00.000Z',
    storedAt: '2026-01-01T00:00:00.000Z',
    sealed: { v: 2, alg: 'A256GCM', keyId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) },
  });
});

describe('sealed vault records', () => {
  const stored = () =>
    toVaultItem(
      record(3, { data: { txnId: 'txn-3', tags: new Set(['a']) } }),
      new Date(),
      new SharedKeySealer(writerKeys),
    );

  it('round-trip for the reader, sets kept as lists', async () => {
    const reader = new VaultReader(fakeDoc().doc, { tableName: 'vault', keys: readerKeys });
    const opened = await reader.openItem(await stored());
    expect(opened).toMatchObject({ store: 'payments', category: 'transactions', recordId: 'txn-3' });
    expect(opened.data).toEqual({ txnId: 'txn-3', tags: ['a'] });
  });

  it("do not open with a writer's grants", async () => {
    const writerAsReader = new VaultReader(fakeDoc().doc, { tableName: 'vault', keys: writerKeys });
    await expect(writerAsReader.openItem(await stored())).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('do not open under another entry (a sealed payload moved to another key)', async () => {
    const reader = new VaultReader(fakeDoc().doc, { tableName: 'vault', keys: readerKeys });
    const moved = { ...(await stored()), ...vaultKey('payments', 'transactions', 'txn-4') };
    await expect(reader.openItem(moved)).rejects.toMatchObject({ name: 'EnvelopeError' });
    // Nor under another store's key context (the data key was issued for the payments store).
    const elsewhere = { ...(await stored()), ...vaultKey('chat', 'transactions', 'txn-3') };
    await expect(reader.openItem(elsewhere)).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
  });

  it('share a data key: a writer asks for one per store, not one per record', async () => {
    const issued: string[] = [];
    const counting = {
      generateDataKey: async (context: Record<string, string>) => {
        issued.push(String(context['dsr:store']));
        return writerKeys.generateDataKey(context);
      },
    };
    const { doc } = fakeDoc();
    const vault = new DynamoVault(doc, { tableName: 'vault', keys: counting });
    await Promise.all(
      Array.from({ length: 60 }, (_, n) =>
        vault.put(record(n, { store: n % 2 === 0 ? 'payments' : 'chat', recordId: `r-${n}` })),
      ),
    );
    expect(issued.sort()).toEqual(['chat', 'payments']);
  });

  it('bind the data key to the vault, the store and a hash of the entry (no record id in the context)', () => {
    const context = vaultContext(vaultKey('payments', 'transactions', 'txn-3'));
    expect(Object.keys(context).sort()).toEqual(['dsr:entry', 'dsr:purpose', 'dsr:store']);
    expect(context).toMatchObject({ 'dsr:purpose': 'retention-vault', 'dsr:store': 'payments' });
    expect(JSON.stringify(context)).not.toContain('txn-3');
  });
});
