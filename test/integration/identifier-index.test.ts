/**
 * The identifier index on DynamoDB Local: subject resolution finds device ids and linked accounts through
 * it (no Scan of the accounts table), the accounts table's real stream keeps it right as accounts change,
 * and the stream handler is idempotent under redelivery and out-of-order records.
 */
import { randomBytes } from 'node:crypto';
import {
  DeleteCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { defaultResourceEnv, ENV, orchestratorResources, platformStores } from '../../config/data-map';
import { serviceStoresFromEnv } from '../../functions/lib/services/stores';
import {
  backfillIdentifierIndex,
  indexStreamRecords,
  type IndexerDeps,
} from '../../functions/index-identifiers/core';
import { identifierKey, LocalSubjectHasher } from '../../functions/lib/crypto/subject-hash';
import {
  IdentifierIndex,
  entryKeyOf,
  type IndexedIdentifier,
} from '../../functions/lib/identifiers/identifier-index';
import { EventLog } from '../../functions/lib/requests/event-log';
import type { SubjectInput } from '../../functions/lib/requests/records';
import { requestTable } from '../../functions/lib/requests/request-table';
import { RequestRepository } from '../../functions/lib/requests/requests';
import { findAccounts, type ResolveDeps } from '../../functions/resolve-subject/core';
import { startStreamPoller, type StreamPoller } from '../../local/dynamodb-stream';
import { startTestStores, type TestStores } from '../support/local-stores';

process.env.LOG_LEVEL ??= 'silent';

const ACCOUNTS = platformStores.accounts.table.tableName;
const INDEX = orchestratorResources.identifierIndexTable.tableName;

let stores: TestStores;
let indexer: IndexerDeps;
let resolve: ResolveDeps;
let poller: StreamPoller | undefined;
const hasher = new LocalSubjectHasher(randomBytes(32));

beforeAll(async () => {
  stores = await startTestStores();
  indexer = { doc: stores.doc, hasher, indexTable: INDEX, accountsTables: [{ tableName: ACCOUNTS }] };
  const requests = requestTable(stores.doc, orchestratorResources.requestsTable.tableName);
  resolve = {
    doc: stores.doc,
    s3: stores.s3,
    requests: new RequestRepository(requests),
    events: new EventLog(requests),
    hasher,
    stores: serviceStoresFromEnv({ ...defaultResourceEnv(), [ENV.accountsTable]: ACCOUNTS }),
    identifierIndex: new IdentifierIndex(stores.doc, INDEX, hasher),
    stagingBucket: orchestratorResources.stagingBucket,
    connectorFunctions: {},
  };
}, 120_000);

afterAll(async () => {
  await poller?.stop();
  await stores?.stop();
});

const device = (deviceId: string) => ({ deviceId, platform: 'ios', lastSeen: '2026-10-01T00:00:00Z' });
const linked = (provider: string, providerUserId: string) => ({
  provider,
  providerUserId,
  accessToken: 'secret-token',
  linkedAt: '2026-01-01T00:00:00Z',
});

/** The user ids resolution finds, counting the commands it sends to DynamoDB. */
async function resolveUserIds(subject: SubjectInput): Promise<{ userIds: string[]; commands: string[] }> {
  const commands: string[] = [];
  const doc = new Proxy(stores.doc, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver) as unknown;
      return (command: { constructor: { name: string } }) => {
        commands.push(command.constructor.name);
        return (target.send as (c: unknown) => Promise<unknown>)(command);
      };
    },
  }) as DynamoDBDocumentClient;
  const countingIndex = new IdentifierIndex(doc, INDEX, hasher);
  const accounts = await findAccounts(
    { ...resolve, doc, identifierIndex: countingIndex },
    'klub-outside',
    subject,
  );
  return { userIds: accounts.map((a) => String(a.userId)).sort(), commands };
}

