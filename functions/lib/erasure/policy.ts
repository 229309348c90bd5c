/**
 * The erasure policy: loaded from data (config/policy/policy.v1.json), validated against its JSON
 * Schema and then semantically (known stores, categories and jurisdictions; rules that can be
 * computed; no card data or secrets kept), frozen, and identified by version and content hash.
 * An invalid policy throws PolicyError naming every fault by JSON pointer, so start-up and synth
 * fail with a message that says what to fix. Everything else here is pure.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import policySchema from '../../../config/policy/policy.schema.json';
import defaultPolicyDocument from '../../../config/policy/policy.v1.json';
import { ContractError } from '../runtime/errors';
import {
  InvalidDocumentError,
  jsonPointer as pointer,
  lazySchemaValidator,
  schemaFault,
  type DocumentFault,
} from '../runtime/json-documents';
import {
  DEFAULT_JURISDICTION,
  STORE_CATEGORIES,
  type CategoryPolicy,
  type LiveAction,
  type Policy,
  type PolicyAction,
  type PolicyDocument,
  type ProcessorPolicy,
  type RetentionRule,
  type StoreName,
} from './types';

/** Where the shipped policy lives, for messages (the file itself is bundled through the import above). */
const DEFAULT_POLICY_SOURCE = 'config/policy/policy.v1.json';

export type PolicyFault = DocumentFault;

export class PolicyError extends InvalidDocumentError {
  override name = 'PolicyError';
  constructor(faults: readonly PolicyFault[], source: string) {
    super('policy', faults, source, 'POLICY_INVALID');
  }
}

// ---------------------------------------------------------------------------------------------
// ISO 8601 durations, calendar-correct

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const DURATION =
  /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Parses a whole-unit ISO 8601 duration (P5Y, P6M, P1Y2M10DT2H); null when it is not one. */
