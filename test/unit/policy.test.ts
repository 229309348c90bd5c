import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  PolicyError,
  addDuration,
  canonicalJson,
  loadDefaultPolicy,
  loadPolicy,
  parseDuration,
  policyView,
  processorsFor,
  resolveJurisdiction,
  retentionFor,
  retentionUntil,
} from '../../functions/lib/erasure/policy';
import { STORE_CATEGORIES, type StoreName } from '../../functions/lib/erasure/types';

const POLICY_FILE = join(__dirname, '../../config/policy/policy.v1.json');
const shippedJson = (): Record<string, unknown> =>
  JSON.parse(readFileSync(POLICY_FILE, 'utf8')) as Record<string, unknown>;

// JSON-pointer edits on a plain clone of the shipped policy, so each case changes one thing.
function parentOf(doc: Record<string, unknown>, ptr: string): [Record<string, unknown> | unknown[], string] {
  const parts = ptr
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = parts.pop();
  if (last === undefined) throw new Error('empty pointer');
  let node: unknown = doc;
  for (const part of parts) {
    node = (node as Record<string, unknown>)[part];
    if (node === null || typeof node !== 'object') throw new Error(`no ${ptr}`);
  }
  return [node as Record<string, unknown>, last];
}
function set(doc: Record<string, unknown>, ptr: string, value: unknown): void {
  const [parent, key] = parentOf(doc, ptr);
  (parent as Record<string, unknown>)[key] = value;
}
function remove(doc: Record<string, unknown>, ptr: string): void {
  const [parent, key] = parentOf(doc, ptr);
  delete (parent as Record<string, unknown>)[key];
}
function get(doc: Record<string, unknown>, ptr: string): unknown {
  const [parent, key] = parentOf(doc, ptr);
  return (parent as Record<string, unknown>)[key];
}

function faultsOf(doc: unknown): PolicyError {
  try {
    loadPolicy(doc, 'test-policy');
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error('expected the policy to be refused');
}

describe('the shipped policy', () => {
  const policy = loadDefaultPolicy();

  it('loads, with its version and a content hash', () => {
    expect(policy.version).toBe(shippedJson().version);
    expect(policy.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(loadPolicy(POLICY_FILE).hash).toBe(policy.hash);
    expect(policyView(policy)).toEqual({
      version: policy.version,
      hash: policy.hash,
      policy: policy.document,
    });
  });

  it('has an action for every store and category the connectors report, and nothing else', () => {
    for (const [store, categories] of Object.entries(STORE_CATEGORIES)) {
      expect(Object.keys(policy.document.stores[store as StoreName].categories).sort()).toEqual(
        [...categories].sort(),
      );
    }
    expect(Object.keys(policy.document.stores).sort()).toEqual(Object.keys(STORE_CATEGORIES).sort());
  });

  it('retains in KR exactly the records of seed 000, for its periods, from the right dates', () => {
    const kr = policy.document.jurisdictions.KR?.retention ?? {};
    const rules = Object.entries(kr).flatMap(([store, cats]) =>
      Object.entries(cats).map(([category, r]) => ({
        key: `${store}/${category}`,
        period: r.period,
        from: r.from,
        law: r.basis.law,
      })),
    );
    const ecommerce = 'Act on the Consumer Protection in Electronic Commerce, Etc.';
    const comms = 'Protection of Communications Secrets Act';
    expect(rules.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'accounts/marketing-consents', period: 'P6M', from: 'recordDate', law: ecommerce },
      { key: 'chat/complaints', period: 'P3Y', from: 'complaintDate', law: ecommerce },
      { key: 'logs/access-log', period: 'P3M', from: 'recordDate', law: comms },
      { key: 'logs/voice-sessions', period: 'P12M', from: 'sessionDate', law: comms },
      { key: 'marketing/email-events', period: 'P6M', from: 'recordDate', law: ecommerce },
      { key: 'payments/transactions', period: 'P5Y', from: 'transactionDate', law: ecommerce },
    ]);
    expect(kr.logs?.['voice-sessions']?.basis.provision).toContain('Article 41');
  });

  it('never keeps card data: the retained payment fields are the minimal set', () => {
    const keep = policy.document.jurisdictions.KR?.retention.payments?.transactions?.keep ?? [];
    expect(keep).not.toEqual(expect.arrayContaining(['card']));
    expect(keep.some((f) => /card|cvc|billing/i.test(f))).toBe(false);
    expect(keep).toEqual(expect.arrayContaining(['txnId', 'txnAt', 'amount', 'currency', 'processorRef']));
  });

  it('has a default profile with no retention', () => {
    expect(policy.document.jurisdictions.default?.retention).toEqual({});
  });

  it('names the processors of the seeds, each on known categories', () => {
    expect(policy.document.processors.map((p) => p.id)).toEqual(
      expect.arrayContaining(['sony-payment-services', 'japan-post', 'kuore']),
    );
    expect(processorsFor(policy, 'payments', 'transactions').map((p) => p.id)).toEqual([
      'sony-payment-services',
    ]);
    expect(processorsFor(policy, 'media', 'avatars')).toEqual([]);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.document.jurisdictions.KR?.retention.payments?.transactions?.keep)).toBe(
      true,
    );
  });
});

