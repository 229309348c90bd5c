/**
 * The callback deliverer Lambda. Invoked (1) by the requests table's DynamoDB stream, filtered to new
 * outbox items (`kind = callback-pending`), so a status change is announced within seconds even if the
 * process that made it died right after committing; and (2) every minute by a schedule, which retries
 * what failed and picks up anything the stream invocation missed.
 */
import middy from '@middy/core';
import { intEnv, optionalEnv } from '../lib/runtime/config';
import { observability } from '../lib/runtime/observability';
import { CallbackOutbox } from '../lib/requests/callback-outbox';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { signerFromEnv } from '../lib/crypto/signing';
import { CallbackDelivery, DEFAULT_DELIVERY_CONFIG } from './core';
import { httpTransport } from '../lib/webhooks/transport';

const allowPrivate = process.env.ALLOW_PRIVATE_CALLBACKS === 'true';

const table = requestTableFromEnv();

export const delivery = new CallbackDelivery({
  requests: new RequestRepository(table),
  outbox: new CallbackOutbox(table),
  signer: signerFromEnv(),
  transport: httpTransport({ allowPrivate, timeoutMs: intEnv('CALLBACK_TIMEOUT_MS', 10_000) }),
  config: {
    maxAttempts: intEnv('CALLBACK_MAX_ATTEMPTS', DEFAULT_DELIVERY_CONFIG.maxAttempts),
    baseDelayMs: intEnv('CALLBACK_RETRY_BASE_MS', DEFAULT_DELIVERY_CONFIG.baseDelayMs),
    maxDelayMs: intEnv('CALLBACK_RETRY_MAX_MS', DEFAULT_DELIVERY_CONFIG.maxDelayMs),
    processorDomain: optionalEnv('OPENDSR_PROCESSOR_DOMAIN', DEFAULT_DELIVERY_CONFIG.processorDomain),
    publicApiUrl: process.env.PUBLIC_API_URL || undefined,
    concurrency: intEnv('CALLBACK_CONCURRENCY', DEFAULT_DELIVERY_CONFIG.concurrency ?? 8),
    perReceiverConcurrency: intEnv(
      'CALLBACK_PER_RECEIVER_CONCURRENCY',
      DEFAULT_DELIVERY_CONFIG.perReceiverConcurrency ?? 2,
    ),
  },
});

interface StreamRecord {
  dynamodb?: { Keys?: { pk?: { S?: string } } };
}

export const handler = middy<{ Records?: StreamRecord[] }, { requests: number }>()
  .use(observability())
  .handler(async (event) => {
    if (!event.Records) return { requests: await delivery.sweep() };
    const ids = new Set<string>();
    for (const record of event.Records) {
      const pk = record.dynamodb?.Keys?.pk?.S;
      if (pk?.startsWith('REQ#')) ids.add(pk.slice(4));
    }
    // Errors propagate: the stream retries the batch (the lease and outbox states make that safe).
    for (const id of ids) await delivery.deliverRequest(id);
    return { requests: ids.size };
  });
