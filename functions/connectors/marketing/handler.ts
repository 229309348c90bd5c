import { ENV } from '../../../config/data-map';
import { documentClient, s3Client } from '../../lib/aws/clients';
import { requireEnv } from '../../lib/runtime/config';
import { connectorHandler } from '../../lib/connectors/connector-handler';
import { DynamoVault } from '../../lib/erasure/vault';
import { createMarketingConnector } from './core';

const config = { tableName: requireEnv(ENV.marketingTable) };
const stagingBucket = requireEnv(ENV.stagingBucket);
// Advertising records are retained under statute in some jurisdictions (KR: 6 months).
const vault = new DynamoVault(documentClient(), { tableName: requireEnv(ENV.vaultTable) });

export const handler = connectorHandler(createMarketingConnector(documentClient(), config), () => ({
  s3: s3Client(),
  stagingBucket,
  vault,
}));
