/**
 * Helpers for stores whose items sit under the subject's user id with a sort key `<instant>#<id>`
 * (payments, marketing): every item of the subject is read by Query on the partition key, never a Scan;
 * a record's date comes from its own attribute, else the sort key's prefix.
 */
import { createHash } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryPages, type Item } from '../aws/dynamo-paging';
import { classifyAwsError } from '../runtime/errors';

/** Every item under each of the user ids (each id once), a page at a time, strongly consistent. */
export async function* userPartitionPages(
  doc: DynamoDBDocumentClient,
  tableName: string,
  userIds: readonly string[],
): AsyncGenerator<Item[]> {
  for (const userId of new Set(userIds)) {
    try {
      for await (const items of queryPages(doc, {
        TableName: tableName,
        KeyConditionExpression: '#userId = :userId',
        ExpressionAttributeNames: { '#userId': 'userId' },
        ExpressionAttributeValues: { ':userId': userId },
        ConsistentRead: true,
      })) {
        yield items;
      }
    } catch (error) {
      throw classifyAwsError(error);
    }
  }
}

export function validInstant(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

/**
 * A record's date: its `attribute`, else the sort key's `<instant>#` prefix. Neither readable: now, so a
 * retention runs from now (never shorter than the statute asks).
 */
export function recordInstant(item: Item, attribute: string, now: Date): string {
  const sk = typeof item.sk === 'string' ? item.sk.slice(0, Math.max(0, item.sk.indexOf('#'))) : undefined;
  return validInstant(item[attribute]) ?? validInstant(sk) ?? now.toISOString();
}

/** The record's own id when it has one; else one derived from its key, hashed so it carries no user id. */
export function recordIdOf(item: Item, idAttribute: string): string {
  const id = item[idAttribute];
  if (typeof id === 'string' && id !== '') return id;
  const digest = createHash('sha256')
    .update(`${String(item.userId)}\u0000${String(item.sk)}`)
    .digest('hex');
  return `key-${digest.slice(0, 32)}`;
}

/** Groups per UTC day; `at` is the latest instant of the day's records (DatedGroup's rule). */
export function groupByDay(instants: readonly string[]): { at: string; count: number }[] {
  const days = new Map<string, { at: string; count: number }>();
  for (const at of instants) {
    const day = at.slice(0, 10);
    const group = days.get(day);
    if (!group) days.set(day, { at, count: 1 });
    else {
      group.count += 1;
      if (at > group.at) group.at = at;
    }
  }
  return [...days.values()].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}
