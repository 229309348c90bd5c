import { ENV } from '../../config/data-map';
import { s3Client } from '../lib/aws/clients';
import { requireEnv } from '../lib/runtime/config';
import { taskHandler } from '../lib/runtime/task-handler';
import { cleanupStaging } from './core';

const bucket = requireEnv(ENV.stagingBucket);

export const handler = taskHandler<{ requestId: string }, { deleted: number }>('cleanup-staging', (input) =>
  cleanupStaging(s3Client(), bucket, input),
);
