/**
 * "About your data" per service and per person: for each of the five services the section and the
 * whole index.html name only that service's controller and only its recipients (no company of another
 * profile appears anywhere); retention is stated for the person's jurisdiction exactly as the erasure
 * planner applies it; what a service withholds is said, in its policy's words.
 */
import { renderIndexHtml, type IndexModel } from '../../functions/assemble-export/index-html';
import { renderAboutSection } from '../../functions/assemble-export/about-section';
import {
  aboutYourDataFor,
  durationText,
  type AboutYourData,
} from '../../functions/lib/export/about-your-data';
import { loadDefaultPolicy } from '../../functions/lib/erasure/policy';
import { buildPlan } from '../../functions/lib/erasure/planner';
import { STORE_CATEGORIES, type Inventory, type StoreName } from '../../functions/lib/erasure/types';
import {
  serviceProfile,
  shippedServiceProfiles,
  type ServiceProfile,
} from '../../functions/lib/services/profiles';

const profiles = [...shippedServiceProfiles().values()];

/** Every store the service holds: a person with data everywhere their service keeps some. */
const heldStores = (profile: ServiceProfile): string[] => profile.holds.map((h) => h.store);

function about(id: string, jurisdiction?: string, stores?: string[]): AboutYourData {
  const profile = serviceProfile(id);
  return aboutYourDataFor({ profile, stores: stores ?? heldStores(profile), jurisdiction });
}

function page(doc: AboutYourData): string {
  const model: IndexModel = {
    requestId: 'req_1',
    generatedAt: '2025-01-15T10:00:00.000Z',
    subjectFound: true,
    stores: [],
    about: doc,
    aboutPath: 'about-your-data.json',
    manifestPath: 'manifest.json',
    signaturePath: 'manifest.jws',
  };
  return renderIndexHtml(model);
}

/** Companies and services another profile names: its service, controller, representatives and named recipients. */
function namesOf(profile: ServiceProfile): string[] {
  const c = profile.controller;
  return [
    profile.name,
    c.name,
    ...(c.legalName ? [c.legalName] : []),
    ...Object.values(c.localNames ?? {}),
    ...(c.representatives ?? []).map((r) => r.name),
    ...profile.recipients.filter((r) => r.named).map((r) => r.name),
  ];
}

function othersOf(profile: ServiceProfile): string[] {
  const own = new Set(namesOf(profile));
  return profiles
    .filter((p) => p.id !== profile.id)
    .flatMap(namesOf)
    .filter((name) => !own.has(name));
}

