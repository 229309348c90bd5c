import { ENV } from '../../config/data-map';
import { s3Client } from '../lib/aws/clients';
import { signerFromEnv } from '../lib/crypto/signing';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { RestrictionStore } from '../lib/restrictions/store';
import { requireEnv } from '../lib/runtime/config';
import { taskHandler } from '../lib/runtime/task-handler';
import { noticeDeliveryFromEnv } from '../lib/webhooks/webhook-config';
import { Restrictor, type RestrictInput, type RestrictOutput } from './core';

const table = requestTableFromEnv();

const restrictor = new Restrictor({
  s3: s3Client(),
  stagingBucket: requireEnv(ENV.stagingBucket),
  requests: new RequestRepository(table),
  restrictions: new RestrictionStore(table),
  signer: signerFromEnv(),
  ...noticeDeliveryFromEnv(),
});

export const handler = taskHandler<RestrictInput, RestrictOutput>('restrict', (input) =>
  restrictor.run(input),
);
