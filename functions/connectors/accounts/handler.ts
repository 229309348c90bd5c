import { ENV } from '../../../config/data-map';
import { documentClient, s3Client } from '../../lib/aws/clients';
import { requireEnv } from '../../lib/runtime/config';
import { connectorHandler } from '../../lib/connectors/connector-handler';
import { perServiceConnector } from '../../lib/connectors/service-connectors';
import { DynamoVault, vaultKeysFromEnv } from '../../lib/erasure/vault';
import { createAccountsConnector } from './core';

const stagingBucket = requireEnv(ENV.stagingBucket);
// KR retains marketing consents, and every erasure leaves a suppression record: both in the vault table.
const vault = new DynamoVault(documentClient(), {
  tableName: requireEnv(ENV.vaultTable),
  keys: vaultKeysFromEnv('write'),
});

// Each service's accounts: the shared table, or the service's own (config/data-map.ts serviceStores).
export const handler = connectorHandler(
  perServiceConnector('accounts', [ENV.accountsTable], (nameOf) =>
    createAccountsConnector(
      documentClient(),
      { tableName: nameOf(ENV.accountsTable) },
      { suppressions: vault },
    ),
  ),
  () => ({ s3: s3Client(), stagingBucket, vault }),
);