/** Every entry of the index for one identifier, by account hash. */
async function entriesOf(identifier: IndexedIdentifier): Promise<Record<string, unknown>[]> {
  const identifierHash = await hasher.hash(entryKeyOf('klub-outside', identifier));
  const { Items = [] } = await stores.doc.send(
    new ScanCommand({
      TableName: INDEX,
      FilterExpression: 'identifierHash = :h',
      ExpressionAttributeValues: { ':h': identifierHash },
    }),
  );
  return Items;
}

const accountHashOf = (userId: string) => hasher.hash(identifierKey('userId', userId));

describe('resolution through the index, kept by the accounts stream', () => {
  beforeAll(async () => {
    for (const Item of [
      {
        userId: 'ix-anna',
        email: 'anna@example.com',
        devices: [device('dev-anna-1'), device('dev-anna-2')],
        externalAccounts: [linked('google', 'g-anna'), linked('line', 'l-anna')],
      },
      { userId: 'ix-ben', devices: [device('dev-ben')] },
      { userId: 'ix-cat', devices: [device('dev-family')] },
      { userId: 'ix-dan', devices: [device('dev-family')] },
    ]) {
      await stores.doc.send(new PutCommand({ TableName: ACCOUNTS, Item }));
    }
  });

  test('the backfill indexes existing accounts; resolution finds them by index, with no Scan', async () => {
    const result = await backfillIdentifierIndex(indexer);
    expect(result).toMatchObject({ accounts: 4, identifiers: 7, linked: 7 });

    const byDevice = await resolveUserIds({ deviceId: 'dev-anna-2' });
    expect(byDevice.userIds).toEqual(['ix-anna']);
    expect(byDevice.commands).toEqual(['QueryCommand', 'GetCommand']);
    const byLinked = await resolveUserIds({
      externalAccount: { provider: 'line', providerUserId: 'l-anna' },
    });
    expect(byLinked.userIds).toEqual(['ix-anna']);
    expect(byLinked.commands).not.toContain('ScanCommand');
    // Two accounts holding one device: both found, which resolve-subject refuses as a conflict.
    expect((await resolveUserIds({ deviceId: 'dev-family' })).userIds).toEqual(['ix-cat', 'ix-dan']);
    expect((await resolveUserIds({ deviceId: 'dev-nobody' })).userIds).toEqual([]);
    // A provider id matches only under its own provider.
    expect(
      (await resolveUserIds({ externalAccount: { provider: 'google', providerUserId: 'l-anna' } })).userIds,
    ).toEqual([]);

    // A second backfill changes nothing.
    expect(await backfillIdentifierIndex(indexer)).toMatchObject({ identifiers: 7, linked: 0 });
  });

  test('a device added, a device removed, a linked account removed and an account deleted: resolution follows', async () => {
    // The stream is read from its start: the puts above replay harmlessly over the backfill.
    poller = await startStreamPoller({
      endpoint: stores.ddbEndpoint,
      tableName: ACCOUNTS,
      handler: (event) => indexStreamRecords(indexer, event.Records),
      intervalMs: 20,
    });
    await poller.caughtUp();

    await stores.doc.send(
      new UpdateCommand({
        TableName: ACCOUNTS,
        Key: { userId: 'ix-anna' },
        UpdateExpression: 'SET devices = list_append(devices, :d)',
        ExpressionAttributeValues: { ':d': [device('dev-anna-3')] },
      }),
    );
    await poller.caughtUp();
    expect((await resolveUserIds({ deviceId: 'dev-anna-3' })).userIds).toEqual(['ix-anna']);

    // dev-anna-1 goes (the list is rewritten without it), and the google link with it.
    await stores.doc.send(
      new UpdateCommand({
        TableName: ACCOUNTS,
        Key: { userId: 'ix-anna' },
        UpdateExpression: 'REMOVE devices[0], externalAccounts[0]',
      }),
    );
    await poller.caughtUp();
    const removedDevice = { kind: 'deviceId', deviceId: 'dev-anna-1' } as const;
    const removedLink = { kind: 'externalAccount', provider: 'google', providerUserId: 'g-anna' } as const;
    for (const identifier of [removedDevice, removedLink]) {
      const entries = await entriesOf(identifier);
      expect(entries).toHaveLength(1);
      // Unlinked: only keyed hashes and the stream position remain, until the TTL removes it.
      expect(Object.keys(entries[0] ?? {}).sort()).toEqual([
        'accountHash',
        'expiresAt',
        'identifierHash',
        'sequence',
      ]);
    }
    expect((await resolveUserIds({ deviceId: 'dev-anna-1' })).userIds).toEqual([]);
    expect(
      (await resolveUserIds({ externalAccount: { provider: 'google', providerUserId: 'g-anna' } })).userIds,
    ).toEqual([]);
    expect(
      (await resolveUserIds({ externalAccount: { provider: 'line', providerUserId: 'l-anna' } })).userIds,
    ).toEqual(['ix-anna']);
    expect((await resolveUserIds({ deviceId: 'dev-anna-2' })).userIds).toEqual(['ix-anna']);

    // An account deleted: none of its entries names it any more, and the shared device has one owner.
    await stores.doc.send(new DeleteCommand({ TableName: ACCOUNTS, Key: { userId: 'ix-dan' } }));
    await poller.caughtUp();
    const danHash = await accountHashOf('ix-dan');
    const family = await entriesOf({ kind: 'deviceId', deviceId: 'dev-family' });
    expect(family.find((e) => e.accountHash === danHash)?.userId).toBeUndefined();
    expect((await resolveUserIds({ deviceId: 'dev-family' })).userIds).toEqual(['ix-cat']);

    // A device that moves from one account to another.
    await stores.doc.send(new DeleteCommand({ TableName: ACCOUNTS, Key: { userId: 'ix-ben' } }));
    await stores.doc.send(
      new PutCommand({ TableName: ACCOUNTS, Item: { userId: 'ix-eve', devices: [device('dev-ben')] } }),
    );
    await poller.caughtUp();
    expect((await resolveUserIds({ deviceId: 'dev-ben' })).userIds).toEqual(['ix-eve']);
  });

  test('resolution never names an account that no longer holds the identifier, even before the stream says so', async () => {
    await poller?.stop();
    poller = undefined;
    await stores.doc.send(
      new UpdateCommand({
        TableName: ACCOUNTS,
        Key: { userId: 'ix-eve' },
        UpdateExpression: 'REMOVE devices',
      }),
    );
    // The index still links dev-ben to ix-eve; the account itself says otherwise.
    expect((await entriesOf({ kind: 'deviceId', deviceId: 'dev-ben' })).some((e) => e.userId)).toBe(true);
    expect((await resolveUserIds({ deviceId: 'dev-ben' })).userIds).toEqual([]);
  });
});

