/**
 * The local stream poller (local/dynamodb-stream.ts) against a scripted DynamoDB Streams endpoint: it
 * lists the shards only when they may have changed (an idle stack polls all the time), yet a child shard
 * that opens when its parent closes is read before the stream counts as read to its end.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBRecord } from 'aws-lambda';
import { startStreamPoller, type StreamPoller } from '../../local/dynamodb-stream';

interface FakeShard {
  id: string;
  parent?: string;
  records: DynamoDBRecord[];
  closed: boolean;
}

const STREAM_ARN = 'arn:aws:dynamodb:local:000000000000:table/t/stream/1';
const shards: FakeShard[] = [];
const calls: string[] = [];
let server: Server;
let endpoint: string;
let poller: StreamPoller | undefined;

const record = (n: number): DynamoDBRecord => ({
  eventName: 'INSERT',
  dynamodb: { SequenceNumber: String(n).padStart(21, '0'), Keys: { userId: { S: `u-${n}` } } },
});

/** Answers DescribeTable, DescribeStream, GetShardIterator and GetRecords; an iterator is shard:position. */
function answer(action: string, input: Record<string, unknown>): unknown {
  switch (action) {
    case 'DynamoDB_20120810.DescribeTable':
      return { Table: { LatestStreamArn: STREAM_ARN } };
    case 'DynamoDBStreams_20120810.DescribeStream':
      return {
        StreamDescription: {
          Shards: shards.map((s) => ({ ShardId: s.id, ...(s.parent ? { ParentShardId: s.parent } : {}) })),
        },
      };
    case 'DynamoDBStreams_20120810.GetShardIterator':
      return { ShardIterator: `${String(input.ShardId)}:0` };
    case 'DynamoDBStreams_20120810.GetRecords': {
      const [id, at] = String(input.ShardIterator).split(':');
      const shard = shards.find((s) => s.id === id)!;
      const from = Number(at);
      const records = shard.records.slice(from);
      const end = from + records.length;
      // A closed shard read to its end has no next iterator.
      return {
        Records: records,
        ...(shard.closed && records.length === 0 ? {} : { NextShardIterator: `${shard.id}:${end}` }),
      };
    }
    default:
      throw new Error(`unexpected ${action}`);
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const action = String(req.headers['x-amz-target']);
      calls.push(action.split('.')[1] ?? action);
      res.setHeader('content-type', 'application/x-amz-json-1.0');
      res.end(JSON.stringify(answer(action, JSON.parse(body) as Record<string, unknown>)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await poller?.stop();
  await new Promise((resolve) => server.close(resolve));
});

test('lists shards at most once a second while idle, and reads a child shard before counting as caught up', async () => {
  shards.push({ id: 'shard-1', records: [record(1)], closed: false });
  const applied: string[] = [];
  poller = await startStreamPoller({
    endpoint,
    tableName: 't',
    intervalMs: 20,
    handler: async (event) => {
      for (const r of event.Records) applied.push(String(r.dynamodb?.SequenceNumber));
    },
  });
  await poller.caughtUp(5000);
  expect(applied).toEqual([record(1).dynamodb!.SequenceNumber]);

  // Idle for a while: GetRecords every poll, DescribeStream no more than once a second.
  calls.length = 0;
  await new Promise((r) => setTimeout(r, 1500));
  const reads = calls.filter((c) => c === 'GetRecords').length;
  const describes = calls.filter((c) => c === 'DescribeStream').length;
  expect(reads).toBeGreaterThan(10);
  expect(describes).toBeGreaterThanOrEqual(1);
  expect(describes).toBeLessThanOrEqual(2);

  // The parent closes with a last record and a child opens with another: both are applied, in order,
  // before caughtUp resolves (the child is listed only once the parent is seen closed).
  shards[0]!.records.push(record(2));
  shards[0]!.closed = true;
  shards.push({ id: 'shard-2', parent: 'shard-1', records: [record(3)], closed: false });
  await poller.caughtUp(5000);
  expect(applied).toEqual([1, 2, 3].map((n) => record(n).dynamodb!.SequenceNumber));
});
