import { ENV } from '../../config/data-map';
import { s3Client } from '../lib/aws/clients';
import { requireEnv } from '../lib/runtime/config';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { signerFromEnv } from '../lib/crypto/signing';
import { taskHandler } from '../lib/runtime/task-handler';
import { noticeDeliveryFromEnv } from '../lib/webhooks/webhook-config';
import { ProcessorNotifier, type NotifyInput, type NotifyOutput } from './core';

const notifier = new ProcessorNotifier({
  s3: s3Client(),
  stagingBucket: requireEnv(ENV.stagingBucket),
  requests: new RequestRepository(requestTableFromEnv()),
  signer: signerFromEnv(),
  ...noticeDeliveryFromEnv(),
});

export const handler = taskHandler<NotifyInput, NotifyOutput>('notify-processors', (input) =>
  notifier.notify(input),
);