describe('the stream handler is idempotent', () => {
  type Image = Record<string, unknown>;
  const record = (
    eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
    sequenceNumber: string,
    userId: string,
    images: { old?: Image; new?: Image },
  ): DynamoDBRecord => ({
    eventName,
    // As Lambda's event source mapping names it: the accounts table's stream.
    eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${ACCOUNTS}/stream/2026-11-01T00:00:00.000`,
    dynamodb: {
      Keys: marshall({ userId }) as never,
      SequenceNumber: sequenceNumber,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
      ...(images.old ? { OldImage: marshall(images.old, { removeUndefinedValues: true }) as never } : {}),
      ...(images.new ? { NewImage: marshall(images.new, { removeUndefinedValues: true }) as never } : {}),
    },
  });
  const apply = (...records: DynamoDBRecord[]) => indexStreamRecords(indexer, records);
  const linkedUserIds = async (identifier: IndexedIdentifier) =>
    (await entriesOf(identifier)).flatMap((e) => (typeof e.userId === 'string' ? [e.userId] : []));
  const dev = (deviceId: string) => ({ kind: 'deviceId', deviceId }) as const;

  test('the same record twice changes the index once', async () => {
    let now = new Date('2026-11-01T00:00:00Z');
    const clocked: IndexerDeps = { ...indexer, clock: () => now };
    const v1 = { userId: 'st-one', devices: [device('dev-st-one')] };
    const insert = record('INSERT', '1000', 'st-one', { new: v1 });
    expect(await indexStreamRecords(clocked, [insert])).toEqual({ batchItemFailures: [] });
    const linkedEntries = await entriesOf(dev('dev-st-one'));
    expect(linkedEntries).toEqual([
      expect.objectContaining({ userId: 'st-one', sequence: '1000'.padStart(40, '0') }),
    ]);
    expect(await indexStreamRecords(clocked, [insert, insert])).toEqual({ batchItemFailures: [] });
    expect(await entriesOf(dev('dev-st-one'))).toEqual(linkedEntries);

    const remove = record('REMOVE', '1001', 'st-one', { old: v1 });
    await indexStreamRecords(clocked, [remove]);
    const unlinked = await entriesOf(dev('dev-st-one'));
    expect(unlinked).toEqual([expect.not.objectContaining({ userId: expect.anything() })]);
    // Delivered again an hour later: a second write would have moved the tombstone's expiry.
    now = new Date('2026-11-01T01:00:00Z');
    await indexStreamRecords(clocked, [remove, insert]);
    expect(await entriesOf(dev('dev-st-one'))).toEqual(unlinked);
  });

  test('an older record after a newer one is refused, linking or unlinking', async () => {
    const v1 = { userId: 'st-two', devices: [device('dev-st-a')] };
    const v2 = { userId: 'st-two', devices: [device('dev-st-a'), device('dev-st-b')] };
    const v3 = { userId: 'st-two', devices: [device('dev-st-b')] };
    const insert = record('INSERT', '2001', 'st-two', { new: v1 });
    const addB = record('MODIFY', '2002', 'st-two', { old: v1, new: v2 });
    const dropA = record('MODIFY', '2003', 'st-two', { old: v2, new: v3 });
    // Newest first, then the older ones arrive (a retried batch, a redelivery).
    await apply(dropA);
    await apply(addB, insert);
    expect(await linkedUserIds(dev('dev-st-a'))).toEqual([]);
    expect(await linkedUserIds(dev('dev-st-b'))).toEqual(['st-two']);

    // Deleted, then a late copy of an older record: the account stays unlinked.
    const remove = record('REMOVE', '2010', 'st-two', { old: v3 });
    await apply(remove, addB);
    expect(await linkedUserIds(dev('dev-st-a'))).toEqual([]);
    expect(await linkedUserIds(dev('dev-st-b'))).toEqual([]);
    // And the backfill, which knows no stream position, never relinks what the stream unlinked.
    await stores.doc.send(new PutCommand({ TableName: ACCOUNTS, Item: v2 }));
    await backfillIdentifierIndex(indexer);
    expect(await linkedUserIds(dev('dev-st-a'))).toEqual([]);
  });

  test('a record it cannot apply is reported for the retry to start from; the others are applied', async () => {
    const good = record('INSERT', '3001', 'st-three', {
      new: { userId: 'st-three', devices: [device('dev-st-three')] },
    });
    // A MODIFY without its old image (a stream of NEW_IMAGE only): a removal could not be seen.
    const bad = record('MODIFY', '3002', 'st-three', { new: { userId: 'st-three', devices: [] } });
    const other = record('INSERT', '3003', 'st-four', {
      new: { userId: 'st-four', devices: [device('dev-st-four')] },
    });
    expect(await apply(good, bad, other)).toEqual({ batchItemFailures: [{ itemIdentifier: '3002' }] });
    expect(await linkedUserIds(dev('dev-st-three'))).toEqual(['st-three']);
    expect(await linkedUserIds(dev('dev-st-four'))).toEqual(['st-four']);
    // Retried from there, it fails again (and goes, in AWS, to the on-failure queue).
    expect(await apply(bad, other)).toEqual({ batchItemFailures: [{ itemIdentifier: '3002' }] });
  });
});
