/**
 * Accounts connector, collect side: the subject's profile, linked accounts and devices. Reads by key
 * (GetItem per user id), never scans. Secrets (password hash, linked-account tokens) never leave it.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CollectContext, CollectionSpec, Connector } from '../../shared/contract';

export interface AccountsConfig {
  tableName: string;
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

export function toExportedLinkedAccount(userId: string, linked: Item): Item {
  const out: Item = { userId };
  for (const [key, value] of Object.entries(linked)) {
    if (!SECRET_LINKED_ACCOUNT_ATTRIBUTES.has(key)) out[key] = value;
  }
  return out;
}

export function createAccountsConnector(doc: DynamoDBDocumentClient, config: AccountsConfig): Connector {
  return {
    store: 'accounts',
    async collect(ctx: CollectContext): Promise<void> {
      const profiles = ctx.collection(profileSpec);
      const linked = ctx.collection(linkedAccountsSpec);
      const devices = ctx.collection(devicesSpec);
      for (const userId of ctx.subject.identifiers.userIds) {
        const { Item: item } = await doc.send(
          new GetCommand({ TableName: config.tableName, Key: { userId }, ConsistentRead: true }),
        );
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
  };
}
