import { ENV, platformStores } from '../../../config/data-map';
import { s3Client } from '../../shared/clients';
import { requireEnv } from '../../shared/config';
import { connectorHandler } from '../../shared/connector-handler';
import { createLogsConnector } from './core';

const config = {
  bucket: requireEnv(ENV.logsBucket),
  accessPrefix: platformStores.logs.accessPrefix,
  voiceSessionsPrefix: platformStores.logs.voiceSessionsPrefix,
};
const stagingBucket = requireEnv(ENV.stagingBucket);

export const handler = connectorHandler(createLogsConnector(s3Client(), config), () => ({
  s3: s3Client(),
  stagingBucket,
}));
