import middy from '@middy/core';
import { ENV } from '../../config/data-map';
import { documentClient, s3Client, stepFunctionsClient } from '../lib/aws/clients';
import {
  DownloadLinks,
  S3ArchiveAccess,
  downloadLinkConfigFromEnv,
  transferLinkConfigFromEnv,
  TRANSFER_LINKS,
  tokenMacFromEnv,
} from '../lib/downloads/download-links';
import { requireEnv } from '../lib/runtime/config';
import { observability } from '../lib/runtime/observability';
import { RequestRepository } from '../lib/requests/requests';
import { EventLog } from '../lib/requests/event-log';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { HoldRepository } from '../lib/holds/holds';
import { subjectHasherFromEnv } from '../lib/crypto/subject-hash';
import { signerFromEnv } from '../lib/crypto/signing';
import { createApi } from './core';
import { errorAnswers } from './error-middleware';
import type { ApiEvent, ApiResult } from './http';
import { StepFunctionsStarter } from './workflows';
import { platformStores } from '../../config/data-map';
import { AuditLog } from '../lib/audit/audit-log';
import { intEnv, optionalEnv } from '../lib/runtime/config';
import { DynamoAccountDirectory } from './accounts';
import { serviceStoresFromEnv } from '../lib/services/stores';
import { DEFAULT_REQUEST_SETTINGS } from './request-settings';
import { S3CertificateReader } from './routes/certificate';
import { StepFunctionsLogErasureJobs } from './log-erasure-jobs';

const signer = signerFromEnv();
const table = requestTableFromEnv();
const api = createApi({
  requests: new RequestRepository(table),
  events: new EventLog(table),
  holds: new HoldRepository(table),
  hasher: subjectHasherFromEnv(),
  // Erasure is offered only once its workflow is deployed (ERASURE_STATE_MACHINE_ARN set).
  workflows: new StepFunctionsStarter(stepFunctionsClient(), {
    export: requireEnv('EXPORT_STATE_MACHINE_ARN'),
    erasure: process.env.ERASURE_STATE_MACHINE_ARN || undefined,
    restriction: process.env.RESTRICTION_STATE_MACHINE_ARN || undefined,
  }),
  jwks: () => signer.publicJwks(),
  signer,
  audit: new AuditLog(table),
  // The shared accounts table defaults to the data map's name; SERVICE_STORES names services' own.
  accounts: new DynamoAccountDirectory(
    documentClient(),
    serviceStoresFromEnv({ [ENV.accountsTable]: platformStores.accounts.table.tableName, ...process.env }),
  ),
  settings: {
    deadlines: {
      appiDays: intEnv('APPI_DEADLINE_DAYS', DEFAULT_REQUEST_SETTINGS.deadlines.appiDays),
      defaultDays: intEnv('DEFAULT_DEADLINE_DAYS', DEFAULT_REQUEST_SETTINGS.deadlines.defaultDays),
    },
    defaultJurisdiction: optionalEnv('DEFAULT_JURISDICTION', DEFAULT_REQUEST_SETTINGS.defaultJurisdiction),
    allowPrivateCallbacks: process.env.ALLOW_PRIVATE_CALLBACKS === 'true',
    processorDomain: optionalEnv('OPENDSR_PROCESSOR_DOMAIN', DEFAULT_REQUEST_SETTINGS.processorDomain),
    publicApiUrl: process.env.PUBLIC_API_URL || undefined,
  },
  // Erasure certificates are read from the exports bucket.
  certificates: new S3CertificateReader(s3Client()),
  // The batched log-erasure job, for support to start and follow (LOG_ERASURE_STATE_MACHINE_ARN).
  logErasureJobs: process.env.LOG_ERASURE_STATE_MACHINE_ARN
    ? new StepFunctionsLogErasureJobs(stepFunctionsClient(), process.env.LOG_ERASURE_STATE_MACHINE_ARN)
    : undefined,
  downloads: {
    links: new DownloadLinks(table, tokenMacFromEnv(), downloadLinkConfigFromEnv()),
    archives: new S3ArchiveAccess(s3Client()),
    transfers: new DownloadLinks(table, tokenMacFromEnv(), transferLinkConfigFromEnv(), TRANSFER_LINKS),
  },
});

export const handler = middy<ApiEvent, ApiResult>().use(observability()).use(errorAnswers()).handler(api);
