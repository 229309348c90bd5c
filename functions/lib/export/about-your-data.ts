/**
 * The "about your data" document of one archive (CCPA right to know, GDPR Art. 15, APPI disclosure:
 * categories, sources, purposes, recipients, retention), built from the subject's own service profile
 * (config/services/): it names that service's controller and cites only that service's policy. It keeps
 * what concerns the stores holding data about the person, states retention for the person's own
 * jurisdiction exactly as the erasure planner will apply it (config/policy/), and says what the service
 * withholds from its archives and why, in the policy's words.
 */
import {
  loadDefaultPolicy,
  parseDuration,
  planningJurisdiction,
  resolveJurisdiction,
  retentionFor,
} from '../erasure/policy';
import {
  DEFAULT_JURISDICTION,
  STORE_CATEGORIES,
  type Policy,
  type RetentionAnchor,
  type StoreName,
} from '../erasure/types';
import type {
  Cite,
  Controller,
  DataCategory,
  DataSource,
  InternationalTransfer,
  Purpose,
  Recipient,
  ServiceProfile,
  Statement,
  Withheld,
} from '../services/profiles';

export const ABOUT_FORMAT_VERSION = 2;

export type AboutRecipient = Omit<Recipient, 'processorId' | 'named'>;

/** A record kind the law requires the controller to keep after an erasure, as the planner applies it. */
export interface AboutRetentionRule {
  store: string;
  category: string;
  records: string;
  /** ISO 8601 duration. */
  period: string;
  periodText: string;
  from: RetentionAnchor;
  /** What the period runs from, in words. */
  fromText: string;
  /** `vault`: moved out of the live service and kept apart (`live-store` only in documents of older versions). */
  location: 'vault' | 'live-store';
  /** The statute and provision. */
  basis: string;
  cite: Cite[];
}

export interface AboutWithheld extends Withheld {
  /** Records of this kind found about the person and left out of the archive, when known. */
  records?: number;
}

export interface AboutYourData {
  formatVersion: typeof ABOUT_FORMAT_VERSION;
  service: { id: string; name: string; description: string };
  controller: Controller;
  policy: ServiceProfile['policy'];
  intro: string;
  categories: DataCategory[];
  sources: DataSource[];
  purposes: Purpose[];
  recipients: AboutRecipient[];
  internationalTransfers: InternationalTransfer[];
  /** The person's jurisdiction as recorded on the request, and the retention profile applied to it. */
  jurisdiction: { requested: string | null; applied: string; name: string };
  /** What an erasure would do for this person, in one paragraph. */
  retentionNote: string;
  retention: AboutRetentionRule[];
  /** What the policy says about keeping data, whatever the jurisdiction. */
  retentionGeneral: Statement[];
  /** What the policy promises when a person asks for deletion. */
  onErasure: Statement;
  withheld: AboutWithheld[];
}

export interface AboutInput {
  profile: ServiceProfile;
  /** Stores holding data about the person in this archive. */
  stores: readonly string[];
  /** The request's jurisdiction (ISO 3166 code, or a region such as EU), if any. */
  jurisdiction?: string;
  /** Records found per withheld collection (`store/collection`), when the assembler saw them. */
  withheldRecords?: Readonly<Record<string, number>>;
  policy?: Policy;
}

const UNIT_NAMES: [keyof NonNullable<ReturnType<typeof parseDuration>>, string][] = [
  ['years', 'year'],
  ['months', 'month'],
  ['weeks', 'week'],
  ['days', 'day'],
];

/** `P5Y` -> `5 years`, `P1Y6M` -> `1 year 6 months`. */
export function durationText(iso: string): string {
  const d = parseDuration(iso);
  if (!d) return iso;
  const parts = UNIT_NAMES.filter(([key]) => d[key] > 0).map(
    ([key, unit]) => `${d[key]} ${unit}${d[key] === 1 ? '' : 's'}`,
  );
  return parts.join(' ') || iso;
}

const ANCHOR_TEXT: Record<RetentionAnchor, string> = {
  transactionDate: 'from the date of each transaction',
  sessionDate: 'from the date of each session',
  recordDate: 'from the date of each record',
  complaintDate: 'from the date of each complaint',
  accountDeletion: 'from the deletion of your account',
};

function regionName(code: string): string {
  const country = code.slice(0, 2);
  try {
    const name = new Intl.DisplayNames(['en'], { type: 'region' }).of(country);
    return name && name !== country ? (code.length > 2 ? `${name} (${code})` : name) : code;
  } catch {
    return code;
  }
}

