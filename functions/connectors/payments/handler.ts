import { ENV } from '../../../config/data-map';
import { documentClient, s3Client } from '../../lib/aws/clients';
import { requireEnv } from '../../lib/runtime/config';
import { connectorHandler } from '../../lib/connectors/connector-handler';
import { DynamoVault } from '../../lib/erasure/vault';
import { createPaymentsConnector } from './core';

const config = { tableName: requireEnv(ENV.paymentsTable) };
const stagingBucket = requireEnv(ENV.stagingBucket);
// Transactions are retained under statute in some jurisdictions (KR: 5 years).
const vault = new DynamoVault(documentClient(), { tableName: requireEnv(ENV.vaultTable) });

export const handler = connectorHandler(createPaymentsConnector(documentClient(), config), () => ({
  s3: s3Client(),
  stagingBucket,
  vault,
}));
