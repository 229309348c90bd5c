import { ENV, platformStores } from '../../../config/data-map';
import { s3Client } from '../../lib/aws/clients';
import { logIndexReaderFromEnv } from '../../lib/logs/index-from-env';
import { requireEnv } from '../../lib/runtime/config';
import { connectorHandler } from '../../lib/connectors/connector-handler';
import { createLogsConnector } from './core';

const config = {
  bucket: requireEnv(ENV.logsBucket),
  accessPrefix: platformStores.logs.accessPrefix,
  voiceSessionsPrefix: platformStores.logs.voiceSessionsPrefix,
};
const stagingBucket = requireEnv(ENV.stagingBucket);
// The subject index (docs/log-index.md): only the objects naming the subject, and those not indexed yet.
const index = logIndexReaderFromEnv();

export const handler = connectorHandler(createLogsConnector(s3Client(), config, index), () => ({
  s3: s3Client(),
  stagingBucket,
}));
