/**
 * Service profiles: each service the orchestrator serves is its own controller with its own privacy
 * policy, described as data in config/services/<id>.json (schema: service-profile.schema.json). A
 * profile is validated at load, against its schema and then semantically: every citation names the
 * profile's own policy file (an archive of one service never cites another's policy), stores and
 * categories are known, what a category, source or recipient covers is held by the service, processors
 * exist in the erasure policy, and the statutory retention a profile states is exactly what the erasure
 * planner applies (config/policy/). An invalid profile throws ServiceProfileError naming every fault by
 * JSON pointer, so start-up and synth fail saying what to fix. See docs/services.md.
 */
import serviceProfileSchema from '../../../config/services/service-profile.schema.json';
import klubOutside from '../../../config/services/klub-outside.json';
import prismProject from '../../../config/services/prism-project.json';
import cluster from '../../../config/services/cluster.json';
import audiostock from '../../../config/services/audiostock.json';
import metalive from '../../../config/services/metalive.json';
import { STORE_NAMES } from '../../../config/data-map';
import { ConfigError, optionalEnv } from '../runtime/config';
import { ContractError } from '../runtime/errors';
import {
  InvalidDocumentError,
  jsonPointer,
  lazySchemaValidator,
  schemaFault,
  type DocumentFault,
} from '../runtime/json-documents';
import { isJurisdictionCode, loadDefaultPolicy, resolveJurisdiction } from '../erasure/policy';
import type { CertificateService } from '../erasure/certificate';
import { STORE_CATEGORIES, type Policy, type StoreName } from '../erasure/types';

/**
 * The profiles shipped with the code, by id (bundled, so they load the same in Lambda, locally and at
 * synth). A new service is a new JSON file here and one line below.
 */
const SHIPPED_PROFILES: Readonly<Record<string, unknown>> = {
  'klub-outside': klubOutside,
  'prism-project': prismProject,
  cluster,
  audiostock,
  metalive,
};

/** The service of an account with no `service` attribute, unless DEFAULT_SERVICE names another. */
export const FALLBACK_DEFAULT_SERVICE = 'klub-outside';
export const DEFAULT_SERVICE_ENV = 'DEFAULT_SERVICE';

// ---------------------------------------------------------------------------------------------
// The profile's shape (mirrors service-profile.schema.json)

/** A store of the platform's contract (../shared/stores.md). */
export type ContractStore = StoreName;

export interface Cite {
  /** The seed file of the profile's own policy. */
  file: string;
  /** Section, heading, article or paragraph of that policy. */
  section: string;
}

interface Cited {
  cite: Cite[];
}

export interface Statement extends Cited {
  text: string;
}

export interface Representative extends Cited {
  for: string;
  role: string;
  name: string;
  address?: string;
  contact?: string;
}

export interface Controller extends Cited {
  /** How pages, e-mails and certificates name the controller. */
  name: string;
  /** The name in other languages, where the policy gives it. */
  localNames?: Partial<Record<ServiceLanguage, string>>;
  /** Null when the policy does not state it (then `note` says so). */
  legalName: string | null;
  address: string | null;
  privacyContact: string | null;
  note?: string;
  representatives?: Representative[];
}

export type ServiceLanguage = 'en' | 'ja';

export interface HeldStore extends Cited {
  store: ContractStore;
  categories: string[];
}

export interface DataCategory extends Cited {
  id: string;
  name: string;
  ccpaCategory?: string;
  description: string;
  examples: string[];
  /** Stores holding data of this category: it is shown only when one of them holds data. */
  stores: ContractStore[];
  note?: string;
}

export interface DataSource extends Cited {
  id: string;
  description: string;
  stores: ContractStore[];
}

export interface Purpose extends Cited {
  id: string;
  name: string;
  description: string;
}

export type RecipientKind =
  | 'processor'
  | 'affiliate'
  | 'group'
  | 'service-providers'
  | 'advertising'
  | 'business-transfer'
  | 'authority';

export interface Recipient extends Cited {
  id: string;
  name: string;
  /** True when `name` is a company the policy names, not a description of a kind of recipient. */
  named?: boolean;
  kind: RecipientKind;
  purpose: string;
  receives: string;
  stores: ContractStore[];
  countries?: string[];
  /** The erasure policy's processor told to erase (by webhook), when this recipient is one. */
  processorId?: string;
}

