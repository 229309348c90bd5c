/**
 * The export's end-to-end check on the real local stack (DynamoDB Local, s3rver, the real ASL file):
 * post an export over HTTP, poll it to completion, open the ZIP, check every file against the
 * manifest's SHA-256, and make sure no secret reached it.
 */
import { createHash } from 'node:crypto';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources, platformStores } from '../../config/data-map';
import { loadDefaultPolicy } from '../../functions/lib/erasure/policy';
import { startTestStack, type TestStack } from '../support/local-stack';
import { readZip } from '../support/zip';

interface Manifest {
  files: { path: string; sha256: string; bytes: number; records?: number }[];
}

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function exportArchive(subject: Record<string, unknown>) {
  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject },
  });
  expect(created.status).toBe(202);
  expect(created.body.status).toBe('received');
  const requestId = String(created.body.requestId);
  const done = await stack.waitForStatus(requestId, ['completed', 'failed']);
  return { requestId, done };
}

async function openArchive(done: Record<string, unknown>) {
  const exp = done.export as { key: string; bytes: number; sha256: string };
  const zip = await stack.getObjectBytes(orchestratorResources.exportsBucket, exp.key);
  expect(zip.length).toBe(exp.bytes);
  expect(createHash('sha256').update(zip).digest('hex')).toBe(exp.sha256);
  return { zip, entries: await readZip(zip) };
}

