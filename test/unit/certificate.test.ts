/** The erasure's plan-vs-inventory verification, the ledger across runs, and the signed certificate. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDefaultPolicy } from '../../functions/lib/erasure/policy';
import { buildPlan } from '../../functions/lib/erasure/planner';
import {
  STORE_CATEGORIES,
  type CategoryInventory,
  type ErasurePlan,
  type HoldScope,
  type StoreName,
} from '../../functions/lib/erasure/types';
import {
  ErasureVerificationFailed,
  buildCertificate,
  outstanding,
  runNumberOf,
  runReport,
  signCertificate,
  updateLedger,
  verifyCertificate,
  verifyErasure,
  type CertificateInput,
  type LogJobOutcome,
} from '../../functions/lib/erasure/certificate';
import { LocalSigner } from '../../functions/lib/crypto/signing';
import { certificateServiceOf, serviceProfile } from '../../functions/lib/services/profiles';

const policy = loadDefaultPolicy();
const NOW = new Date('2026-11-23T00:00:00.000Z');
const daysAgo = (n: number) => new Date(NOW.getTime() - n * 86_400_000).toISOString();

type Inv = Record<StoreName, Record<string, CategoryInventory>>;

function emptyInventory(): Inv {
  const out = {} as Inv;
  for (const store of Object.keys(STORE_CATEGORIES) as StoreName[]) {
    out[store] = Object.fromEntries(STORE_CATEGORIES[store].map((c) => [c, { count: 0 }]));
  }
  return out;
}

/** A subject with data in every kind of category: deleted, anonymised, vaulted, waiting for the log job. */
function subjectInventory(): Inv {
  const inv = emptyInventory();
  inv.accounts.profile = { count: 1 };
  inv.payments.transactions = {
    count: 3,
    dates: {
      transactionDate: [
        { at: daysAgo(2100), count: 1 },
        { at: daysAgo(40), count: 2 },
      ],
    },
  };
  inv.payments['payment-instruments'] = { count: 3 };
  inv.chat.messages = { count: 4 };
  inv.chat.mentions = { count: 2 };
  inv.logs['access-log'] = {
    count: 5,
    dates: {
      recordDate: [
        { at: daysAgo(200), count: 2 },
        { at: daysAgo(10), count: 3 },
      ],
    },
  };
  return inv;
}

function plan(jurisdiction: string, inventory: Inv, holds: HoldScope[] = [], now = NOW): ErasurePlan {
  return buildPlan({ policy, jurisdiction, inventory, holds, now });
}

function after(p: ErasurePlan, overrides: Partial<Record<string, number>> = {}): Inv {
  const inv = emptyInventory();
  for (const e of p.entries) {
    let remaining = 0;
    if (e.action === 'held') remaining = e.count;
    // Log lines wait for the log-erasure job: all of them are still there after the run.
    if (e.store === 'logs') remaining = e.count;
    const override = overrides[`${e.store}/${e.category}`];
    inv[e.store][e.category] = { count: override ?? remaining };
  }
  return inv;
}

/** The log-erasure job removed the 5 access lines of subjectInventory(), 3 of them kept in the vault. */
function accessLogJob(p: ErasurePlan): { until: string; outcome: LogJobOutcome } {
  const rule = p.entries.find((e) => e.category === 'access-log')?.rule;
  const until = rule?.earliestUntil ?? '';
  return {
    until,
    outcome: {
      jobId: 'logjob-1',
      finishedAt: NOW.toISOString(),
      categories: [
        {
          store: 'logs',
          category: 'access-log',
          liveAction: 'delete',
          removed: 5,
          vaulted: [{ until, count: 3 }],
          ...(rule ? { rule } : {}),
        },
      ],
    },
  };
}

