/**
 * The requests table's indexes copy keys and filters only, on DynamoDB Local as created from the data
 * map: an open request named by an e-mail, with a callback URL and a pending notice, leaves neither the
 * e-mail nor the URL in any index entry, and the listing (which reads its page from the table) still
 * answers each request exactly as the request's own route does. A data directory from before gets its
 * indexes rebuilt with the new projection at start.
 */
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { orchestratorResources, REQUESTS_INDEX_ATTRIBUTES, type TableSpec } from '../../config/data-map';
import { noticeItem } from '../../functions/lib/notices/outbox';
import { requestTable } from '../../functions/lib/requests/request-table';
import { bootstrapResources, createTableInput } from '../../local/bootstrap';
import { startHarness, type Harness } from '../support/api-harness';

const TABLE = orchestratorResources.requestsTable.tableName;
const EMAIL = 'wenlock.arvane@example.org';
const CALLBACK = 'http://127.0.0.1:9/hooks/tok-8f3a91c';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

test('DynamoDB Local creates both indexes with the data map INCLUDE projection', async () => {
  const { Table } = await h.doc.send(new DescribeTableCommand({ TableName: TABLE }));
  const projections = Object.fromEntries(
    (Table?.GlobalSecondaryIndexes ?? []).map((index) => [
      index.IndexName,
      {
        type: index.Projection?.ProjectionType,
        attributes: [...(index.Projection?.NonKeyAttributes ?? [])].sort(),
      },
    ]),
  );
  expect(projections).toEqual({
    bySubject: { type: 'INCLUDE', attributes: [...REQUESTS_INDEX_ATTRIBUTES.bySubject].sort() },
    byKind: { type: 'INCLUDE', attributes: [...REQUESTS_INDEX_ATTRIBUTES.byKind].sort() },
  });
});

test('no index entry holds the e-mail, the callback URL or the notice address; the listing is the full view', async () => {
  const created = await h.call('POST', '/v1/requests', {
    body: {
      type: 'export',
      service: 'klub-outside',
      subject: { email: EMAIL },
      callbackUrls: [CALLBACK],
    },
  });
  expect(created.status).toBe(202);
  const requestId = String(created.body.requestId);
  const subjectHash = String(created.body.subjectHash);
  // A pending notice to the person, as the outbox writes one (its address, subject line and text).
  const notice = noticeItem(
    requestTable(h.doc, TABLE),
    { requestId, service: 'klub-outside', noticeContact: { email: EMAIL, language: 'en' } },
    { kind: 'restriction', state: 'in_place', restrictions: ['processing'] },
    new Date().toISOString(),
  );
  expect(notice).toBeDefined();
  await h.doc.send(new PutCommand({ TableName: TABLE, Item: notice }));

  // The table itself holds them (the request's subject, the outbox's URL, the notice's address)...
  const partition = await h.doc.send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `REQ#${requestId}` },
      ConsistentRead: true,
    }),
  );
  const stored = JSON.stringify(partition.Items);
  expect(stored).toContain(EMAIL);
  expect(stored).toContain(CALLBACK);

  // ...and the indexes find every one of those items, without either.
  const query = async (index: string, key: string, value: string) =>
    (
      await h.doc.send(
        new QueryCommand({
          TableName: TABLE,
          IndexName: index,
          KeyConditionExpression: '#k = :v',
          ExpressionAttributeNames: { '#k': key },
          ExpressionAttributeValues: { ':v': value },
        }),
      )
    ).Items ?? [];
  const entries = [
    ...(await query('bySubject', 'subjectHash', subjectHash)),
    ...(await query('byKind', 'kind', 'request')),
    ...(await query('byKind', 'kind', 'open')),
    ...(await query('byKind', 'kind', 'callback-pending')),
    ...(await query('byKind', 'kind', 'notice-pending')),
    ...(await query('byKind', 'kind', 'audit')),
  ];
  const ofRequest = entries.filter((e) => e.requestId === requestId);
  expect(new Set(ofRequest.map((e) => String(e.kind)))).toEqual(
    new Set(['request', 'open', 'callback-pending', 'notice-pending', 'audit']),
  );
  const indexed = JSON.stringify(entries);
  expect(indexed).not.toContain(EMAIL);
  expect(indexed).not.toContain(CALLBACK);
  expect(indexed).not.toContain('tok-8f3a91c');

  // The listing reads its page from the table: each request as its own route answers it.
  for (const path of [`/v1/requests?subjectHash=${subjectHash}`, '/v1/requests?type=export&limit=5']) {
    const listed = await h.call('GET', path);
    expect(listed.status).toBe(200);
    const views = listed.body.requests as Record<string, unknown>[];
    expect(views[0]?.requestId).toBe(requestId);
    const one = await h.call('GET', `/v1/requests/${requestId}`);
    expect(views[0]).toEqual(one.body);
    expect(views[0]?.callbacks).toBe(1);
  }
}, 60_000);

test('a data directory whose requests indexes copied every attribute gets them rebuilt at start', async () => {
  // The requests table as an older build made it: both indexes ALL, an open request in it.
  const current: TableSpec = { ...orchestratorResources.requestsTable, tableName: 'old-dsr-requests' };
  const old: TableSpec = {
    ...current,
    indexes: current.indexes.map(({ indexName, partitionKey, sortKey }) => ({
      indexName,
      partitionKey,
      sortKey,
    })),
  };
  await h.doc.send(new CreateTableCommand(createTableInput(old)));
  await h.doc.send(
    new PutCommand({
      TableName: old.tableName,
      Item: {
        pk: 'REQ#r1',
        sk: 'REQUEST',
        kind: 'request',
        subjectHash: 'h1',
        createdAt: '2026-01-01T00:00:00.000Z',
        requestId: 'r1',
        status: 'received',
        subject: { email: EMAIL },
      },
    }),
  );
  const dynamo = h.doc as unknown as DynamoDBClient;
  await bootstrapResources({ dynamo, s3: h.s3 }, { tables: [current], buckets: [] });
  const { Table } = await h.doc.send(new DescribeTableCommand({ TableName: old.tableName }));
  expect(
    (Table?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, i.Projection?.ProjectionType]).sort(),
  ).toEqual([
    ['byKind', 'INCLUDE'],
    ['bySubject', 'INCLUDE'],
  ]);
  for (const [index, key, value] of [
    ['bySubject', 'subjectHash', 'h1'],
    ['byKind', 'kind', 'request'],
  ] as const) {
    const { Items } = await h.doc.send(
      new QueryCommand({
        TableName: old.tableName,
        IndexName: index,
        KeyConditionExpression: '#k = :v',
        ExpressionAttributeNames: { '#k': key },
        ExpressionAttributeValues: { ':v': value },
      }),
    );
    // Rebuilt from the table: the request is found, its subject is not copied.
    expect(Items?.map((i) => i.requestId)).toEqual(['r1']);
    expect(JSON.stringify(Items)).not.toContain(EMAIL);
  }
  // A second start finds nothing to change.
  await bootstrapResources({ dynamo, s3: h.s3 }, { tables: [current], buckets: [] });
}, 60_000);
