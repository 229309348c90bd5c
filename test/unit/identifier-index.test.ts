/**
 * The identifier index's keys and the changes a stream record makes to it, without a store: an external
 * account's provider and id are encoded so no two pairs share a key (or a hash), stream positions order
 * as numbers, and each record links what the new image holds and unlinks what it lost.
 */
import { randomBytes } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import fc from 'fast-check';
import { changesOf, tableOfRecord } from '../../functions/index-identifiers/core';
import { identifierKey, LocalSubjectHasher } from '../../functions/lib/crypto/subject-hash';
import {
  BACKFILL_SEQUENCE,
  entryKeyOf,
  indexedIdentifiersOf,
  indexKeyOf,
  sequenceKey,
  type IndexedIdentifier,
} from '../../functions/lib/identifiers/identifier-index';
import { ConfigError } from '../../functions/lib/runtime/config';
import { ContractError } from '../../functions/lib/runtime/errors';

const external = (provider: string, providerUserId: string): IndexedIdentifier => ({
  kind: 'externalAccount',
  provider,
  providerUserId,
});

describe('index keys', () => {
  test('a separator inside a provider or an id never makes two linked accounts one', async () => {
    const hasher = new LocalSubjectHasher(randomBytes(32));
    const ambiguous = [
      external('a:b', 'c'),
      external('a', 'b:c'),
      external('a', ':b:c'),
      external('a:b:', 'c'),
    ];
    const keys = new Set(ambiguous.map(indexKeyOf));
    expect(keys.size).toBe(ambiguous.length);
    const hashes = new Set(await Promise.all(ambiguous.map((i) => hasher.hash(indexKeyOf(i)))));
    expect(hashes.size).toBe(ambiguous.length);
    // The `provider:id` join of request and hold hashes (identifierKey) would have merged the first two.
    const joined = (provider: string, id: string) => identifierKey('externalAccount', `${provider}:${id}`);
    expect(joined('a:b', 'c')).toBe(joined('a', 'b:c'));
  });

  test('two identifiers share a key exactly when they are the same identifier', () => {
    // A small alphabet of separators and quotes, so that near-collisions come up often.
    const text = fc.string({ unit: fc.constantFrom('a', ':', '"', '\\', ',', '['), maxLength: 4 });
    const identifier = fc.oneof(
      text.map((deviceId): IndexedIdentifier => ({ kind: 'deviceId', deviceId })),
      fc.tuple(text, text).map(([p, u]) => external(p, u)),
    );
    fc.assert(
      fc.property(identifier, identifier, (x, y) => {
        expect(indexKeyOf(x) === indexKeyOf(y)).toBe(JSON.stringify(x) === JSON.stringify(y));
      }),
      { numRuns: 1000 },
    );
  });

  test('a device id and a linked account spelled alike stay apart, and apart from subject-hash keys', () => {
    const deviceKey = indexKeyOf({ kind: 'deviceId', deviceId: 'google:g-1' });
    expect(deviceKey).not.toBe(indexKeyOf(external('google', 'g-1')));
    expect(deviceKey).not.toBe(identifierKey('deviceId', 'google:g-1'));
    expect(indexKeyOf(external('google', 'g-1'))).not.toBe(identifierKey('externalAccount', 'google:g-1'));
  });

  test('a resolved set yields each device id and linked account once', () => {
    expect(
      indexedIdentifiersOf({
        userIds: ['u-1'],
        emails: ['a@example.com'],
        phones: [],
        deviceIds: ['d-1', 'd-1', 'd-2'],
        externalAccounts: [
          { provider: 'line', providerUserId: 'L1' },
          { provider: 'line', providerUserId: 'L1' },
        ],
      }),
    ).toEqual([
      { kind: 'deviceId', deviceId: 'd-1' },
      { kind: 'deviceId', deviceId: 'd-2' },
      external('line', 'L1'),
    ]);
  });
});

describe('stream positions', () => {
  test('order as strings the way their numbers do, after every backfilled link', () => {
    const sequence = fc.bigInt({ min: 1n, max: 10n ** 40n - 1n }).map((n) => n.toString());
    fc.assert(
      fc.property(sequence, sequence, (a, b) => {
        expect(sequenceKey(a) < sequenceKey(b)).toBe(BigInt(a) < BigInt(b));
        expect(BACKFILL_SEQUENCE < sequenceKey(a)).toBe(true);
      }),
    );
  });

  test('anything but a decimal string of up to 40 digits is refused', () => {
    for (const bad of ['', '12a', '-1', '1'.repeat(41)])
      expect(() => sequenceKey(bad)).toThrow(ContractError);
  });
});

