import { DeleteCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  consentsRecordId,
  countCategories,
  createAccountsConnector,
} from '../../functions/connectors/accounts/core';
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
import type { Suppression } from '../../functions/lib/erasure/vault';
import { planEntriesFor } from '../support/erasure-plans';

type Item = Record<string, unknown>;
const NOW = new Date('2026-11-01T00:00:00.000Z');

function account(userId: string, consentsUpdatedAt = '2026-09-17T12:00:00.000Z'): Item {
  return {
    userId,
    email: `${userId}@example.com`,
    name: { first: 'A', last: 'B' },
    passwordHash: '$argon2id$secret',
    status: 'active',
    externalAccounts: [
      { provider: 'google', providerUserId: 'g-1', accessToken: 'tok' },
      { provider: 'line', providerUserId: 'l-1' },
    ],
    devices: [{ deviceId: 'd1' }, { deviceId: 'd2' }, { deviceId: 'd3' }],
    bankAccount: { bankName: 'KB', accountNumber: '004-24' },
    consents: { marketingEmail: true, personalizedAds: false, updatedAt: consentsUpdatedAt },
  };
}

/** An in-memory accounts table that understands GetItem, DeleteItem and UpdateItem REMOVE. */
function fakeTable(items: Item[]) {
  const table = new Map(items.map((i) => [String(i.userId), structuredClone(i)]));
  const writes: string[] = [];
  const send = async (command: unknown) => {
    if (command instanceof GetCommand) {
      const item = table.get(String(command.input.Key?.userId));
      return { Item: item ? structuredClone(item) : undefined };
    }
    if (command instanceof DeleteCommand) {
      writes.push('delete');
      table.delete(String(command.input.Key?.userId));
      return {};
    }
    if (command instanceof UpdateCommand) {
      writes.push('update');
      const item = table.get(String(command.input.Key?.userId));
      if (!item) throw Object.assign(new Error('cond'), { name: 'ConditionalCheckFailedException' });
      const expr = command.input.UpdateExpression ?? '';
      expect(expr.startsWith('REMOVE ')).toBe(true);
      for (const alias of expr.slice(7).split(', ')) {
        delete item[String(command.input.ExpressionAttributeNames?.[alias])];
      }
      return {};
    }
    throw new Error(`accounts must not send ${String(command)}`);
  };
  return { doc: { send } as unknown as DynamoDBDocumentClient, table, writes };
}

function erasureCtx(userIds: string[]): ErasureContext {
  return {
    requestId: 'req_1',
    subject: {
      requestId: 'req_1',
      subjectHash: 'subject-hash-1',
      found: true,
      pseudonymSalt: 's',
      identifiers: { userIds, emails: [], phones: [], deviceIds: [], externalAccounts: [] },
    },
    tombstone: 'erased-user-0000',
    now: () => NOW,
  };
}

/** The accounts entries of a real plan built from this inventory (other stores empty). */
function planFor(
  inv: Record<string, CategoryInventoryView>,
  jurisdiction: string,
  holds: HoldScope[] = [],
  now = NOW,
): PlanEntryView[] {
  return planEntriesFor('accounts', inv, { jurisdiction, holds, now });
}

function harness(items: Item[]) {
  const fake = fakeTable(items);
  const vaulted: VaultRecord[] = [];
  const suppressed: Suppression[] = [];
  const connector = createAccountsConnector(
    fake.doc,
    { tableName: 'platform-accounts' },
    { suppressions: { suppress: async (s) => void suppressed.push(s) } },
  );
  const erase = (userIds: string[], plan: PlanEntryView[], now = NOW) => {
    const ctx: EraseContext = {
      ...erasureCtx(userIds),
      now: () => now,
      plan,
      vault: { put: async (r) => void vaulted.push(structuredClone(r)) },
    };
    return connector.erase!(ctx);
  };
  const inventory = (userIds: string[]) => connector.inventory!(erasureCtx(userIds));
  return { ...fake, connector, vaulted, suppressed, erase, inventory };
}

