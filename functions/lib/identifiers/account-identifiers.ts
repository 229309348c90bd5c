/**
 * The identifiers an account item holds, as the connectors receive them: its user id, email, phone,
 * device ids and linked external accounts. Read from the item as the platform stores it (any attribute
 * may be missing or malformed on old items: what is not a non-empty string is not an identifier).
 */
import type { SubjectIdentifiers } from '../connectors/contract';

export type AccountItem = Record<string, unknown>;

function recordsOf(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null)
    : [];
}

const text = (v: unknown): string[] => (typeof v === 'string' && v !== '' ? [v] : []);

export function identifiersOf(account: AccountItem): SubjectIdentifiers {
  return {
    userIds: text(account.userId),
    emails: text(account.email),
    phones: text(account.phone),
    deviceIds: recordsOf(account.devices).flatMap((d) => text(d.deviceId)),
    externalAccounts: recordsOf(account.externalAccounts).flatMap((x) =>
      typeof x.provider === 'string' && typeof x.providerUserId === 'string'
        ? [{ provider: x.provider, providerUserId: x.providerUserId }]
        : [],
    ),
  };
}

export const EMPTY_IDENTIFIERS: SubjectIdentifiers = {
  userIds: [],
  emails: [],
  phones: [],
  deviceIds: [],
  externalAccounts: [],
};
