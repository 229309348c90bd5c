/**
 * The procedures around a request on the real local stack (API, DynamoDB Local, s3rver, the ASL files):
 * a Cluster disclosure waits for verification, then for its 1,000 JPY fee, and completes once both are
 * recorded; an erasure never waits for a fee; a GDPR request is never charged and its clock waits with
 * it. A minor's own erasure is refused, their guardian's proceeds, a guardian's for an adult is refused.
 * A refused export and a partial one: the person's e-mail names what was not done and why; the partial
 * archive holds exactly the stores not left out and its manifest says what was. Bad input answers a
 * stable code and changes nothing.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { orchestratorResources } from '../../config/data-map';
import type { Manifest } from '../../functions/lib/export/manifest';
import { startTestStack, type TestStack } from '../support/local-stack';
import { readZip } from '../support/zip';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const outbox = () => join(stack.dataDir, 'outbox');

/** The decoded text (subject and body) of every e-mail sent about a request. */
function mailsFor(requestId: string): string[] {
  if (!existsSync(outbox())) return [];
  return readdirSync(outbox())
    .filter((f) => f.endsWith(`-${requestId}.eml`))
    .sort()
    .map((f) => {
      const raw = readFileSync(join(outbox(), f), 'utf8');
      const [head = '', body = ''] = raw.split('\r\n\r\n');
      const subject = /^Subject: (.*)$/m.exec(head)?.[1] ?? '';
      const decoded = subject.startsWith('=?UTF-8?B?')
        ? Buffer.from(subject.slice(10, -2), 'base64').toString('utf8')
        : subject;
      return `${decoded}\n${Buffer.from(body.replace(/\r\n/g, ''), 'base64').toString('utf8')}`;
    });
}

async function waitForMails(requestId: string, count: number): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const mails = mailsFor(requestId);
    if (mails.length >= count || Date.now() > deadline) return mails;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function open(body: Record<string, unknown>) {
  return stack.call('POST', '/v1/requests', { body });
}

async function get(requestId: string) {
  return (await stack.call('GET', `/v1/requests/${requestId}`)).body;
}

const post = (requestId: string, action: string, body: unknown) =>
  stack.call('POST', `/v1/requests/${requestId}/${action}`, { body });

const verified = { method: 'id_document', verifiedBy: 'support-agent-17', evidenceRef: 'ZD-5521' };

test('a Cluster disclosure waits for verification, then for its fee; with both recorded it completes', async () => {
  const created = await open({ type: 'export', service: 'cluster', subject: { userId: 'u-haruto' } });
  expect(created.status).toBe(202);
  expect(created.body).toMatchObject({ status: 'awaiting_verification', jurisdiction: 'JP' });
  expect(created.body.fee).toEqual({ status: 'due', amount: 1000, currency: 'JPY' });
  // APPI counts from receipt: the deadline runs while it waits.
  expect(created.body.dueAt).toBeDefined();
  const requestId = String(created.body.requestId);
  // Not started: no workflow runs while it waits.
  await new Promise((r) => setTimeout(r, 500));
  expect((await get(requestId)).status).toBe('awaiting_verification');

  const afterVerification = await post(requestId, 'verification', verified);
  expect(afterVerification.status).toBe(200);
  expect(afterVerification.body.status).toBe('awaiting_payment');
  expect(afterVerification.body.verification).toMatchObject({
    method: 'id_document',
    evidenceRef: 'ZD-5521',
  });

  const paid = await post(requestId, 'fee', { outcome: 'paid', reference: 'PAY-1' });
  expect(paid.status).toBe(200);
  expect(paid.body.fee).toMatchObject({ status: 'paid', amount: 1000, currency: 'JPY' });
  const done = await stack.waitForStatus(requestId, ['completed', 'failed'], 90_000);
  expect(done.status).toBe('completed');

  // The person was told, in Japanese, by Cluster, what each wait was for.
  const mails = await waitForMails(requestId, 2);
  expect(mails).toHaveLength(2);
  expect(mails[0]).toContain('Cluster: ご本人確認のお願い');
  expect(mails[1]).toContain('Cluster: 手数料のお支払いのお願い');
  expect(mails[1]).toContain('1,000 JPY');
  const events = (await stack.call('GET', `/v1/requests/${requestId}/events`)).body.events as {
    type: string;
  }[];
  expect(events.map((e) => e.type)).toEqual(
    expect.arrayContaining(['request.verified', 'request.fee_paid', 'notice.sent']),
  );
}, 120_000);