describe('verifyErasure', () => {
  test('a clean erasure passes; log lines waiting for the log job and held data remain by design', () => {
    const p = plan('KR', subjectInventory(), [{ holdId: 'hold_1', caseReference: 'C-1', stores: ['chat'] }]);
    const result = verifyErasure(p, after(p));
    expect(result.passed).toBe(true);
    expect(result.leftovers).toEqual([]);
    expect(result.kept).toEqual(
      expect.arrayContaining([
        { store: 'logs', category: 'access-log', remaining: 5, reason: 'pending-log-job' },
        { store: 'chat', category: 'messages', remaining: 4, reason: 'held' },
      ]),
    );
  });

  test.each([
    ['accounts/profile', 1, 'accounts', 'profile'],
    ['chat/mentions', 1, 'chat', 'mentions'],
    // Vaulted records must leave the live store.
    ['payments/transactions', 1, 'payments', 'transactions'],
    // More log lines than the plan counted.
    ['logs/access-log', 6, 'logs', 'access-log'],
  ])('%s still counting %i fails, naming the store', (key, count, store, category) => {
    const p = plan('KR', subjectInventory());
    const result = verifyErasure(p, after(p, { [key]: count }));
    expect(result.passed).toBe(false);
    expect(result.leftovers).toEqual([expect.objectContaining({ store, category, remaining: count })]);
  });

  test('in the run the log job resumed, no log line may remain', () => {
    const p = plan('JP', subjectInventory());
    expect(verifyErasure(p, after(p)).passed).toBe(true);
    expect(verifyErasure(p, after(p), { logJobDone: true }).passed).toBe(false);
    expect(verifyErasure(p, after(p, { 'logs/access-log': 0 }), { logJobDone: true }).passed).toBe(true);
  });

  test('the error names the store in the form describeFailure parses, without personal data', () => {
    const error = new ErasureVerificationFailed('chat', 'messages', 1);
    expect(error.name).toBe('ErasureVerificationFailed');
    expect(` ${error.message}`).toMatch(/\sstore=chat\b/);
  });
});

describe('runReport: what a run did, from its plan as verified', () => {
  test('the first run: removed, anonymised, newly vaulted and held records, by store', () => {
    const p = plan('KR', subjectInventory(), [{ holdId: 'hold_1', caseReference: 'C-1', stores: ['chat'] }]);
    const report = runReport([], updateLedger([], p, 0, NOW), p);
    const of = (store: string) => report.find((r) => r.store === store);
    expect(of('accounts')).toEqual({
      store: 'accounts',
      deleted: 1,
      anonymised: 0,
      retained: 0,
      untouched: 0,
    });
    // Three transactions left the live store; two are kept in the vault (the third's period ended).
    expect(of('payments')).toMatchObject({ deleted: 6, retained: 2, untouched: 0 });
    expect(of('chat')).toEqual({ store: 'chat', deleted: 0, anonymised: 0, retained: 0, untouched: 6 });
    // Log lines wait for the log-erasure job: nothing done to them yet.
    expect(of('logs')).toEqual({ store: 'logs', deleted: 0, anonymised: 0, retained: 0, untouched: 0 });
  });

  test('a resumed run reports only its own work, and the same whatever was reported before', () => {
    const p = plan('KR', subjectInventory());
    const first = updateLedger([], p, 0, NOW);
    const resumed = plan('KR', emptyInventory());
    const second = updateLedger(first, resumed, 1, NOW, accessLogJob(p).outcome);
    const report = runReport(first, second, resumed);
    expect(report.find((r) => r.store === 'logs')).toEqual({
      store: 'logs',
      deleted: 5,
      anonymised: 0,
      retained: 3,
      untouched: 0,
    });
    expect(report.find((r) => r.store === 'accounts')).toMatchObject({ deleted: 0, retained: 0 });
  });
});

