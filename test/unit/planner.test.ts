import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { PlanError, applyLateHolds, buildPlan } from '../../functions/lib/erasure/planner';
import { addDuration, loadDefaultPolicy, loadPolicy } from '../../functions/lib/erasure/policy';
import {
  STORE_CATEGORIES,
  type CategoryInventory,
  type DatedAnchor,
  type ErasurePlan,
  type HoldScope,
  type Inventory,
  type PlanEntry,
  type Policy,
  type StoreName,
} from '../../functions/lib/erasure/types';

const policy = loadDefaultPolicy();
const STORES = Object.keys(STORE_CATEGORIES) as StoreName[];
const NOW = new Date('2026-11-23T00:00:00.000Z');

type MutableInventory = Record<string, Record<string, CategoryInventory>>;

function anchorsOf(p: Policy, store: StoreName, category: string): readonly DatedAnchor[] {
  return p.document.stores[store].categories[category]?.anchors ?? [];
}

/** One record in every category, dated `at` for every anchor the category declares; then overrides. */
function inventory(
  overrides: Partial<Record<`${StoreName}/${string}`, CategoryInventory>> = {},
  at = '2026-11-01T00:00:00Z',
): Inventory {
  const inv: MutableInventory = {};
  for (const store of STORES) {
    inv[store] = {};
    for (const category of STORE_CATEGORIES[store]) {
      const anchors = anchorsOf(policy, store, category);
      const dates = Object.fromEntries(anchors.map((a) => [a, [{ at, count: 1 }]]));
      (inv[store] as Record<string, CategoryInventory>)[category] = anchors.length
        ? { count: 1, dates }
        : { count: 1 };
    }
  }
  for (const [key, value] of Object.entries(overrides)) {
    const [store, category] = key.split('/') as [string, string];
    if (value) (inv[store] as Record<string, CategoryInventory>)[category] = value;
  }
  return inv;
}

function entry(plan: ErasurePlan, store: StoreName, category: string): PlanEntry {
  const found = plan.entries.filter((e) => e.store === store && e.category === category);
  expect(found).toHaveLength(1);
  return found[0] as PlanEntry;
}

function plan(jurisdiction: string, inv: Inventory, holds: HoldScope[] = [], now = NOW): ErasurePlan {
  return buildPlan({ policy, jurisdiction, inventory: inv, holds, now });
}

