/**
 * Nothing kept of an erased person (and a restored one erased again: the suppression list re-applied): a subject with an e-mail, a phone, a user id, a device, a linked
 * account and a name is exported, then erased (its log part by the log-erasure job); the clock moves past
 * the audit period and the reaper does what DynamoDB TTL and the buckets' lifecycle rules do. Then every
 * table and bucket the orchestrator owns (whatever the local stack created that is not the platform's:
 * a new table is covered without a change here) is read in full, gzip objects and zip archives opened,
 * and none holds any raw identifier of the person, nor the callback URL given.
 */
import { gunzipSync } from 'node:zlib';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  ALL_ORCHESTRATOR_BUCKETS,
  ALL_ORCHESTRATOR_TABLES,
  ALL_PLATFORM_BUCKETS,
  ALL_PLATFORM_TABLES,
  orchestratorResources,
  platformStores,
  serviceOwnTables,
} from '../../config/data-map';
import { scanPages, toJsonValue } from '../../functions/lib/aws/dynamo-paging';
import { listPages } from '../../functions/lib/aws/s3-objects';
import { NOTICE_PENDING_KIND } from '../../functions/lib/notices/outbox';
import { DEFAULT_AUDIT_PERIOD_DAYS } from '../../functions/lib/requests/request-table';
import { gzipLines } from '../../local/seed-data';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/stores';
import { reapplyOn } from '../../scripts/reapply-suppressions';
import { startReceiver } from '../support/callback-receiver';
import { startTestStack, type TestStack } from '../support/local-stack';
import { readZip } from '../support/zip';

const PERSON = {
  userId: 'u-qorvenhalt',
  email: 'qorvenhalt.ysolde@example.org',
  phone: '+819087654321',
  deviceId: 'dev-qorvenhalt-tablet',
  provider: 'line',
  providerUserId: 'line-qorvenhalt-77',
  first: 'Ysolde',
  last: 'Qorvenhalt',
} as const;

/** Every raw identifier, as it could be written anywhere (the phone also without its plus). */
const RAW = [
  PERSON.userId,
  PERSON.email,
  PERSON.phone,
  PERSON.phone.slice(1),
  PERSON.deviceId,
  PERSON.providerUserId,
  PERSON.first,
  PERSON.last,
];

let stack: TestStack;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  [stack, receiver] = await Promise.all([startTestStack({ seed: false }), startReceiver()]);
}, 120_000);

afterAll(async () => {
  await Promise.all([stack?.stop(), receiver?.stop()]);
});

const SETTLED = ['completed', 'partially_completed', 'failed'];
const waitsForLogJob = (view: Record<string, unknown>) =>
  ((view.erasure as { outcome?: { state?: string }[] } | undefined)?.outcome ?? []).some(
    (entry) => entry.state === 'pending',
  );

/** The person's account, as a restore from a backup would bring it back too. */
async function putAccount(day: string) {
  await stack.doc.send(
    new PutCommand({
      TableName: platformStores.accounts.table.tableName,
      Item: {
        userId: PERSON.userId,
        service: 'cluster',
        email: PERSON.email,
        phone: PERSON.phone,
        name: { first: PERSON.first, last: PERSON.last },
        country: 'JP',
        locale: 'ja-JP',
        createdAt: '2025-01-02T03:04:05.000Z',
        status: 'active',
        devices: [{ deviceId: PERSON.deviceId, platform: 'ios', firstSeen: '2025-01-02', lastSeen: day }],
        externalAccounts: [
          { provider: PERSON.provider, providerUserId: PERSON.providerUserId, linkedAt: '2025-02-01' },
        ],
      },
    }),
  );
}

async function seedPerson(now: Date) {
  const day = now.toISOString().slice(0, 10);
  await putAccount(day);
  await stack.s3.send(
    new PutObjectCommand({
      Bucket: platformStores.logs.bucketName,
      Key: `${platformStores.logs.accessPrefix}dt=${day}/part-00000.jsonl.gz`,
      Body: gzipLines([
        {
          ts: `${day}T01:00:00.000Z`,
          userId: PERSON.userId,
          ip: '203.0.113.9',
          deviceId: PERSON.deviceId,
          userAgent: 'test',
          method: 'GET',
          path: '/world',
          status: 200,
          referrer: null,
          country: 'JP',
          region: 'JP-13',
        },
        { ts: `${day}T01:00:01.000Z`, userId: 'u-someone-else', ip: '198.51.100.1', deviceId: 'd-x' },
      ]),
    }),
  );
  await stack.indexLogs();
}

