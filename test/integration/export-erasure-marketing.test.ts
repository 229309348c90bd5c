/**
 * The marketing store end to end on the real local stack: u-bob (like a PRISM Project member: a
 * newsletter delivered, opened and clicked, a sweepstakes entry with the prize's shipping address, a
 * survey answer) is exported, and his events are in the archive with the open's IP and user agent;
 * then he is erased, his events are gone from the table, others' are untouched, and the certificate
 * lists the marketing store.
 */
import { createHash } from 'node:crypto';
import { GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources, platformStores } from '../../config/data-map';
import { verifyCertificate } from '../../functions/lib/erasure/certificate';
import type { Jwks } from '../../functions/lib/crypto/jws';
import { buildDemoData } from '../../local/seed-data';
import { startTestStack, type TestStack } from '../support/local-stack';
import { readZip } from '../support/zip';
import { certCategory } from './erasure-helpers';

const TABLE = platformStores.marketing.table.tableName;
const SUBJECT = 'u-bob';
const seeded = buildDemoData().marketingEvents;
const his = seeded.filter((e) => e.userId === SUBJECT);

let stack: TestStack;
/** The export made before the erasure: its link and archive must not outlive the erasure. */
let earlierExport: { requestId: string; key: string } | undefined;

beforeAll(async () => {
  stack = await startTestStack();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function eventsOf(userId: string) {
  const out = await stack.doc.send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'userId = :u',
      ExpressionAttributeValues: { ':u': userId },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}

async function othersEvents() {
  const out = await stack.doc.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true }));
  return (out.Items ?? [])
    .filter((i) => i.userId !== SUBJECT)
    .map((i) => JSON.stringify(i, Object.keys(i).sort()))
    .sort();
}

test('the export holds his e-mail opens, sweepstakes entry and survey answers', async () => {
  expect(his.map((e) => e.kind).sort()).toEqual([
    'email-clicked',
    'email-delivered',
    'email-opened',
    'survey-response',
    'sweepstakes-entry',
  ]);
  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: SUBJECT } },
  });
  expect(created.status).toBe(202);
  const done = await stack.waitForStatus(String(created.body.requestId), ['completed', 'failed']);
  expect(done.status).toBe('completed');
  const exp = done.export as { key: string; sha256: string };
  earlierExport = { requestId: String(created.body.requestId), key: exp.key };
  const zip = await stack.getObjectBytes(orchestratorResources.exportsBucket, exp.key);
  expect(createHash('sha256').update(zip).digest('hex')).toBe(exp.sha256);
  const entries = await readZip(zip);
  const json = (path: string) => {
    const bytes = entries.get(path);
    expect({ path, present: bytes !== undefined }).toEqual({ path, present: true });
    return JSON.parse(bytes!.toString('utf8')) as Record<string, unknown>[];
  };

  const opened = his.find((e) => e.kind === 'email-opened');
  const emailEvents = json('data/marketing/email-events.json');
  expect(emailEvents.map((e) => e.eventId).sort()).toEqual(
    his
      .filter((e) => e.kind.startsWith('email-'))
      .map((e) => e.eventId)
      .sort(),
  );
  expect(emailEvents.find((e) => e.kind === 'email-opened')).toMatchObject({
    messageId: opened?.messageId,
    ip: opened?.ip,
    userAgent: opened?.userAgent,
  });
  expect(entries.has('data/marketing/email-events.csv')).toBe(true);

  const entry = his.find((e) => e.kind === 'sweepstakes-entry');
  expect(json('data/marketing/campaign-entries.json')).toEqual([
    expect.objectContaining({
      eventId: entry?.eventId,
      prize: entry?.details?.prize,
      shippingName: entry?.details?.name,
      shippingAddress: entry?.details?.address,
      shippingPhone: entry?.details?.phone,
    }),
  ]);
  const survey = his.find((e) => e.kind === 'survey-response');
  expect(json('data/marketing/survey-responses.json')).toEqual([
    expect.objectContaining({ eventId: survey?.eventId, answers: survey?.details?.answers }),
  ]);

  // Nobody else's events, and the store is described in the archive's about-your-data.
  const archiveText = [...entries.values()].map((b) => b.toString('utf8')).join('\n');
  for (const other of seeded.filter((e) => e.userId !== SUBJECT))
    expect(archiveText.includes(other.eventId)).toBe(false);
  const about = JSON.parse(entries.get('about-your-data.json')!.toString('utf8')) as {
    categories: { id: string }[];
  };
  expect(about.categories.map((c) => c.id)).toContain('marketing');
}, 100_000);

