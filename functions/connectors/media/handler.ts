import { ENV, platformStores } from '../../../config/data-map';
import { s3Client } from '../../lib/aws/clients';
import { requireEnv } from '../../lib/runtime/config';
import { connectorHandler } from '../../lib/connectors/connector-handler';
import { createMediaConnector } from './core';
import { mediaBucketVersioned } from '../../lib/connectors/media-objects';

const config = {
  bucket: requireEnv(ENV.mediaBucket),
  subjectPrefixes: platformStores.media.subjectPrefixes,
  versioned: mediaBucketVersioned(),
};
const stagingBucket = requireEnv(ENV.stagingBucket);

export const handler = connectorHandler(createMediaConnector(s3Client(), config), () => ({
  s3: s3Client(),
  stagingBucket,
}));