function jurisdictionOf(policy: Policy, requested: string | undefined): AboutYourData['jurisdiction'] {
  const applied = resolveJurisdiction(policy, planningJurisdiction(requested));
  const code = requested?.trim().toUpperCase() || null;
  const name =
    applied !== DEFAULT_JURISDICTION
      ? (policy.document.jurisdictions[applied]?.name ?? applied)
      : code
        ? regionName(code)
        : 'your jurisdiction';
  return { requested: code, applied, name };
}

/** The profile's own statement for a jurisdiction: the exact code, else its country. */
function statedFor(profile: ServiceProfile, code: string | null) {
  if (!code) return undefined;
  const stated = profile.retention.jurisdictions;
  return stated[code] ?? stated[code.slice(0, 2)];
}

function retentionRules(
  profile: ServiceProfile,
  policy: Policy,
  held: ReadonlySet<string>,
  jurisdiction: AboutYourData['jurisdiction'],
): AboutRetentionRule[] {
  const stated = statedFor(profile, jurisdiction.requested);
  const generalCites = profile.retention.general.flatMap((s) => s.cite);
  const rules: AboutRetentionRule[] = [];
  for (const h of profile.holds) {
    if (!held.has(h.store) || !Object.hasOwn(STORE_CATEGORIES, h.store)) continue;
    const store = h.store as StoreName;
    for (const category of h.categories) {
      const { rule } = retentionFor(policy, jurisdiction.applied, store, category);
      if (!rule) continue;
      const own = stated?.rules.find((r) => r.store === store && r.category === category);
      rules.push({
        store,
        category,
        records: own?.records ?? rule.records,
        period: rule.period,
        periodText: durationText(rule.period),
        from: rule.from,
        fromText: ANCHOR_TEXT[rule.from],
        // Every store's retained records, log lines included, leave the live service for the vault.
        location: 'vault',
        basis: `${rule.basis.law}, ${rule.basis.provision}`,
        // The profile's own line for this record kind, else the policy's words on keeping what the law requires.
        cite: own?.cite ?? generalCites,
      });
    }
  }
  return rules;
}

function retentionNote(
  profile: ServiceProfile,
  jurisdiction: AboutYourData['jurisdiction'],
  rules: readonly AboutRetentionRule[],
): string {
  const own = statedFor(profile, jurisdiction.requested)?.text;
  const where = jurisdiction.requested
    ? `For residents of ${jurisdiction.name}`
    : 'We do not know where you live, so';
  const note =
    rules.length === 0
      ? `${where}, nothing is kept by statute: if you ask ${profile.controller.name} to erase your data, all of it is deleted at once and nothing is kept afterwards.`
      : `${where}, the law requires ${profile.controller.name} to keep the records below for the period shown, even if you ask us to erase your data. Everything else is deleted at once. The records kept are taken out of the service (log lines stay where they are), used for nothing else, and destroyed when their period ends.`;
  return own ? `${note} ${own}` : note;
}

/** The document for one archive of one service's user. */
export function aboutYourDataFor(input: AboutInput): AboutYourData {
  const { profile } = input;
  const policy = input.policy ?? loadDefaultPolicy();
  const held = new Set(input.stores);
  const relevant = <T extends { stores: readonly string[] }>(items: readonly T[]): T[] =>
    items.filter((item) => item.stores.some((store) => held.has(store)));
  const jurisdiction = jurisdictionOf(policy, input.jurisdiction);
  const retention = retentionRules(profile, policy, held, jurisdiction);
  const { controller, name, description, id } = profile;
  return {
    formatVersion: ABOUT_FORMAT_VERSION,
    service: { id, name, description },
    controller,
    policy: profile.policy,
    intro:
      `This section tells you, in general terms, what kinds of personal information ${controller.name} holds about you ` +
      `as a user of ${name}, where it came from, why it is used, who it is shared with, and how long it is kept. ` +
      `It follows ${profile.policy.title}, and each statement cites the section it comes from. ` +
      'The files in this archive are the specific pieces of personal information themselves.',
    categories: relevant(profile.categories),
    sources: relevant(profile.sources),
    purposes: [...profile.purposes],
    recipients: relevant(profile.recipients).map(({ processorId: _p, named: _n, ...recipient }) => recipient),
    internationalTransfers: held.size > 0 ? [...profile.internationalTransfers] : [],
    jurisdiction,
    retentionNote: retentionNote(profile, jurisdiction, retention),
    retention,
    retentionGeneral: [...profile.retention.general],
    onErasure: profile.retention.onErasure,
    withheld: profile.withheld.map((w) => {
      const records = input.withheldRecords?.[`${w.store}/${w.collection}`];
      return records === undefined ? { ...w } : { ...w, records };
    }),
  };
}
