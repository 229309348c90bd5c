/**
 * A store's connector per service (one connector contract, one connector code): built on first use from
 * the names of the service's stores, then kept for the container's life. Every service's names are
 * checked at cold start, so a missing variable fails before any request.
 */
import type { StoreName } from '../../../config/data-map';
import { serviceProfile, serviceIds } from '../services/profiles';
import { serviceStoresFromEnv, type ServiceStores } from '../services/stores';
import type { Connector } from './contract';
import type { ServiceConnectors } from './connector-handler';

/**
 * `make` builds the connector from a lookup of the store variables it uses (ACCOUNTS_TABLE, ...): for
 * each service, its own store where it keeps one, else the shared store.
 */
export function perServiceConnector(
  store: StoreName,
  variables: readonly string[],
  make: (nameOf: (variable: string) => string) => Connector,
  stores: ServiceStores = serviceStoresFromEnv(),
): ServiceConnectors {
  for (const service of serviceIds()) for (const variable of variables) stores.nameFor(service, variable);
  const built = new Map<string, Connector>();
  return {
    store,
    forService(service) {
      // A subject staged before services names none: the deployment's default service.
      const id = serviceProfile(service).id;
      let connector = built.get(id);
      if (!connector) {
        connector = make((variable) => stores.nameFor(id, variable));
        built.set(id, connector);
      }
      return connector;
    },
  };
}
