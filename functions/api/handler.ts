import middy from '@middy/core';
import { ENV } from '../../config/data-map';
import { documentClient, s3Client, stepFunctionsClient } from '../lib/aws/clients';
import {
  DownloadLinks,
  S3ArchiveAccess,
  downloadLinkConfigFromEnv,
  tokenMacFromEnv,
} from '../lib/downloads/download-links';
import { requireEnv } from '../lib/runtime/config';
import { observability } from '../lib/runtime/observability';
import { RequestRepository } from '../lib/requests/requests';
import { subjectHasherFromEnv } from '../lib/crypto/subject-hash';
import { signerFromEnv } from '../lib/crypto/signing';
import { createApi } from './core';
import type { ApiEvent, ApiResult } from './http';
import { StepFunctionsStarter } from './workflows';
import { platformStores } from '../../config/data-map';
import { AuditLog } from '../lib/audit/audit-log';
import { intEnv, optionalEnv } from '../lib/runtime/config';
import { DynamoAccountDirectory } from './accounts';
import { DEFAULT_REQUEST_SETTINGS } from './routes/requests';
import { S3CertificateReader } from './routes/certificate';

const signer = signerFromEnv();
const api = createApi({
  requests: new RequestRepository(documentClient(), requireEnv(ENV.requestsTable)),
  hasher: subjectHasherFromEnv(),
  // Erasure is offered only once its workflow is deployed (ERASURE_STATE_MACHINE_ARN set).
  workflows: new StepFunctionsStarter(stepFunctionsClient(), {
    export: requireEnv('EXPORT_STATE_MACHINE_ARN'),
    erasure: process.env.ERASURE_STATE_MACHINE_ARN || undefined,
  }),
  jwks: () => signer.publicJwks(),
  signer,
  audit: new AuditLog(documentClient(), requireEnv(ENV.requestsTable)),
  accounts: new DynamoAccountDirectory(
    documentClient(),
    optionalEnv(ENV.accountsTable, platformStores.accounts.table.tableName),
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
  // Issue 4: erasure certificates in the exports bucket (holds use the requests table by default).
  certificates: new S3CertificateReader(s3Client()),
  downloads: {
    links: new DownloadLinks(
      documentClient(),
      requireEnv(ENV.requestsTable),
      tokenMacFromEnv(),
      downloadLinkConfigFromEnv(),
    ),
    archives: new S3ArchiveAccess(s3Client()),
  },
});

export const handler = middy<ApiEvent, ApiResult>().use(observability()).handler(api);
