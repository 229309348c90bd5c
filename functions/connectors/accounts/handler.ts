import { ENV } from '../../../config/data-map';
import { documentClient, s3Client } from '../../lib/aws/clients';
import { requireEnv } from '../../lib/runtime/config';
import { connectorHandler } from '../../lib/connectors/connector-handler';
import { DynamoVault } from '../../lib/erasure/vault';
import { createAccountsConnector } from './core';

const config = { tableName: requireEnv(ENV.accountsTable) };
const stagingBucket = requireEnv(ENV.stagingBucket);
// KR retains marketing consents, and every erasure leaves a suppression record: both in the vault table.
const vault = new DynamoVault(documentClient(), { tableName: requireEnv(ENV.vaultTable) });

export const handler = connectorHandler(
  createAccountsConnector(documentClient(), config, { suppressions: vault }),
  () => ({ s3: s3Client(), stagingBucket, vault }),
);