describe('retentionFor and resolveJurisdiction', () => {
  const policy = loadDefaultPolicy();

  it.each([
    ['KR', 'KR'],
    ['kr', 'KR'],
    [' KR-11 ', 'KR'],
    ['JP', 'default'],
    ['US-CA', 'default'],
    ['DE', 'default'],
    ['default', 'default'],
  ])('%s resolves to %s', (code, expected) => {
    expect(resolveJurisdiction(policy, code)).toBe(expected);
  });

  it.each(['', 'Korea', 'K', 'XX', 'ZZ-1', 'KR_11'])('refuses the malformed code %j', (code) => {
    expect(() => resolveJurisdiction(policy, code)).toThrow(/ISO 3166/);
  });

  it('retains payments in KR and deletes them elsewhere', () => {
    const kr = retentionFor(policy, 'KR', 'payments', 'transactions');
    expect(kr).toMatchObject({ jurisdiction: 'KR', action: 'retain', liveAction: 'delete' });
    expect(kr.rule?.period).toBe('P5Y');
    expect(retentionFor(policy, 'FR', 'payments', 'transactions')).toEqual({
      jurisdiction: 'default',
      action: 'delete',
      liveAction: 'delete',
      rule: null,
    });
    expect(retentionFor(policy, 'JP', 'logs', 'voice-sessions').action).toBe('anonymise');
  });

  it('refuses an unknown category', () => {
    expect(() => retentionFor(policy, 'KR', 'payments', 'chargebacks')).toThrow(/payments\/chargebacks/);
  });

  it('computes a record expiry as anchor + period', () => {
    const rule = retentionFor(policy, 'KR', 'logs', 'access-log').rule;
    expect(rule).not.toBeNull();
    expect(retentionUntil(rule ?? { period: 'P0D' }, '2026-08-31T12:00:00Z').toISOString()).toBe(
      '2026-11-30T12:00:00.000Z',
    );
  });
});

