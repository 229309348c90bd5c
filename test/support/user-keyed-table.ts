/**
 * An in-memory DynamoDB table keyed by `userId` + `sk` (payments, marketing), for connector unit tests:
 * Query pages by key in sort-key order, BatchWriteItem deletes (at most 25 a request), UpdateItem
 * REMOVE; any other command fails. `unprocessedOnce` returns all but the first delete of one batch
 * as unprocessed, once.
 */
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ErasureContext } from '../../functions/lib/connectors/contract';
import { fakeClient } from './fake-client';

type Item = Record<string, unknown>;

export function fakeUserKeyedTable(
  tableName: string,
  items: Item[],
  options: { pageSize?: number; unprocessedOnce?: boolean } = {},
) {
  const pageSize = options.pageSize ?? 3;
  const key = (i: Item) => `${String(i.userId)}\u0000${String(i.sk)}`;
  const table = new Map(items.map((i) => [key(i), structuredClone(i)]));
  const log: string[] = [];
  let unprocessedOnce = options.unprocessedOnce ?? false;
  const send = async (command: unknown) => {
    if (command instanceof QueryCommand) {
      const userId = command.input.ExpressionAttributeValues?.[':userId'];
      const rows = [...table.values()]
        .filter((i) => i.userId === userId)
        .sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
      const after = command.input.ExclusiveStartKey?.sk as string | undefined;
      const rest = after === undefined ? rows : rows.filter((r) => String(r.sk) > after);
      const page = rest.slice(0, pageSize);
      const last = page[page.length - 1];
      return {
        Items: page.map((p) => structuredClone(p)),
        LastEvaluatedKey: rest.length > pageSize && last ? { userId, sk: last.sk } : undefined,
      };
    }
    if (command instanceof BatchWriteCommand) {
      const requests = command.input.RequestItems?.[tableName] ?? [];
      expect(requests.length).toBeLessThanOrEqual(25);
      const processed = unprocessedOnce ? requests.slice(0, 1) : requests;
      for (const r of processed) {
        const k = r.DeleteRequest?.Key;
        if (!k) throw new Error(`${tableName} only takes batched deletes`);
        log.push('delete');
        table.delete(key(k));
      }
      if (unprocessedOnce && requests.length > 1) {
        unprocessedOnce = false;
        return { UnprocessedItems: { [tableName]: requests.slice(1) } };
      }
      return {};
    }
    if (command instanceof UpdateCommand) {
      log.push('update');
      const item = table.get(key(command.input.Key as Item));
      if (!item) throw Object.assign(new Error('c'), { name: 'ConditionalCheckFailedException' });
      for (const alias of (command.input.UpdateExpression ?? '').replace('REMOVE ', '').split(', ')) {
        delete item[String(command.input.ExpressionAttributeNames?.[alias])];
      }
      return {};
    }
    throw new Error(`${tableName} must not be sent ${String(command)}`);
  };
  return { doc: fakeClient(DynamoDBDocumentClient, { send }), table, log };
}

/** The erasure context of a found subject with these user ids, at `now`. */
export function erasureContextFor(userIds: string[], now: Date): ErasureContext {
  return {
    requestId: 'req_1',
    subject: {
      requestId: 'req_1',
      subjectHash: 'h',
      found: true,
      pseudonymSalt: 's',
      identifiers: { userIds, emails: [], phones: [], deviceIds: [], externalAccounts: [] },
    },
    tombstone: 'erased-user-0',
    now: () => now,
  };
}
