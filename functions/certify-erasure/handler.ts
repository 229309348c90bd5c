import { ENV } from '../../config/data-map';
import { s3Client } from '../lib/aws/clients';
import { optionalEnv, requireEnv } from '../lib/runtime/config';
import { EventLog } from '../lib/requests/event-log';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { signerFromEnv } from '../lib/crypto/signing';
import { taskHandler } from '../lib/runtime/task-handler';
import { ErasureSchedule } from '../lib/erasure/schedule';
import { LogErasureQueue } from '../lib/erasure/log-queue';
import { certifyErasure, type CertifyDeps, type CertifyInput, type CertifyOutput } from './core';
import { defaultServiceId } from '../lib/services/profiles';

const table = requestTableFromEnv();
const deps: CertifyDeps = {
  s3: s3Client(),
  stagingBucket: requireEnv(ENV.stagingBucket),
  exportsBucket: requireEnv(ENV.exportsBucket),
  requests: new RequestRepository(table),
  events: new EventLog(table),
  schedule: new ErasureSchedule(table),
  logQueue: new LogErasureQueue(table),
  signer: signerFromEnv(),
  issuer: optionalEnv('CERTIFICATE_ISSUER', 'dsr-orchestrator'),
};

// The service profiles and DEFAULT_SERVICE are checked at cold start, not by a request halfway.
defaultServiceId();

export const handler = taskHandler<CertifyInput, CertifyOutput>('certify-erasure', (input) =>
  certifyErasure(deps, input),
);