test('an erasure never waits for a fee; a GDPR request is never charged and its clock waits with it', async () => {
  const erasure = await open({ type: 'erasure', service: 'cluster', subject: { userId: 'u-haruto' } });
  expect(erasure.body).toMatchObject({ status: 'awaiting_verification' });
  expect(erasure.body.fee).toBeUndefined();
  const erasureId = String(erasure.body.requestId);
  const started = await post(erasureId, 'verification', { ...verified, method: 'account_login' });
  expect(started.body.status).toBe('received');

  const gdpr = await open({
    type: 'export',
    service: 'cluster',
    subject: { email: 'someone-in-berlin@example.de' },
    jurisdiction: 'DE',
  });
  expect(gdpr.body).toMatchObject({ status: 'awaiting_verification', deadlinePaused: true });
  expect(gdpr.body.fee).toBeUndefined();
  expect(gdpr.body.dueAt).toBeUndefined();
  const gdprId = String(gdpr.body.requestId);
  const running = await post(gdprId, 'verification', verified);
  expect(running.body.status).toBe('received');
  expect(running.body.deadlinePaused).toBeUndefined();
  // The month starts when it could be acted on.
  expect(Date.parse(String(running.body.dueAt))).toBeGreaterThan(Date.now() + 27 * 86_400_000);
  expect((await stack.waitForStatus(gdprId, ['completed', 'failed'], 90_000)).status).toBe('completed');
  const erased = await stack.waitForStatus(erasureId, ['completed', 'partially_completed', 'failed'], 90_000);
  expect(erased.status).not.toBe('failed');
  // The erasure's outcome is told: what was deleted (the account had an address when it was opened).
  const [waiting, doneMail] = await waitForMails(erasureId, 2);
  expect(waiting).toContain('ご本人確認のお願い');
  expect(doneMail).toContain('Cluster: 個人データを削除しました');
  expect(doneMail).toContain('削除したもの');
}, 150_000);

test("a minor's own erasure is refused; their guardian's proceeds; a guardian's for an adult is refused", async () => {
  const own = await open({ type: 'erasure', service: 'klub-outside', subject: { userId: 'u-minnie' } });
  expect(own.status).toBe(422);
  expect(own.body.code).toBe('GUARDIAN_REQUIRED');
  const forAdult = await open({
    type: 'erasure',
    service: 'klub-outside',
    subject: { userId: 'u-alice' },
    requester: { kind: 'guardian', userId: 'u-dave', evidenceRef: 'ZD-9' },
  });
  expect(forAdult.status).toBe(422);
  expect(forAdult.body.code).toBe('NOT_GUARDIAN');
  const listed = await stack.call('GET', '/v1/requests?type=erasure&service=klub-outside');
  expect(listed.body.requests).toEqual([]);

  const guardian = await open({
    type: 'erasure',
    service: 'klub-outside',
    subject: { userId: 'u-minnie' },
    requester: { kind: 'guardian', userId: 'u-dave', evidenceRef: 'ZD-10' },
  });
  expect(guardian.status).toBe(202);
  // klub-outside acts for a representative on an Appendix 11 power of attorney.
  expect(guardian.body.status).toBe('awaiting_verification');
  const requestId = String(guardian.body.requestId);
  const wrong = await post(requestId, 'verification', { ...verified, method: 'confirmed_email' });
  expect(wrong.status).toBe(422);
  expect(wrong.body.code).toBe('VERIFICATION_METHOD_NOT_ACCEPTED');
  const ok = await post(requestId, 'verification', { ...verified, method: 'power_of_attorney_appendix11' });
  expect(ok.body.status).toBe('received');
  const done = await stack.waitForStatus(requestId, ['completed', 'partially_completed', 'failed'], 90_000);
  expect(done.status).not.toBe('failed');
  // The same call again (its answer was lost, the client retries): answered as the request stands now.
  const again = await post(requestId, 'verification', {
    ...verified,
    method: 'power_of_attorney_appendix11',
  });
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ requestId, status: done.status });
  // Another verification is not a repeat: the request no longer waits for one.
  const other = await post(requestId, 'verification', {
    ...verified,
    method: 'power_of_attorney_appendix11',
    evidenceRef: 'ZD-11',
  });
  expect(other.status).toBe(409);
  expect(other.body.code).toBe('NOT_AWAITING_VERIFICATION');
}, 120_000);

test('a refused export: the person is told what was not done, why, and how to appeal', async () => {
  const created = await open({ type: 'export', service: 'metalive', subject: { userId: 'u-rin' } });
  expect(created.body.status).toBe('awaiting_verification');
  const requestId = String(created.body.requestId);
  const refused = await post(requestId, 'refuse', {
    reasonCode: 'identity_not_verified',
    legalGround: 'appi-art-37',
  });
  expect(refused.status).toBe(200);
  expect(refused.body).toMatchObject({
    status: 'refused',
    refusal: { reasonCode: 'identity_not_verified', legalGround: 'appi-art-37' },
  });
  const mails = await waitForMails(requestId, 2);
  const mail = mails.find((m) => m.includes('ご請求にお応えできません')) ?? '';
  expect(mail).toContain('METALIVE');
  expect(mail).toContain('保有個人データの開示');
  expect(mail).toContain('個人情報保護法第37条');
  expect(mail).toContain('不服申立ての方法');
  // Refused is final: nothing more can be recorded.
  const late = await post(requestId, 'verification', verified);
  expect(late.status).toBe(409);
  expect(late.body).toMatchObject({ code: 'NOT_AWAITING_VERIFICATION', requestStatus: 'refused' });
}, 60_000);