async function open(type: 'export' | 'erasure', subject: Record<string, unknown>, key: string) {
  const created = await stack.call('POST', '/v1/requests', {
    body: {
      type,
      service: 'cluster',
      subject,
      jurisdiction: 'JP',
      callbackUrls: [`${receiver.url}/hooks/${PERSON.last}`],
    },
    headers: { 'idempotency-key': key },
  });
  expect(created.status).toBe(202);
  const requestId = String(created.body.requestId);
  // Cluster verifies identity before it discloses or erases, and charges for a disclosure: support
  // records both, and the request starts.
  expect(created.body.status).toBe('awaiting_verification');
  const verified = await stack.call('POST', `/v1/requests/${requestId}/verification`, {
    body: { method: 'id_document', verifiedBy: 'support-agent-5', evidenceRef: 'ZD-77' },
  });
  expect(verified.status).toBe(200);
  if (verified.body.status === 'awaiting_payment') {
    const paid = await stack.call('POST', `/v1/requests/${requestId}/fee`, {
      body: { outcome: 'paid', reference: 'PAY-77' },
    });
    expect(paid.status).toBe(200);
  }
  return requestId;
}

/** Every text the bytes hold: the bytes, a gzip's content, each entry of a zip (and their gzips). */
async function texts(bytes: Buffer): Promise<string[]> {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return texts(gunzipSync(bytes));
  if (bytes.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) {
    const out: string[] = [];
    for (const entry of (await readZip(bytes)).values()) out.push(...(await texts(entry)));
    return out;
  }
  return [bytes.toString('utf8')];
}

function findRaw(where: string, text: string): string[] {
  const lower = text.toLowerCase();
  return [...RAW, `/hooks/${PERSON.last}`]
    .filter((raw) => lower.includes(raw.toLowerCase()))
    .map((raw) => `${where}: ${raw}`);
}

/** The tables and buckets of the stack that are not the platform's: the orchestrator's own. */
async function ownedResources(): Promise<{ tables: string[]; buckets: string[] }> {
  const platformTables = new Set([
    ...ALL_PLATFORM_TABLES.map((t) => t.tableName),
    ...serviceOwnTables().map((t) => t.spec.tableName),
  ]);
  const tables: string[] = [];
  let start: string | undefined;
  do {
    const page = await stack.doc.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    tables.push(...(page.TableNames ?? []).filter((name) => !platformTables.has(name)));
    start = page.LastEvaluatedTableName;
  } while (start);
  const { Buckets } = await stack.s3.send(new ListBucketsCommand({}));
  const buckets = (Buckets ?? [])
    .map((b) => String(b.Name))
    .filter((name) => !(ALL_PLATFORM_BUCKETS as string[]).includes(name));
  return { tables, buckets };
}

async function scanForRaw(): Promise<{ found: string[]; items: number; objects: number }> {
  const { tables, buckets } = await ownedResources();
  expect(tables).toEqual(expect.arrayContaining(ALL_ORCHESTRATOR_TABLES.map((t) => t.tableName)));
  expect(buckets).toEqual(expect.arrayContaining(ALL_ORCHESTRATOR_BUCKETS));
  const found: string[] = [];
  let items = 0;
  let objects = 0;
  for (const table of tables) {
    for await (const page of scanPages(stack.doc, { TableName: table, ConsistentRead: true })) {
      for (const item of page) {
        items += 1;
        found.push(
          ...findRaw(
            `${table} ${String(item.pk ?? '')}/${String(item.sk ?? '')}`,
            JSON.stringify(toJsonValue(item)),
          ),
        );
      }
    }
  }
  for (const bucket of buckets) {
    for await (const page of listPages(stack.s3, bucket, '')) {
      for (const object of page) {
        objects += 1;
        for (const text of await texts(await stack.getObjectBytes(bucket, object.Key)))
          found.push(...findRaw(`s3://${bucket}/${object.Key}`, text));
      }
    }
  }
  return { found, items, objects };
}

