/**
 * Service profiles (config/services/): the five shipped profiles load; every fact cites its own
 * service's policy; the facts a later issue will use are there; a broken profile fails at load naming
 * the problem by JSON pointer.
 */
import klubOutside from '../../config/services/klub-outside.json';
import cluster from '../../config/services/cluster.json';
import prismProject from '../../config/services/prism-project.json';
import audiostock from '../../config/services/audiostock.json';
import metalive from '../../config/services/metalive.json';
import { accessLogSpec, voiceSessionsSpec } from '../../functions/connectors/logs/core';
import { loadDefaultPolicy } from '../../functions/lib/erasure/policy';
import { ConfigError } from '../../functions/lib/runtime/config';
import { ContractError } from '../../functions/lib/runtime/errors';
import {
  defaultServiceId,
  loadServiceProfile,
  loadServiceProfiles,
  processorIdsOf,
  serviceOfAccount,
  serviceProfile,
  shippedServiceProfiles,
  ServiceProfileError,
  type ServiceProfile,
} from '../../functions/lib/services/profiles';

const SEEDS: Record<string, string> = {
  'klub-outside': 'seeds/000_337dd6950bab4c3c.txt',
  'prism-project': 'seeds/001_185d0a7f28c8f727.txt',
  cluster: 'seeds/002_c6b92a84df8ea579.txt',
  audiostock: 'seeds/003_76c77bce1174e821.txt',
  metalive: 'seeds/004_d5d8c8592fbef10a.txt',
};

/** Every `cite` in a document. */
function allCites(value: unknown): { file: string; section: string }[] {
  if (Array.isArray(value)) return value.flatMap(allCites);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) =>
    key === 'cite' ? (v as { file: string; section: string }[]) : allCites(v),
  );
}

const copy = <T>(doc: T): T => JSON.parse(JSON.stringify(doc)) as T;

/** The ServiceProfileError a document fails with (or a failed expectation). */
function failure(doc: unknown, id = 'klub-outside'): ServiceProfileError {
  try {
    loadServiceProfile(doc, `test/${id}.json`, { expectedId: id });
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceProfileError);
    return error as ServiceProfileError;
  }
  throw new Error('the profile loaded');
}