describe('ledger and outstanding work', () => {
  test('KR: retained parts keep the request partially completed until the earliest expiry', () => {
    const p = plan('KR', subjectInventory());
    const ledger = updateLedger([], p, 0, NOW);
    const state = outstanding(ledger);
    expect(state.status).toBe('partially_completed');
    expect(state.pendingLogJob).toBe(1);
    // The log lines' retention is not scheduled yet: the log job sends them to the vault.
    const txnsUntil = p.entries.find((e) => e.category === 'transactions')?.rule?.earliestUntil;
    expect(state.nextStepAt).toBe(txnsUntil);
    const txns = ledger.find((e) => e.category === 'transactions');
    expect(txns).toMatchObject({ state: 'retained', deleted: 3 });
    expect(txns?.retained).toMatchObject({ location: 'vault', destroyed: 0 });
    expect(txns?.retained?.schedule.reduce((n, s) => n + s.count, 0)).toBe(2);
    const logs = ledger.find((e) => e.category === 'access-log');
    expect(logs).toMatchObject({
      state: 'pending',
      deleted: 0,
      pending: { records: 5, reason: 'log-erasure-job' },
    });
    expect(logs?.retained).toBeUndefined();
  });

  test('the run the log job resumed folds in what it did: removed lines, and the vaulted ones until their expiry', () => {
    const p = plan('KR', subjectInventory());
    const first = updateLedger([], p, 0, NOW);
    const { until, outcome } = accessLogJob(p);
    // The lines are gone from the live logs: the resumed run plans nothing for them.
    const second = updateLedger(first, plan('KR', emptyInventory()), 1, NOW, outcome);
    expect(second.find((e) => e.category === 'access-log')).toMatchObject({
      state: 'retained',
      deleted: 5,
      retained: { location: 'vault', schedule: [{ until, count: 3 }], destroyed: 0 },
      run: 1,
    });
    expect(second.find((e) => e.category === 'access-log')?.pending).toBeUndefined();
    expect(outstanding(second).pendingLogJob).toBe(0);
  });

  test('a resumed run past every expiry completes; vaulted records count as destroyed', () => {
    const first = updateLedger([], plan('KR', subjectInventory()), 0, NOW);
    const later = new Date('2032-01-01T00:00:00.000Z');
    // Everything is gone from the live stores; the log job removed the 5 lines (their copies expired).
    const inv = emptyInventory();
    const second = updateLedger(first, plan('KR', inv, [], later), 1, later, {
      jobId: 'logjob-1',
      finishedAt: later.toISOString(),
      categories: [{ store: 'logs', category: 'access-log', liveAction: 'delete', removed: 5, vaulted: [] }],
    });
    expect(outstanding(second)).toEqual({
      status: 'completed',
      nextStepAt: null,
      heldBy: [],
      pendingLogJob: 0,
    });
    expect(second.find((e) => e.category === 'transactions')).toMatchObject({
      state: 'deleted',
      deleted: 3,
      retained: { destroyed: 2, schedule: [] },
    });
    expect(second.find((e) => e.category === 'access-log')).toMatchObject({ state: 'deleted', deleted: 5 });
    expect(second.find((e) => e.category === 'profile')).toMatchObject({ state: 'deleted', deleted: 1 });
  });

  test('a held category stays held (no date) until a run after the release erases it', () => {
    const hold = { holdId: 'hold_1', caseReference: 'C-1', stores: ['chat'] as StoreName[] };
    const first = updateLedger([], plan('JP', subjectInventory(), [hold]), 0, NOW);
    expect(outstanding(first)).toEqual({
      status: 'partially_completed',
      nextStepAt: null,
      heldBy: ['hold_1'],
      pendingLogJob: 1,
    });
    const inv = emptyInventory();
    inv.chat.messages = { count: 4 };
    inv.chat.mentions = { count: 2 };
    const second = updateLedger(first, plan('JP', inv), 1, NOW);
    expect(outstanding(second).status).toBe('completed');
    expect(second.find((e) => e.category === 'messages')).toMatchObject({
      state: 'deleted',
      deleted: 4,
      run: 1,
    });
    expect(second.find((e) => e.category === 'mentions')).toMatchObject({
      state: 'anonymised',
      anonymised: 2,
    });
  });

  test('run numbers come from execution names', () => {
    expect(runNumberOf('req_abc')).toBe(0);
    expect(runNumberOf('req_abc-r3')).toBe(3);
    expect(runNumberOf('req_abc-w2')).toBe(0);
    expect(runNumberOf('req_abc-r3-w1')).toBe(3);
    expect(runNumberOf(undefined)).toBe(0);
  });
});

