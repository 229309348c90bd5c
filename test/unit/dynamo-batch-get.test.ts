/**
 * batchGetAll against a client that leaves keys unprocessed (the fault BatchGetItem answers under
 * throttling) and answers in its own order: every item comes back, in the order of the keys asked.
 */
import type { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchGetAll } from '../../functions/lib/aws/dynamo-batch';

type Key = { pk: string; sk: string };

function fakeClient(stored: Map<string, Record<string, unknown>>, leaveUnprocessed: number) {
  const calls: Key[][] = [];
  let left = leaveUnprocessed;
  const send = (command: BatchGetCommand) => {
    const request = command.input.RequestItems?.t;
    const keys = (request?.Keys ?? []) as Key[];
    calls.push(keys);
    // The first `leaveUnprocessed` calls answer half their keys only; answers come back reversed.
    const cut = left-- > 0 ? Math.floor(keys.length / 2) : keys.length;
    const answered = keys.slice(0, cut);
    return Promise.resolve({
      Responses: {
        t: answered
          .map((k) => stored.get(`${k.pk}/${k.sk}`))
          .filter((i) => i !== undefined)
          .reverse(),
      },
      UnprocessedKeys: cut < keys.length ? { t: { Keys: keys.slice(cut) } } : {},
    });
  };
  return { doc: { send } as unknown as DynamoDBDocumentClient, calls };
}

test('reads every key through unprocessed answers, in the order asked, missing keys undefined', async () => {
  const stored = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < 250; i++) stored.set(`p${i}/s`, { pk: `p${i}`, sk: 's', n: i });
  const { doc, calls } = fakeClient(stored, 3);
  const keys = [
    ...Array.from({ length: 250 }, (_, i) => ({ pk: `p${249 - i}`, sk: 's' })),
    { pk: 'gone', sk: 's' },
  ];
  const items = await batchGetAll(doc, 't', [...keys, { pk: 'p7', sk: 's' }], {
    sleep: () => Promise.resolve(),
  });
  expect(items.map((item) => item?.n)).toEqual([
    ...Array.from({ length: 250 }, (_, i) => 249 - i),
    undefined,
    7,
  ]);
  // At most 100 keys a call, none twice in one (DynamoDB refuses duplicates).
  expect(Math.max(...calls.map((c) => c.length))).toBeLessThanOrEqual(100);
  for (const call of calls) expect(new Set(call.map((k) => k.pk)).size).toBe(call.length);
  expect(calls.length).toBeGreaterThan(3);
});

test('gives up with a transient error when keys stay unprocessed', async () => {
  const { doc } = fakeClient(new Map([['a/s', { pk: 'a', sk: 's' }]]), 1_000);
  await expect(
    batchGetAll(
      doc,
      't',
      [
        { pk: 'a', sk: 's' },
        { pk: 'b', sk: 's' },
      ],
      { sleep: () => Promise.resolve() },
    ),
  ).rejects.toMatchObject({ name: 'TransientError' });
});
