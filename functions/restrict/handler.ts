import { ENV } from '../../config/data-map';
import { s3Client } from '../lib/aws/clients';
import { signerFromEnv } from '../lib/crypto/signing';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { RestrictionStore } from '../lib/restrictions/store';
import { intEnv, requireEnv } from '../lib/runtime/config';
import { taskHandler } from '../lib/runtime/task-handler';
import { parseWebhooks } from '../lib/webhooks/webhook-config';
import { httpTransport } from '../lib/webhooks/transport';
import { Restrictor, type RestrictInput, type RestrictOutput } from './core';

// Private addresses are refused in AWS: the local stack's test receivers listen on loopback.
const allowPrivate = process.env.ALLOW_PRIVATE_CALLBACKS === 'true';
const table = requestTableFromEnv();

const restrictor = new Restrictor({
  s3: s3Client(),
  stagingBucket: requireEnv(ENV.stagingBucket),
  requests: new RequestRepository(table),
  restrictions: new RestrictionStore(table),
  signer: signerFromEnv(),
  transport: httpTransport({ allowPrivate, timeoutMs: intEnv('PROCESSOR_TIMEOUT_MS', 10_000) }),
  config: {
    webhooks: parseWebhooks(process.env.PROCESSOR_WEBHOOKS),
    maxAttempts: intEnv('PROCESSOR_MAX_ATTEMPTS', 4),
    baseDelayMs: intEnv('PROCESSOR_RETRY_BASE_MS', 2_000),
    maxDelayMs: intEnv('PROCESSOR_RETRY_MAX_MS', 30_000),
    allowPrivate,
  },
});

export const handler = taskHandler<RestrictInput, RestrictOutput>('restrict', (input) =>
  restrictor.run(input),
);
