import { ENV } from '../../config/data-map';
import { s3Client } from '../shared/clients';
import { requireEnv } from '../shared/config';
import { taskHandler } from '../shared/task-handler';
import { cleanupStaging } from './core';

const bucket = requireEnv(ENV.stagingBucket);

export const handler = taskHandler<{ requestId: string }, { deleted: number }>('cleanup-staging', (input) =>
  cleanupStaging(s3Client(), bucket, input),
);