describe('KR: statutory retention from seed 000', () => {
  const inv = inventory({
    'payments/transactions': {
      count: 4,
      dates: {
        transactionDate: [
          { at: '2021-11-23T00:00:00Z', count: 1 }, // until 2026-11-23 = now: expired
          { at: '2021-06-01T00:00:00Z', count: 1 }, // expired
          { at: '2024-02-29T09:00:00Z', count: 2 }, // until 2029-02-28 (clamped)
        ],
      },
    },
    'chat/complaints': { count: 1, dates: { complaintDate: [{ at: '2025-01-31T00:00:00Z', count: 1 }] } },
    'accounts/marketing-consents': {
      count: 1,
      dates: { recordDate: [{ at: '2026-08-31T10:00:00Z', count: 1 }] },
    },
    'logs/access-log': {
      count: 30,
      dates: {
        recordDate: [
          { at: '2026-08-22T23:59:59Z', count: 10 }, // until 2026-11-22T23:59:59: expired
          { at: '2026-08-31T12:00:00Z', count: 15 }, // until 2026-11-30T12:00 (clamped)
          { at: '2026-11-20T08:00:00Z', count: 5 },
        ],
      },
    },
    'logs/voice-sessions': { count: 3, dates: { sessionDate: [{ at: '2026-01-15T20:00:00Z', count: 3 }] } },
  });
  const result = plan('KR', inv);

  it('records the policy version, hash and the profile applied', () => {
    expect(result).toMatchObject({
      formatVersion: 1,
      policyVersion: policy.version,
      policyHash: policy.hash,
      jurisdiction: { requested: 'KR', applied: 'KR' },
      plannedAt: NOW.toISOString(),
    });
  });

  it('retains payments 5 years from the transaction date; expired ones are deleted now', () => {
    const e = entry(result, 'payments', 'transactions');
    expect(e.action).toBe('retain');
    expect(e.liveAction).toBe('delete');
    expect(e.rule).toMatchObject({
      jurisdiction: 'KR',
      period: 'P5Y',
      from: 'transactionDate',
      retained: 2,
      expired: 2,
      until: '2029-02-28T09:00:00.000Z',
      earliestUntil: '2029-02-28T09:00:00.000Z',
      schedule: [{ until: '2029-02-28T09:00:00.000Z', count: 2 }],
    });
    expect(e.rule?.basis.law).toBe('Act on the Consumer Protection in Electronic Commerce, Etc.');
  });

  it('retains complaints 3 years, advertising records 6 months, voice sessions 12 months, access logs 3 months', () => {
    expect(entry(result, 'chat', 'complaints').rule).toMatchObject({
      until: '2028-01-31T00:00:00.000Z',
      retained: 1,
    });
    expect(entry(result, 'accounts', 'marketing-consents').rule).toMatchObject({
      until: '2027-02-28T10:00:00.000Z',
      retained: 1,
    });
    const voice = entry(result, 'logs', 'voice-sessions');
    expect(voice).toMatchObject({ action: 'retain', liveAction: 'anonymise' });
    expect(voice.rule).toMatchObject({ until: '2027-01-15T20:00:00.000Z', retained: 3, expired: 0 });
    expect(entry(result, 'logs', 'access-log').rule).toMatchObject({
      retained: 20,
      expired: 10,
      earliestUntil: '2026-11-30T12:00:00.000Z',
      until: '2027-02-20T08:00:00.000Z',
      schedule: [
        { until: '2026-11-30T12:00:00.000Z', count: 15 },
        { until: '2027-02-20T08:00:00.000Z', count: 5 },
      ],
    });
  });

  it('deletes or anonymises what has no rule', () => {
    expect(entry(result, 'accounts', 'profile').action).toBe('delete');
    expect(entry(result, 'payments', 'payment-instruments').action).toBe('delete');
    expect(entry(result, 'chat', 'mentions').action).toBe('anonymise');
    expect(entry(result, 'media', 'voice-recordings').action).toBe('delete');
  });

  it('sets nextStepAt to the earliest vault expiry and sums records by fate', () => {
    expect(result.nextStepAt).toBe('2026-11-30T12:00:00.000Z');
    expect(result.summary.records).toEqual({
      retain: 2 + 1 + 1 + 20 + 3 + 1, // ... + marketing e-mail events (advertising records)
      delete: 2 + 10 + 14, // expired payments and logs + one record in each of 14 delete categories
      anonymise: 1, // mentions
      held: 0,
      expired: 12,
    });
    expect(result.summary.complete).toBe(true);
    expect(result.summary.categories).toEqual({ delete: 14, anonymise: 1, retain: 6, held: 0, none: 0 });
  });

  it('falls back to the live action when every retained record has expired', () => {
    const old = plan(
      'KR',
      inventory({
        'logs/voice-sessions': {
          count: 2,
          dates: { sessionDate: [{ at: '2020-01-01T00:00:00Z', count: 2 }] },
        },
      }),
    );
    const e = entry(old, 'logs', 'voice-sessions');
    expect(e.action).toBe('anonymise');
    expect(e.rule).toMatchObject({ retained: 0, expired: 2, schedule: [] });
    expect(e.rule?.until).toBeUndefined();
  });

  it('applies the KR profile to Korean subdivisions', () => {
    expect(plan('KR-11', inventory()).jurisdiction).toEqual({ requested: 'KR-11', applied: 'KR' });
  });
});

