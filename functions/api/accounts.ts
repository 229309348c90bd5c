/**
 * The account's country, for a request's default jurisdiction. Only indexed lookups (user id, email,
 * phone), and only among the accounts of the request's service (another service's account with the
 * same e-mail is another person): a device id or linked account would need the identifier index on the
 * API's request path, so those requests fall back to the configured default jurisdiction (or the caller's).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SubjectInput } from '../lib/requests/records';
import {
  accountsByContact,
  accountsByEmail,
  accountsByUserId,
  accountsLocationOf,
  type Account,
} from '../lib/identifiers/account-lookup';
import { serviceProfile } from '../lib/services/profiles';
import type { ServiceStores } from '../lib/services/stores';

/** What the API reads of the account a request names: who may ask, and where to tell the person. */
export interface AccountFacts {
  userId: string;
  country?: string;
  email?: string;
  locale?: string;
  /** Set on a minor's account: the guardian's userId (../shared/stores.md). */
  guardianUserId?: string;
}

export interface AccountDirectory {
  /**
   * The country of the one account of the service (the deployment's default service when none is
   * named) the identifier names; undefined if none, several, or unknown.
   */
  countryOf(subject: SubjectInput, service?: string): Promise<string | undefined>;
  /** The one account of the service the identifier names (or a user id names), else undefined. */
  accountOf(subject: SubjectInput, service?: string): Promise<AccountFacts | undefined>;
}

/** The account's country when it is a jurisdiction code (a request's default jurisdiction). */
export function countryOfAccount(account: AccountFacts | undefined): string | undefined {
  const country = account?.country;
  return country && /^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$/.test(country) ? country : undefined;
}

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

export class DynamoAccountDirectory implements AccountDirectory {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly stores: Pick<ServiceStores, 'nameFor' | 'keepsOwn'>,
  ) {}

  async countryOf(subject: SubjectInput, service?: string): Promise<string | undefined> {
    return countryOfAccount(await this.accountOf(subject, service));
  }

  async accountOf(subject: SubjectInput, service?: string): Promise<AccountFacts | undefined> {
    const location = accountsLocationOf(this.stores, serviceProfile(service).id);
    let accounts: Account[] = [];
    if ('userId' in subject) accounts = await accountsByUserId(this.doc, location, [subject.userId]);
    else if ('email' in subject) accounts = await accountsByEmail(this.doc, location, subject.email);
    else if ('phone' in subject)
      accounts = await accountsByContact(this.doc, location, 'phone', subject.phone.trim());
    const account = accounts.length === 1 ? accounts[0] : undefined;
    const userId = text(account?.userId);
    if (!account || !userId) return undefined;
    return {
      userId,
      country: text(account.country),
      email: text(account.email),
      locale: text(account.locale),
      guardianUserId: text(account.guardianUserId),
    };
  }
}