describe('ISO 8601 durations', () => {
  it.each([
    ['2024-01-31T10:00:00Z', 'P1M', '2024-02-29T10:00:00.000Z'],
    ['2023-01-31T10:00:00Z', 'P1M', '2023-02-28T10:00:00.000Z'],
    ['2024-02-29T00:00:00Z', 'P1Y', '2025-02-28T00:00:00.000Z'],
    ['2024-02-29T00:00:00Z', 'P4Y', '2028-02-29T00:00:00.000Z'],
    ['2024-03-31T23:59:59.999Z', 'P6M', '2024-09-30T23:59:59.999Z'],
    ['2026-08-31T12:00:00Z', 'P3M', '2026-11-30T12:00:00.000Z'],
    ['2025-12-15T08:00:00Z', 'P1M', '2026-01-15T08:00:00.000Z'],
    ['2025-11-30T00:00:00Z', 'P12M', '2026-11-30T00:00:00.000Z'],
    ['2021-06-01T00:00:00Z', 'P5Y', '2026-06-01T00:00:00.000Z'],
    ['2024-01-31T00:00:00Z', 'P1M1D', '2024-03-01T00:00:00.000Z'],
    ['2024-12-28T00:00:00Z', 'P1W', '2025-01-04T00:00:00.000Z'],
    ['2024-12-31T23:30:00Z', 'PT1H', '2025-01-01T00:30:00.000Z'],
    ['2024-01-01T00:00:00+09:00', 'P3M', '2024-03-31T15:00:00.000Z'],
  ])('%s + %s = %s', (start, duration, expected) => {
    expect(addDuration(start, duration).toISOString()).toBe(expected);
  });

  it.each(['P', 'PT', '5Y', 'P1.5Y', 'P-1Y', 'P1YT', 'P1Y1Y', 'p1y', 'P1DT'])('refuses %j', (bad) => {
    expect(parseDuration(bad)).toBeNull();
    expect(() => addDuration('2024-01-01T00:00:00Z', bad)).toThrow(RangeError);
  });

  it('refuses an invalid date', () => {
    expect(() => addDuration('yesterday', 'P1D')).toThrow(RangeError);
  });

  it('adds months by the calendar: the month moves by exactly n, the day clamps to the month end', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1990-01-01T00:00:00Z'),
          max: new Date('2090-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: 0, max: 240 }),
        (start, months) => {
          const end = addDuration(start, `P${months}M`);
          const monthIndex = (d: Date): number => d.getUTCFullYear() * 12 + d.getUTCMonth();
          expect(monthIndex(end) - monthIndex(start)).toBe(months);
          const lastDay = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() + 1, 0)).getUTCDate();
          expect(end.getUTCDate()).toBe(Math.min(start.getUTCDate(), lastDay));
          expect(end.getTime() % 86_400_000).toBe(start.getTime() % 86_400_000);
          if (months % 12 === 0) expect(addDuration(start, `P${months / 12}Y`).getTime()).toBe(end.getTime());
        },
      ),
    );
  });
});