async function partition(pk: string) {
  const { Items } = await stack.doc.send(
    new QueryCommand({
      TableName: orchestratorResources.requestsTable.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

test('after the erasure and the audit period, no table or bucket of ours holds a raw identifier of the person', async () => {
  const now = new Date();
  await seedPerson(now);

  const exportId = await open('export', { email: PERSON.email }, 'scan-export');
  const exported = await stack.waitForStatus(exportId, ['completed', 'failed'], 90_000);
  expect(exported.status).toBe('completed');
  // The archive holds the person: the scan below would see it if it stayed.
  const archive = exported.export as { key: string };
  const before = await texts(await stack.getObjectBytes(orchestratorResources.exportsBucket, archive.key));
  expect(before.some((t) => t.includes(PERSON.providerUserId))).toBe(true);

  const erasureId = await open('erasure', { phone: PERSON.phone }, 'scan-erasure');
  let view = await stack.waitForStatus(erasureId, SETTLED, 120_000);
  expect(waitsForLogJob(view)).toBe(true);
  expect((await stack.runLogErasureJob(`logjob-${erasureId}`)).status).toBe('SUCCEEDED');
  const deadline = Date.now() + 120_000;
  while (!SETTLED.includes(String(view.status)) || waitsForLogJob(view)) {
    if (Date.now() > deadline) throw new Error(`The resumed erasure stayed ${String(view.status)}`);
    await new Promise((r) => setTimeout(r, 200));
    view = (await stack.call('GET', `/v1/requests/${erasureId}`)).body;
  }
  expect({ status: view.status, failure: view.failure }).toEqual({ status: 'completed', failure: undefined });
  await stack.workflows.idle();
  // The person's notices are sent (in AWS, minutes after the change; here the clock jumps years ahead).
  const noticesPending = async () =>
    [...(await partition(`REQ#${exportId}`)), ...(await partition(`REQ#${erasureId}`))].some(
      (item) => item.kind === NOTICE_PENDING_KIND,
    );
  const noticesDeadline = Date.now() + 60_000;
  while (await noticesPending()) {
    if (Date.now() > noticesDeadline) throw new Error('A notice stayed pending');
    await new Promise((r) => setTimeout(r, 200));
  }

  // Right after the erasure the requests are still there (for the audit period), their identifiers not.
  expect(await partition(`REQ#${erasureId}`)).not.toEqual([]);

  // Past the audit period counted from the last thing recorded: the download link's end (7 days on).
  const later = new Date(now.getTime() + (DEFAULT_AUDIT_PERIOD_DAYS + 31) * 86_400_000);
  await stack.reapExpired(later);

  const { found, items, objects } = await scanForRaw();
  expect(found).toEqual([]);
  // Every item of both requests' partitions had an expiry.
  expect(await partition(`REQ#${exportId}`)).toEqual([]);
  expect(await partition(`REQ#${erasureId}`)).toEqual([]);
  // Nor does anything else of the table name them (audit entries, queue and work-list items, locks).
  const naming: string[] = [];
  for await (const page of scanPages(stack.doc, { TableName: orchestratorResources.requestsTable.tableName }))
    for (const item of page) {
      const text = JSON.stringify(toJsonValue(item));
      if (text.includes(exportId) || text.includes(erasureId))
        naming.push(`${String(item.pk)}/${String(item.sk)}`);
    }
  expect(naming).toEqual([]);
  expect(items + objects).toBeGreaterThan(0);
}, 240_000);

/** `npm run reapply-suppressions` on the test stack. */
async function reapply() {
  const sfn = new SFNClient({
    endpoint: stack.sfnEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    return await reapplyOn({
      doc: stack.doc,
      sfn,
      requestsTable: orchestratorResources.requestsTable.tableName,
      vaultTable: orchestratorResources.vaultTable.tableName,
      erasureStateMachineArn: stack.env.ERASURE_STATE_MACHINE_ARN!,
    });
  } finally {
    sfn.destroy();
  }
}

test('a restored account of an erased person is erased again by re-applying the suppression list', async () => {
  // The point-in-time restore of the accounts table brings the erased account back.
  await putAccount(new Date().toISOString().slice(0, 10));
  const report = await reapply();
  expect(report.reErased).toEqual([expect.objectContaining({ outcome: 'created' })]);
  const requestId = report.reErased[0]!.requestId!;
  const done = await stack.waitForStatus(requestId, ['completed', 'partially_completed', 'failed'], 120_000);
  expect(done.failure).toBeUndefined();
  const { Item } = await stack.doc.send(
    new GetCommand({
      TableName: platformStores.accounts.table.tableName,
      Key: { userId: PERSON.userId },
      ConsistentRead: true,
    }),
  );
  expect(Item).toBeUndefined();
  // Run again: nothing of the person is left to re-erase.
  expect(await reapply()).toMatchObject({ suppressed: 1, reErased: [] });
}, 180_000);