describe('accounts inventory', () => {
  it('counts each category of every user id, with the consents record date', async () => {
    const h = harness([account('u-1'), account('u-2', '2026-01-01T00:00:00Z'), { userId: 'u-3' }]);
    const inv = await h.inventory(['u-1', 'u-2', 'u-3', 'u-missing', 'u-1']);
    expect(inv).toEqual({
      profile: { count: 3 },
      'linked-accounts': { count: 4 },
      devices: { count: 6 },
      'bank-account': { count: 2 },
      'marketing-consents': {
        count: 2,
        dates: {
          recordDate: [
            { at: '2026-09-17T12:00:00.000Z', count: 1 },
            { at: '2026-01-01T00:00:00.000Z', count: 1 },
          ],
        },
      },
    });
  });

  it('an item reduced to held attributes is no longer a profile; unknown attributes are profile', () => {
    expect(countCategories({ userId: 'u', devices: [{}] })).toMatchObject({ profile: 0, devices: 1 });
    expect(countCategories({ userId: 'u', favouriteColour: 'teal' })).toMatchObject({ profile: 1 });
    expect(countCategories({ userId: 'u', consents: { marketingEmail: true } })).toMatchObject({
      profile: 0,
      'marketing-consents': 1,
    });
  });
});

describe('accounts erase', () => {
  it('default jurisdiction: deletes the item, keeps nothing, records the suppression; re-run is harmless', async () => {
    const h = harness([account('u-1'), account('u-bob')]);
    const plan = planFor(await h.inventory(['u-1']), 'JP');
    const outcome = await h.erase(['u-1'], plan);
    expect(outcome.profile).toEqual({ deleted: 1, anonymised: 0, retained: 0, untouched: 0 });
    expect(outcome.devices?.deleted).toBe(3);
    expect(outcome['linked-accounts']?.deleted).toBe(2);
    expect(outcome['marketing-consents']?.deleted).toBe(1);
    expect(h.table.has('u-1')).toBe(false);
    expect(h.table.get('u-bob')).toEqual(account('u-bob'));
    expect(h.vaulted).toEqual([]);
    expect(h.suppressed).toEqual([
      { subjectHash: 'subject-hash-1', erasedAt: NOW.toISOString(), requestId: 'req_1' },
    ]);
    expect(Object.values(await h.inventory(['u-1'])).every((c) => c.count === 0)).toBe(true);

    const again = await h.erase(['u-1'], plan);
    expect(Object.values(again).every((o) => o.deleted + o.retained === 0)).toBe(true);
    expect(h.suppressed).toHaveLength(2); // the writer itself keeps the first (see vault tests)
  });

  it('KR: consents go to the vault with only the kept fields and their own expiry, then the item goes', async () => {
    const h = harness([account('u-1')]);
    const plan = planFor(await h.inventory(['u-1']), 'KR');
    expect(plan.find((e) => e.category === 'marketing-consents')?.action).toBe('retain');
    const outcome = await h.erase(['u-1'], plan);
    expect(outcome['marketing-consents']).toEqual({ deleted: 0, anonymised: 0, retained: 1, untouched: 0 });
    expect(h.vaulted).toEqual([
      {
        store: 'accounts',
        category: 'marketing-consents',
        recordId: consentsRecordId('subject-hash-1', 'u-1'),
        until: addDuration('2026-09-17T12:00:00.000Z', 'P6M').toISOString(),
        basis: expect.stringContaining('Consumer Protection in Electronic Commerce'),
        data: {
          consents: { marketingEmail: true, personalizedAds: false, updatedAt: '2026-09-17T12:00:00.000Z' },
        },
      },
    ]);
    expect(h.vaulted[0]?.recordId).not.toContain('u-1');
    expect(h.table.has('u-1')).toBe(false);
  });

  it('KR: consents whose 6 months have run out are just deleted', async () => {
    const h = harness([account('u-1', '2026-01-01T00:00:00.000Z')]);
    const plan = planFor(await h.inventory(['u-1']), 'KR');
    expect(plan.find((e) => e.category === 'marketing-consents')?.action).toBe('delete');
    const outcome = await h.erase(['u-1'], plan);
    expect(outcome['marketing-consents']?.deleted).toBe(1);
    expect(h.vaulted).toEqual([]);
  });

  it('a consent expiring between plan and erase is deleted, not vaulted (each record its own until)', async () => {
    const h = harness([account('u-1')]);
    const plan = planFor(await h.inventory(['u-1']), 'KR');
    const later = addDuration('2026-09-17T12:00:00.000Z', 'P6M');
    const outcome = await h.erase(['u-1'], plan, later);
    expect(outcome['marketing-consents']?.deleted).toBe(1);
    expect(h.vaulted).toEqual([]);
  });

  it('a hold on the profile keeps it and the item; other categories are removed from it', async () => {
    const h = harness([account('u-1')]);
    const hold = {
      holdId: 'h1',
      caseReference: 'C-1',
      stores: ['accounts' as const],
      categories: ['profile'],
    };
    const plan = planFor(await h.inventory(['u-1']), 'JP', [hold]);
    const outcome = await h.erase(['u-1'], plan);
    expect(outcome.profile).toEqual({ deleted: 0, anonymised: 0, retained: 0, untouched: 1 });
    const { externalAccounts, devices, bankAccount, consents, ...profile } = account('u-1');
    void [externalAccounts, devices, bankAccount, consents];
    expect(h.table.get('u-1')).toEqual(profile);
    expect(h.suppressed).toEqual([]);
    expect(await h.inventory(['u-1'])).toMatchObject({ profile: { count: 1 }, devices: { count: 0 } });
  });

  it('a hold on devices leaves only the devices (and the key); inventory then shows no profile', async () => {
    const h = harness([account('u-1')]);
    const hold = { holdId: 'h1', caseReference: 'C-1', categories: ['devices'] };
    const plan = planFor(await h.inventory(['u-1']), 'JP', [hold]);
    const outcome = await h.erase(['u-1'], plan);
    expect(outcome.devices?.untouched).toBe(3);
    expect(h.table.get('u-1')).toEqual({ userId: 'u-1', devices: account('u-1').devices });
    expect(await h.inventory(['u-1'])).toEqual({
      profile: { count: 0 },
      'linked-accounts': { count: 0 },
      devices: { count: 3 },
      'bank-account': { count: 0 },
      'marketing-consents': { count: 0 },
    });
  });

  it('a hold on the whole store touches nothing', async () => {
    const h = harness([account('u-1')]);
    const plan = planFor(await h.inventory(['u-1']), 'KR', [
      { holdId: 'h', caseReference: 'c', stores: ['accounts'] },
    ]);
    await h.erase(['u-1'], plan);
    expect(h.writes).toEqual([]);
    expect(h.vaulted).toEqual([]);
    expect(h.table.get('u-1')).toEqual(account('u-1'));
  });

  it('refuses to erase without a suppression list, and refuses anonymise', async () => {
    const { doc } = fakeTable([account('u-1')]);
    const bare = createAccountsConnector(doc, { tableName: 't' });
    const ctx = (plan: PlanEntryView[]): EraseContext => ({
      ...erasureCtx(['u-1']),
      plan,
      vault: { put: async () => undefined },
    });
    const plan = planFor(await bare.inventory!(erasureCtx(['u-1'])), 'JP');
    await expect(bare.erase!(ctx(plan))).rejects.toBeInstanceOf(ContractError);
    const h = harness([account('u-1')]);
    await expect(
      h.erase(['u-1'], [{ category: 'profile', action: 'anonymise', liveAction: 'anonymise' }]),
    ).rejects.toBeInstanceOf(ContractError);
    expect(h.writes).toEqual([]);
  });
});