describe('policy validation', () => {
  it.each<[string, (d: Record<string, unknown>) => void, string, RegExp]>([
    ['a version that is not semver', (d) => set(d, '/version', 'v1'), '/version', /must match pattern/],
    [
      'an invalid effective date',
      (d) => set(d, '/effectiveFrom', '2026-13-01'),
      '/effectiveFrom',
      /must match format "date"/,
    ],
    ['a missing store', (d) => remove(d, '/stores/logs'), '/stores/logs', /missing store 'logs'/],
    [
      'an unknown store',
      (d) => set(d, '/stores/crm', get(d, '/stores/logs')),
      '/stores/crm',
      /unknown store 'crm'/,
    ],
    [
      'a missing category',
      (d) => remove(d, '/stores/chat/categories/mentions'),
      '/stores/chat/categories/mentions',
      /missing category 'chat\/mentions'/,
    ],
    [
      'an unknown category',
      (d) => set(d, '/stores/accounts/categories/selfies', get(d, '/stores/accounts/categories/profile')),
      '/stores/accounts/categories/selfies',
      /unknown category 'accounts\/selfies'/,
    ],
    [
      'an unknown action',
      (d) => set(d, '/stores/accounts/categories/profile/action', 'purge'),
      '/stores/accounts/categories/profile/action',
      /must be one of delete, anonymise/,
    ],
    [
      'retain as a live action',
      (d) => set(d, '/stores/payments/categories/transactions/action', 'retain'),
      '/stores/payments/categories/transactions/action',
      /must be one of delete, anonymise/,
    ],
    [
      'a period that is not an ISO 8601 duration',
      (d) => set(d, '/jurisdictions/KR/retention/payments/transactions/period', '5 years'),
      '/jurisdictions/KR/retention/payments/transactions/period',
      /must match pattern/,
    ],
    [
      'a zero period',
      (d) => set(d, '/jurisdictions/KR/retention/payments/transactions/period', 'P0Y'),
      '/jurisdictions/KR/retention/payments/transactions/period',
      /'P0Y' must be a duration longer than zero/,
    ],
    [
      'an unknown anchor',
      (d) => set(d, '/jurisdictions/KR/retention/payments/transactions/from', 'paymentDay'),
      '/jurisdictions/KR/retention/payments/transactions/from',
      /must be one of transactionDate/,
    ],
    [
      'an anchor the records do not carry',
      (d) => set(d, '/jurisdictions/KR/retention/payments/transactions/from', 'sessionDate'),
      '/jurisdictions/KR/retention/payments/transactions/from',
      /'payments\/transactions' records carry no 'sessionDate'/,
    ],
    [
      'a rule keeping a full card number',
      (d) => set(d, '/jurisdictions/KR/retention/payments/transactions/keep', ['txnId', 'cardNumber']),
      '/jurisdictions/KR/retention/payments/transactions/keep/1',
      /cannot keep 'cardNumber'/,
    ],
    [
      'a rule keeping part of the card',
      (d) => set(d, '/jurisdictions/KR/retention/payments/transactions/keep', ['card.last4']),
      '/jurisdictions/KR/retention/payments/transactions/keep/0',
      /cannot keep 'card.last4': 'card' is never retained/,
    ],
    [
      'a rule keeping a parent of a secret',
      (d) => {
        set(d, '/jurisdictions/KR/retention/accounts/linked-accounts', {
          ...(get(d, '/jurisdictions/KR/retention/accounts/marketing-consents') as object),
          from: 'accountDeletion',
          keep: ['externalAccounts'],
        });
      },
      '/jurisdictions/KR/retention/accounts/linked-accounts/keep/0',
      /'externalAccounts\[\]\.accessToken' is never retained/,
    ],
    [
      'a rule with nothing to keep',
      (d) => set(d, '/jurisdictions/KR/retention/payments/transactions/keep', []),
      '/jurisdictions/KR/retention/payments/transactions/keep',
      /must NOT have fewer than 1 items/,
    ],
    [
      'a rule with no legal basis',
      (d) => remove(d, '/jurisdictions/KR/retention/payments/transactions/basis/law'),
      '/jurisdictions/KR/retention/payments/transactions/basis',
      /must have required property 'law'/,
    ],
    [
      'a rule with an unknown field',
      (d) => set(d, '/jurisdictions/KR/retention/payments/transactions/note', 'x'),
      '/jurisdictions/KR/retention/payments/transactions',
      /unknown property 'note'/,
    ],
    [
      'a rule for an unknown category',
      (d) =>
        set(
          d,
          '/jurisdictions/KR/retention/payments/chargebacks',
          get(d, '/jurisdictions/KR/retention/payments/transactions'),
        ),
      '/jurisdictions/KR/retention/payments/chargebacks',
      /retention rule for unknown category 'payments\/chargebacks'/,
    ],
    [
      'an unknown jurisdiction code',
      (d) => set(d, '/jurisdictions/XX', get(d, '/jurisdictions/default')),
      '/jurisdictions/XX',
      /unknown jurisdiction 'XX'/,
    ],
    [
      'a jurisdiction key that is not a code',
      (d) => set(d, '/jurisdictions/Korea', get(d, '/jurisdictions/KR')),
      '/jurisdictions',
      /invalid key 'Korea'/,
    ],
    [
      'no default profile',
      (d) => remove(d, '/jurisdictions/default'),
      '/jurisdictions',
      /required property 'default'/,
    ],
    [
      'a default profile that retains',
      (d) =>
        set(d, '/jurisdictions/default/retention', {
          payments: get(d, '/jurisdictions/KR/retention/payments'),
        }),
      '/jurisdictions/default/retention/payments/transactions',
      /the 'default' profile cannot retain 'payments\/transactions'/,
    ],
    [
      'a processor on an unknown category',
      (d) => set(d, '/processors/0/receives', [{ store: 'payments', categories: ['transactions', 'cards'] }]),
      '/processors/0/receives/0/categories/1',
      /unknown category 'payments\/cards'/,
    ],
    [
      'a processor on an unknown store',
      (d) => set(d, '/processors/0/receives', [{ store: 'crm', categories: ['contacts'] }]),
      '/processors/0/receives/0/store',
      /unknown store 'crm'/,
    ],
    [
      'a duplicate processor id',
      (d) => set(d, '/processors/1/id', get(d, '/processors/0/id')),
      '/processors/1/id',
      /duplicate processor id/,
    ],
  ])('refuses %s, naming the fault', (_label, edit, pointer, message) => {
    const doc = shippedJson();
    edit(doc);
    const error = faultsOf(doc);
    expect(error.name).toBe('PolicyError');
    expect(error.code).toBe('POLICY_INVALID');
    const fault = error.faults.find((f) => f.pointer === pointer && message.test(f.message));
    expect(fault).toBeDefined();
    expect(error.message).toContain('test-policy');
    expect(error.message).toContain(`${pointer}: `);
  });

  it('reports every semantic fault at once', () => {
    const doc = shippedJson();
    set(doc, '/jurisdictions/KR/retention/payments/transactions/period', 'P0D');
    remove(doc, '/stores/chat/categories/mentions');
    set(doc, '/processors/1/id', 'sony-payment-services');
    const error = faultsOf(doc);
    expect(error.faults.map((f) => f.pointer).sort()).toEqual([
      '/jurisdictions/KR/retention/payments/transactions/period',
      '/processors/1/id',
      '/stores/chat/categories/mentions',
    ]);
    expect(error.message).toMatch(/\(3 faults\)/);
  });

  it('refuses a document that is not an object', () => {
    expect(faultsOf(['not', 'a', 'policy']).faults[0]?.message).toMatch(/must be object/);
  });

  it('hashes content, not formatting: key order and spacing do not change the hash, a value does', () => {
    const base = loadPolicy(shippedJson());
    const reordered = Object.fromEntries(Object.entries(shippedJson()).reverse());
    expect(loadPolicy(reordered).hash).toBe(base.hash);
    const edited = shippedJson();
    set(edited, '/jurisdictions/KR/retention/logs/access-log/period', 'P4M');
    expect(loadPolicy(edited).hash).not.toBe(base.hash);
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
  });

  it('does not freeze or alter the caller’s document', () => {
    const doc = shippedJson();
    loadPolicy(doc);
    expect(Object.isFrozen(doc)).toBe(false);
    expect(doc).toEqual(shippedJson());
  });

  describe('from a file', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'policy-test-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('names a file that cannot be read', () => {
      const missing = join(dir, 'missing.json');
      expect(() => loadPolicy(missing)).toThrow(
        new RegExp(`Invalid policy ${missing}.*cannot read the file \\(ENOENT\\)`),
      );
    });

    it('names a file that is not JSON', () => {
      const broken = join(dir, 'broken.json');
      writeFileSync(broken, '{ "version": "1.0.0", ');
      expect(() => loadPolicy(broken)).toThrow(/broken\.json.*not JSON/);
    });

    it('names the file in validation faults', () => {
      const file = join(dir, 'bad.json');
      const doc = shippedJson();
      set(doc, '/version', '1');
      writeFileSync(file, JSON.stringify(doc));
      expect(() => loadPolicy(file)).toThrow(new RegExp(`${file}.*/version`));
    });
  });
});