describe('jurisdictions without a profile', () => {
  it.each(['JP', 'US-CA', 'DE', 'default', 'Default'])('%s: nothing is retained', (code) => {
    const result = plan(code, inventory({}, '2026-11-20T00:00:00Z'));
    expect(result.jurisdiction.applied).toBe('default');
    expect(result.entries.every((e) => e.action === e.liveAction && e.rule === undefined)).toBe(true);
    expect(entry(result, 'logs', 'voice-sessions').action).toBe('anonymise');
    expect(result.nextStepAt).toBeNull();
  });
});

describe('legal holds', () => {
  const inv = inventory({
    'payments/transactions': {
      count: 2,
      dates: { transactionDate: [{ at: '2025-01-01T00:00:00Z', count: 2 }] },
    },
    'media/uploads': { count: 0 },
  });

  it('a hold on a store holds every category of it, whatever the policy; the rest proceeds', () => {
    const result = plan('KR', inv, [{ holdId: 'hold-b', caseReference: 'CASE-7', stores: ['payments'] }]);
    for (const category of STORE_CATEGORIES.payments) {
      expect(entry(result, 'payments', category)).toMatchObject({
        action: 'held',
        holdId: 'hold-b',
        caseReference: 'CASE-7',
        holds: [{ holdId: 'hold-b', caseReference: 'CASE-7' }],
      });
    }
    expect(entry(result, 'payments', 'transactions').onRelease).toBe('retain');
    expect(entry(result, 'payments', 'transactions').rule).toBeUndefined();
    expect(entry(result, 'accounts', 'profile').action).toBe('delete');
    expect(result.summary).toMatchObject({ complete: false, holds: ['hold-b'] });
    expect(result.summary.records.held).toBe(3);
  });

  it('a hold on categories holds them in every store; several holds are all listed, first by id', () => {
    const result = plan('JP', inv, [
      { holdId: 'hold-z', caseReference: 'POLICE-2', categories: ['messages'] },
      { holdId: 'hold-a', caseReference: 'LIT-1', stores: ['chat'], categories: ['messages', 'complaints'] },
    ]);
    expect(entry(result, 'chat', 'messages')).toMatchObject({
      action: 'held',
      holdId: 'hold-a',
      caseReference: 'LIT-1',
      holds: [
        { holdId: 'hold-a', caseReference: 'LIT-1' },
        { holdId: 'hold-z', caseReference: 'POLICE-2' },
      ],
    });
    expect(entry(result, 'chat', 'complaints').holds).toEqual([{ holdId: 'hold-a', caseReference: 'LIT-1' }]);
    expect(entry(result, 'chat', 'mentions').action).toBe('anonymise');
    expect(result.summary.holds).toEqual(['hold-a', 'hold-z']);
  });

  it('a hold with no scope (or empty lists) holds everything the subject has', () => {
    for (const hold of [
      { holdId: 'h', caseReference: 'C' },
      { holdId: 'h', caseReference: 'C', stores: [], categories: [] },
    ]) {
      const result = plan('KR', inv, [hold]);
      expect(result.entries.filter((e) => e.count > 0).every((e) => e.action === 'held')).toBe(true);
      expect(entry(result, 'media', 'uploads').action).toBe('none');
      expect(result.nextStepAt).toBeNull();
      expect(result.processors.every((p) => p.categories.length === 0 && p.deferred.length > 0)).toBe(true);
    }
  });

  it('defers the processors of held categories and tells the others now', () => {
    const result = plan('KR', inv, [{ holdId: 'h1', caseReference: 'C', stores: ['payments'] }]);
    const byId = Object.fromEntries(result.processors.map((p) => [p.processorId, p]));
    expect(byId['sony-payment-services']).toMatchObject({
      categories: [],
      deferred: [
        { store: 'payments', category: 'transactions' },
        { store: 'payments', category: 'payment-instruments' },
      ],
    });
    expect(byId.kuore).toMatchObject({
      categories: [
        { store: 'accounts', category: 'profile' },
        { store: 'chat', category: 'complaints' },
      ],
      deferred: [],
    });
  });
});