test('his erasure deletes his marketing events and the certificate lists them', async () => {
  const others = await othersEvents();
  expect(others.length).toBeGreaterThan(0);
  expect(await eventsOf(SUBJECT)).toHaveLength(his.length);

  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'erasure', service: 'klub-outside', subject: { userId: SUBJECT }, jurisdiction: 'JP' },
  });
  expect(created.status).toBe(202);
  const requestId = String(created.body.requestId);
  // His earlier export still downloads before the erasure.
  expect(earlierExport).toBeDefined();
  const view = await stack.call('GET', `/v1/requests/${earlierExport!.requestId}`);
  const downloadUrl = String(view.body.downloadUrl);
  expect(downloadUrl).toContain('/v1/downloads/');
  const first = await stack.waitForStatus(requestId, ['completed', 'partially_completed', 'failed'], 80_000);
  expect(first.failure).toBeUndefined();
  // His log lines wait for the batched log-erasure job; it resumes the erasure, which then completes.
  expect(first.status).toBe('partially_completed');
  expect((await stack.runLogErasureJob('logjob-marketing')).status).toBe('SUCCEEDED');
  const done = await stack.waitForStatus(requestId, ['completed', 'failed'], 80_000);
  expect(done.failure).toBeUndefined();
  expect(done.status).toBe('completed');

  // The erasure withdrew the export: its link answers 404 or 410, the archive object is gone.
  const page = await fetch(downloadUrl, { redirect: 'manual' });
  expect([404, 410]).toContain(page.status);
  const archive = await fetch(`${downloadUrl}/archive`, { redirect: 'manual' });
  expect([404, 410]).toContain(archive.status);
  await expect(
    stack.getObjectBytes(orchestratorResources.exportsBucket, earlierExport!.key),
  ).rejects.toThrow();
  const exportEvents = await stack.call('GET', `/v1/requests/${earlierExport!.requestId}/events`);
  expect(JSON.stringify(exportEvents.body)).toContain('export.withdrawn');
  // The finished erasure keeps its keyed hash, not the identifier it was opened with.
  const item = await stack.doc.send(
    new GetCommand({
      TableName: orchestratorResources.requestsTable.tableName,
      Key: { pk: `REQ#${requestId}`, sk: 'REQUEST' },
    }),
  );
  expect(item.Item?.subject).toBeUndefined();
  expect(item.Item?.resolvedSubject).toBeUndefined();
  expect(typeof item.Item?.subjectHash).toBe('string');
  expect(typeof item.Item?.expiresAt).toBe('number');

  expect(await eventsOf(SUBJECT)).toEqual([]);
  expect(await othersEvents()).toEqual(others);

  const res = await stack.call('GET', `/v1/requests/${requestId}/certificate`, {
    role: 'auditor',
    headers: { accept: 'application/jose' },
  });
  expect(res.status).toBe(200);
  const jwks = (await stack.call('GET', '/.well-known/jwks.json', { role: null })).body as unknown as Jwks;
  const verified = await verifyCertificate(String(res.body.raw), jwks);
  if (!verified.ok) throw new Error(`certificate does not verify: ${verified.reason}`);
  const count = (kind: (k: string) => boolean) => his.filter((e) => kind(e.kind)).length;
  expect(certCategory(verified.payload, 'marketing', 'email-events')).toMatchObject({
    state: 'deleted',
    deleted: count((k) => k.startsWith('email-')),
  });
  expect(certCategory(verified.payload, 'marketing', 'campaign-entries')).toMatchObject({
    state: 'deleted',
    deleted: count((k) => k === 'sweepstakes-entry' || k === 'campaign-entry'),
  });
  expect(certCategory(verified.payload, 'marketing', 'survey-responses')).toMatchObject({
    state: 'deleted',
    deleted: count((k) => k === 'survey-response'),
  });
  expect(verified.payload.verification).toMatchObject({ result: 'passed' });
}, 100_000);
