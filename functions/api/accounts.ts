/**
 * The account's country, for a request's default jurisdiction. Only indexed lookups (user id, email,
 * phone): a device id or linked account would need a scan of the platform's table on the API's
 * request path, so those requests fall back to the configured default jurisdiction (or the caller's).
 * Only the request's service's accounts count: another service's account with the same e-mail is
 * another person, and its country must not show through a request of this service.
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SubjectInput } from '../lib/requests/records';
import { serviceOfAccount } from '../lib/services/profiles';
import { ContractError } from '../lib/runtime/errors';

export interface AccountDirectory {
  /**
   * The country of the one account of `service` the identifier names; undefined if none, several, or
   * unknown.
   */
  countryOf(subject: SubjectInput, service: string): Promise<string | undefined>;
}

export class DynamoAccountDirectory implements AccountDirectory {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async countryOf(subject: SubjectInput, service: string): Promise<string | undefined> {
    let accounts: Record<string, unknown>[] = [];
    if ('userId' in subject) {
      const { Item } = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: { userId: subject.userId } }),
      );
      accounts = Item ? [Item] : [];
    } else if ('email' in subject) {
      accounts = await this.query('byEmail', 'email', subject.email.trim().toLowerCase());
      if (accounts.length === 0) accounts = await this.query('byEmail', 'email', subject.email.trim());
    } else if ('phone' in subject) {
      accounts = await this.query('byPhone', 'phone', subject.phone.trim());
    }
    accounts = accounts.filter((account) => belongsTo(account, service));
    if (accounts.length !== 1) return undefined;
    const country = accounts[0]?.country;
    return typeof country === 'string' && /^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$/.test(country) ? country : undefined;
  }

  private async query(
    indexName: string,
    attribute: string,
    value: string,
  ): Promise<Record<string, unknown>[]> {
    const page = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: indexName,
        KeyConditionExpression: '#a = :v',
        ExpressionAttributeNames: { '#a': attribute },
        ExpressionAttributeValues: { ':v': value },
        // One account per service at most, and a second of the request's to see it is ambiguous.
        Limit: 16,
      }),
    );
    return page.Items ?? [];
  }
}

/** Whether an account is of `service`; one naming a service this deployment does not serve is of none. */
function belongsTo(account: Record<string, unknown>, service: string): boolean {
  try {
    return serviceOfAccount(account) === service;
  } catch (error) {
    if (error instanceof ContractError) return false;
    throw error;
  }
}