describe('accountDeletion rules', () => {
  const custom = ((): Policy => {
    const doc = JSON.parse(readFileSync(join(__dirname, '../../config/policy/policy.v1.json'), 'utf8')) as {
      jurisdictions: Record<string, { retention: Record<string, Record<string, unknown>> }>;
    };
    const kr = doc.jurisdictions.KR;
    if (!kr) throw new Error('no KR');
    kr.retention.accounts = {
      ...kr.retention.accounts,
      profile: {
        records: 'Test: identity kept one year after the account is closed',
        basis: { law: 'Test Act', provision: 'Art. 1', source: 'test' },
        period: 'P1Y',
        from: 'accountDeletion',
        keep: ['userId'],
      },
    };
    return loadPolicy(doc, 'test');
  })();

  it('run from now, or from the original deletion date of a resumed erasure', () => {
    const inv = inventory({ 'accounts/profile': { count: 1 } });
    const fresh = buildPlan({ policy: custom, jurisdiction: 'KR', inventory: inv, holds: [], now: NOW });
    expect(entry(fresh, 'accounts', 'profile').rule).toMatchObject({
      until: '2027-11-23T00:00:00.000Z',
      retained: 1,
    });
    const resumed = (accountDeletedAt: Date): ErasurePlan =>
      buildPlan({
        policy: custom,
        jurisdiction: 'KR',
        inventory: inv,
        holds: [],
        now: NOW,
        accountDeletedAt,
      });
    expect(entry(resumed(new Date('2026-06-01T00:00:00Z')), 'accounts', 'profile').rule).toMatchObject({
      until: '2027-06-01T00:00:00.000Z',
      retained: 1,
    });
    const lapsed = entry(resumed(new Date('2025-11-01T00:00:00Z')), 'accounts', 'profile');
    expect(lapsed.rule).toMatchObject({ retained: 0, expired: 1 });
    expect(lapsed.action).toBe('delete');
  });
});

