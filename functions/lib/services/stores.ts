/**
 * Where a service's stores are: the shared `platform-*` store, unless the data map gives the service one
 * of its own (config/data-map.ts `serviceStores`, ../shared/stores.md "Services"). Lambdas learn the
 * shared names from their usual variables (ACCOUNTS_TABLE, ...) and the services' own from
 * SERVICE_STORES, both read and checked once, at cold start.
 */
import { ENV } from '../../../config/data-map';
import { ConfigError, optionalEnv, requireEnv } from '../runtime/config';
import { defaultServiceId, serviceIds } from './profiles';

/** The variable names a service may give its own value (the platform's tables; buckets stay shared). */
const OWN_STORE_ENV: readonly string[] = [
  ENV.accountsTable,
  ENV.paymentsTable,
  ENV.chatRoomsTable,
  ENV.chatMessagesTable,
  ENV.marketingTable,
];

export type ServiceStoreNames = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** Parses and checks SERVICE_STORES: known services, known variables, non-empty names. */
export function parseServiceStores(raw: string): ServiceStoreNames {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${ENV.serviceStores} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigError(`${ENV.serviceStores} must map service ids to their own stores`);
  const known = new Set(serviceIds());
  const out: Record<string, Record<string, string>> = {};
  for (const [service, own] of Object.entries(parsed as Record<string, unknown>)) {
    if (!known.has(service)) throw new ConfigError(`${ENV.serviceStores} names an unknown service`);
    if (own === null || typeof own !== 'object' || Array.isArray(own))
      throw new ConfigError(`${ENV.serviceStores}: the stores of ${service} must be an object`);
    const names: Record<string, string> = {};
    for (const [variable, name] of Object.entries(own as Record<string, unknown>)) {
      if (!OWN_STORE_ENV.includes(variable))
        throw new ConfigError(`${ENV.serviceStores}: ${service} cannot keep its own ${variable}`);
      if (typeof name !== 'string' || name === '')
        throw new ConfigError(`${ENV.serviceStores}: ${service}'s ${variable} must be a name`);
      names[variable] = name;
    }
    out[service] = names;
  }
  return out;
}

/** The store locations of every service, from the shared names and each service's own. */
export class ServiceStores {
  constructor(
    private readonly own: ServiceStoreNames,
    /** The shared store's name of a variable (ACCOUNTS_TABLE -> platform-accounts). */
    private readonly shared: (variable: string) => string,
  ) {}

  /** The name a service's subjects are found under for one store variable. */
  nameFor(service: string, variable: string): string {
    return this.own[service]?.[variable] ?? this.shared(variable);
  }

  /** Whether the service keeps this store apart (then everything in it is the service's). */
  keepsOwn(service: string, variable: string): boolean {
    return this.own[service]?.[variable] !== undefined;
  }

  /** Every distinct name of a variable across services, the shared one first. */
  allNames(variable: string): string[] {
    const names = [this.shared(variable), ...Object.values(this.own).flatMap((s) => s[variable] ?? [])];
    return [...new Set(names)];
  }

  /** The service that keeps this table as its own, if one does. */
  ownerOf(variable: string, name: string): string | undefined {
    return Object.entries(this.own).find(([, s]) => s[variable] === name)?.[0];
  }
}

/**
 * The services' store locations from the environment. Each shared name is required only when asked for,
 * so a Lambda that serves one store needs only that store's variable.
 */
export function serviceStoresFromEnv(env: NodeJS.ProcessEnv = process.env): ServiceStores {
  // Checked here so that a wrong DEFAULT_SERVICE fails at cold start too.
  defaultServiceId(env);
  return new ServiceStores(parseServiceStores(optionalEnv(ENV.serviceStores, '{}', env)), (variable) =>
    requireEnv(variable, env),
  );
}

/**
 * Whether an account item belongs to a service, as stores.md says: its `service` attribute, else the
 * owner of the table it was read from when a service keeps that table as its own, else the
 * deployment's default service.
 */
export function accountBelongsTo(
  account: Readonly<Record<string, unknown>>,
  service: string,
  tableOwner: string | undefined,
): boolean {
  const own = account.service;
  if (typeof own === 'string' && own !== '') return own === service;
  return (tableOwner ?? defaultServiceId()) === service;
}
