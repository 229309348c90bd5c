import { ENV } from '../../config/data-map';
import { documentClient, s3Client } from '../shared/clients';
import { optionalEnv, requireEnv } from '../shared/config';
import { RequestRepository } from '../shared/requests';
import { signerFromEnv } from '../shared/signing';
import { taskHandler } from '../shared/task-handler';
import { ErasureSchedule } from '../sweep/schedule';
import { certifyErasure, type CertifyDeps, type CertifyInput, type CertifyOutput } from './core';

const doc = documentClient();
const deps: CertifyDeps = {
  s3: s3Client(),
  stagingBucket: requireEnv(ENV.stagingBucket),
  exportsBucket: requireEnv(ENV.exportsBucket),
  requests: new RequestRepository(doc, requireEnv(ENV.requestsTable)),
  schedule: new ErasureSchedule(doc, requireEnv(ENV.requestsTable)),
  signer: signerFromEnv(),
  issuer: optionalEnv('CERTIFICATE_ISSUER', 'dsr-orchestrator'),
};

export const handler = taskHandler<CertifyInput, CertifyOutput>('certify-erasure', (input) =>
  certifyErasure(deps, input),
);