function checkAgainstManifest(entries: Map<string, Buffer>): Manifest {
  const manifestBytes = entries.get('manifest.json');
  expect(manifestBytes).toBeDefined();
  const manifest = JSON.parse(manifestBytes!.toString('utf8')) as Manifest;
  for (const file of manifest.files) {
    const bytes = entries.get(file.path);
    expect({ path: file.path, present: bytes !== undefined }).toEqual({ path: file.path, present: true });
    expect(createHash('sha256').update(bytes!).digest('hex')).toBe(file.sha256);
    expect(bytes!.length).toBe(file.bytes);
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  const unlisted = [...entries.keys()].filter(
    (p) => !listed.has(p) && p !== 'manifest.json' && p !== 'manifest.jws',
  );
  expect(unlisted).toEqual([]);
  return manifest;
}

test('an export by user id completes through received -> in_progress -> completed, secrets left out', async () => {
  const { requestId, done } = await exportArchive({ userId: 'u-alice' });
  expect(done.status).toBe('completed');
  expect(done.subjectFound).toBe(true);
  // Every request records the policy version in force when it was opened.
  expect(done.policyVersion).toBe(loadDefaultPolicy().version);
  const { entries } = await openArchive(done);
  const manifest = checkAgainstManifest(entries);

  const profile = manifest.files.find((f) => f.path === 'data/accounts/profile.json');
  expect(profile?.records).toBe(1);
  const exported = JSON.parse(entries.get('data/accounts/profile.json')!.toString('utf8')) as Record<
    string,
    unknown
  >[];
  expect(exported[0]?.userId).toBe('u-alice');

  // No secret value anywhere in the archive, in any file.
  const { Item: account } = await stack.doc.send(
    new GetCommand({ TableName: platformStores.accounts.table.tableName, Key: { userId: 'u-alice' } }),
  );
  const secrets = [
    String(account?.passwordHash),
    ...((account?.externalAccounts ?? []) as { accessToken?: string }[]).flatMap((x) =>
      x.accessToken ? [x.accessToken] : [],
    ),
  ];
  expect(secrets.length).toBeGreaterThan(1);
  for (const [path, bytes] of entries) {
    const text = bytes.toString('utf8');
    for (const secret of secrets)
      expect({ path, leaks: text.includes(secret) }).toEqual({ path, leaks: false });
    expect({ path, leaks: text.includes('passwordHash') || text.includes('accessToken"') }).toEqual({
      path,
      leaks: false,
    });
  }

  const events = await stack.call('GET', `/v1/requests/${requestId}/events`);
  if (events.status === 200) {
    const types = (events.body.events as { type: string }[]).map((e) => e.type);
    expect(types.indexOf('request.received')).toBeLessThan(types.indexOf('request.in_progress'));
    expect(types.indexOf('request.in_progress')).toBeLessThan(types.indexOf('request.completed'));
  }
});

async function accountItem(userId: string) {
  const { Item } = await stack.doc.send(
    new GetCommand({ TableName: platformStores.accounts.table.tableName, Key: { userId } }),
  );
  return Item;
}

/** Exports `subject` and checks that the archive holds the one account `userId`. */
async function expectArchiveOfAccount(subject: Record<string, unknown>, userId: string) {
  const { done } = await exportArchive(subject);
  expect(done.status).toBe('completed');
  const { entries } = await openArchive(done);
  const profile = JSON.parse(entries.get('data/accounts/profile.json')!.toString('utf8')) as {
    userId: string;
  }[];
  expect(profile.map((p) => p.userId)).toEqual([userId]);
}

async function expectSubjectConflict(subject: Record<string, unknown>) {
  const { done } = await exportArchive(subject);
  expect(done.status).toBe('failed');
  expect(done.failure).toEqual({ code: 'SUBJECT_CONFLICT' });
  expect(done.export).toBeUndefined();
}

test('the same account is found by email and by phone', async () => {
  const account = await accountItem('u-alice');
  for (const subject of [
    { email: String(account?.email).toUpperCase() },
    { phone: String(account?.phone) },
  ]) {
    await expectArchiveOfAccount(subject, 'u-alice');
  }
});

test('the same account is found by device id and by linked account, through the identifier index the stack built', async () => {
  const account = await accountItem('u-alice');
  const devices = account?.devices as { deviceId: string }[];
  const [link] = account?.externalAccounts as { provider: string; providerUserId: string }[];
  for (const subject of [
    { deviceId: String(devices.at(-1)?.deviceId) },
    { externalAccount: { provider: String(link?.provider), providerUserId: String(link?.providerUserId) } },
  ]) {
    await expectArchiveOfAccount(subject, 'u-alice');
  }
});

test('a device shared by two accounts fails the request with SUBJECT_CONFLICT, no archive', async () => {
  const [device] = (await accountItem('u-frank'))?.devices as { deviceId: string }[];
  await expectSubjectConflict({ deviceId: String(device?.deviceId) });
});

test('an unknown subject completes with an empty but valid archive, and says so', async () => {
  const { done } = await exportArchive({ userId: 'u-nobody-at-all' });
  expect(done.status).toBe('completed');
  expect(done.subjectFound).toBe(false);
  expect(String(done.notice)).toMatch(/no account matched/i);
  const { entries } = await openArchive(done);
  const manifest = checkAgainstManifest(entries);
  expect(manifest.files.reduce((sum, f) => sum + (f.records ?? 0), 0)).toBe(0);
});

test('a phone number shared by two accounts fails the request with SUBJECT_CONFLICT, no archive', async () => {
  const frank = await accountItem('u-frank');
  await expectSubjectConflict({ phone: String(frank?.phone) });
});

describe('bad input gets a clear error and stores nothing', () => {
  async function requestCount(): Promise<number> {
    const out = await stack.doc.send(
      new ScanCommand({
        TableName: orchestratorResources.requestsTable.tableName,
        Select: 'COUNT',
        ConsistentRead: true,
        // Requests only: a rejected attempt is still (rightly) in the audit trail.
        FilterExpression: '#kind = :request',
        ExpressionAttributeNames: { '#kind': 'kind' },
        ExpressionAttributeValues: { ':request': 'request' },
      }),
    );
    return out.Count ?? 0;
  }

  test.each([
    ['malformed JSON', '{"type":', 'MALFORMED_JSON'],
    ['not an object', '[1,2]', 'INVALID_BODY'],
    ['unknown type', { type: 'delete-everything', subject: { userId: 'u-alice' } }, 'UNKNOWN_TYPE'],
    ['missing identifier', { type: 'export', service: 'klub-outside', subject: {} }, 'MISSING_IDENTIFIER'],
    ['no subject', { type: 'export' }, 'MISSING_IDENTIFIER'],
    [
      'two identifiers',
      { type: 'export', service: 'klub-outside', subject: { userId: 'u-alice', email: 'a@b.c' } },
      'MISSING_IDENTIFIER',
    ],
    [
      'unknown field',
      { type: 'export', service: 'klub-outside', subject: { userId: 'u-alice' }, extra: 1 },
      'UNKNOWN_FIELD',
    ],
    ['bad phone', { type: 'export', service: 'klub-outside', subject: { phone: '12345' } }, 'INVALID_FIELD'],
  ])('%s -> 400 %s', async (_name, body, code) => {
    const before = await requestCount();
    const res = await stack.call('POST', '/v1/requests', { body });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.code).toBe(code);
    expect(await requestCount()).toBe(before);
  });

  test('no token -> 401, and nothing stored', async () => {
    const before = await requestCount();
    const res = await stack.call('POST', '/v1/requests', {
      role: null,
      body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-alice' } },
    });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('UNAUTHENTICATED');
    expect(await requestCount()).toBe(before);
  });
});
