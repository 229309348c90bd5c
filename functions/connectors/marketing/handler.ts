import { ENV } from '../../../config/data-map';
import { documentClient, s3Client } from '../../lib/aws/clients';
import { requireEnv } from '../../lib/runtime/config';
import { connectorHandler } from '../../lib/connectors/connector-handler';
import { perServiceConnector } from '../../lib/connectors/service-connectors';
import { DynamoVault, vaultKeysFromEnv } from '../../lib/erasure/vault';
import { createMarketingConnector } from './core';

const stagingBucket = requireEnv(ENV.stagingBucket);
// Advertising records are retained under statute in some jurisdictions (KR: 6 months).
const vault = new DynamoVault(documentClient(), {
  tableName: requireEnv(ENV.vaultTable),
  keys: vaultKeysFromEnv('write'),
});

export const handler = connectorHandler(
  perServiceConnector('marketing', [ENV.marketingTable], (nameOf) =>
    createMarketingConnector(documentClient(), { tableName: nameOf(ENV.marketingTable) }),
  ),
  () => ({ s3: s3Client(), stagingBucket, vault }),
);
