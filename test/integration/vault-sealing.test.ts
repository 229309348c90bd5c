/**
 * The retention vault over DynamoDB Local: what a writer adds is stored sealed (no kept field in the
 * item), the sweep's keys-only index lists it without its data, the reader opens it, and the writer's
 * own grants cannot (the local stand-in of the vault key honours grants as IAM does).
 */
import { CreateTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { orchestratorResources } from '../../config/data-map';
import { LocalKeyStandIn } from '../../functions/lib/crypto/envelope';
import { DynamoVault, VaultReader } from '../../functions/lib/erasure/vault';
import { createTableInput } from '../../local/bootstrap';
import { startDynamoLocal, type RunningStore } from '../../local/stores';
import { localClients } from '../support/local-stores';

const key = Buffer.alloc(32, 3);
const writerKeys = new LocalKeyStandIn(key, new Set(['kms:GenerateDataKey']));
const readerKeys = new LocalKeyStandIn(key, new Set(['kms:Decrypt']));
const tableName = orchestratorResources.vaultTable.tableName;

let store: RunningStore;
let clients: ReturnType<typeof localClients>;

beforeAll(async () => {
  store = await startDynamoLocal({ port: 0, startTimeoutMs: 120_000 });
  clients = localClients(store.endpoint, 'http://127.0.0.1:1');
  await clients.dynamo.send(new CreateTableCommand(createTableInput(orchestratorResources.vaultTable)));
}, 180_000);

afterAll(async () => {
  await store?.stop();
});

test('a kept record is stored sealed, listed by key only, and opens for the reader alone', async () => {
  const vault = new DynamoVault(clients.doc, { tableName, keys: writerKeys });
  const data = { txnId: 'txn-9', amount: 1200, cardLast4: '4242' };
  await vault.put({
    store: 'payments',
    category: 'transactions',
    recordId: 'txn-9',
    until: '2030-01-01T00:00:00Z',
    basis: 'Act, Art. 6',
    data,
  });

  const { Items = [] } = await clients.dynamo.send(new ScanCommand({ TableName: tableName }));
  const stored = Items.map((i) => unmarshall(i));
  expect(stored).toHaveLength(1);
  expect(stored[0]).not.toHaveProperty('data');
  expect(JSON.stringify(stored[0])).not.toMatch(/4242|1200/);

  // The sweep's view: keys, expiry, provenance from the key; never the kept data.
  const due = await new DynamoVault(clients.doc, { tableName }).listDue(new Date('2031-01-01T00:00:00Z'), 10);
  expect(due).toEqual([
    {
      pk: 'VAULT#payments#transactions#txn-9',
      sk: 'RECORD',
      until: '2030-01-01T00:00:00.000Z',
      store: 'payments',
      category: 'transactions',
    },
  ]);

  const reader = new VaultReader(clients.doc, { tableName, keys: readerKeys });
  expect(await reader.read('payments', 'transactions', 'txn-9')).toMatchObject({
    recordId: 'txn-9',
    until: '2030-01-01T00:00:00.000Z',
    data,
  });
  const writerAsReader = new VaultReader(clients.doc, { tableName, keys: writerKeys });
  await expect(writerAsReader.read('payments', 'transactions', 'txn-9')).rejects.toMatchObject({
    name: 'AccessDeniedException',
  });
  await expect(reader.read('payments', 'transactions', 'txn-8')).rejects.toMatchObject({
    name: 'NotFoundError',
  });
}, 60_000);
