import { ENV } from '../../config/data-map';
import { s3Client } from '../shared/clients';
import { requireEnv } from '../shared/config';
import { signerFromEnv } from '../shared/signing';
import { taskHandler } from '../shared/task-handler';
import { assembleExport, type AssembleDeps, type AssembleInput, type AssembleOutput } from './core';

const stagingBucket = requireEnv(ENV.stagingBucket);
const exportsBucket = requireEnv(ENV.exportsBucket);
const mediaBucket = requireEnv(ENV.mediaBucket);
const signer = signerFromEnv();

const deps = (): AssembleDeps => ({ s3: s3Client(), stagingBucket, exportsBucket, mediaBucket, signer });

export const handler = taskHandler<AssembleInput, AssembleOutput>('assemble-export', (input) =>
  assembleExport(deps(), input),
);