describe.each(profiles.map((p) => [p.id, p] as const))('%s', (_id, profile) => {
  const doc = about(profile.id, 'JP');
  const json = JSON.stringify(doc);
  const html = page(doc);
  const section = renderAboutSection(doc, { aboutPath: 'about-your-data.json', fileLink: (p) => p });

  it('names its own controller and cites only its own policy', () => {
    expect(doc.controller.name).toBe(profile.controller.name);
    expect(doc.service).toEqual({ id: profile.id, name: profile.name, description: profile.description });
    expect(doc.policy.file).toBe(profile.policy.file);
    expect(section).toContain(profile.controller.name.replace(/&/g, '&amp;'));
    expect(html).toContain(`<cite>${profile.policy.title}</cite>`);
    const files = new Set([...json.matchAll(/"file":"([^"]+)"/g)].map((m) => m[1]));
    expect([...files]).toEqual([profile.policy.file]);
  });

  it('lists exactly its own recipients', () => {
    expect(doc.recipients.map((r) => r.name)).toEqual(profile.recipients.map((r) => r.name));
    for (const r of profile.recipients) expect(section).toContain(r.name.replace(/"/g, '&quot;'));
  });

  it('mentions no company or service of another profile, in the JSON, the section or the page', () => {
    const others = othersOf(profile);
    expect(others.length).toBeGreaterThan(4);
    for (const name of others) {
      expect(json).not.toContain(name);
      expect(html).not.toContain(name);
      expect(html).not.toContain(name.replace(/"/g, '&quot;'));
    }
  });

  it('keeps only the categories, sources and recipients of the stores holding data', () => {
    const none = about(profile.id, 'JP', []);
    expect(none.categories).toEqual([]);
    expect(none.recipients).toEqual([]);
    expect(none.retention).toEqual([]);
    expect(none.purposes).toEqual(profile.purposes);
    const accountsOnly = about(profile.id, 'JP', ['accounts']);
    for (const c of accountsOnly.categories) expect(c.stores).toContain('accounts');
    expect(accountsOnly.categories.length).toBeLessThan(doc.categories.length);
  });
});

describe('retention for the person’s own jurisdiction', () => {
  const policy = loadDefaultPolicy();
  const NOW = new Date('2026-01-15T00:00:00.000Z');

  /** What the planner retains for a person with one recent record in every category of the service. */
  function plannedRetention(profile: ServiceProfile, jurisdiction: string): string[] {
    const inventory: Record<string, Record<string, unknown>> = {};
    const at = new Date(NOW.getTime() - 86_400_000).toISOString();
    for (const store of Object.keys(STORE_CATEGORIES) as StoreName[]) {
      const held = profile.holds.find((h) => h.store === store)?.categories ?? [];
      inventory[store] = Object.fromEntries(
        STORE_CATEGORIES[store].map((category) => {
          const count = held.includes(category) ? 1 : 0;
          // Each category reports the record dates it declares, as its connector would.
          const anchors = policy.document.stores[store].categories[category]?.anchors ?? [];
          const dates = Object.fromEntries(
            anchors.map((anchor) => [anchor, count > 0 ? [{ at, count }] : []]),
          );
          return [category, { count, dates }];
        }),
      );
    }
    const plan = buildPlan({ policy, jurisdiction, inventory: inventory as Inventory, holds: [], now: NOW });
    return plan.entries
      .filter((e) => e.action === 'retain')
      .map((e) => `${e.store}/${e.category} ${e.rule?.period}`)
      .sort();
  }

  const stated = (doc: AboutYourData) =>
    doc.retention.map((r) => `${r.store}/${r.category} ${r.period}`).sort();

  it('for a Korean klub-outside user: payments 5 years, advertising records 6 months, as the planner keeps them', () => {
    const doc = about('klub-outside', 'KR');
    expect(doc.jurisdiction).toEqual({ requested: 'KR', applied: 'KR', name: 'Republic of Korea' });
    expect(stated(doc)).toEqual(plannedRetention(serviceProfile('klub-outside'), 'KR'));
    const rule = (category: string) => doc.retention.find((r) => r.category === category);
    expect(rule('transactions')).toMatchObject({ period: 'P5Y', periodText: '5 years', location: 'vault' });
    expect(rule('marketing-consents')).toMatchObject({ period: 'P6M', periodText: '6 months' });
    expect(rule('access-log')).toMatchObject({ period: 'P3M', location: 'vault' });
    expect(rule('transactions')?.cite[0]?.section).toContain('5 years');
    const html = page(doc);
    expect(html).toContain('5 years from the date of each transaction');
    expect(html).toContain('6 months from the date of each record');
    expect(html).toContain('Records relating to marks and advertisements');
    expect(doc.retentionNote).toContain(
      'the law requires Sony Music Solutions Inc. to keep the records below',
    );
  });

  it('for a Japanese Cluster user: nothing is kept by statute, and the planner keeps nothing', () => {
    const doc = about('cluster', 'JP');
    expect(plannedRetention(serviceProfile('cluster'), 'JP')).toEqual([]);
    expect(doc.retention).toEqual([]);
    expect(doc.jurisdiction).toEqual({ requested: 'JP', applied: 'default', name: 'Japan' });
    expect(doc.retentionNote).toMatch(/^For residents of Japan, nothing is kept by statute/);
    expect(page(doc)).toContain('nothing is kept by statute');
    expect(page(doc)).not.toContain('5 years');
  });

  it('for a Korean Cluster user: what the planner keeps, cited to Cluster’s own words on legal retention', () => {
    const doc = about('cluster', 'KR');
    expect(stated(doc)).toEqual(plannedRetention(serviceProfile('cluster'), 'KR'));
    expect(doc.retention.length).toBeGreaterThan(3);
    for (const r of doc.retention) {
      for (const c of r.cite) expect(c.file).toBe(serviceProfile('cluster').policy.file);
    }
    expect(JSON.stringify(doc)).not.toContain('seeds/000_');
  });

  it('follows the planner for a subdivision, a region and an unknown jurisdiction', () => {
    expect(about('klub-outside', 'US-CA').jurisdiction).toEqual({
      requested: 'US-CA',
      applied: 'default',
      name: 'United States (US-CA)',
    });
    expect(about('klub-outside', 'EU').retention).toEqual([]);
    const unknown = about('klub-outside', undefined);
    expect(unknown.jurisdiction.requested).toBeNull();
    expect(unknown.retentionNote).toContain('nothing is kept by statute');
  });

  it('writes ISO durations for people', () => {
    expect(durationText('P5Y')).toBe('5 years');
    expect(durationText('P1Y6M')).toBe('1 year 6 months');
    expect(durationText('P12M')).toBe('12 months');
  });
});

describe('what a service withholds', () => {
  it('METALIVE: its archive says access logs were withheld, why (the policy’s words) and how many', () => {
    const profile = serviceProfile('metalive');
    const doc = aboutYourDataFor({
      profile,
      stores: heldStores(profile),
      jurisdiction: 'JP',
      withheldRecords: { 'logs/access-log': 42 },
    });
    expect(doc.withheld).toEqual([
      expect.objectContaining({ store: 'logs', collection: 'access-log', records: 42 }),
    ]);
    const html = page(doc);
    expect(html).toContain('id="about-withheld"');
    expect(html).toContain(
      'In principle, we will not disclose any information other than personal information, such as access logs.',
    );
    expect(html).toContain('Records found about you: 42.');
  });

  it('others withhold nothing and say nothing about it', () => {
    const html = page(about('cluster', 'JP'));
    expect(html).not.toContain('id="about-withheld"');
  });
});