test('a partial export: the archive holds exactly the stores not left out and its manifest says what was left out', async () => {
  const created = await open({ type: 'export', service: 'metalive', subject: { userId: 'u-rin' } });
  const requestId = String(created.body.requestId);
  const parts = [
    { store: 'chat', reasonCode: 'rights_of_others', legalGround: 'appi-art-33-2-i' },
    { store: 'marketing', reasonCode: 'manifestly_excessive', legalGround: 'appi-art-33-2-ii' },
  ];
  const set = await post(requestId, 'exclusions', { exclusions: parts });
  expect(set.status).toBe(200);
  expect(set.body.exclusions).toEqual(parts);
  await post(requestId, 'verification', { ...verified, method: 'confirmed_email' });
  const done = await stack.waitForStatus(requestId, ['completed', 'failed'], 90_000);
  expect(done.status).toBe('completed');

  const entries = await readZip(
    await stack.getObjectBytes(orchestratorResources.exportsBucket, (done.export as { key: string }).key),
  );
  const manifest = JSON.parse(entries.get('manifest.json')?.toString('utf8') ?? '{}') as Manifest;
  expect(manifest.stores.map((s) => s.store).sort()).toEqual(['accounts', 'logs', 'payments']);
  expect([...entries.keys()].filter((p) => /\/(chat|marketing)\//.test(p))).toEqual([]);
  expect(manifest.leftOut).toEqual(parts);

  const mails = await waitForMails(requestId, 2);
  const partial = mails.find((m) => m.includes('ご請求の一部にお応えできませんでした')) ?? '';
  expect(partial).toContain('メッセージ・チャット');
  expect(partial).toContain('マーケティング・キャンペーン');
  expect(partial).toContain('個人情報保護法第33条第2項第1号');
}, 120_000);

test('bad input answers a stable code and changes nothing', async () => {
  const created = await open({ type: 'export', service: 'audiostock', subject: { userId: 'u-haruto-as' } });
  expect(created.body).toMatchObject({
    status: 'awaiting_verification',
    fee: { status: 'due', currency: 'JPY' },
  });
  const requestId = String(created.body.requestId);
  const before = await get(requestId);
  const cases: [string, unknown, number, string][] = [
    ['verification', { method: 'fingerprint', verifiedBy: 'x' }, 400, 'INVALID_FIELD'],
    ['verification', { method: 'id_document' }, 400, 'MISSING_FIELD'],
    ['verification', { ...verified, document: 'scan.pdf' }, 400, 'UNKNOWN_FIELD'],
    ['verification', { ...verified, verifiedAt: '2999-01-01T00:00:00Z' }, 400, 'INVALID_FIELD'],
    ['verification', { ...verified, method: 'confirmed_email' }, 422, 'VERIFICATION_METHOD_NOT_ACCEPTED'],
    ['fee', { outcome: 'paid' }, 409, 'NOT_AWAITING_PAYMENT'],
    ['fee', { outcome: 'waived' }, 400, 'MISSING_FIELD'],
    [
      'refuse',
      { reasonCode: 'rights_of_others', legalGround: 'gdpr-art-15-4' },
      422,
      'LEGAL_GROUND_NOT_APPLICABLE',
    ],
    [
      'refuse',
      { reasonCode: 'service_exception', legalGround: 'service-policy', exception: 'access-logs' },
      422,
      'UNKNOWN_EXCEPTION',
    ],
    [
      'exclusions',
      { exclusions: [{ store: 'chat', reasonCode: 'rights_of_others', legalGround: 'appi-art-33-2-i' }] },
      422,
      'STORE_NOT_HELD',
    ],
    [
      'exclusions',
      {
        exclusions: ['accounts', 'payments', 'logs'].map((store) => ({
          store,
          reasonCode: 'rights_of_others',
          legalGround: 'appi-art-33-2-i',
        })),
      },
      422,
      'NOTHING_LEFT',
    ],
  ];
  for (const [action, body, status, code] of cases) {
    const res = await post(requestId, action, body);
    expect({ action, status: res.status, code: res.body.code }).toEqual({ action, status, code });
  }
  expect(await get(requestId)).toEqual(before);

  // Audiostock states no amount: support records what was paid.
  await post(requestId, 'verification', verified);
  const noAmount = await post(requestId, 'fee', { outcome: 'paid' });
  expect(noAmount.body.code).toBe('FEE_AMOUNT_REQUIRED');
  const waived = await post(requestId, 'fee', {
    outcome: 'waived',
    reason: 'Answered by e-mail, no mail sent',
  });
  expect(waived.body).toMatchObject({ status: 'received', fee: { status: 'waived', currency: 'JPY' } });
  expect((await stack.waitForStatus(requestId, ['completed', 'failed'], 90_000)).status).toBe('completed');
}, 120_000);
