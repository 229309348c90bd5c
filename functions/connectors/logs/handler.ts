import { ENV, platformStores } from '../../../config/data-map';
import { documentClient, s3Client } from '../../lib/aws/clients';
import { subjectHasherFromEnv } from '../../lib/crypto/subject-hash';
import { lazyIndexHasher } from '../../lib/logs/index-hash';
import { LogIndexStore } from '../../lib/logs/index-store';
import { LogIndexReader } from '../../lib/logs/subject-objects';
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
const index = new LogIndexReader(
  new LogIndexStore(documentClient(), requireEnv(ENV.logIndexTable)),
  lazyIndexHasher(() => subjectHasherFromEnv()),
);

export const handler = connectorHandler(createLogsConnector(s3Client(), config, index), () => ({
  s3: s3Client(),
  stagingBucket,
}));
