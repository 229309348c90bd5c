import {
  DownloadLinks,
  TRANSFER_LINKS,
  tokenMacFromEnv,
  transferLinkConfigFromEnv,
} from '../lib/downloads/download-links';
import { signerFromEnv } from '../lib/crypto/signing';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { taskHandler } from '../lib/runtime/task-handler';
import { noticeDeliveryFromEnv } from '../lib/webhooks/webhook-config';
import { transmitExport, type TransmitInput, type TransmitOutput } from './core';

const table = requestTableFromEnv();

// The transfer notice is delivered as processor notices are (retries, transport, address policy).
const deps = {
  requests: new RequestRepository(table),
  links: new DownloadLinks(table, tokenMacFromEnv(), transferLinkConfigFromEnv(), TRANSFER_LINKS),
  signer: signerFromEnv(),
  ...noticeDeliveryFromEnv(),
};

export const handler = taskHandler<TransmitInput, TransmitOutput>('transmit-export', (input) =>
  transmitExport(deps, input),
);