export function parseDuration(iso: string): Duration | null {
  const m = DURATION.exec(iso);
  if (!m) return null;
  const n = (i: number): number => Number(m[i] ?? 0);
  const d = { years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
  return Object.values(d).every(Number.isSafeInteger) ? d : null;
}

function isPositive(d: Duration): boolean {
  return Object.values(d).some((v) => v > 0);
}

function daysInMonth(year: number, monthIndex: number): number {
  return new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

/**
 * Adds an ISO 8601 duration in UTC, calendar-correct: years and months first, clamping to the end of
 * the month (31 Jan + P1M = 28/29 Feb; 29 Feb + P1Y = 28 Feb), then weeks and days, then time.
 */
export function addDuration(date: Date | string, iso: string): Date {
  const start = typeof date === 'string' ? new Date(date) : date;
  if (Number.isNaN(start.getTime())) throw new RangeError('addDuration: invalid date');
  const d = parseDuration(iso);
  if (!d) throw new RangeError(`addDuration: not an ISO 8601 duration: ${iso}`);
  const totalMonths = start.getUTCMonth() + d.months + 12 * d.years;
  const year = start.getUTCFullYear() + Math.floor(totalMonths / 12);
  const month = totalMonths % 12;
  const day = Math.min(start.getUTCDate(), daysInMonth(year, month));
  const shifted = new Date(start.getTime());
  shifted.setUTCFullYear(year, month, day);
  shifted.setUTCDate(shifted.getUTCDate() + d.days + 7 * d.weeks);
  return new Date(shifted.getTime() + ((d.hours * 60 + d.minutes) * 60 + d.seconds) * 1000);
}

// ---------------------------------------------------------------------------------------------
// Jurisdiction codes

/** ISO 3166-1 alpha-2, officially assigned codes. */
const ISO_3166_1 = new Set(
  [
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE',
    'BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD',
    'CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM',
    'DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF',
    'GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU',
    'ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN',
    'KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME',
    'MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA',
    'NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM',
    'PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI',
    'SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK',
    'TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI',
    'VN VU WF WS YE YT ZA ZM ZW',
  ]
    .join(' ')
    .split(' '),
);

const JURISDICTION_CODE = /^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$/;

/** An ISO 3166-1 alpha-2 code, or an ISO 3166-2 subdivision code (US-CA) of an assigned country. */
export function isJurisdictionCode(code: string): boolean {
  const m = JURISDICTION_CODE.exec(code);
  return m !== null && ISO_3166_1.has(m[1] ?? '');
}

// ---------------------------------------------------------------------------------------------
// Loading and validation

const schemaValidator = lazySchemaValidator(policySchema);

/** Segments of a field path without list selectors: `participants[subject].ip` -> participants, ip. */
function pathSegments(path: string): string[] {
  return path.split('.').map((s) => s.replace(/\[[^\]]*\]$/, ''));
}

function isPrefix(a: readonly string[], b: readonly string[]): boolean {
  return a.length <= b.length && a.every((s, i) => s === b[i]);
}

function knownCategories(store: string): readonly string[] | undefined {
  return Object.hasOwn(STORE_CATEGORIES, store) ? STORE_CATEGORIES[store as StoreName] : undefined;
}

/** The checks a schema cannot express. Assumes the document passed the schema. */
function semanticFaults(doc: PolicyDocument): PolicyFault[] {
  const faults: PolicyFault[] = [];
  const stores = doc.stores as Readonly<Record<string, PolicyDocument['stores'][StoreName]>>;

  for (const [store, expected] of Object.entries(STORE_CATEGORIES)) {
    const sp = stores[store];
    if (!sp) {
      faults.push({
        pointer: pointer('stores', store),
        message: `missing store '${store}': every store needs a policy`,
      });
      continue;
    }
    for (const category of expected) {
      if (!Object.hasOwn(sp.categories, category)) {
        faults.push({
          pointer: pointer('stores', store, 'categories', category),
          message: `missing category '${store}/${category}': every category needs an action`,
        });
      }
    }
  }
  for (const [store, sp] of Object.entries(stores)) {
    const known = knownCategories(store);
    if (!known) {
      faults.push({
        pointer: pointer('stores', store),
        message: `unknown store '${store}' (known: ${Object.keys(STORE_CATEGORIES).join(', ')})`,
      });
      continue;
    }
    for (const category of Object.keys(sp.categories)) {
      if (!known.includes(category)) {
        faults.push({
          pointer: pointer('stores', store, 'categories', category),
          message: `unknown category '${store}/${category}' (known: ${known.join(', ')})`,
        });
      }
    }
  }

  const never = doc.neverRetain.map((p) => ({ path: p, segments: pathSegments(p) }));
  for (const [code, profile] of Object.entries(doc.jurisdictions)) {
    if (code !== DEFAULT_JURISDICTION && !isJurisdictionCode(code)) {
      faults.push({
        pointer: pointer('jurisdictions', code),
        message: `unknown jurisdiction '${code}': use '${DEFAULT_JURISDICTION}', an ISO 3166-1 alpha-2 code or an ISO 3166-2 subdivision code`,
      });
    }
    for (const [store, rules] of Object.entries(profile.retention)) {
      for (const [category, rule] of Object.entries(rules)) {
        const at = (...rest: string[]): string =>
          pointer('jurisdictions', code, 'retention', store, category, ...rest);
        const cp: CategoryPolicy | undefined = stores[store]?.categories[category];
        if (!knownCategories(store)?.includes(category) || !cp) {
          faults.push({
            pointer: at(),
            message: `retention rule for unknown category '${store}/${category}'`,
          });
          continue;
        }
        if (code === DEFAULT_JURISDICTION) {
          faults.push({
            pointer: at(),
            message: `the '${DEFAULT_JURISDICTION}' profile cannot retain '${store}/${category}': retention needs the statute of a named jurisdiction`,
          });
        }
        const period = parseDuration(rule.period);
        if (!period || !isPositive(period)) {
          faults.push({
            pointer: at('period'),
            message: `period '${rule.period}' must be a duration longer than zero`,
          });
        }
        if (rule.from !== 'accountDeletion' && !cp.anchors.includes(rule.from)) {
          faults.push({
            pointer: at('from'),
            message: `'${store}/${category}' records carry no '${rule.from}' (anchors: ${[...cp.anchors, 'accountDeletion'].join(', ')})`,
          });
        }
        rule.keep.forEach((field, i) => {
          const segs = pathSegments(field);
          const hit = never.find((n) => isPrefix(n.segments, segs) || isPrefix(segs, n.segments));
          if (hit) {
            faults.push({
              pointer: at('keep', String(i)),
              message: `'${store}/${category}' cannot keep '${field}': '${hit.path}' is never retained`,
            });
          }
        });
      }
    }
  }

  const ids = new Set<string>();
  doc.processors.forEach((proc, i) => {
    if (ids.has(proc.id))
      faults.push({
        pointer: pointer('processors', i, 'id'),
        message: `duplicate processor id '${proc.id}'`,
      });
    ids.add(proc.id);
    proc.receives.forEach((r, j) => {
      const known = knownCategories(r.store);
      if (!known) {
        faults.push({
          pointer: pointer('processors', i, 'receives', j, 'store'),
          message: `unknown store '${r.store}'`,
        });
        return;
      }
      r.categories.forEach((c, k) => {
        if (!known.includes(c)) {
          faults.push({
            pointer: pointer('processors', i, 'receives', j, 'categories', k),
            message: `processor '${proc.id}' names unknown category '${r.store}/${c}'`,
          });
        }
      });
    });
  });
  return faults;
}

/** JSON with keys sorted at every level: the hash ignores key order and spacing. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function readPolicyFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new PolicyError(
      [{ pointer: '', message: `cannot read the file (${String(code ?? 'error')})` }],
      path,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PolicyError([{ pointer: '', message: `not JSON: ${(error as Error).message}` }], path);
  }
}

/**
 * Loads and validates a policy: a file path, or an already parsed document (`source` names it in
 * errors). Throws PolicyError listing every fault. The result is frozen and carries version and hash.
 */
export function loadPolicy(pathOrDocument: unknown, source?: string): Policy {
  const label = source ?? (typeof pathOrDocument === 'string' ? pathOrDocument : 'document');
  const raw: unknown =
    typeof pathOrDocument === 'string' ? readPolicyFile(pathOrDocument) : structuredClone(pathOrDocument);
  const validate = schemaValidator();
  if (!validate(raw)) throw new PolicyError((validate.errors ?? []).map(schemaFault), label);
  const doc = raw as PolicyDocument;
  const faults = semanticFaults(doc);
  if (faults.length > 0) throw new PolicyError(faults, label);
  const hash = `sha256:${createHash('sha256').update(canonicalJson(doc)).digest('hex')}`;
  return deepFreeze({ version: doc.version, hash, document: doc });
}

let shipped: Policy | undefined;

/** The policy shipped with the code (bundled, so it loads the same in Lambda, locally and at synth). */
export function loadDefaultPolicy(): Policy {
  shipped ??= loadPolicy(defaultPolicyDocument, DEFAULT_POLICY_SOURCE);
  return shipped;
}

// ---------------------------------------------------------------------------------------------
// Typed access (pure)

/**
 * The jurisdiction to plan and state retention with: the request's, when the policy can read it (an ISO
 * 3166 code), else `default` (a region such as `EU` has no statutory retention profile).
 */
export function planningJurisdiction(recorded: string | undefined): string {
  const code = (recorded ?? '').trim().toUpperCase();
  return code && isJurisdictionCode(code) ? code : DEFAULT_JURISDICTION;
}

/** The profile key that applies: the exact code, else its country (US-CA -> US), else `default`. */
export function resolveJurisdiction(policy: Policy, code: string): string {
  const normalised = code.trim().toUpperCase();
  if (normalised === DEFAULT_JURISDICTION.toUpperCase()) return DEFAULT_JURISDICTION;
  if (!isJurisdictionCode(normalised)) {
    throw new ContractError('Jurisdiction must be an ISO 3166-1 alpha-2 or ISO 3166-2 code');
  }
  const profiles = policy.document.jurisdictions;
  if (Object.hasOwn(profiles, normalised)) return normalised;
  const country = normalised.slice(0, 2);
  if (Object.hasOwn(profiles, country)) return country;
  return DEFAULT_JURISDICTION;
}

export function isKnownCategory(store: string, category: string): boolean {
  return knownCategories(store)?.includes(category) ?? false;
}

function categoryPolicy(policy: Policy, store: StoreName, category: string): CategoryPolicy {
  const cp = policy.document.stores[store].categories[category];
  if (!cp) throw new ContractError(`Unknown category '${store}/${category}'`);
  return cp;
}

export interface Retention {
  /** The profile applied. */
  jurisdiction: string;
  action: PolicyAction;
  liveAction: LiveAction;
  rule: RetentionRule | null;
}

/** What the policy says for a store/category in a jurisdiction. */
export function retentionFor(
  policy: Policy,
  jurisdiction: string,
  store: StoreName,
  category: string,
): Retention {
  const cp = categoryPolicy(policy, store, category);
  const applied = resolveJurisdiction(policy, jurisdiction);
  const rule = policy.document.jurisdictions[applied]?.retention[store]?.[category] ?? null;
  return { jurisdiction: applied, action: rule ? 'retain' : cp.action, liveAction: cp.action, rule };
}

/** When a record kept under `rule` expires: its anchor date plus the period. */
export function retentionUntil(rule: Pick<RetentionRule, 'period'>, anchorAt: Date | string): Date {
  return addDuration(anchorAt, rule.period);
}

/** Processors that received a store/category, in policy order. */
export function processorsFor(policy: Policy, store: StoreName, category: string): ProcessorPolicy[] {
  return policy.document.processors.filter((p) =>
    p.receives.some((r) => r.store === store && r.categories.includes(category)),
  );
}

/** What GET /v1/policy shows: the policy in force, its version and hash. */
export function policyView(policy: Policy): { version: string; hash: string; policy: PolicyDocument } {
  return { version: policy.version, hash: policy.hash, policy: policy.document };
}