describe('the shipped profiles', () => {
  const profiles = shippedServiceProfiles();

  it('are the five services, each loaded and frozen', () => {
    expect([...profiles.keys()]).toEqual([
      'klub-outside',
      'prism-project',
      'cluster',
      'audiostock',
      'metalive',
    ]);
    for (const [id, profile] of profiles) {
      expect(profile.id).toBe(id);
      expect(Object.isFrozen(profile.controller)).toBe(true);
    }
  });

  it('cite only their own policy, in every fact', () => {
    for (const [id, profile] of profiles) {
      expect(profile.policy.file).toBe(SEEDS[id]);
      const cites = allCites(profile);
      expect(cites.length).toBeGreaterThan(20);
      for (const c of cites) {
        expect(c.file).toBe(SEEDS[id]);
        expect(c.section.trim()).not.toBe('');
      }
    }
  });

  it('name each controller as its policy does, and say what the policy leaves unstated', () => {
    const controllers = Object.fromEntries([...profiles].map(([id, p]) => [id, p.controller.legalName]));
    expect(controllers).toEqual({
      'klub-outside': 'Sony Music Solutions Inc.',
      'prism-project': 'Sony Music Entertainment (Japan) Inc.',
      cluster: 'Cluster, Inc.',
      audiostock: 'Audiostock Inc.',
      metalive: null,
    });
    expect(serviceProfile('metalive').controller.note).toMatch(/without naming the company/);
    expect(serviceProfile('klub-outside').controller.representatives?.[0]).toMatchObject({
      name: 'Sony Korea Corporation',
      for: 'Residents of Korea',
    });
    expect(serviceProfile('prism-project').controller.localNames?.ja).toBe(
      '株式会社ソニー・ミュージックエンタテインメント',
    );
  });

  it('list the processors and recipients of each policy, and tie the erasure processors to their service', () => {
    expect(processorIdsOf(serviceProfile('klub-outside'))).toEqual([
      'sony-payment-services',
      'japan-post',
      'kuore',
    ]);
    expect(processorIdsOf(serviceProfile('audiostock'))).toEqual(['audiostock-artists-affiliate']);
    for (const id of ['prism-project', 'cluster', 'metalive'])
      expect(processorIdsOf(serviceProfile(id))).toEqual([]);
    expect(serviceProfile('audiostock').recipients[0]).toMatchObject({
      kind: 'affiliate',
      receives: expect.stringContaining('log information and activity history information'),
    });
    expect(serviceProfile('klub-outside').internationalTransfers[0]).toMatchObject({
      to: 'Sony Music Solutions Inc.',
      countries: ['US', 'JP'],
    });
    expect(
      serviceProfile('cluster')
        .categories.map((c) => c.ccpaCategory)
        .filter(Boolean),
    ).toEqual([
      'A. Identifiers',
      'B. Financial Information',
      'C. Commercial information',
      'D. Internet or other electronic network activity information',
      'E. Audio, electronic, visual, or similar information',
      'F. Inferences',
    ]);
  });

  it('hold the marketing records where their policy says so', () => {
    const marketing = (id: string) =>
      serviceProfile(id).holds.find((h) => h.store === 'marketing')?.categories;
    expect(marketing('prism-project')).toEqual(['email-events', 'campaign-entries', 'survey-responses']);
    expect(marketing('audiostock')).toBeUndefined();
  });

  it('state the Korean statutory table for klub-outside and no statutory retention for Japanese users', () => {
    const kr = serviceProfile('klub-outside').retention.jurisdictions.KR!;
    expect(kr.rules.map((r) => [`${r.store}/${r.category}`, r.period])).toEqual([
      ['accounts/marketing-consents', 'P6M'],
      ['payments/transactions', 'P5Y'],
      ['chat/complaints', 'P3Y'],
      ['logs/voice-sessions', 'P12M'],
      ['logs/access-log', 'P3M'],
      ['marketing/email-events', 'P6M'],
    ]);
    for (const id of ['cluster', 'audiostock', 'metalive']) {
      expect(serviceProfile(id).retention.jurisdictions.JP?.rules).toEqual([]);
    }
  });

  it('record the guardian ages and the request procedures (fees, identity checks) for later use', () => {
    const ages = Object.fromEntries([...profiles].map(([id, p]) => [id, p.guardian?.age ?? null]));
    expect(ages).toEqual({
      'klub-outside': 14,
      'prism-project': null,
      cluster: 13,
      audiostock: null,
      metalive: 13,
    });
    const fees = (id: string) => serviceProfile(id).procedures.filter((p) => p.kind === 'fee');
    expect(fees('cluster')).toEqual([
      expect.objectContaining({
        fee: expect.objectContaining({ amount: 1000, currency: 'JPY', per: 'request' }),
      }),
    ]);
    expect(fees('audiostock')[0]?.fee?.note).toMatch(/registered mail/);
    expect(fees('klub-outside')).toEqual([]);
    expect(serviceProfile('metalive').procedures.map((p) => p.kind)).toContain('identity-verification');
  });

  it('withhold only what METALIVE does not disclose, in its own words, naming a collection a connector writes', () => {
    const withheld = [...profiles.values()].flatMap((p) => p.withheld.map((w) => ({ id: p.id, ...w })));
    expect(withheld).toEqual([
      expect.objectContaining({
        id: 'metalive',
        store: 'logs',
        collection: accessLogSpec.name,
        reason:
          'In principle, we will not disclose any information other than personal information, such as access logs.',
      }),
    ]);
    expect([accessLogSpec.name, voiceSessionsSpec.name]).toContain(withheld[0]?.collection);
  });
});

describe('the default service', () => {
  it('is klub-outside unless DEFAULT_SERVICE names another known service', () => {
    expect(defaultServiceId({})).toBe('klub-outside');
    expect(defaultServiceId({ DEFAULT_SERVICE: 'cluster' })).toBe('cluster');
    expect(() => defaultServiceId({ DEFAULT_SERVICE: 'myspace' })).toThrow(ConfigError);
    expect(() => defaultServiceId({ DEFAULT_SERVICE: 'myspace' })).toThrow(/DEFAULT_SERVICE/);
  });

  it("is an account's service when the account names none; an unknown one is refused", () => {
    expect(serviceOfAccount({ userId: 'u-1', service: 'metalive' })).toBe('metalive');
    expect(serviceOfAccount({ userId: 'u-1' })).toBe(defaultServiceId());
    expect(serviceOfAccount(undefined)).toBe(defaultServiceId());
    expect(() => serviceOfAccount({ userId: 'u-1', service: 'myspace' })).toThrow(ContractError);
    expect(serviceProfile(undefined).id).toBe(defaultServiceId());
    expect(() => serviceProfile('myspace')).toThrow(ContractError);
  });
});

