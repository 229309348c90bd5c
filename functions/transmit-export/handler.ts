import {
  DownloadLinks,
  TRANSFER_LINKS,
  tokenMacFromEnv,
  transferLinkConfigFromEnv,
} from '../lib/downloads/download-links';
import { signerFromEnv } from '../lib/crypto/signing';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { intEnv } from '../lib/runtime/config';
import { taskHandler } from '../lib/runtime/task-handler';
import { httpTransport } from '../lib/webhooks/transport';
import { transmitExport, type TransmitInput, type TransmitOutput } from './core';

// Private addresses are refused in AWS: the local stack's test receivers listen on loopback.
const allowPrivate = process.env.ALLOW_PRIVATE_CALLBACKS === 'true';
const table = requestTableFromEnv();

const deps = {
  requests: new RequestRepository(table),
  links: new DownloadLinks(table, tokenMacFromEnv(), transferLinkConfigFromEnv(), TRANSFER_LINKS),
  signer: signerFromEnv(),
  transport: httpTransport({ allowPrivate, timeoutMs: intEnv('PROCESSOR_TIMEOUT_MS', 10_000) }),
  config: {
    maxAttempts: intEnv('PROCESSOR_MAX_ATTEMPTS', 4),
    baseDelayMs: intEnv('PROCESSOR_RETRY_BASE_MS', 2_000),
    maxDelayMs: intEnv('PROCESSOR_RETRY_MAX_MS', 30_000),
    allowPrivate,
  },
};

export const handler = taskHandler<TransmitInput, TransmitOutput>('transmit-export', (input) =>
  transmitExport(deps, input),
);