export interface InternationalTransfer extends Cited {
  to: string;
  countries: string[];
  countriesNote?: string;
  data: string;
  purpose?: string;
  method?: string;
  period?: string;
  safeguards?: string;
  appliesTo?: string;
}

export interface StatutoryRule extends Cited {
  store: ContractStore;
  category: string;
  records: string;
  /** ISO 8601 duration. */
  period: string;
}

export interface JurisdictionRetention extends Cited {
  text: string;
  rules: StatutoryRule[];
}

export interface Withheld extends Cited {
  store: ContractStore;
  /** The connector's collection name (data/<store>/<collection>.json is left out of the archive). */
  collection: string;
  what: string;
  /** The policy's own words. */
  reason: string;
}

export interface ServiceProfile {
  formatVersion: 1;
  id: string;
  name: string;
  description: string;
  policy: { title: string; date: string | null; dateNote?: string; file: string; cite: Cite[] };
  controller: Controller;
  languages: { published: ServiceLanguage[]; default: ServiceLanguage; cite: Cite[] };
  holds: HeldStore[];
  categories: DataCategory[];
  sources: DataSource[];
  purposes: Purpose[];
  recipients: Recipient[];
  internationalTransfers: InternationalTransfer[];
  retention: {
    general: Statement[];
    onErasure: Statement;
    /** Keyed by ISO 3166 code. */
    jurisdictions: Record<string, JurisdictionRetention>;
  };
  withheld: Withheld[];
  /** The age under which a parent or legal representative must act; null when the policy states none. */
  guardian: (Statement & { age: number }) | null;
  rights: (Statement & { right: string; appliesTo?: string })[];
  procedures: (Statement & {
    kind: string;
    appliesTo?: string;
    fee?: { amount?: number; currency?: string; per: string; note?: string };
  })[];
}

export class ServiceProfileError extends InvalidDocumentError {
  override name = 'ServiceProfileError';
  constructor(faults: readonly DocumentFault[], source: string) {
    super('service profile', faults, source, 'SERVICE_PROFILE_INVALID');
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

const schemaValidator = lazySchemaValidator(serviceProfileSchema);

function servedCategories(store: string): readonly string[] | undefined {
  return Object.hasOwn(STORE_CATEGORIES, store) ? STORE_CATEGORIES[store as StoreName] : undefined;
}

/** Every `cite` array in the document, with its pointer. */
function citations(value: unknown, path: (string | number)[] = []): { at: string; cites: Cite[] }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => citations(v, [...path, i]));
  if (value === null || typeof value !== 'object') return [];
  const found: { at: string; cites: Cite[] }[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'cite') found.push({ at: jsonPointer(...path, key), cites: v as Cite[] });
    else found.push(...citations(v, [...path, key]));
  }
  return found;
}

function duplicates(ids: readonly string[]): string[] {
  return ids.filter((id, i) => ids.indexOf(id) !== i);
}

