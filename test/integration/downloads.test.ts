/**
 * The real local stack (DynamoDB Local, s3rver, the export ASL): download links from a
 * completed export, the page and the archive redirect, and every way a link stops working: tampered,
 * another request's, revoked, expired, archive removed, download limit (with concurrent clicks), and
 * the presigned URL's own short life, which s3rver enforces.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources } from '../../config/data-map';
import {
  DownloadLinks,
  S3ArchiveAccess,
  downloadLinkConfigFromEnv,
  parseToken,
  tokenMacFromEnv,
} from '../../functions/lib/downloads/download-links';
import { EventLog } from '../../functions/lib/requests/event-log';
import { requestTable } from '../../functions/lib/requests/request-table';
import { RequestRepository } from '../../functions/lib/requests/requests';
import { putJson, stagingKeys } from '../../functions/lib/aws/s3-objects';
import type { StagedSubject } from '../../functions/lib/connectors/contract';
import { notify, StagedSubjectRecipients } from '../../functions/notify/core';
import { OutboxMailer } from '../../functions/lib/notices/mailer';
import { startTestStack, type TestStack } from '../support/local-stack';

let stack: TestStack;
const made: Record<
  string,
  { requestId: string; downloadUrl: string; export: { key: string; sha256: string } }
> = {};
const TABLE = orchestratorResources.requestsTable.tableName;

async function completedExport(userId: string) {
  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId } },
  });
  expect(created.status).toBe(202);
  const requestId = String(created.body.requestId);
  const done = await stack.waitForStatus(requestId, ['completed', 'failed']);
  expect({ status: done.status, failure: done.failure }).toEqual({ status: 'completed', failure: undefined });
  const view = await stack.call('GET', `/v1/requests/${requestId}`);
  return {
    requestId,
    downloadUrl: String(view.body.downloadUrl),
    export: view.body.export as { key: string; sha256: string },
  };
}

beforeAll(async () => {
  stack = await startTestStack();
  // One export per scenario that changes a link for good; run them side by side.
  const users = { main: 'u-alice', limit: 'u-bob', expiry: 'u-carol', gone: 'u-dave', revoke: 'u-erin' };
  const done = await Promise.all(Object.values(users).map((u) => completedExport(u)));
  Object.keys(users).forEach((name, i) => (made[name] = done[i]!));
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

const pathOf = (url: string) => new URL(url).pathname;

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

test('a completed export carries a downloadUrl under the public API URL, with its terms', async () => {
  const view = await stack.call('GET', `/v1/requests/${made.main!.requestId}`);
  expect(view.body.downloadUrl).toMatch(new RegExp(`^${stack.apiUrl}/v1/downloads/req_[a-f0-9]{32}\\.`));
  const download = view.body.download as Record<string, unknown>;
  expect(download.status).toBe('active');
  expect(download.maxDownloads).toBe(5);
  expect(download.downloadsRemaining).toBe(5);
  const days = (Date.parse(String(download.expiresAt)) - Date.now()) / 86_400_000;
  expect(days).toBeGreaterThan(6.9);
  expect(days).toBeLessThanOrEqual(7);
  // The same URL every time (re-derived, never stored), and only support is given it.
  const again = await stack.call('GET', `/v1/requests/${made.main!.requestId}`);
  expect(again.body.downloadUrl).toBe(view.body.downloadUrl);
  const asAuditor = await stack.call('GET', `/v1/requests/${made.main!.requestId}`, { role: 'auditor' });
  expect(asAuditor.status).toBe(200);
  expect(asAuditor.body.downloadUrl).toBeUndefined();
  expect((asAuditor.body.download as Record<string, unknown>).status).toBe('active');
});

test('the link record stores a hash of the token, never the token', async () => {
  const { Items } = await stack.doc.send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': `REQ#${made.main!.requestId}`, ':p': 'DOWNLOAD#' },
    }),
  );
  const token = pathOf(made.main!.downloadUrl).split('/').pop()!;
  expect(Items).toHaveLength(1);
  const stored = JSON.stringify(Items);
  expect(stored).not.toContain(token);
  expect(stored).not.toContain(parseToken(token)!.mac);
  expect(stored).toContain(createHash('sha256').update(token).digest('hex'));
});

test('the page: HTML with strict security headers, JSON on request, and no personal data', async () => {
  const page = await get(made.main!.downloadUrl, { accept: 'text/html' });
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const csp = page.headers.get('content-security-policy') ?? '';
  for (const directive of [
    "default-src 'none'",
    'img-src data:',
    "form-action 'self'",
    "frame-ancestors 'none'",
  ])
    expect(csp).toContain(directive);
  expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  expect(page.headers.get('cache-control')).toBe('no-store');
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  expect(page.text).toContain(made.main!.export.sha256);
  expect(page.text).toContain('Your data export');
  for (const personal of ['alice', 'Alice', '@', 'u-alice']) expect(page.text).not.toContain(personal);

  const ja = await get(made.main!.downloadUrl, { 'accept-language': 'ja-JP,ja;q=0.9,en;q=0.5' });
  expect(ja.text).toContain('<html lang="ja">');
  expect(ja.text).toContain('データのエクスポート');

  const asJson = await get(made.main!.downloadUrl, { accept: 'application/json' });
  expect(asJson.status).toBe(200);
  const body = JSON.parse(asJson.text) as Record<string, unknown>;
  expect(body.downloadsRemaining).toBe(5);
  expect((body.archive as { sha256: string }).sha256).toBe(made.main!.export.sha256);
  const stores = (body.archive as { stores: { store: string; records: number }[] }).stores;
  expect(stores.map((s) => s.store)).toContain('accounts');
  expect(stores.find((s) => s.store === 'accounts')?.records).toBeGreaterThan(0);
});

test('a download redirects to a presigned URL that lives minutes and serves the very archive', async () => {
  const res = await get(`${made.main!.downloadUrl}/archive`);
  expect(res.status).toBe(303);
  const location = new URL(res.headers.get('location')!);
  expect(location.origin).toBe(new URL(stack.s3Endpoint).origin);
  const expires = Number(location.searchParams.get('X-Amz-Expires'));
  expect(expires).toBeGreaterThan(0);
  expect(expires).toBeLessThanOrEqual(900);
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');

  const zip = await fetch(location);
  expect(zip.status).toBe(200);
  expect(zip.headers.get('content-disposition')).toMatch(/^attachment; filename="data-export-.*\.zip"$/);
  const bytes = Buffer.from(await zip.arrayBuffer());
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(made.main!.export.sha256);

  const view = await stack.call('GET', `/v1/requests/${made.main!.requestId}`);
  expect((view.body.download as { downloadsRemaining: number }).downloadsRemaining).toBe(4);
});

test('a client that does not follow the redirect is handed the URL it was counted for, and told so', async () => {
  const remaining = async () => {
    const view = await stack.call('GET', `/v1/requests/${made.main!.requestId}`);
    return (view.body.download as { downloadsRemaining: number }).downloadsRemaining;
  };
  const before = await remaining();

  // curl without -L: the 303's body says what happened and carries the URL, so nothing is spent unseen.
  const plain = await get(`${made.main!.downloadUrl}/archive`);
  expect(plain.status).toBe(303);
  expect(plain.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  expect(plain.headers.get('cache-control')).toBe('no-store');
  const lines = plain.text.trim().split('\n');
  expect(lines.at(-1)).toBe(plain.headers.get('location'));
  expect(plain.text).toContain(`This download was counted: ${before - 1} of 5 left.`);
  expect(plain.text).toMatch(/The archive \(data-export-\d{4}-\d{2}-\d{2}\.zip\) is at the URL below until /);
  expect(plain.text).toContain('with curl, add -L');
  const zip = await fetch(lines.at(-1)!);
  expect(
    createHash('sha256')
      .update(Buffer.from(await zip.arrayBuffer()))
      .digest('hex'),
  ).toBe(made.main!.export.sha256);

  // A program asking for JSON gets the same terms as JSON.
  const asJson = await get(`${made.main!.downloadUrl}/archive`, { accept: 'application/json' });
  expect(asJson.status).toBe(303);
  const terms = JSON.parse(asJson.text) as Record<string, unknown>;
  expect(terms.url).toBe(asJson.headers.get('location'));
  expect(terms).toMatchObject({ downloadsRemaining: before - 2, maxDownloads: 5 });
  const lifeSeconds = (Date.parse(String(terms.validUntil)) - Date.now()) / 1000;
  expect(lifeSeconds).toBeGreaterThan(200);
  expect(lifeSeconds).toBeLessThanOrEqual(300);

  // One use per URL handed out: two answers, two uses.
  expect(await remaining()).toBe(before - 2);
});

test('s3rver refuses a presigned URL past its expiry (injected clock, and a real 1-second URL)', async () => {
  const { key } = made.main!.export;
  const bucket = orchestratorResources.exportsBucket;
  const past = new S3ArchiveAccess(stack.s3, () => new Date(Date.now() - 16 * 60_000));
  const stale = await fetch(await past.presign(bucket, key, { expiresIn: 900, fileName: 'a.zip' }));
  expect(stale.status).toBe(403);
  expect(await stale.text()).toMatch(/Request has expired/);

  const fresh = new S3ArchiveAccess(stack.s3);
  // A real short URL opens while it lasts and not after. On a loaded machine a fetch can itself outlast a
  // second, so the URL's life grows until one is fetched within it (signing times are whole seconds).
  let checked = false;
  for (const seconds of [1, 5, 30]) {
    const expiresAt = Math.floor(Date.now() / 1000) * 1000 + seconds * 1000;
    const short = await fresh.presign(bucket, key, { expiresIn: seconds, fileName: 'a.zip' });
    const status = (await fetch(short)).status;
    if (Date.now() >= expiresAt) continue;
    expect(status).toBe(200);
    await new Promise((r) => setTimeout(r, expiresAt + 1100 - Date.now()));
    expect((await fetch(short)).status).toBe(403);
    checked = true;
    break;
  }
  expect(checked).toBe(true);
  await expect(fresh.presign(bucket, key, { expiresIn: 901, fileName: 'a.zip' })).rejects.toThrow(/900/);
});

describe('links that do not open', () => {
  const tokenOf = (url: string) => pathOf(url).split('/').pop()!;

  test('a tampered token is 404, on the page and the archive', async () => {
    const token = tokenOf(made.main!.downloadUrl);
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    const tampered = `${stack.apiUrl}/v1/downloads/${token.slice(0, -1)}${last}`;
    const page = await get(tampered);
    expect(page.status).toBe(404);
    expect(page.text).toContain('This download link is not valid');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect((await get(`${tampered}/archive`)).status).toBe(404);
    expect((await get(`${stack.apiUrl}/v1/downloads/not-a-token`)).status).toBe(404);
  });

  test("another request's link id and MAC under this request's id is 404", async () => {
    const mine = parseToken(tokenOf(made.main!.downloadUrl))!;
    const theirs = parseToken(tokenOf(made.limit!.downloadUrl))!;
    const crossed = `${stack.apiUrl}/v1/downloads/${mine.requestId}.${theirs.linkId}.${theirs.mac}`;
    expect((await get(crossed)).status).toBe(404);
    expect((await get(`${crossed}/archive`)).status).toBe(404);
    const json = await get(crossed, { accept: 'application/json' });
    expect(json.headers.get('content-type')).toContain('application/problem+json');
    expect(JSON.parse(json.text).code).toBe('LINK_NOT_FOUND');
  });

  test('the download limit holds under concurrent clicks: 429 after it, with a page that says so', async () => {
    const url = made.limit!.downloadUrl;
    const results = await Promise.all(Array.from({ length: 8 }, () => get(`${url}/archive`)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 303)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    const page = await get(url);
    expect(page.status).toBe(429);
    expect(page.text).toContain('used as many times as allowed');
    const view = await stack.call('GET', `/v1/requests/${made.limit!.requestId}`);
    expect(view.body.download).toMatchObject({ status: 'exhausted', downloadsRemaining: 0 });
    expect(view.body.downloadUrl).toBeUndefined();
  });

  test('an expired link is 410 with a page that says what to do, and the request says expired', async () => {
    await stack.doc.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: `REQ#${made.expiry!.requestId}`, sk: 'DOWNLOAD#LINK' },
        UpdateExpression: 'SET validUntil = :past',
        ExpressionAttributeValues: { ':past': new Date(Date.now() - 1000).toISOString() },
      }),
    );
    const page = await get(made.expiry!.downloadUrl, { 'accept-language': 'en' });
    expect(page.status).toBe(410);
    expect(page.text).toContain('This download link has expired');
    expect(page.text).toContain('ask for a new copy');
    const ja = await get(made.expiry!.downloadUrl, { 'accept-language': 'ja' });
    expect(ja.text).toContain('有効期限が切れています');
    expect((await get(`${made.expiry!.downloadUrl}/archive`)).status).toBe(410);
    const view = await stack.call('GET', `/v1/requests/${made.expiry!.requestId}`);
    expect((view.body.download as { status: string }).status).toBe('expired');
    expect(view.body.downloadUrl).toBeUndefined();
  });

  test('an archive removed by the lifecycle makes the link expired, and the request says so', async () => {
    await stack.s3.send(
      new DeleteObjectCommand({ Bucket: orchestratorResources.exportsBucket, Key: made.gone!.export.key }),
    );
    expect((await get(`${made.gone!.downloadUrl}/archive`)).status).toBe(410);
    expect((await get(made.gone!.downloadUrl)).status).toBe(410);
    const view = await stack.call('GET', `/v1/requests/${made.gone!.requestId}`);
    expect((view.body.download as { status: string }).status).toBe('expired');
  });

  test('support revokes a link (legal cannot); it is then 404 everywhere', async () => {
    const { requestId, downloadUrl } = made.revoke!;
    const denied = await stack.call('POST', `/v1/requests/${requestId}/revoke-download`, { role: 'legal' });
    expect(denied.status).toBe(403);
    expect((await get(downloadUrl)).status).toBe(200);
    const revoked = await stack.call('POST', `/v1/requests/${requestId}/revoke-download`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.download).toMatchObject({ status: 'revoked' });
    const page = await get(downloadUrl);
    expect(page.status).toBe(404);
    expect(page.text).toContain('This download link is not valid');
    expect((await get(`${downloadUrl}/archive`)).status).toBe(404);
    const view = await stack.call('GET', `/v1/requests/${requestId}`);
    expect((view.body.download as { status: string }).status).toBe('revoked');
    expect(view.body.downloadUrl).toBeUndefined();
    const unknown = await stack.call('POST', `/v1/requests/req_${'0'.repeat(32)}/revoke-download`);
    expect(unknown.status).toBe(404);
  });
});

test('notify emails the link in the subject locale to the .eml outbox, once, and never the archive', async () => {
  const { requestId, downloadUrl } = made.limit!; // u-bob, locale ja-JP
  const outbox = join(stack.dataDir, 'outbox');
  const table = requestTable(stack.doc, TABLE);
  const requests = new RequestRepository(table);
  const eventLog = new EventLog(table);
  const links = new DownloadLinks(table, tokenMacFromEnv(), downloadLinkConfigFromEnv());
  // Where the workflow runs it, the resolved subject is still staged; the opt-in is set at creation.
  const staged: StagedSubject = {
    requestId,
    subjectHash: 'h',
    found: true,
    identifiers: { userIds: ['u-bob'], emails: [], phones: [], deviceIds: [], externalAccounts: [] },
    pseudonymSalt: 's',
  };
  await putJson(
    stack.s3,
    { bucket: orchestratorResources.stagingBucket, key: stagingKeys.subject(requestId) },
    staged,
  );
  const deps = {
    requests,
    events: eventLog,
    links,
    archives: new S3ArchiveAccess(stack.s3),
    recipients: new StagedSubjectRecipients(
      stack.s3,
      stack.doc,
      orchestratorResources.stagingBucket,
      () => 'platform-accounts',
    ),
    mailer: new OutboxMailer(outbox),
    from: 'privacy@dsr.example',
  };
  const silent = await notify(deps, { requestId });
  expect(silent).toEqual({ requestId, linkIssued: true, notified: false });

  await stack.doc.send(
    new UpdateCommand({
      TableName: TABLE,
      Key: { pk: `REQ#${requestId}`, sk: 'REQUEST' },
      UpdateExpression: 'SET notify = :t',
      ExpressionAttributeValues: { ':t': true },
    }),
  );
  const sent = await notify(deps, { requestId });
  expect(sent).toEqual({ requestId, linkIssued: true, notified: true });
  expect(JSON.stringify(sent)).not.toContain('@');
  expect(await notify(deps, { requestId })).toMatchObject({ notified: false });

  const files = readdirSync(outbox).filter((f) => f.endsWith(`${requestId}.eml`));
  expect(files).toHaveLength(1);
  const raw = readFileSync(join(outbox, files[0]!), 'utf8');
  expect(raw).toMatch(/^To: kenji\.sato@example\.jp\r$/m);
  expect(raw).not.toMatch(/multipart|attachment|application\/zip/i);
  const [head, body] = raw.split('\r\n\r\n') as [string, string];
  expect(head).toContain('Content-Language: ja');
  const text = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  expect(text).toContain(downloadUrl);
  expect(text).toContain('有効期限');
  const events = await eventLog.list(requestId);
  const types = events.map((e) => e.type);
  expect(types).toContain('download.notified');
  expect(JSON.stringify(events)).not.toContain('kenji');
});
