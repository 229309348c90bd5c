/**
 * Each service's procedures as data (config/procedures/procedures.json): which verification it requires
 * before it acts, which fee it charges, and its own exceptions to disclosure. Every rule names, by JSON
 * pointer, the statement of the service's profile (config/services/) it comes from, so a rule without a
 * promise in the policy cannot exist. Checked once, at load; a fault throws naming every problem.
 */
import document from '../../../config/procedures/procedures.json';
import { STORE_CATEGORIES, type StoreName } from '../erasure/types';
import { ContractError } from '../runtime/errors';
import { serviceProfile, shippedServiceProfiles, type ServiceProfile } from '../services/profiles';
import type { Requester } from '../requests/records';
import { VERIFICATION_METHODS, type VerificationMethod } from './records';

/** What a request asks the service to do; a request type maps to one (actionOf). */
export type Action = 'disclose' | 'erase' | 'restrict';

const ACTION_OF_TYPE: Readonly<Record<string, Action>> = {
  export: 'disclose',
  erasure: 'erase',
  restriction: 'restrict',
};

/** The action a request type asks for; a type no procedure covers asks for none. */
export function actionOf(type: string): Action | undefined {
  return ACTION_OF_TYPE[type];
}

export interface VerificationRule {
  requesters: Requester['kind'][];
  actions: Action[];
  /** Any one of them will do. */
  methods: VerificationMethod[];
  basis: string[];
}

export interface FeeRule {
  actions: Action[];
  /** Absent when the profile states no amount (support records it when it is paid). */
  amount?: number;
  currency: string;
  note?: string;
  basis: string[];
}

export interface ServiceException {
  id: string;
  /** The store (and category) it leaves out of an export, when it is about one. */
  store?: StoreName;
  category?: string;
  name: { en: string; ja: string };
  basis: string[];
}

export interface ServiceProcedures {
  verification: VerificationRule[];
  fees: FeeRule[];
  exceptions: ServiceException[];
}

interface ProceduresDocument {
  formatVersion: 1;
  services: Record<string, ServiceProcedures>;
}

function resolvePointer(root: unknown, pointer: string): unknown {
  let value: unknown = root;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The faults of one service's procedures against its profile. */
export function procedureFaults(profile: ServiceProfile, procedures: ServiceProcedures): string[] {
  const faults: string[] = [];
  const at = (path: string, message: string) => faults.push(`${profile.id}${path}: ${message}`);
  const checkBasis = (path: string, basis: string[]) => {
    if (basis.length === 0) at(path, 'names no statement of the profile');
    for (const pointer of basis) {
      const stated = resolvePointer(profile, pointer);
      if (stated === undefined || stated === null) at(path, `'${pointer}' is not in the profile`);
    }
  };
  procedures.verification.forEach((rule, i) => {
    checkBasis(`/verification/${i}`, rule.basis);
    for (const method of rule.methods) {
      if (!(VERIFICATION_METHODS as readonly string[]).includes(method))
        at(`/verification/${i}`, `unknown method '${method}'`);
    }
    if (rule.methods.length === 0) at(`/verification/${i}`, 'accepts no method');
  });
  procedures.fees.forEach((fee, i) => {
    checkBasis(`/fees/${i}`, fee.basis);
    if (fee.actions.includes('erase')) at(`/fees/${i}`, 'an erasure is never charged');
  });
  const held = new Set(profile.holds.map((h) => h.store));
  procedures.exceptions.forEach((exception, i) => {
    checkBasis(`/exceptions/${i}`, exception.basis);
    if (exception.store && !held.has(exception.store))
      at(`/exceptions/${i}`, `store '${exception.store}' is not held by the service`);
    if (
      exception.store &&
      exception.category &&
      !(STORE_CATEGORIES[exception.store] as readonly string[]).includes(exception.category)
    )
      at(`/exceptions/${i}`, `unknown category '${exception.store}/${exception.category}'`);
  });
  return faults;
}

/** Validates a procedures document against the shipped profiles: one entry per service, each sound. */
export function loadProcedures(doc: unknown): ReadonlyMap<string, ServiceProcedures> {
  const parsed = doc as ProceduresDocument;
  const faults: string[] = [];
  const out = new Map<string, ServiceProcedures>();
  for (const [id, profile] of shippedServiceProfiles()) {
    const procedures = parsed.services[id];
    if (!procedures) {
      faults.push(`${id}: no procedures`);
      continue;
    }
    faults.push(...procedureFaults(profile, procedures));
    out.set(id, procedures);
  }
  for (const id of Object.keys(parsed.services)) {
    if (!shippedServiceProfiles().has(id)) faults.push(`${id}: not a service`);
  }
  if (faults.length > 0) {
    throw new ContractError(`config/procedures/procedures.json is invalid: ${faults.join('; ')}`);
  }
  return out;
}

let shipped: ReadonlyMap<string, ServiceProcedures> | undefined;

/** The procedures of a service (the deployment's default service when none is named). */
export function proceduresOf(service: string | undefined): ServiceProcedures {
  shipped ??= loadProcedures(document);
  const procedures = shipped.get(serviceProfile(service).id);
  if (!procedures) throw new ContractError('Unknown service');
  return procedures;
}