describe('a broken profile fails at load, naming the problem', () => {
  type Doc = ServiceProfile & Record<string, unknown>;
  const klub = (): Doc => copy(klubOutside) as unknown as Doc;

  it('when it cites another service’s policy', () => {
    const doc = klub();
    doc.categories[0]!.cite[0]!.file = SEEDS.cluster!;
    const error = failure(doc);
    expect(error.message).toContain('/categories/0/cite/0/file');
    expect(error.message).toContain("not the service's own policy");
  });

  it('when a fact has no citation, or a property the schema does not know', () => {
    const doc = klub();
    doc.purposes[0]!.cite = [];
    expect(failure(doc).message).toMatch(/\/purposes\/0\/cite: must NOT have fewer than 1 items/);
    const extra = klub();
    (extra.controller as unknown as Record<string, unknown>).ceo = 'someone';
    expect(failure(extra).message).toContain("/controller: unknown property 'ceo'");
  });

  it('when it names an unknown store or category, or covers a store it does not hold', () => {
    const store = klub();
    (store.holds[0] as { store: string }).store = 'crm';
    expect(failure(store).message).toMatch(/\/holds\/0\/store: must be one of accounts, payments/);
    const category = klub();
    category.holds[0]!.categories.push('diaries');
    expect(failure(category).message).toContain("unknown category 'accounts/diaries'");
    const notHeld = klub();
    notHeld.holds = notHeld.holds.filter((h) => h.store !== 'payments');
    const error = failure(notHeld);
    expect(error.message).toMatch(
      /\/categories\/\d+\/stores\/0: store 'payments' is not held by the service/,
    );
    expect(error.faults.length).toBeGreaterThan(1);
  });

  it('when its statutory retention differs from what the erasure planner applies', () => {
    const period = klub();
    period.retention.jurisdictions.KR!.rules[1]!.period = 'P3Y';
    expect(failure(period).message).toContain(
      "/retention/jurisdictions/KR/rules/1/period: 'payments/transactions' is kept P5Y by the erasure policy, not P3Y",
    );
    const missing = klub();
    missing.retention.jurisdictions.KR!.rules.shift();
    expect(failure(missing).message).toContain(
      "the erasure policy keeps 'accounts/marketing-consents' in KR: the profile must state it",
    );
    const japan = copy(cluster) as unknown as Doc;
    japan.retention.jurisdictions.JP!.rules.push({
      store: 'payments',
      category: 'transactions',
      records: 'Payments',
      period: 'P7Y',
      cite: [{ file: SEEDS.cluster!, section: '8' }],
    });
    expect(failure(japan, 'cluster').message).toContain(
      "the erasure policy keeps nothing of 'payments/transactions' in JP (profile 'default')",
    );
  });

  it('when a processor is not in the erasure policy, or a controller fact is missing without a note', () => {
    const processor = klub();
    processor.recipients[0]!.processorId = 'sony-payment-servics';
    expect(failure(processor).message).toContain(
      "/recipients/0/processorId: processor 'sony-payment-servics' is not in the erasure policy",
    );
    const controller = copy(prismProject) as unknown as Doc;
    delete (controller.controller as { note?: string }).note;
    expect(failure(controller, 'prism-project').message).toContain(
      '/controller/note: address, privacyContact not stated: a note must say why',
    );
  });

  it('when it is registered under another id', () => {
    expect(failure(klub(), 'cluster').message).toContain(
      "/id: id 'klub-outside' differs from the profile's name 'cluster'",
    );
  });

  it('when a processor of the erasure policy belongs to no service', () => {
    const policy = loadDefaultPolicy();
    expect(() =>
      loadServiceProfiles(
        { 'klub-outside': klubOutside, 'prism-project': prismProject, cluster, metalive },
        policy,
      ),
    ).toThrow("processor 'audiostock-artists-affiliate' of the erasure policy is a recipient of no service");
    expect([...loadServiceProfiles({ 'klub-outside': klubOutside, audiostock }, policy).keys()]).toEqual([
      'klub-outside',
      'audiostock',
    ]);
  });
});
