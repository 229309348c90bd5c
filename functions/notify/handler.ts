import { ENV } from '../../config/data-map';
import { documentClient, s3Client } from '../lib/aws/clients';
import { serviceStoresFromEnv } from '../lib/services/stores';
import { requireEnv } from '../lib/runtime/config';
import {
  DownloadLinks,
  S3ArchiveAccess,
  downloadLinkConfigFromEnv,
  tokenMacFromEnv,
} from '../lib/downloads/download-links';
import { EventLog } from '../lib/requests/event-log';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { taskHandler } from '../lib/runtime/task-handler';
import { notify, StagedSubjectRecipients, type NotifyInput, type NotifyOutput } from './core';
import { mailerFromEnv } from '../lib/notices/mailer';
import { defaultServiceId } from '../lib/services/profiles';

const table = requestTableFromEnv();
const { mailer, from } = mailerFromEnv();
const stores = serviceStoresFromEnv();
const deps = {
  requests: new RequestRepository(table),
  events: new EventLog(table),
  links: new DownloadLinks(table, tokenMacFromEnv(), downloadLinkConfigFromEnv()),
  archives: new S3ArchiveAccess(s3Client()),
  recipients: new StagedSubjectRecipients(
    s3Client(),
    documentClient(),
    requireEnv(ENV.stagingBucket),
    (service) => stores.nameFor(service, ENV.accountsTable),
  ),
  mailer,
  from,
};

// The service profiles and DEFAULT_SERVICE are checked at cold start, not by a request halfway.
defaultServiceId();

export const handler = taskHandler<NotifyInput, NotifyOutput>('notify', (input) => notify(deps, input));
