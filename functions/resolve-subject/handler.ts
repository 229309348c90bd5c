import { ENV, STORE_NAMES, type StoreName } from '../../config/data-map';
import { CONNECTOR_FUNCTIONS_ENV } from '../lib/connectors/catalog';
import { documentClient, s3Client } from '../lib/aws/clients';
import { ConfigError, requireEnv } from '../lib/runtime/config';
import { EventLog } from '../lib/requests/event-log';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { subjectHasherFromEnv } from '../lib/crypto/subject-hash';
import { HoldRepository } from '../lib/holds/holds';
import { IdentifierIndex } from '../lib/identifiers/identifier-index';
import { taskHandler } from '../lib/runtime/task-handler';
import { resolveSubject, type ResolveDeps, type ResolveOutput } from './core';
import { defaultServiceId } from '../lib/services/profiles';
import { serviceStoresFromEnv } from '../lib/services/stores';

function parseConnectorFunctions(raw: string): Partial<Record<StoreName, string>> {
  const parsed = JSON.parse(raw) as Record<string, unknown>;
  const out: Partial<Record<StoreName, string>> = {};
  for (const store of STORE_NAMES) {
    const name = parsed[store];
    if (typeof name !== 'string' || name === '') {
      throw new ConfigError(`${CONNECTOR_FUNCTIONS_ENV} names no function for store ${store}`);
    }
    out[store] = name;
  }
  return out;
}

const doc = documentClient();
const table = requestTableFromEnv();
const hasher = subjectHasherFromEnv();
const deps: ResolveDeps = {
  doc,
  s3: s3Client(),
  requests: new RequestRepository(table),
  events: new EventLog(table),
  holds: new HoldRepository(table),
  hasher,
  stores: serviceStoresFromEnv(),
  identifierIndex: new IdentifierIndex(doc, requireEnv(ENV.identifierIndexTable), hasher),
  stagingBucket: requireEnv(ENV.stagingBucket),
  connectorFunctions: parseConnectorFunctions(requireEnv(CONNECTOR_FUNCTIONS_ENV)),
};

// The service profiles and DEFAULT_SERVICE are checked at cold start, not by a request halfway.
defaultServiceId();

export const handler = taskHandler<{ requestId: string; mode?: 'export' | 'erasure' }, ResolveOutput>(
  'resolve-subject',
  (input) => resolveSubject(deps, input),
);
