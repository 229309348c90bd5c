/**
 * The "about your data" document (CCPA right to know: categories, sources, purposes, recipients,
 * retention), from config/about-your-data.json. The JSON is bundled into the Lambda by esbuild and
 * checked once at load: every entry must cite a known policy and name known stores.
 */
import { STORE_NAMES, type StoreName } from '../../../config/data-map';
import raw from '../../../config/about-your-data.json';
import { ConfigError } from '../runtime/config';

export interface PolicyCitation {
  /** Key into `policies`. */
  policy: string;
  section: string;
}

export interface PolicyDocument {
  title: string;
  controller: string;
  updated?: string;
  /** Where the policy text lives in the repository's shared seeds. */
  file: string;
}

interface Cited {
  cite: PolicyCitation[];
}

export interface DataCategory extends Cited {
  id: string;
  name: string;
  ccpaCategory?: string;
  description: string;
  examples: string[];
  /** Stores holding data of this category; the category is shown only when one of them holds data. */
  stores: StoreName[];
  note?: string;
}

export interface DataSource extends Cited {
  id: string;
  description: string;
  stores: StoreName[];
}

export interface Purpose extends Cited {
  id: string;
  name: string;
  description: string;
}

export type RecipientKind = 'processor' | 'affiliate' | 'service-providers' | 'authority';

export interface Recipient extends Cited {
  name: string;
  kind: RecipientKind;
  purpose: string;
  stores: StoreName[];
}

export interface RetentionRule extends Cited {
  records: string;
  /** ISO 8601 duration. */
  period: string;
  periodText: string;
  basis: string;
  stores: StoreName[];
  note?: string;
}

export interface AboutYourData {
  formatVersion: 1;
  policyVersion: string;
  intro: string;
  policies: Record<string, PolicyDocument>;
  categories: DataCategory[];
  sources: DataSource[];
  purposes: Purpose[];
  recipients: Recipient[];
  retentionNote: string;
  retention: RetentionRule[];
}

const RECIPIENT_KINDS: readonly RecipientKind[] = [
  'processor',
  'affiliate',
  'service-providers',
  'authority',
];

function fail(message: string): never {
  throw new ConfigError(`config/about-your-data.json: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(obj: Record<string, unknown>, key: string, where: string, optional = false): void {
  const value = obj[key];
  if (value === undefined && optional) return;
  if (typeof value !== 'string' || value === '') fail(`${where}.${key} must be a non-empty string`);
}

function list(obj: Record<string, unknown>, key: string, where: string): unknown[] {
  const value = obj[key];
  if (!Array.isArray(value)) fail(`${where}.${key} must be an array`);
  return value;
}

/** Checks the document's shape; returns it typed, or throws a ConfigError naming what is wrong. */
export function parseAboutYourData(value: unknown): AboutYourData {
  if (!isObject(value)) fail('not an object');
  if (value.formatVersion !== 1) fail('formatVersion must be 1');
  str(value, 'policyVersion', 'root');
  str(value, 'intro', 'root');
  str(value, 'retentionNote', 'root');
  const policies = value.policies;
  if (!isObject(policies)) fail('policies must be an object');
  for (const [id, policy] of Object.entries(policies)) {
    if (!isObject(policy)) fail(`policies.${id} must be an object`);
    str(policy, 'title', `policies.${id}`);
    str(policy, 'controller', `policies.${id}`);
    str(policy, 'file', `policies.${id}`);
    str(policy, 'updated', `policies.${id}`, true);
  }
  const checkEntry = (entry: unknown, where: string, withStores: boolean): Record<string, unknown> => {
    if (!isObject(entry)) fail(`${where} must be an object`);
    const cites = list(entry, 'cite', where);
    if (cites.length === 0) fail(`${where} must cite at least one policy`);
    cites.forEach((cite, i) => {
      if (!isObject(cite)) fail(`${where}.cite[${i}] must be an object`);
      str(cite, 'section', `${where}.cite[${i}]`);
      if (typeof cite.policy !== 'string' || !(cite.policy in policies)) {
        fail(`${where}.cite[${i}] names an unknown policy`);
      }
    });
    if (withStores) {
      for (const store of list(entry, 'stores', where)) {
        if (!STORE_NAMES.includes(store as StoreName)) fail(`${where}.stores has an unknown store`);
      }
    }
    return entry;
  };
  list(value, 'categories', 'root').forEach((entry, i) => {
    const e = checkEntry(entry, `categories[${i}]`, true);
    for (const key of ['id', 'name', 'description']) str(e, key, `categories[${i}]`);
    str(e, 'ccpaCategory', `categories[${i}]`, true);
    str(e, 'note', `categories[${i}]`, true);
    if (!list(e, 'examples', `categories[${i}]`).every((x) => typeof x === 'string')) {
      fail(`categories[${i}].examples must be strings`);
    }
  });
  list(value, 'sources', 'root').forEach((entry, i) => {
    const e = checkEntry(entry, `sources[${i}]`, true);
    for (const key of ['id', 'description']) str(e, key, `sources[${i}]`);
  });
  list(value, 'purposes', 'root').forEach((entry, i) => {
    const e = checkEntry(entry, `purposes[${i}]`, false);
    for (const key of ['id', 'name', 'description']) str(e, key, `purposes[${i}]`);
  });
  list(value, 'recipients', 'root').forEach((entry, i) => {
    const e = checkEntry(entry, `recipients[${i}]`, true);
    for (const key of ['name', 'purpose']) str(e, key, `recipients[${i}]`);
    if (!RECIPIENT_KINDS.includes(e.kind as RecipientKind)) fail(`recipients[${i}].kind is unknown`);
  });
  list(value, 'retention', 'root').forEach((entry, i) => {
    const e = checkEntry(entry, `retention[${i}]`, true);
    for (const key of ['records', 'periodText', 'basis']) str(e, key, `retention[${i}]`);
    str(e, 'note', `retention[${i}]`, true);
    if (typeof e.period !== 'string' || !/^P(\d+Y)?(\d+M)?(\d+D)?$/.test(e.period) || e.period === 'P') {
      fail(`retention[${i}].period must be an ISO 8601 duration in years, months or days`);
    }
  });
  return value as unknown as AboutYourData;
}

let loaded: AboutYourData | undefined;

/** The configured document, checked once. */
export function aboutYourData(): AboutYourData {
  loaded ??= parseAboutYourData(raw);
  return loaded;
}

/**
 * The document for one archive: only the categories, sources, recipients and retention rules of the
 * given stores (those holding data about the person), and only the policies still cited.
 */
export function aboutYourDataFor(
  stores: readonly StoreName[],
  doc: AboutYourData = aboutYourData(),
): AboutYourData {
  const held = new Set(stores);
  const relevant = <T extends { stores: StoreName[] }>(items: T[]): T[] =>
    items.filter((item) => item.stores.some((store) => held.has(store)));
  const categories = relevant(doc.categories);
  const sources = relevant(doc.sources);
  const recipients = relevant(doc.recipients);
  const retention = relevant(doc.retention);
  const cited = new Set<string>();
  for (const item of [...categories, ...sources, ...doc.purposes, ...recipients, ...retention]) {
    for (const cite of item.cite) cited.add(cite.policy);
  }
  const policies = Object.fromEntries(Object.entries(doc.policies).filter(([id]) => cited.has(id)));
  return { ...doc, policies, categories, sources, recipients, retention };
}
