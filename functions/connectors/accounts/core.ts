/**
 * Accounts connector. Collect: the subject's profile, linked accounts and devices; secrets (password
 * hash, linked-account tokens) never leave it. Inventory and erase: the account item split into the
 * categories of STORE_CATEGORIES.accounts (see docs/policy.md): `linked-accounts` = externalAccounts,
 * `devices` = devices, `bank-account` = bankAccount, `marketing-consents` = consents, `profile` =
 * every other attribute and the item itself. Reads by key (GetItem per user id), never scans.
 */
import { createHash } from 'node:crypto';
import { DeleteCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type {
  CategoryInventoryView,
  CategoryOutcome,
  CollectContext,
  CollectionSpec,
  Connector,
  EraseContext,
  ErasureContext,
  RestrictContext,
  RestrictOutcome,
} from '../../lib/connectors/contract';
import { STORE_CATEGORIES } from '../../lib/erasure/types';
import { ContractError, TransientError, classifyAwsError } from '../../lib/runtime/errors';
import { planByCategory, vaultCopy, zeroOutcome } from '../../lib/erasure/erasure-plan';
import { removeAttributesIfPresent } from '../../lib/aws/dynamo-paging';
import { pickKept, type SuppressionWriter } from '../../lib/erasure/vault';

export interface AccountsConfig {
  tableName: string;
}

export interface AccountsDeps {
  /** Where erase records the subject as erased (by keyed hash only). Required for erase. */
  suppressions?: SuppressionWriter;
}

/** Attributes that are secrets: dropped wherever they appear. */
const SECRET_ATTRIBUTES = new Set(['passwordHash']);
const SECRET_LINKED_ACCOUNT_ATTRIBUTES = new Set(['accessToken', 'refreshToken', 'idToken', 'secret']);

const profileSpec: CollectionSpec = {
  name: 'profile',
  description: 'Your account profile: name, contact details, preferences and consents.',
  tabular: false,
  recordSchema: {
    type: 'object',
    required: ['userId'],
    properties: {
      userId: { type: 'string' },
      email: { type: 'string' },
      phone: { type: 'string' },
      name: { type: 'object', properties: { first: { type: 'string' }, last: { type: 'string' } } },
      nickname: { type: 'string' },
      postalCode: { type: 'string' },
      address: { type: 'string' },
      birthday: { type: 'string', description: 'MM-DD, no year' },
      gender: { type: 'string' },
      country: { type: 'string' },
      locale: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      status: { type: 'string' },
      deletedAt: { type: 'string' },
      guardianUserId: { type: 'string' },
      bankAccount: { type: 'object' },
      consents: { type: 'object' },
    },
    additionalProperties: true,
  },
};

const linkedAccountsSpec: CollectionSpec = {
  name: 'linked-accounts',
  description: 'External accounts you linked (provider and your id there; access tokens are never included).',
  tabular: true,
  recordSchema: {
    type: 'object',
    required: ['provider'],
    properties: {
      userId: { type: 'string' },
      provider: { type: 'string' },
      providerUserId: { type: 'string' },
      linkedAt: { type: 'string' },
    },
    additionalProperties: true,
  },
};

const devicesSpec: CollectionSpec = {
  name: 'devices',
  description: 'Devices you used, with when we first and last saw them.',
  tabular: true,
  recordSchema: {
    type: 'object',
    properties: {
      userId: { type: 'string' },
      deviceId: { type: 'string' },
      platform: { type: 'string' },
      firstSeen: { type: 'string' },
      lastSeen: { type: 'string' },
    },
    additionalProperties: true,
  },
};

type Item = Record<string, unknown>;

function isRecord(value: unknown): value is Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The profile as exported: every attribute but secrets; lists exported as their own collections. */
export function toExportedProfile(item: Item): Item {
  const profile: Item = {};
  for (const [key, value] of Object.entries(item)) {
    if (SECRET_ATTRIBUTES.has(key) || key === 'externalAccounts' || key === 'devices') continue;
    profile[key] = value;
  }
  return profile;
}

function toExportedLinkedAccount(userId: string, linked: Item): Item {
  const out: Item = { userId };
  for (const [key, value] of Object.entries(linked)) {
    if (!SECRET_LINKED_ACCOUNT_ATTRIBUTES.has(key)) out[key] = value;
  }
  return out;
}

type AccountsCategory = (typeof STORE_CATEGORIES.accounts)[number];

const KEY_ATTRIBUTE = 'userId';

/** Attributes that make up a category of their own; every other attribute is the profile. */
const CATEGORY_ATTRIBUTES: Readonly<Record<Exclude<AccountsCategory, 'profile'>, string>> = {
  'linked-accounts': 'externalAccounts',
  devices: 'devices',
  'bank-account': 'bankAccount',
  'marketing-consents': 'consents',
};

function categoryOfAttribute(attribute: string): AccountsCategory {
  for (const [category, name] of Object.entries(CATEGORY_ATTRIBUTES)) {
    if (name === attribute) return category as AccountsCategory;
  }
  return 'profile';
}

function listLength(value: unknown): number {
  if (Array.isArray(value)) return value.length;
  if (value instanceof Set) return value.size;
  return 0;
}

/** The subject's records per category in one account item (what erase removes, counted the same way). */
export function countCategories(item: Item): Record<AccountsCategory, number> {
  const attributes = Object.keys(item).filter((a) => a !== KEY_ATTRIBUTE);
  // An item reduced to what a hold keeps (no profile attribute left) is no longer a profile.
  const hasProfile = attributes.length === 0 || attributes.some((a) => categoryOfAttribute(a) === 'profile');
  return {
    profile: hasProfile ? 1 : 0,
    'linked-accounts': listLength(item.externalAccounts),
    devices: listLength(item.devices),
    'bank-account': item.bankAccount !== undefined && item.bankAccount !== null ? 1 : 0,
    'marketing-consents': isRecord(item.consents) ? 1 : 0,
  };
}

function validInstant(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

/**
 * The consents' record date. Without a readable `updatedAt` the consents changed at the latest now,
 * so retention runs from now: never shorter than the statute asks.
 */
function consentsDate(item: Item, now: Date): string {
  const consents = isRecord(item.consents) ? item.consents : {};
  return validInstant(consents.updatedAt) ?? now.toISOString();
}

/** A stable vault id for the subject's consents: findable by subject hash, not revealing the user id. */
export function consentsRecordId(subjectHash: string, userId: string): string {
  const digest = createHash('sha256').update(`${subjectHash}\u0000${userId}`).digest('hex').slice(0, 32);
  return `${subjectHash}.${digest}`;
}

export function createAccountsConnector(
  doc: DynamoDBDocumentClient,
  config: AccountsConfig,
  deps: AccountsDeps = {},
): Connector {
  const getItem = async (userId: string): Promise<Item | undefined> => {
    try {
      const { Item: item } = await doc.send(
        new GetCommand({ TableName: config.tableName, Key: { userId }, ConsistentRead: true }),
      );
      return item;
    } catch (error) {
      throw classifyAwsError(error);
    }
  };

  return {
    store: 'accounts',
    async collect(ctx: CollectContext): Promise<void> {
      const profiles = ctx.collection(profileSpec);
      const linked = ctx.collection(linkedAccountsSpec);
      const devices = ctx.collection(devicesSpec);
      for (const userId of ctx.subject.identifiers.userIds) {
        const item = await getItem(userId);
        if (!item) continue;
        await profiles.write(toExportedProfile(item));
        const externalAccounts: unknown[] = Array.isArray(item.externalAccounts) ? item.externalAccounts : [];
        for (const account of externalAccounts) {
          if (isRecord(account)) await linked.write(toExportedLinkedAccount(userId, account));
        }
        const deviceList: unknown[] = Array.isArray(item.devices) ? item.devices : [];
        for (const device of deviceList) {
          if (isRecord(device)) await devices.write({ userId, ...device });
        }
      }
    },

    async inventory(ctx: ErasureContext): Promise<Record<string, CategoryInventoryView>> {
      const out: Record<AccountsCategory, CategoryInventoryView> = {
        profile: { count: 0 },
        'linked-accounts': { count: 0 },
        devices: { count: 0 },
        'bank-account': { count: 0 },
        'marketing-consents': { count: 0 },
      };
      const recordDates: { at: string; count: number }[] = [];
      for (const userId of new Set(ctx.subject.identifiers.userIds)) {
        const item = await getItem(userId);
        if (!item) continue;
        const counts = countCategories(item);
        for (const category of STORE_CATEGORIES.accounts) out[category].count += counts[category];
        if (counts['marketing-consents'] > 0)
          recordDates.push({ at: consentsDate(item, ctx.now()), count: 1 });
      }
      if (recordDates.length > 0) out['marketing-consents'].dates = { recordDate: recordDates };
      return out;
    },

    async erase(ctx: EraseContext): Promise<Record<string, CategoryOutcome>> {
      const plan = planByCategory('accounts', ctx.plan, { canAnonymise: false });
      const action = (category: AccountsCategory) => plan.get(category)?.action ?? 'none';
      const profileHeld = action('profile') === 'held';
      if (!profileHeld && !deps.suppressions)
        throw new ContractError('The accounts connector has no suppression list to erase into');
      const outcome = Object.fromEntries(STORE_CATEGORIES.accounts.map((c) => [c, zeroOutcome()])) as Record<
        AccountsCategory,
        CategoryOutcome
      >;
      const now = ctx.now();

      for (const userId of new Set(ctx.subject.identifiers.userIds)) {
        const item = await getItem(userId);
        if (!item) continue;
        const counts = countCategories(item);
        for (const category of STORE_CATEGORIES.accounts) {
          const count = counts[category];
          if (count === 0) continue;
          const entry = plan.get(category);
          if (entry?.action === 'held') {
            outcome[category].untouched += count;
          } else if (entry?.action === 'retain' && entry.rule) {
            // Copied to the vault first: the item is removed only after every kept copy is stored.
            const copy = vaultCopy(entry.rule, consentsDate(item, now), now, {
              store: 'accounts',
              category,
              recordId: consentsRecordId(ctx.subject.subjectHash, userId),
              data: (keep) => pickKept(item, keep),
            });
            if (copy) {
              await ctx.vault.put(copy);
              outcome[category].retained += count;
            } else {
              outcome[category].deleted += count;
            }
          } else {
            // delete, and `none` (nothing there when planned): the account goes as a whole.
            outcome[category].deleted += count;
          }
        }

        // Only a held category's attributes stay; the key stays only if something does.
        const remove = Object.keys(item).filter(
          (a) => a !== KEY_ATTRIBUTE && action(categoryOfAttribute(a)) !== 'held',
        );
        const stays = Object.keys(item).filter((a) => a !== KEY_ATTRIBUTE && !remove.includes(a));
        if (stays.length === 0 && !profileHeld) {
          try {
            await doc.send(new DeleteCommand({ TableName: config.tableName, Key: { userId } }));
          } catch (error) {
            throw classifyAwsError(error);
          }
        } else {
          await removeAttributesIfPresent(doc, config.tableName, { userId }, remove);
        }
        await ctx.betweenBatches?.();
      }

      if (!profileHeld && deps.suppressions) {
        await deps.suppressions.suppress({
          subjectHash: ctx.subject.subjectHash,
          erasedAt: now.toISOString(),
          requestId: ctx.requestId,
        });
      }
      return outcome;
    },

    /**
     * Writes the consents named (a restriction or its lifting) and stamps `consents.updatedAt`; the other
     * consents stay as they are. A deleted account is left alone. Conditional on the consents read, so a
     * change the person made meanwhile is not overwritten by a stale copy: the step is retried instead.
     */
    async restrict(ctx: RestrictContext): Promise<RestrictOutcome> {
      let accounts = 0;
      let previous: RestrictOutcome['previous'];
      for (const userId of new Set(ctx.subject.identifiers.userIds)) {
        const item = await getItem(userId);
        if (!item || item.status === 'deleted') continue;
        const current = isRecord(item.consents) ? item.consents : undefined;
        const before: NonNullable<RestrictOutcome['previous']> = {};
        for (const name of ['marketingEmail', 'personalizedAds'] as const)
          if (typeof current?.[name] === 'boolean') before[name] = current[name];
        previous ??= before;
        const next = { ...(current ?? {}), ...ctx.consents, updatedAt: ctx.now().toISOString() };
        try {
          await doc.send(
            new UpdateCommand({
              TableName: config.tableName,
              Key: { userId },
              UpdateExpression: 'SET consents = :next',
              ConditionExpression: current
                ? 'attribute_exists(userId) AND consents = :current'
                : 'attribute_exists(userId) AND attribute_not_exists(consents)',
              ExpressionAttributeValues: { ':next': next, ...(current ? { ':current': current } : {}) },
            }),
          );
        } catch (error) {
          if ((error as { name?: string }).name === 'ConditionalCheckFailedException')
            throw new TransientError('The consents changed while they were being set');
          throw classifyAwsError(error);
        }
        accounts += 1;
      }
      return { accounts, ...(previous ? { previous } : {}) };
    },
  };
}