/** The checks a schema cannot express. Assumes the document passed the schema. */
function semanticFaults(doc: ServiceProfile, policy: Policy, expectedId?: string): DocumentFault[] {
  const faults: DocumentFault[] = [];
  const fault = (message: string, ...at: (string | number)[]) =>
    faults.push({ pointer: jsonPointer(...at), message });

  if (expectedId !== undefined && doc.id !== expectedId) {
    fault(`id '${doc.id}' differs from the profile's name '${expectedId}'`, 'id');
  }
  for (const { at, cites } of citations(doc)) {
    cites.forEach((c, i) => {
      if (c.file !== doc.policy.file) {
        faults.push({
          pointer: `${at}/${i}/file`,
          message: `cites '${c.file}', not the service's own policy '${doc.policy.file}'`,
        });
      }
    });
  }
  const controller = doc.controller;
  const unstated = (['legalName', 'address', 'privacyContact'] as const).filter(
    (k) => controller[k] === null,
  );
  if (unstated.length > 0 && !controller.note) {
    fault(`${unstated.join(', ')} not stated: a note must say why`, 'controller', 'note');
  }

  const held = new Map<string, Set<string>>();
  doc.holds.forEach((h, i) => {
    if (held.has(h.store)) fault(`store '${h.store}' listed twice`, 'holds', i, 'store');
    held.set(h.store, new Set(h.categories));
    const known = servedCategories(h.store);
    // A store of the contract this build does not serve yet has no categories to check against.
    if (!known) return;
    h.categories.forEach((c, j) => {
      if (!known.includes(c)) {
        fault(`unknown category '${h.store}/${c}' (known: ${known.join(', ')})`, 'holds', i, 'categories', j);
      }
    });
  });

  const coveredStores = (section: 'categories' | 'sources' | 'recipients') =>
    doc[section].forEach((entry, i) =>
      entry.stores.forEach((store, j) => {
        if (!held.has(store)) fault(`store '${store}' is not held by the service`, section, i, 'stores', j);
      }),
    );
  coveredStores('categories');
  coveredStores('sources');
  coveredStores('recipients');
  for (const section of ['categories', 'sources', 'purposes', 'recipients'] as const) {
    for (const id of duplicates(doc[section].map((e) => e.id))) fault(`duplicate id '${id}'`, section);
  }

  const processors = new Set(policy.document.processors.map((p) => p.id));
  doc.recipients.forEach((r, i) => {
    if (r.processorId !== undefined && !processors.has(r.processorId)) {
      fault(`processor '${r.processorId}' is not in the erasure policy`, 'recipients', i, 'processorId');
    }
  });

  doc.withheld.forEach((w, i) => {
    if (!held.has(w.store)) fault(`store '${w.store}' is not held by the service`, 'withheld', i, 'store');
  });

  for (const [code, stated] of Object.entries(doc.retention.jurisdictions)) {
    const at = ['retention', 'jurisdictions', code];
    if (!isJurisdictionCode(code)) {
      fault(`unknown jurisdiction '${code}'`, ...at);
      continue;
    }
    faults.push(...retentionFaults(doc, policy, code, stated, held, at));
  }
  return faults;
}

/**
 * A profile's statutory retention for a jurisdiction must be what the planner applies there: each rule
 * the profile states, with the same period, and every rule the policy has for a category the service holds.
 */
function retentionFaults(
  doc: ServiceProfile,
  policy: Policy,
  code: string,
  stated: JurisdictionRetention,
  held: ReadonlyMap<string, ReadonlySet<string>>,
  at: string[],
): DocumentFault[] {
  const faults: DocumentFault[] = [];
  const applied = resolveJurisdiction(policy, code);
  const applies = policy.document.jurisdictions[applied]?.retention ?? {};
  stated.rules.forEach((rule, i) => {
    const pointer = jsonPointer(...at, 'rules', i);
    if (!servedCategories(rule.store)?.includes(rule.category)) {
      faults.push({ pointer, message: `unknown category '${rule.store}/${rule.category}'` });
      return;
    }
    const planned = applies[rule.store]?.[rule.category];
    if (!planned) {
      faults.push({
        pointer,
        message: `the erasure policy keeps nothing of '${rule.store}/${rule.category}' in ${code} (profile '${applied}')`,
      });
    } else if (planned.period !== rule.period) {
      faults.push({
        pointer: `${pointer}/period`,
        message: `'${rule.store}/${rule.category}' is kept ${planned.period} by the erasure policy, not ${rule.period}`,
      });
    }
  });
  for (const [store, rules] of Object.entries(applies)) {
    for (const category of Object.keys(rules)) {
      const listed = stated.rules.some((r) => r.store === store && r.category === category);
      if (held.get(store)?.has(category) && !listed) {
        faults.push({
          pointer: jsonPointer(...at, 'rules'),
          message: `the erasure policy keeps '${store}/${category}' in ${code}: the profile must state it`,
        });
      }
    }
  }
  return faults;
}

/**
 * Validates one profile document (`source` names it in errors; `expectedId` is the id it is registered
 * under). Throws ServiceProfileError listing every fault. The result is a frozen copy.
 */
