/**
 * Finding a service's accounts by user id, e-mail or phone: only inside that service. A service reads
 * its own accounts table when the data map gives it one, else the shared table, where other services'
 * accounts sit beside its own; the same e-mail or phone at two services is two people
 * (../shared/stores.md). Subject resolution and the API's jurisdiction lookup both use this.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV, platformStores } from '../../../config/data-map';
import { queryPages } from '../aws/dynamo-paging';
import { defaultServiceId } from '../services/profiles';
import { accountBelongsTo, type ServiceStores } from '../services/stores';

export type Account = Record<string, unknown>;

/** Where a service's accounts are read. */
export interface AccountsLocation {
  service: string;
  tableName: string;
  /** The service keeping the table as its own (an account there without `service` is its); else shared. */
  owner?: string;
}

export function accountsLocationOf(
  stores: Pick<ServiceStores, 'nameFor' | 'keepsOwn'>,
  service: string,
): AccountsLocation {
  return {
    service,
    tableName: stores.nameFor(service, ENV.accountsTable),
    ...(stores.keepsOwn(service, ENV.accountsTable) ? { owner: service } : {}),
  };
}

/** Whether an account read from the location is the location's service's. */
export function belongsHere(location: AccountsLocation, account: Account): boolean {
  return accountBelongsTo(account, location.service, location.owner);
}

/** The accounts of the service with these user ids (strongly consistent reads). */
export async function accountsByUserId(
  doc: DynamoDBDocumentClient,
  location: AccountsLocation,
  userIds: Iterable<string>,
): Promise<Account[]> {
  const accounts: Account[] = [];
  for (const userId of new Set(userIds)) {
    const { Item } = await doc.send(
      new GetCommand({
        TableName: location.tableName,
        Key: { [platformStores.accounts.table.partitionKey]: userId },
        ConsistentRead: true,
      }),
    );
    if (Item && belongsHere(location, Item)) accounts.push(Item);
  }
  return accounts;
}

/**
 * The service's accounts whose `email` or `phone` (through its index) equals `value`. The service is a
 * filter on the index query, so every page is read to the end: a page the filter empties still has a
 * next one, and stopping early (or a Limit, which DynamoDB applies before filtering) would miss accounts.
 */
export async function accountsByContact(
  doc: DynamoDBDocumentClient,
  location: AccountsLocation,
  attribute: 'email' | 'phone',
  value: string,
): Promise<Account[]> {
  const index = platformStores.accounts.table.indexes.find((i) => i.partitionKey === attribute);
  if (!index) throw new Error(`The accounts table has no index on ${attribute}`);
  // Accounts without `service` belong to the table's owner, or in the shared table to the default service.
  const unmarkedAreOurs = (location.owner ?? defaultServiceId()) === location.service;
  const items: Account[] = [];
  const pages = queryPages(doc, {
    TableName: location.tableName,
    IndexName: index.indexName,
    KeyConditionExpression: '#a = :v',
    FilterExpression: unmarkedAreOurs ? 'attribute_not_exists(#s) OR #s = :s' : '#s = :s',
    ExpressionAttributeNames: { '#a': attribute, '#s': 'service' },
    ExpressionAttributeValues: { ':v': value, ':s': location.service },
  });
  for await (const page of pages) items.push(...page);
  // The same rule as the filter, checked on what came back (an empty `service` is the unmarked case).
  return items.filter((item) => belongsHere(location, item));
}

/** E-mails are matched as stored and lower-cased, since users type them either way. */
export async function accountsByEmail(
  doc: DynamoDBDocumentClient,
  location: AccountsLocation,
  email: string,
): Promise<Account[]> {
  const typed = email.trim();
  const lower = typed.toLowerCase();
  const exact = await accountsByContact(doc, location, 'email', typed);
  const folded = lower === typed ? [] : await accountsByContact(doc, location, 'email', lower);
  const byId = new Map<string, Account>();
  for (const account of [...exact, ...folded]) byId.set(String(account.userId), account);
  return [...byId.values()];
}
