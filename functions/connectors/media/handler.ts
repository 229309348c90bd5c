import { ENV, platformStores } from '../../../config/data-map';
import { s3Client } from '../../shared/clients';
import { requireEnv } from '../../shared/config';
import { connectorHandler } from '../../shared/connector-handler';
import { createMediaConnector } from './core';
import { mediaBucketVersioned } from './objects';

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
