import { ENV } from '../../../config/data-map';
import { documentClient, s3Client } from '../../shared/clients';
import { requireEnv } from '../../shared/config';
import { connectorHandler } from '../../shared/connector-handler';
import { createAccountsConnector } from './core';

const config = { tableName: requireEnv(ENV.accountsTable) };
const stagingBucket = requireEnv(ENV.stagingBucket);

export const handler = connectorHandler(createAccountsConnector(documentClient(), config), () => ({
  s3: s3Client(),
  stagingBucket,
}));