describe('the certificate', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dsr-cert-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function input(p: ErasurePlan, overrides: Partial<CertificateInput> = {}): CertificateInput {
    return {
      issuer: 'dsr-orchestrator',
      service: certificateServiceOf(serviceProfile('klub-outside')),
      requestId: 'req_' + 'a'.repeat(32),
      requestedAt: NOW.toISOString(),
      subjectHash: 'H'.repeat(43),
      subjectFound: true,
      plan: p,
      ledger: updateLedger([], p, 0, NOW),
      verification: verifyErasure(p, after(p)),
      verifiedAt: NOW.toISOString(),
      processors: [
        {
          processorId: 'kuore',
          name: 'Kuore Inc.',
          run: 0,
          status: 'acknowledged',
          httpStatus: 200,
          attempts: 1,
          at: NOW.toISOString(),
          categories: ['accounts/profile'],
        },
      ],
      runs: [
        {
          run: 0,
          executionName: 'req_x',
          startedAt: NOW.toISOString(),
          asOf: NOW.toISOString(),
          trigger: 'request',
        },
      ],
      number: 1,
      issuedAt: NOW.toISOString(),
      asOf: NOW.toISOString(),
      ...overrides,
    };
  }

  test('states per store and category what was deleted, anonymised, retained (basis, until) and held', () => {
    const hold = {
      holdId: 'hold_1',
      caseReference: 'C-1',
      stores: ['chat'] as StoreName[],
      categories: ['messages'],
    };
    const p = plan('KR', subjectInventory(), [hold]);
    const cert = buildCertificate(input(p));
    expect(cert).toMatchObject({
      type: 'erasure-certificate',
      subject: { keyedHash: 'H'.repeat(43), found: true },
      policy: { version: policy.version, hash: policy.hash },
      jurisdiction: { requested: 'KR', applied: 'KR' },
      status: 'partially_completed',
      verification: { result: 'passed' },
    });
    const cat = (store: string, category: string) =>
      cert.stores.find((s) => s.store === store)?.categories.find((c) => c.category === category);
    expect(cat('accounts', 'profile')).toMatchObject({ state: 'deleted', deleted: 1 });
    expect(cat('chat', 'mentions')).toMatchObject({ state: 'anonymised', anonymised: 2 });
    expect(cat('chat', 'messages')).toMatchObject({
      state: 'held',
      held: [{ holdId: 'hold_1', caseReference: 'C-1' }],
    });
    const txns = cat('payments', 'transactions');
    expect(txns?.retained).toMatchObject({
      location: 'vault',
      records: 2,
      period: 'P5Y',
      basis: { law: expect.stringContaining('Electronic Commerce') },
    });
    expect(txns?.retained?.until).toBe(p.entries.find((e) => e.category === 'transactions')?.rule?.until);
    expect(cert.processors[0]).toMatchObject({
      processorId: 'kuore',
      status: 'acknowledged',
      httpStatus: 200,
    });
    // No identifier anywhere: only the keyed hash names the subject.
    expect(JSON.stringify(cert)).not.toMatch(/u-alice|@/);
  });

  test("names the service and its controller, and nothing of another service's", () => {
    const cert = buildCertificate(
      input(plan('JP', subjectInventory()), { service: certificateServiceOf(serviceProfile('metalive')) }),
    );
    expect(cert.service).toEqual({
      id: 'metalive',
      name: 'METALIVE',
      controller: { name: 'The operator of METALIVE', legalName: null, address: null },
    });
    const klub = buildCertificate(input(plan('KR', subjectInventory())));
    expect(klub.service).toMatchObject({
      id: 'klub-outside',
      controller: { legalName: 'Sony Music Solutions Inc.', address: expect.stringContaining('Minato-ku') },
    });
  });

  test('refuses to certify an erasure whose verification failed', () => {
    const p = plan('KR', subjectInventory());
    expect(() =>
      buildCertificate(input(p, { verification: verifyErasure(p, after(p, { 'chat/messages': 1 })) })),
    ).toThrow(ErasureVerificationFailed);
  });

  test('is a compact ES256 JWS that verifies against the JWKS; a changed byte does not', async () => {
    const signer = new LocalSigner(dir);
    const cert = buildCertificate(input(plan('JP', subjectInventory())));
    const { jws, kid } = await signCertificate(cert, signer);
    expect(jws.split('.')).toHaveLength(3);
    const jwks = await signer.publicJwks();
    const ok = await verifyCertificate(jws, jwks);
    expect(ok).toMatchObject({
      ok: true,
      kid,
      // Its log lines wait for the log-erasure job.
      payload: { certificateId: cert.certificateId, status: 'partially_completed' },
    });
    const [h, payload, s] = jws.split('.');
    const forged = Buffer.from(payload!, 'base64url')
      .toString('utf8')
      .replace('"partially_completed"', '"completed"');
    expect((await verifyCertificate(`${h}.${Buffer.from(forged).toString('base64url')}.${s}`, jwks)).ok).toBe(
      false,
    );
    expect((await verifyCertificate(jws, { keys: [] })).ok).toBe(false);
  });
});
