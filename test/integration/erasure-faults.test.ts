/**
 * Erasure faults injected through the local workflows' interceptor (the real ASL, stores and handlers).
 * - A connector fails mid-erasure (its erase ran, then a TransientError): the step retries, the run
 *   completes without double effects, and the end state is a clean run's (vault counts = the plan's).
 * - Verification catches a planted leftover (one of his messages written back after the chat erase):
 *   the request fails with ERASURE_VERIFICATION_FAILED naming chat, and no certificate is issued.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { platformStores } from '../../config/data-map';
import type { ConnectorTaskInput } from '../../functions/lib/connectors/contract';
import { TransientError } from '../../functions/lib/runtime/errors';
import { startTestStack, type TestStack } from '../support/local-stack';
import {
  certCategory,
  checkOthersUntouched,
  identifierTokens,
  snapshot,
  vaultCounts,
  type CertCategory,
} from './erasure-helpers';

let stack: TestStack;
let mode: 'none' | 'transient' | 'leftover' = 'none';
const calls: string[] = [];

beforeAll(async () => {
  stack = await startTestStack({
    workflows: {
      retryIntervalOverrides: { EraseStore: 20 },
      interceptor: async (fn, payload, invoke) => {
        const input = payload as Partial<ConnectorTaskInput>;
        if (input.operation !== 'erase') return invoke();
        calls.push(`${fn}:${input.requestId ?? ''}`);
        const attempts = calls.filter((c) => c === `${fn}:${input.requestId ?? ''}`).length;
        const result = await invoke();
        if (
          mode === 'transient' &&
          attempts === 1 &&
          (fn === 'dsr-connector-payments' || fn === 'dsr-connector-chat')
        ) {
          // The store was changed, then the Lambda died before answering.
          throw new TransientError('injected after the erase did its work');
        }
        if (mode === 'leftover' && fn === 'dsr-connector-chat') {
          await stack.doc.send(
            new PutCommand({
              TableName: platformStores.chat.messagesTable.tableName,
              Item: {
                roomId: 'room-dm-alice-bob',
                sk: '2026-01-01T00:00:00.000Z#msg-planted',
                messageId: 'msg-planted',
                sentAt: '2026-01-01T00:00:00.000Z',
                senderId: 'u-bob',
                body: 'written back after the erase',
              },
            }),
          );
        }
        return result;
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

test('a connector failing after doing its work is retried; no double effects; a clean end state', async () => {
  mode = 'transient';
  const tokens = await identifierTokens(stack, 'u-alice');
  const before = await snapshot(stack);
  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'erasure', service: 'klub-outside', subject: { userId: 'u-alice' }, jurisdiction: 'KR' },
  });
  const requestId = String(created.body.requestId);
  const done = await stack.waitForStatus(requestId, ['completed', 'partially_completed', 'failed'], 70_000);
  mode = 'none';
  expect(done.failure).toBeUndefined();
  expect(done.status).toBe('partially_completed');
  // Each failing store's erase ran twice; the others once.
  const count = (fn: string) => calls.filter((c) => c === `${fn}:${requestId}`).length;
  expect([
    count('dsr-connector-payments'),
    count('dsr-connector-chat'),
    count('dsr-connector-accounts'),
  ]).toEqual([2, 2, 1]);

  // The end state is a clean run's: nothing of hers outside the certificate's retention, others intact,
  // and exactly one vault item per retained record (the second erase put nothing twice).
  const after = await snapshot(stack);
  expect(checkOthersUntouched(before, after, tokens, (kind) => kind === 'logs').leftovers).toEqual([]);
  const plan = (
    done.erasure as {
      plan: {
        entries: { store: string; category: string; action: string; retention?: { retained: number } }[];
      };
    }
  ).plan;
  const expected: Record<string, number> = {};
  for (const e of plan.entries)
    if (e.action === 'retain' && e.store !== 'logs')
      expected[`${e.store}/${e.category}`] = e.retention?.retained ?? 0;
  expect(await vaultCounts(stack)).toEqual(expected);
  const cert = (await stack.call('GET', `/v1/requests/${requestId}/certificate`, { role: 'auditor' })).body
    .payload as {
    stores: { store: string; categories: CertCategory[] }[];
  };
  expect(certCategory(cert, 'payments', 'transactions')?.retained?.records).toBe(
    expected['payments/transactions'],
  );
}, 90_000);

test('verification catches a planted leftover: failed, ERASURE_VERIFICATION_FAILED, store chat', async () => {
  mode = 'leftover';
  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'erasure', service: 'klub-outside', subject: { userId: 'u-bob' }, jurisdiction: 'JP' },
  });
  const requestId = String(created.body.requestId);
  const done = await stack.waitForStatus(requestId, ['completed', 'partially_completed', 'failed'], 60_000);
  mode = 'none';
  expect(done.status).toBe('failed');
  expect(done.failure).toEqual({ code: 'ERASURE_VERIFICATION_FAILED', store: 'chat' });
  expect((await stack.call('GET', `/v1/requests/${requestId}/certificate`)).body.code).toBe(
    'CERTIFICATE_NOT_FOUND',
  );
  const events = (await stack.call('GET', `/v1/requests/${requestId}/events`)).body.events as {
    type: string;
    detail?: Record<string, unknown>;
  }[];
  expect(events.find((e) => e.type === 'erasure.verification_failed')?.detail).toMatchObject({
    store: 'chat',
    category: 'messages',
    remaining: 1,
  });
  expect(events.some((e) => e.type.startsWith('processor.'))).toBe(false);
}, 90_000);