describe('changes of a stream record', () => {
  type Image = Record<string, unknown>;
  const record = (
    eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
    images: { old?: Image; new?: Image },
  ): DynamoDBRecord => ({
    eventName,
    dynamodb: {
      Keys: marshall({ userId: 'u-1' }) as never,
      SequenceNumber: '42',
      ...(images.old ? { OldImage: marshall(images.old) as never } : {}),
      ...(images.new ? { NewImage: marshall(images.new) as never } : {}),
    },
  });
  const account = (devices: string[], links: [string, string][] = []) => ({
    userId: 'u-1',
    email: 'a@example.com',
    devices: devices.map((deviceId) => ({ deviceId, lastSeen: '2026-10-01' })),
    externalAccounts: links.map(([provider, providerUserId]) => ({
      provider,
      providerUserId,
      accessToken: 't',
    })),
  });
  const SHARED = { tableName: 'platform-accounts' };
  const summary = (r: DynamoDBRecord) =>
    changesOf(r, SHARED).map(
      (c) => `${c.linked ? '+' : '-'}${indexKeyOf(c.identifier)}@${c.userId}#${c.sequenceNumber}`,
    );

  test('an insert links every identifier of the new account', () => {
    expect(summary(record('INSERT', { new: account(['d-1'], [['line', 'L1']]) }))).toEqual([
      '+["deviceId","d-1"]@u-1#42',
      '+["externalAccount","line","L1"]@u-1#42',
    ]);
  });

  test('a modify links what the account holds and unlinks what it lost', () => {
    const before = account(['d-1', 'd-2'], [['line', 'L1']]);
    const after = account(['d-2', 'd-3']);
    expect(summary(record('MODIFY', { old: before, new: after })).sort()).toEqual([
      '+["deviceId","d-2"]@u-1#42',
      '+["deviceId","d-3"]@u-1#42',
      '-["deviceId","d-1"]@u-1#42',
      '-["externalAccount","line","L1"]@u-1#42',
    ]);
  });

  test('a modify that leaves the identifiers as they were changes nothing', () => {
    const before = account(['d-1'], [['line', 'L1']]);
    const after = { ...account(['d-1'], [['line', 'L1']]), nickname: 'new', devices: [{ deviceId: 'd-1' }] };
    expect(changesOf(record('MODIFY', { old: before, new: after }), SHARED)).toEqual([]);
  });

  test('a remove unlinks everything the account held', () => {
    expect(summary(record('REMOVE', { old: account(['d-1'], [['google', 'G1']]) }))).toEqual([
      '-["deviceId","d-1"]@u-1#42',
      '-["externalAccount","google","G1"]@u-1#42',
    ]);
  });

  test('a stream without old images is refused rather than followed half-blind', () => {
    expect(() => changesOf(record('MODIFY', { new: account(['d-1']) }), SHARED)).toThrow(ConfigError);
    expect(() => changesOf(record('REMOVE', {}), SHARED)).toThrow(ConfigError);
  });
});

describe('the service of an index entry', () => {
  const image = (extra: Record<string, unknown>) =>
    marshall({ userId: 'u-1', devices: [{ deviceId: 'd-1' }], ...extra }) as never;
  const record = (
    old: Record<string, unknown> | undefined,
    now: Record<string, unknown>,
  ): DynamoDBRecord => ({
    eventName: old ? 'MODIFY' : 'INSERT',
    eventSourceARN:
      'arn:aws:dynamodb:ap-northeast-1:123456789012:table/metalive-accounts/stream/2026-11-01T00:00:00.000',
    dynamodb: {
      Keys: marshall({ userId: 'u-1' }) as never,
      SequenceNumber: '7',
      ...(old ? { OldImage: image(old) } : {}),
      NewImage: image(now),
    },
  });
  const services = (r: DynamoDBRecord, table: { tableName: string; owner?: string }) =>
    changesOf(r, table).map((c) => `${c.linked ? '+' : '-'}${c.service}`);

  test("an account without `service` is its table owner's, else the default service's", () => {
    expect(services(record(undefined, {}), { tableName: 'metalive-accounts', owner: 'metalive' })).toEqual([
      '+metalive',
    ]);
    expect(services(record(undefined, {}), { tableName: 'platform-accounts' })).toEqual(['+klub-outside']);
    expect(services(record(undefined, { service: 'cluster' }), { tableName: 'platform-accounts' })).toEqual([
      '+cluster',
    ]);
  });

  test("an account moved to another service leaves the old service's entries and gains the new one's", () => {
    const moved = record({ service: 'cluster' }, { service: 'audiostock' });
    expect(services(moved, { tableName: 'platform-accounts' }).sort()).toEqual(['+audiostock', '-cluster']);
  });

  test('the same identifier at two services hashes to two partitions', async () => {
    const hasher = new LocalSubjectHasher(randomBytes(32));
    const device: IndexedIdentifier = { kind: 'deviceId', deviceId: 'd-1' };
    const a = await hasher.hash(entryKeyOf('cluster', device));
    const b = await hasher.hash(entryKeyOf('prism-project', device));
    expect(a).not.toBe(b);
  });

  test("a record's table is read from its stream ARN, and an unknown table is refused", () => {
    const tables = [
      { tableName: 'platform-accounts' },
      { tableName: 'metalive-accounts', owner: 'metalive' },
    ];
    expect(tableOfRecord({ accountsTables: tables }, record(undefined, {}))).toEqual(tables[1]);
    expect(() => tableOfRecord({ accountsTables: tables.slice(0, 1) }, record(undefined, {}))).toThrow(
      ConfigError,
    );
  });
});
