import { ENV } from '../../../config/data-map';
import { documentClient, s3Client } from '../../lib/aws/clients';
import { requireEnv } from '../../lib/runtime/config';
import { connectorHandler } from '../../lib/connectors/connector-handler';
import { perServiceConnector } from '../../lib/connectors/service-connectors';
import { DynamoVault, vaultKeysFromEnv } from '../../lib/erasure/vault';
import { createPaymentsConnector } from './core';

const stagingBucket = requireEnv(ENV.stagingBucket);
// Transactions are retained under statute in some jurisdictions (KR: 5 years).
const vault = new DynamoVault(documentClient(), {
  tableName: requireEnv(ENV.vaultTable),
  keys: vaultKeysFromEnv('write'),
});

export const handler = connectorHandler(
  perServiceConnector('payments', [ENV.paymentsTable], (nameOf) =>
    createPaymentsConnector(documentClient(), { tableName: nameOf(ENV.paymentsTable) }),
  ),
  () => ({ s3: s3Client(), stagingBucket, vault }),
);
