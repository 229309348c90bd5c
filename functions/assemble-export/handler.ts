import { ENV } from '../../config/data-map';
import { s3Client } from '../lib/aws/clients';
import { requireEnv } from '../lib/runtime/config';
import { signerFromEnv } from '../lib/crypto/signing';
import { taskHandler } from '../lib/runtime/task-handler';
import { assembleExport, type AssembleDeps, type AssembleInput, type AssembleOutput } from './core';
import { defaultServiceId } from '../lib/services/profiles';

const stagingBucket = requireEnv(ENV.stagingBucket);
const exportsBucket = requireEnv(ENV.exportsBucket);
const mediaBucket = requireEnv(ENV.mediaBucket);
const signer = signerFromEnv();

const deps = (): AssembleDeps => ({ s3: s3Client(), stagingBucket, exportsBucket, mediaBucket, signer });

// The service profiles and DEFAULT_SERVICE are checked at cold start, not by a request halfway.
defaultServiceId();

export const handler = taskHandler<AssembleInput, AssembleOutput>('assemble-export', (input) =>
  assembleExport(deps(), input),
);
