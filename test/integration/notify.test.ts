/**
 * The notification email, through the whole export workflow on the local stack: the request's
 * `notify` opt-in, the NotifySubject state between MarkCompleted and CleanUpStaging, the `.eml` the
 * outbox mailer writes (what SES would send), and an export that stays completed when the email fails.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { orchestratorResources } from '../../config/data-map';
import { formatDate } from '../../functions/lib/downloads/download-page';
import { TransientError } from '../../functions/lib/runtime/errors';
import { EventLog } from '../../functions/lib/requests/event-log';
import { requestTable } from '../../functions/lib/requests/request-table';
import { stagingKeys } from '../../functions/lib/aws/s3-objects';
import { startTestStack, type TestStack } from '../support/local-stack';

let stack: TestStack;
/** Fault injection: while set, every notify invocation fails as a throttled SES would. */
let failNotify = false;
let notifyAttempts = 0;
/** While set, the notify task waits for it: a view of the request gets to issue the link first. */
let notifyGate: Promise<void> | undefined;

beforeAll(async () => {
  stack = await startTestStack({
    workflows: {
      // NotifySubject's retries, without their production pauses.
      retryIntervalOverrides: { NotifySubject: 5 },
      interceptor: async (functionName, _payload, invoke) => {
        if (functionName === 'dsr-notify') {
          await notifyGate;
          notifyAttempts++;
          if (failNotify) throw new TransientError('SES send failed: TooManyRequestsException');
        }
        return invoke();
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const outbox = () => join(stack.dataDir, 'outbox');
const emailsFor = (requestId: string) =>
  existsSync(outbox())
    ? readdirSync(outbox())
        .filter((f) => f.endsWith(`-${requestId}.eml`))
        .map((f) => join(outbox(), f))
    : [];

/** Creates an export, waits for the whole workflow (NotifySubject runs after `completed` is recorded). */
async function exportFor(userId: string, notify?: boolean) {
  const body = {
    type: 'export',
    service: 'klub-outside',
    subject: { userId },
    ...(notify === undefined ? {} : { notify }),
  };
  const created = await stack.call('POST', '/v1/requests', { body });
  expect(created.status).toBe(202);
  const requestId = String(created.body.requestId);
  const done = await stack.waitForStatus(requestId, ['completed', 'failed']);
  expect({ status: done.status, failure: done.failure }).toEqual({ status: 'completed', failure: undefined });
  await stack.workflows.idle();
  const execution = stack.workflows.describe(
    `${stack.workflows.arnOf('dsr-export').replace(':stateMachine:', ':execution:')}:${requestId}`,
  );
  expect(execution?.status).toBe('SUCCEEDED');
  return { requestId, created: created.body };
}

function readEmail(file: string) {
  const raw = readFileSync(file, 'utf8');
  const [head, body] = raw.split('\r\n\r\n') as [string, string];
  return { raw, head, text: Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') };
}

async function eventTypes(requestId: string) {
  const eventLog = new EventLog(requestTable(stack.doc, orchestratorResources.requestsTable.tableName));
  const events = await eventLog.list(requestId);
  return { types: events.map((e) => e.type), json: JSON.stringify(events) };
}

test('an export with notify: true emails one working link, with its expiry, in the account language', async () => {
  // u-alice's account says ko-KR (no Korean template: English); u-bob's says ja-JP.
  const [alice, bob] = await Promise.all([exportFor('u-alice', true), exportFor('u-bob', true)]);
  expect(alice.created.notify).toBe(true);

  for (const [made, to, locale] of [
    [alice, 'seoyeon.kim@example.com', 'en'],
    [bob, 'kenji.sato@example.jp', 'ja'],
  ] as const) {
    const files = emailsFor(made.requestId);
    expect(files).toHaveLength(1);
    const email = readEmail(files[0]!);
    expect(email.head).toMatch(new RegExp(`^To: ${to.replace(/\./g, '\\.')}\\r$`, 'm'));
    expect(email.head).toMatch(/^From: privacy@dsr\.example\r$/m);
    expect(email.head).toContain(`Content-Language: ${locale}`);
    expect(email.raw).not.toMatch(/multipart|attachment|application\/zip/i);

    const view = await stack.call('GET', `/v1/requests/${made.requestId}`);
    const downloadUrl = String(view.body.downloadUrl);
    const { expiresAt } = view.body.download as { expiresAt: string };
    expect(email.text).toContain(downloadUrl);
    expect(email.text).toContain(formatDate(expiresAt, locale));
    expect(email.text).toContain(locale === 'ja' ? '有効期限' : 'The link expires');

    // The link in the email opens the download page.
    const link = /(http:\/\/\S+\/v1\/downloads\/\S+)/.exec(email.text)?.[1];
    expect(link).toBe(downloadUrl);
    const page = await fetch(link!, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain((view.body.export as { sha256: string }).sha256);

    const events = await eventTypes(made.requestId);
    expect(events.types).toContain('download.notified');
    expect(events.json).not.toContain(to);
  }
}, 120_000);

test('an export without notify sends nothing, and erasure refuses the opt-in', async () => {
  const before = readdirSync(outbox()).length;
  const { requestId, created } = await exportFor('u-carol');
  expect(created.notify).toBeUndefined();
  expect(emailsFor(requestId)).toHaveLength(0);
  expect(readdirSync(outbox())).toHaveLength(before);
  // The workflow still issued the link.
  expect((await eventTypes(requestId)).types).toContain('download.link_issued');

  const erasure = await stack.call('POST', '/v1/requests', {
    body: { type: 'erasure', service: 'klub-outside', subject: { userId: 'u-carol' }, notify: true },
  });
  expect(erasure.status).toBe(400);
  expect(erasure.body).toMatchObject({ code: 'INVALID_FIELD', detail: 'Invalid value for notify' });
}, 120_000);

test('a failing mailer is retried, then leaves the export completed, its staging cleaned, no email', async () => {
  failNotify = true;
  notifyAttempts = 0;
  try {
    const { requestId } = await exportFor('u-dave', true);
    // One attempt and the four retries of NotifySubject, then its Catch.
    expect(notifyAttempts).toBe(5);
    expect(emailsFor(requestId)).toHaveLength(0);
    const view = await stack.call('GET', `/v1/requests/${requestId}`);
    expect(view.body.status).toBe('completed');
    expect(view.body.failure).toBeUndefined();
    expect((view.body.download as { status: string }).status).toBe('active');
    // CleanUpStaging ran after the caught failure.
    await expect(
      stack.getObjectBytes(orchestratorResources.stagingBucket, stagingKeys.subject(requestId)),
    ).rejects.toMatchObject({ name: 'NoSuchKey' });
  } finally {
    failNotify = false;
  }
}, 120_000);

test('a link issued by a view of the request (before the notify task) is recorded, once', async () => {
  let open = () => undefined as void;
  notifyGate = new Promise<void>((resolve) => (open = resolve));
  try {
    const created = await stack.call('POST', '/v1/requests', {
      body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-carol' } },
    });
    const requestId = String(created.body.requestId);
    await stack.waitForStatus(requestId, ['completed']);
    const view = await stack.call('GET', `/v1/requests/${requestId}`);
    expect(view.body.downloadUrl).toEqual(expect.any(String));
    open();
    await stack.workflows.idle();
    const { types } = await eventTypes(requestId);
    expect(types.filter((type) => type === 'download.link_issued')).toHaveLength(1);
  } finally {
    open();
    notifyGate = undefined;
  }
});
