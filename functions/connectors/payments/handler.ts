import { ENV } from '../../../config/data-map';
import { documentClient, s3Client } from '../../shared/clients';
import { requireEnv } from '../../shared/config';
import { connectorHandler } from '../../shared/connector-handler';
import { createPaymentsConnector } from './core';

const config = { tableName: requireEnv(ENV.paymentsTable) };
const stagingBucket = requireEnv(ENV.stagingBucket);

export const handler = connectorHandler(createPaymentsConnector(documentClient(), config), () => ({
  s3: s3Client(),
  stagingBucket,
}));
