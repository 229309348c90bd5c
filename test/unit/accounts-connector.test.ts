import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createAccountsConnector, toExportedProfile } from '../../functions/connectors/accounts/core';
import { fakeCollect } from '../support/fake-collect';

const alice = {
  userId: 'u-1',
  email: 'a@example.com',
  phone: '+821012345678',
  name: { first: 'A', last: 'B' },
  passwordHash: '$argon2id$v=19$secret-hash',
  externalAccounts: [
    {
      provider: 'google',
      providerUserId: 'g-1',
      accessToken: 'ya29.secret-token',
      linkedAt: '2025-01-01T00:00:00Z',
    },
    { provider: 'discord', providerUserId: 'd-1' },
  ],
  devices: [
    {
      deviceId: 'dev-1',
      platform: 'ios',
      firstSeen: '2025-01-01T00:00:00Z',
      lastSeen: '2026-01-01T00:00:00Z',
    },
  ],
  favouriteColour: 'teal',
};

function fakeDoc(items: Record<string, Record<string, unknown>>): DynamoDBDocumentClient {
  return {
    send: async (command: unknown) => {
      if (!(command instanceof GetCommand)) throw new Error('accounts must only GetItem');
      return { Item: items[String(command.input.Key?.userId)] };
    },
  } as unknown as DynamoDBDocumentClient;
}

test('collects profile, linked accounts and devices; secrets never leave', async () => {
  const { ctx, collections } = fakeCollect({ userIds: ['u-1'] });
  await createAccountsConnector(fakeDoc({ 'u-1': alice }), { tableName: 't' }).collect(ctx);

  const profile = collections.get('profile')?.records ?? [];
  expect(profile).toHaveLength(1);
  expect(profile[0]).toMatchObject({ userId: 'u-1', email: 'a@example.com', favouriteColour: 'teal' });
  expect(collections.get('linked-accounts')?.records).toEqual([
    { userId: 'u-1', provider: 'google', providerUserId: 'g-1', linkedAt: '2025-01-01T00:00:00Z' },
    { userId: 'u-1', provider: 'discord', providerUserId: 'd-1' },
  ]);
  expect(collections.get('devices')?.records).toEqual([{ userId: 'u-1', ...alice.devices[0] }]);

  const everything = JSON.stringify([...collections.values()].map((c) => c.records));
  expect(everything).not.toContain('secret-hash');
  expect(everything).not.toContain('secret-token');
  expect(everything).not.toContain('passwordHash');
  expect(everything).not.toContain('accessToken');
});

test('an id with no account, or an item missing optional attributes, is handled', async () => {
  const { ctx, collections } = fakeCollect({ userIds: ['u-gone', 'u-2'] });
  await createAccountsConnector(fakeDoc({ 'u-2': { userId: 'u-2', externalAccounts: 'garbage' } }), {
    tableName: 't',
  }).collect(ctx);
  expect(collections.get('profile')?.records).toEqual([{ userId: 'u-2' }]);
  expect(collections.get('linked-accounts')?.records).toEqual([]);
  expect(collections.get('devices')?.records).toEqual([]);
});

test('toExportedProfile keeps unknown attributes but drops secrets and the listed collections', () => {
  expect(
    toExportedProfile({ userId: 'x', passwordHash: 'h', devices: [], externalAccounts: [], extra: 1 }),
  ).toEqual({
    userId: 'x',
    extra: 1,
  });
});