describe('contract violations fail loudly', () => {
  const without = (store: StoreName): Inventory => {
    const inv = { ...(inventory() as MutableInventory) };
    delete inv[store];
    return inv;
  };
  it.each<[string, () => ErasurePlan, RegExp]>([
    ['a store missing from the inventory', () => plan('KR', without('logs')), /lacks store 'logs'/],
    ['an unknown store', () => plan('KR', { ...inventory(), crm: {} } as Inventory), /unknown store 'crm'/],
    [
      'a missing category',
      () => {
        const inv = inventory() as MutableInventory;
        delete inv.chat?.mentions;
        return plan('KR', inv);
      },
      /lacks category 'chat\/mentions'/,
    ],
    [
      'an unknown category',
      () => plan('KR', inventory({ 'chat/stickers': { count: 1 } })),
      /unknown category 'chat\/stickers'/,
    ],
    [
      'a negative count',
      () => plan('KR', inventory({ 'media/avatars': { count: -1 } })),
      /'media\/avatars' must be a whole number/,
    ],
    ['a fractional count', () => plan('KR', inventory({ 'media/avatars': { count: 1.5 } })), /whole number/],
    [
      'retention dates missing where the rule needs them',
      () => plan('KR', inventory({ 'payments/transactions': { count: 2 } })),
      /'payments\/transactions' lacks the 'transactionDate' dates the KR retention rule/,
    ],
    [
      'date groups that do not add up',
      () =>
        plan(
          'JP',
          inventory({
            'payments/transactions': {
              count: 3,
              dates: { transactionDate: [{ at: '2025-01-01T00:00:00Z', count: 2 }] },
            },
          }),
        ),
      /groups count 2 records, the category 3/,
    ],
    [
      'dates the category does not declare',
      () =>
        plan(
          'KR',
          inventory({
            'media/avatars': { count: 1, dates: { recordDate: [{ at: '2025-01-01T00:00:00Z', count: 1 }] } },
          }),
        ),
      /'media\/avatars' reports undeclared dates 'recordDate'/,
    ],
    [
      'a date that is not an ISO instant',
      () =>
        plan(
          'KR',
          inventory({
            'logs/access-log': { count: 1, dates: { recordDate: [{ at: '01/02/2025', count: 1 }] } },
          }),
        ),
      /without a valid ISO 8601 instant/,
    ],
    [
      'an empty date group',
      () =>
        plan(
          'KR',
          inventory({
            'logs/access-log': {
              count: 0,
              dates: { recordDate: [{ at: '2025-01-01T00:00:00Z', count: 0 }] },
            },
          }),
        ),
      /count is not a positive whole number/,
    ],
    ['a malformed jurisdiction', () => plan('Korea', inventory()), /ISO 3166/],
    ['an unknown country', () => plan('XX', inventory()), /ISO 3166/],
    [
      'a hold on an unknown store',
      () => plan('KR', inventory(), [{ holdId: 'h1', caseReference: 'C', stores: ['crm' as StoreName] }]),
      /Hold 'h1' names unknown store 'crm'/,
    ],
    [
      'a hold naming a category none of its stores has',
      () =>
        plan('KR', inventory(), [
          { holdId: 'h1', caseReference: 'C', stores: ['payments'], categories: ['messages'] },
        ]),
      /Hold 'h1' names category 'messages', which none of its stores has/,
    ],
    [
      'a hold without a case reference',
      () => plan('KR', inventory(), [{ holdId: 'h1', caseReference: '' }]),
      /Hold 'h1' has no case reference/,
    ],
    [
      'the same hold twice',
      () =>
        plan('KR', inventory(), [
          { holdId: 'h1', caseReference: 'C' },
          { holdId: 'h1', caseReference: 'C' },
        ]),
      /listed twice/,
    ],
    ['an invalid clock', () => plan('KR', inventory(), [], new Date('nope')), /now is not a valid date/],
  ])('%s', (_label, run, message) => {
    expect(run).toThrow(PlanError);
    expect(run).toThrow(message);
  });

  it('is a contract error the workflow does not retry', () => {
    try {
      plan('KR', without('logs'));
    } catch (error) {
      expect(error).toMatchObject({ name: 'PlanError', code: 'CONTRACT_VIOLATION' });
      return;
    }
    throw new Error('expected a PlanError');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over random inventories, holds, jurisdictions and clocks

const instant = fc
  .date({ min: new Date('2019-01-01T00:00:00Z'), max: new Date('2027-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

const categoryInventory = (anchors: readonly DatedAnchor[]): fc.Arbitrary<CategoryInventory> =>
  anchors.length === 0
    ? fc.nat({ max: 5 }).map((count) => ({ count }))
    : fc
        .array(fc.record({ at: instant, count: fc.integer({ min: 1, max: 4 }) }), { maxLength: 4 })
        .map((groups) => ({
          count: groups.reduce((n, g) => n + g.count, 0),
          dates: Object.fromEntries(anchors.map((a) => [a, groups])),
        }));

const inventoryArb: fc.Arbitrary<Inventory> = fc.record(
  Object.fromEntries(
    STORES.map((store) => [
      store,
      fc.record(
        Object.fromEntries(
          STORE_CATEGORIES[store].map((c) => [c, categoryInventory(anchorsOf(policy, store, c))]),
        ),
      ),
    ]),
  ) as Record<StoreName, fc.Arbitrary<Record<string, CategoryInventory>>>,
);

const holdArb: fc.Arbitrary<HoldScope> = fc
  .record({
    holdId: fc.integer({ min: 1, max: 6 }).map((n) => `hold-${n}`),
    caseReference: fc.constantFrom('LIT-1', 'POLICE-9', 'FRAUD-3'),
    stores: fc.option(fc.subarray(STORES), { nil: undefined }),
  })
  .chain((h) => {
    const scope = h.stores?.length ? h.stores : STORES;
    const names = [...new Set(scope.flatMap((s) => [...STORE_CATEGORIES[s]]))];
    return fc
      .option(fc.subarray(names), { nil: undefined })
      .map((categories) => (categories === undefined ? h : { ...h, categories }));
  });

const holdsArb = fc.uniqueArray(holdArb, { selector: (h) => h.holdId, maxLength: 3 });
const jurisdictionArb = fc.constantFrom('KR', 'KR-26', 'JP', 'US-CA', 'DE', 'default');
const nowArb = fc.date({
  min: new Date('2024-01-01T00:00:00Z'),
  max: new Date('2028-12-31T00:00:00Z'),
  noInvalidDate: true,
});

const covered = (holds: readonly HoldScope[], store: StoreName, category: string): boolean =>
  holds.some(
    (h) =>
      (!h.stores?.length || h.stores.includes(store)) &&
      (!h.categories?.length || h.categories.includes(category)),
  );

describe('planner properties', () => {
  it('every inventory category appears exactly once, in catalogue order', () => {
    fc.assert(
      fc.property(inventoryArb, holdsArb, jurisdictionArb, nowArb, (inv, holds, jurisdiction, now) => {
        const result = buildPlan({ policy, jurisdiction, inventory: inv, holds, now });
        const expected = STORES.flatMap((s) => STORE_CATEGORIES[s].map((c) => `${s}/${c}`));
        expect(result.entries.map((e) => `${e.store}/${e.category}`)).toEqual(expected);
        for (const e of result.entries) expect(e.count).toBe(inv[e.store]?.[e.category]?.count);
      }),
    );
  });

  it('held categories are never deleted, anonymised or retained; uncovered ones are never held', () => {
    fc.assert(
      fc.property(inventoryArb, holdsArb, jurisdictionArb, nowArb, (inv, holds, jurisdiction, now) => {
        const result = buildPlan({ policy, jurisdiction, inventory: inv, holds, now });
        for (const e of result.entries) {
          if (e.count === 0) expect(e.action).toBe('none');
          else if (covered(holds, e.store, e.category)) {
            expect(e.action).toBe('held');
            expect(e.holdId).toBe(e.holds?.[0]?.holdId);
            expect(e.rule).toBeUndefined();
          } else expect(e.action).not.toBe('held');
        }
        expect(result.summary.complete).toBe(!result.entries.some((e) => e.action === 'held'));
        for (const p of result.processors) {
          for (const c of p.categories) expect(covered(holds, c.store, c.category)).toBe(false);
          for (const c of p.deferred) expect(covered(holds, c.store, c.category)).toBe(true);
        }
      }),
    );
  });

  it('until = from + period for every retained group; what is not retained had expired', () => {
    fc.assert(
      fc.property(inventoryArb, jurisdictionArb, nowArb, (inv, jurisdiction, now) => {
        const result = buildPlan({ policy, jurisdiction, inventory: inv, holds: [], now });
        for (const e of result.entries) {
          if (!e.rule) continue;
          const from = e.rule.from as DatedAnchor;
          const groups = inv[e.store]?.[e.category]?.dates?.[from] ?? [];
          const expected = new Map<string, number>();
          let expired = 0;
          for (const g of groups) {
            const until = addDuration(g.at, e.rule.period);
            if (until <= now) expired += g.count;
            else expected.set(until.toISOString(), (expected.get(until.toISOString()) ?? 0) + g.count);
          }
          expect(e.rule.expired).toBe(expired);
          expect(e.rule.retained + e.rule.expired).toBe(e.count);
          expect(new Map(e.rule.schedule.map((s) => [s.until, s.count]))).toEqual(expected);
          expect(e.action).toBe(e.rule.retained > 0 ? 'retain' : e.liveAction);
          if (e.rule.retained > 0) {
            expect(e.rule.until).toBe([...expected.keys()].sort().at(-1));
            expect(e.rule.earliestUntil).toBe([...expected.keys()].sort()[0]);
          }
        }
      }),
    );
  });

  it('a plan under the default profile retains nothing', () => {
    fc.assert(
      fc.property(
        inventoryArb,
        holdsArb,
        fc.constantFrom('JP', 'US-CA', 'default', 'BR'),
        nowArb,
        (inv, holds, j, now) => {
          const result = buildPlan({ policy, jurisdiction: j, inventory: inv, holds, now });
          expect(result.jurisdiction.applied).toBe('default');
          expect(result.entries.some((e) => e.action === 'retain' || e.rule !== undefined)).toBe(false);
          expect(result.nextStepAt).toBeNull();
        },
      ),
    );
  });

  it('accounts for every record once, and nextStepAt is the earliest vault expiry', () => {
    fc.assert(
      fc.property(inventoryArb, holdsArb, jurisdictionArb, nowArb, (inv, holds, jurisdiction, now) => {
        const result = buildPlan({ policy, jurisdiction, inventory: inv, holds, now });
        const total = result.entries.reduce((n, e) => n + e.count, 0);
        const r = result.summary.records;
        expect(r.delete + r.anonymise + r.retain + r.held).toBe(total);
        const untils = result.entries.flatMap((e) => e.rule?.schedule.map((s) => s.until) ?? []).sort();
        expect(result.nextStepAt).toBe(untils[0] ?? null);
        if (result.nextStepAt) expect(result.nextStepAt > now.toISOString()).toBe(true);
      }),
    );
  });

  it('is deterministic: the order of holds does not matter', () => {
    fc.assert(
      fc.property(inventoryArb, holdsArb, jurisdictionArb, nowArb, (inv, holds, jurisdiction, now) => {
        const a = buildPlan({ policy, jurisdiction, inventory: inv, holds, now });
        const b = buildPlan({ policy, jurisdiction, inventory: inv, holds: [...holds].reverse(), now });
        expect(b).toEqual(a);
      }),
    );
  });
});

describe('holds found at erase time', () => {
  const sorted = (p: ErasurePlan) =>
    p.processors.map((n) => ({
      processorId: n.processorId,
      categories: [...n.categories].map((c) => `${c.store}/${c.category}`).sort(),
      deferred: [...n.deferred].map((c) => `${c.store}/${c.category}`).sort(),
    }));

  test.each<[string, HoldScope]>([
    ['a whole store', { holdId: 'hold_a', caseReference: 'A', stores: ['chat'] }],
    [
      'a category of a retained store',
      { holdId: 'hold_b', caseReference: 'B', categories: ['transactions'] },
    ],
    ['every store', { holdId: 'hold_c', caseReference: 'C' }],
  ])('%s: applied store by store, the plan is the one planning with the hold gives', (_name, hold) => {
    const inv = inventory();
    const late = STORES.reduce((p, store) => applyLateHolds(p, store, [hold]), plan('KR', inv));
    const known = plan('KR', inv, [hold]);
    expect(late.entries).toEqual(known.entries);
    expect(late.summary).toEqual(known.summary);
    expect(late.nextStepAt).toEqual(known.nextStepAt);
    expect(sorted(late)).toEqual(sorted(known));
  });

  test('only the checked store is held, and an entry already held gains the new hold', () => {
    const first: HoldScope = { holdId: 'hold_1', caseReference: 'ONE', stores: ['chat'] };
    const second: HoldScope = { holdId: 'hold_2', caseReference: 'TWO' };
    const late = applyLateHolds(plan('JP', inventory(), [first]), 'chat', [second]);
    expect(entry(late, 'chat', 'messages')).toMatchObject({
      action: 'held',
      holdId: 'hold_1',
      holds: [
        { holdId: 'hold_1', caseReference: 'ONE' },
        { holdId: 'hold_2', caseReference: 'TWO' },
      ],
    });
    expect(entry(late, 'accounts', 'profile').action).toBe('delete');
    expect(late.summary.holds).toEqual(['hold_1', 'hold_2']);
  });
});