export function loadServiceProfile(
  document: unknown,
  source: string,
  options: { policy?: Policy; expectedId?: string } = {},
): ServiceProfile {
  const doc: unknown = structuredClone(document);
  const validate = schemaValidator();
  if (!validate(doc)) throw new ServiceProfileError((validate.errors ?? []).map(schemaFault), source);
  const profile = doc as ServiceProfile;
  const faults = semanticFaults(profile, options.policy ?? loadDefaultPolicy(), options.expectedId);
  if (faults.length > 0) throw new ServiceProfileError(faults, source);
  return deepFreeze(profile);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Validates a set of profiles, keyed by id, and what only the set can show: every processor of the
 * erasure policy belongs to a service (otherwise nobody would tell it to erase).
 */
export function loadServiceProfiles(
  documents: Readonly<Record<string, unknown>>,
  policy: Policy = loadDefaultPolicy(),
): ReadonlyMap<string, ServiceProfile> {
  const profiles = new Map<string, ServiceProfile>();
  for (const [id, document] of Object.entries(documents)) {
    profiles.set(id, loadServiceProfile(document, `config/services/${id}.json`, { policy, expectedId: id }));
  }
  const claimed = new Set(
    [...profiles.values()].flatMap((p) =>
      p.recipients.flatMap((r) => (r.processorId ? [r.processorId] : [])),
    ),
  );
  const unclaimed = policy.document.processors.filter((p) => !claimed.has(p.id));
  if (unclaimed.length > 0) {
    throw new ServiceProfileError(
      unclaimed.map((p) => ({
        pointer: '',
        message: `processor '${p.id}' of the erasure policy is a recipient of no service`,
      })),
      'config/services/',
    );
  }
  return profiles;
}

let shipped: ReadonlyMap<string, ServiceProfile> | undefined;

/** The profiles shipped with the code, checked once. */
export function shippedServiceProfiles(): ReadonlyMap<string, ServiceProfile> {
  shipped ??= loadServiceProfiles(SHIPPED_PROFILES);
  return shipped;
}

/** Ids of the shipped services. */
export function serviceIds(): string[] {
  return [...shippedServiceProfiles().keys()];
}

/**
 * The deployment's default service: the service of an account (or item) without a `service` attribute
 * (../shared/stores.md). DEFAULT_SERVICE, else klub-outside; an unknown id is a configuration error.
 */
export function defaultServiceId(env: NodeJS.ProcessEnv = process.env): string {
  const id = optionalEnv(DEFAULT_SERVICE_ENV, FALLBACK_DEFAULT_SERVICE, env);
  if (!shippedServiceProfiles().has(id)) {
    throw new ConfigError(
      `${DEFAULT_SERVICE_ENV} names an unknown service (known: ${serviceIds().join(', ')})`,
    );
  }
  return id;
}

/**
 * The service a stored request, hold or audit entry belongs to: its `service`, else (stored before
 * services were recorded) the deployment's default service.
 */
export function recordedService(item: { readonly service?: string }): string {
  return item.service ?? defaultServiceId();
}

/** The profile of a service id; the deployment's default service when there is none. */
export function serviceProfile(id: string | undefined): ServiceProfile {
  const profile = shippedServiceProfiles().get(id ?? defaultServiceId());
  if (!profile) throw new ContractError('Unknown service');
  return profile;
}

/** The controller's name in a language, when the policy gives one; else its usual name. */
export function controllerName(
  profile: Pick<ServiceProfile, 'controller'>,
  language: ServiceLanguage,
): string {
  return profile.controller.localNames?.[language] ?? profile.controller.name;
}

/** The stores a service keeps (its `holds`), in the data map's order: the only ones its requests read. */
export function heldStores(profile: ServiceProfile): StoreName[] {
  const held = new Set<string>(profile.holds.map((h) => h.store));
  return STORE_NAMES.filter((store) => held.has(store));
}

/** The processor ids of the erasure policy that receive this service's data. */
export function processorIdsOf(profile: ServiceProfile): string[] {
  return profile.recipients.flatMap((r) => (r.processorId ? [r.processorId] : []));
}

/** Whether a service withholds a collection from its archives, and why. */
export function withheldCollection(
  profile: ServiceProfile,
  store: string,
  collection: string,
): Withheld | undefined {
  return profile.withheld.find((w) => w.store === store && w.collection === collection);
}

/**
 * The service an account belongs to: its `service` attribute, else the deployment's default service
 * (../shared/stores.md). An account naming a service this deployment does not know is a contract
 * violation: no controller could answer for it.
 */
export function serviceOfAccount(account: Readonly<Record<string, unknown>> | undefined): string {
  const service = account?.service;
  if (service === undefined || service === null || service === '') return defaultServiceId();
  if (typeof service !== 'string' || !shippedServiceProfiles().has(service)) {
    throw new ContractError('The account names a service this deployment does not serve');
  }
  return service;
}

/** What an erasure certificate says of the service: its id and name, and who its controller is. */
export function certificateServiceOf(profile: ServiceProfile): CertificateService {
  const { name, legalName, address } = profile.controller;
  return { id: profile.id, name: profile.name, controller: { name, legalName, address } };
}
