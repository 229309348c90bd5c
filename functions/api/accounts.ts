/**
 * The account's country, for a request's default jurisdiction. Only indexed lookups (user id, email,
 * phone): a device id or linked account would need a scan of the platform's table on the API's
 * request path, so those requests fall back to the configured default jurisdiction (or the caller's).
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SubjectInput } from '../lib/requests/records';

export interface AccountDirectory {
  /** The country of the one account the identifier names; undefined if none, several, or unknown. */
  countryOf(subject: SubjectInput): Promise<string | undefined>;
}

export class DynamoAccountDirectory implements AccountDirectory {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async countryOf(subject: SubjectInput): Promise<string | undefined> {
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
        Limit: 2,
      }),
    );
    return page.Items ?? [];
  }
}
