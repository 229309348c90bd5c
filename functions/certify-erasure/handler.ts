import { ENV } from '../../config/data-map';
import { documentClient, s3Client } from '../lib/aws/clients';
import { optionalEnv, requireEnv } from '../lib/runtime/config';
import { RequestRepository } from '../lib/requests/requests';
import { signerFromEnv } from '../lib/crypto/signing';
import { taskHandler } from '../lib/runtime/task-handler';
import { ErasureSchedule } from '../lib/erasure/schedule';
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
