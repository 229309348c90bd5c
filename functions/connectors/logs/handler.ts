import { ENV, platformStores } from '../../../config/data-map';
import { s3Client } from '../../lib/aws/clients';
import { requireEnv } from '../../lib/runtime/config';
import { connectorHandler } from '../../lib/connectors/connector-handler';
import { createLogsConnector } from './core';

const config = {
  bucket: requireEnv(ENV.logsBucket),
  accessPrefix: platformStores.logs.accessPrefix,
  voiceSessionsPrefix: platformStores.logs.voiceSessionsPrefix,
  // Only the local stack (s3rver, which ignores If-Match) turns conditional writes off.
  conditionalWrites: process.env.LOGS_CONDITIONAL_WRITES !== 'false',
};
const stagingBucket = requireEnv(ENV.stagingBucket);

export const handler = connectorHandler(createLogsConnector(s3Client(), config), () => ({
  s3: s3Client(),
  stagingBucket,
}));
