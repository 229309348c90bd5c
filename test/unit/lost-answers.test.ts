/**
 * A conditional write whose answer was lost (a reset or a timeout after DynamoDB did the work) is sent
 * again by the SDK, and then fails its own `attribute_not_exists` condition. For the append-only logs,
 * whose keys carry a random part of the call's own, that failure means the write landed: done, not an
 * error. The same writes, first attempt landed, are replayed here against an in-memory table.
 */
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { AuditLog } from '../../functions/lib/audit/audit-log';
import { EventLog } from '../../functions/lib/requests/event-log';
import { requestTable } from '../../functions/lib/requests/request-table';
import { fakeClient } from '../support/fake-client';

/** A table that stores each Put, loses the answer of the first one, and checks conditions as DynamoDB. */
function lossyTable(failure = 'ConditionalCheckFailedException') {
  const items = new Map<string, unknown>();
  let sent = 0;
  const send = async (command: unknown) => {
    if (!(command instanceof PutCommand)) throw new Error('unexpected command');
    const item = command.input.Item as { pk: string; sk: string };
    const key = `${item.pk}|${item.sk}`;
    sent += 1;
    if (items.has(key)) throw Object.assign(new Error('The conditional request failed'), { name: failure });
    items.set(key, item);
    // The SDK's own retry, after the first answer was lost, sends the very same command again.
    if (sent === 1) return send(command);
    return {};
  };
  const doc = fakeClient(DynamoDBDocumentClient, { send });
  return { table: requestTable(doc, 'dsr-requests'), items, sent: () => sent };
}

test.each([
  [
    'event log',
    (t: ReturnType<typeof lossyTable>['table']) =>
      new EventLog(t).append('req_1', { type: 'request.in_progress' }),
  ],
  [
    'audit log',
    (t: ReturnType<typeof lossyTable>['table']) =>
      new AuditLog(t).record({ actor: 'support', role: 'support', action: 'request.read' }),
  ],
])('%s: a retried write that landed the first time is done, and written once', async (_name, write) => {
  const lossy = lossyTable();
  await expect(write(lossy.table)).resolves.toBeUndefined();
  expect(lossy.sent()).toBe(2);
  expect(lossy.items.size).toBe(1);
});

test('any other failure still fails the write', async () => {
  const lossy = lossyTable('ValidationException');
  await expect(new EventLog(lossy.table).append('req_1', { type: 'request.in_progress' })).rejects.toThrow(
    'The conditional request failed',
  );
});
