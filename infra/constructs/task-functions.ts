/**
 * The workflow task Lambdas of functions/lib/connectors/catalog.ts TASK_FUNCTIONS, one each, shared by
 * the export and erasure state machines (request-status, resolve-subject and cleanup-staging serve both).
 * Each gets the environment its handler requires and exactly the calls its code makes.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ENV, type StoreName } from '../../config/data-map';
import { CONNECTOR_FUNCTIONS_ENV, TASK_FUNCTIONS } from '../../functions/lib/connectors/catalog';
import { INDEX_LOGS_ENV } from '../../functions/index-logs/core';
import { LOG_ERASURE_JOBS_PREFIX } from '../../functions/erase-logs/core';
import {
  allTableIndexes,
  DDB,
  grantBucket,
  grantGetAttributes,
  grantKey,
  grantTable,
  grantVaultAppend,
  vaultWriterEnv,
  KMS_SIGN,
} from './access';
import {
  LOG_JOB_VAULT_KEYS,
  grantLogIndex,
  grantLogsRead,
  logIndexEnv,
  LOGS_PREFIX_REASON,
  logsPrefixes,
  mediaPrefixes,
  pascal,
  STAGING_PREFIX,
  STAGING_REASON,
} from './connectors';
import type { OrchestratorState } from './orchestrator-state';
import type { PlatformStores } from './platform-stores';
import { DsrFunction, type FunctionDefaults } from './task-function';

export type TaskFunctionKey = keyof typeof TASK_FUNCTIONS;

/**
 * Env names the shared code reads (functions/lib/crypto/subject-hash.ts, crypto/signing.ts,
 * downloads/download-links.ts, ...).
 */
export const KEY_ENV = {
  subjectHashKey: 'SUBJECT_HASH_KMS_KEY_ID',
  signingKey: 'SIGNING_KMS_KEY_ID',
  exportStateMachine: 'EXPORT_STATE_MACHINE_ARN',
  erasureStateMachine: 'ERASURE_STATE_MACHINE_ARN',
  restrictionStateMachine: 'RESTRICTION_STATE_MACHINE_ARN',
  logErasureStateMachine: 'LOG_ERASURE_STATE_MACHINE_ARN',
  downloadTokenKey: 'DOWNLOAD_TOKEN_KMS_KEY_ID',
  publicApiUrl: 'PUBLIC_API_URL',
} as const;

/** Settings env names (functions/api/handler.ts, callbacks/handler.ts, notify-processors/handler.ts). */
export const SETTINGS_ENV = {
  processorDomain: 'OPENDSR_PROCESSOR_DOMAIN',
  defaultJurisdiction: 'DEFAULT_JURISDICTION',
  appiDeadlineDays: 'APPI_DEADLINE_DAYS',
  defaultDeadlineDays: 'DEFAULT_DEADLINE_DAYS',
  processorWebhooks: 'PROCESSOR_WEBHOOKS',
  notifyFromAddress: 'NOTIFY_FROM_ADDRESS',
} as const;

/** What notify reads of an account (functions/notify/core.ts StagedSubjectRecipients): key included. */
export const NOTIFY_ACCOUNT_ATTRIBUTES = ['userId', 'email', 'locale', 'status'] as const;

export { ARCHIVES_PREFIX, CERTIFICATES_PREFIX } from './orchestrator-state';
import { ARCHIVES_PREFIX, CERTIFICATES_PREFIX } from './orchestrator-state';

export interface TaskFunctionsProps {
  stores: PlatformStores;
  state: OrchestratorState;
  connectors: Record<StoreName, DsrFunction>;
  signingKey: kms.IKey;
  subjectHashKey: kms.IKey;
  downloadTokenKey: kms.IKey;
  /** Processor id -> webhook URL (notify-processors). */
  processorWebhooks: Record<string, string>;
  /** Download-link emails: the From address, and the verified SES identity it belongs to. */
  notifySender: { fromAddress: string; sesIdentity: string };
  /** Days whose log partitions may still receive objects (the log index's watermark waits for them). */
  logIndexOpenDays: number;
  defaults: FunctionDefaults;
}

interface TaskSettings {
  environment: Record<string, string>;
  memorySize?: number;
  timeout?: Duration;
  grant: (fn: DsrFunction) => void;
}

export class TaskFunctions extends Construct {
  readonly functions: Record<TaskFunctionKey, DsrFunction>;

  constructor(scope: Construct, id: string, props: TaskFunctionsProps) {
    super(scope, id);
    const { stores, state } = props;
    const connectorNames = Object.fromEntries(
      Object.entries(props.connectors).map(([store, fn]) => [store, fn.functionName]),
    );
    const requestsReadWrite = (fn: DsrFunction, auditWriter = false) =>
      grantTable(fn, state.requests, {
        table: [...DDB.read, ...DDB.write],
        indexes: { names: allTableIndexes(state.requests), actions: DDB.indexRead },
        auditWriter,
      });
    const staging = (fn: DsrFunction, objects: string[], kmsUse: 'read' | 'write') =>
      grantBucket(fn, state.staging, {
        objects,
        objectPrefixes: [STAGING_PREFIX],
        kms: kmsUse,
        reason: STAGING_REASON,
      });

    // The senders of signed notices to processors and recipients (erasure, restriction): the ASL gives
    // their task 600 s, retries with backoff across every receiver.
    const signedNotices = {
      environment: {
        [ENV.requestsTable]: state.requests.table.tableName,
        [ENV.stagingBucket]: state.staging.bucket.bucketName,
        [KEY_ENV.signingKey]: props.signingKey.keyArn,
        [SETTINGS_ENV.processorWebhooks]: JSON.stringify(props.processorWebhooks),
      },
      timeout: Duration.minutes(10),
    };

    // Exhaustive: a task function added to the catalog is a compile error here until it has its grants.
    const tasks: Record<TaskFunctionKey, TaskSettings> = {
      requestStatus: {
        environment: { [ENV.requestsTable]: state.requests.table.tableName },
        // Status changes are recorded in the audit trail in the same transaction.
        grant: (fn) => requestsReadWrite(fn, true),
      },
      resolveSubject: {
        environment: {
          [ENV.accountsTable]: stores.accounts.table.tableName,
          [ENV.serviceStores]: stores.serviceStoresEnv(this, ['accountsTable']),
          [ENV.identifierIndexTable]: state.identifierIndex.table.tableName,
          [ENV.requestsTable]: state.requests.table.tableName,
          [ENV.stagingBucket]: state.staging.bucket.bucketName,
          [KEY_ENV.subjectHashKey]: props.subjectHashKey.keyArn,
          [CONNECTOR_FUNCTIONS_ENV]: Stack.of(this).toJsonString(connectorNames),
        },
        timeout: Duration.minutes(2),
        grant: (fn) => {
          // Accounts by key and through byEmail / byPhone; device ids and linked accounts through the
          // identifier index. No Scan.
          // Every service's accounts: the shared table and the services' own.
          for (const accounts of stores.tablesOf('accountsTable'))
            grantTable(fn, accounts, {
              table: ['dynamodb:GetItem'],
              indexes: { names: allTableIndexes(accounts), actions: ['dynamodb:Query'] },
            });
          grantTable(fn, state.identifierIndex, { table: ['dynamodb:Query'] });
          // Events on every run; in erasure mode also the subject's keyed-hash pointers (for holds).
          requestsReadWrite(fn);
          staging(fn, ['s3:PutObject'], 'write');
          grantKey(fn, props.subjectHashKey, ['kms:GenerateMac']);
        },
      },
      assembleExport: {
        environment: {
          [ENV.stagingBucket]: state.staging.bucket.bucketName,
          [ENV.exportsBucket]: state.exports.bucket.bucketName,
          [ENV.mediaBucket]: stores.media.bucket.bucketName,
          [KEY_ENV.signingKey]: props.signingKey.keyArn,
        },
        memorySize: 1024,
        timeout: Duration.minutes(15),
        grant: (fn) => {
          staging(fn, ['s3:GetObject'], 'read');
          grantBucket(fn, stores.media, {
            objects: ['s3:GetObject', 's3:GetObjectVersion'],
            objectPrefixes: mediaPrefixes(),
            kms: 'read',
            reason:
              'Original media files are copied into the archive from keys staged by the connectors, known ' +
              'only at run time; read access is limited to the data map prefixes of the media bucket.',
          });
          grantBucket(fn, state.exports, {
            objects: ['s3:PutObject', 's3:AbortMultipartUpload'],
            objectPrefixes: [ARCHIVES_PREFIX],
            kms: 'write',
            reason:
              'Archive keys are per request (exports/<requestId>/...), known only at run time; write access ' +
              'is limited to the exports/ prefix of the exports bucket.',
          });
          grantKey(fn, props.signingKey, KMS_SIGN);
        },
      },
      cleanupStaging: {
        environment: { [ENV.stagingBucket]: state.staging.bucket.bucketName },
        timeout: Duration.minutes(5),
        grant: (fn) =>
          grantBucket(fn, state.staging, {
            objects: ['s3:DeleteObject'],
            objectPrefixes: [STAGING_PREFIX],
            list: ['s3:ListBucket'],
            kms: 'none',
            reason: STAGING_REASON,
          }),
      },
      planErasure: {
        environment: {
          [ENV.requestsTable]: state.requests.table.tableName,
          [ENV.stagingBucket]: state.staging.bucket.bucketName,
          [KEY_ENV.subjectHashKey]: props.subjectHashKey.keyArn,
        },
        timeout: Duration.minutes(2),
        grant: (fn) => {
          // Reads the staged subject and inventories, writes the plan the connectors erase by; removes
          // what the subject's earlier exports staged.
          staging(fn, ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], 'write');
          grantBucket(fn, state.staging, {
            list: ['s3:ListBucket'],
            objectPrefixes: [STAGING_PREFIX],
            kms: 'none',
            reason: STAGING_REASON,
          });
          // The subject's earlier export archives are deleted (their links revoked in the table).
          grantBucket(fn, state.exports, {
            objects: ['s3:DeleteObject'],
            objectPrefixes: [ARCHIVES_PREFIX],
            kms: 'none',
            reason:
              'Archive keys are per request (exports/<requestId>/...), known only at run time; delete access ' +
              "is limited to the exports/ prefix: an erasure removes the subject's earlier archives.",
          });
          // Holds and earlier exports are found by the keyed hashes of every identifier of the subject.
          requestsReadWrite(fn);
          grantKey(fn, props.subjectHashKey, ['kms:GenerateMac']);
        },
      },
      certifyErasure: {
        environment: {
          [ENV.requestsTable]: state.requests.table.tableName,
          [ENV.stagingBucket]: state.staging.bucket.bucketName,
          [ENV.exportsBucket]: state.exports.bucket.bucketName,
          [KEY_ENV.signingKey]: props.signingKey.keyArn,
        },
        timeout: Duration.minutes(2),
        grant: (fn) => {
          // Reads the plan, inventories and subject; stages its verification between its two steps.
          staging(fn, ['s3:GetObject', 's3:PutObject'], 'write');
          grantBucket(fn, state.exports, {
            objects: ['s3:PutObject'],
            objectPrefixes: [CERTIFICATES_PREFIX],
            kms: 'write',
            reason:
              'Certificate keys are per request (certificates/<requestId>/...), known only at run time; write ' +
              'access is limited to the certificates/ prefix of the exports bucket.',
          });
          // The request's status and certificate, and the schedule of a resumed run (erasure-pending items);
          // the status change is audited.
          requestsReadWrite(fn, true);
          grantKey(fn, props.signingKey, KMS_SIGN);
        },
      },
      notifyProcessors: {
        ...signedNotices,
        grant: (fn) => {
          staging(fn, ['s3:GetObject'], 'read');
          // Processors' answers are recorded on the request.
          requestsReadWrite(fn);
          // Deletion requests are signed like callbacks.
          grantKey(fn, props.signingKey, KMS_SIGN);
        },
      },
      notify: {
        // PUBLIC_API_URL (the links' base) is added by the stack once the API exists: setPublicApiUrl.
        environment: {
          [ENV.requestsTable]: state.requests.table.tableName,
          [ENV.stagingBucket]: state.staging.bucket.bucketName,
          [ENV.accountsTable]: stores.accounts.table.tableName,
          [ENV.serviceStores]: stores.serviceStoresEnv(this, ['accountsTable']),
          [KEY_ENV.downloadTokenKey]: props.downloadTokenKey.keyArn,
          [SETTINGS_ENV.notifyFromAddress]: props.notifySender.fromAddress,
        },
        grant: (fn) => {
          // The download link lives on the request's items; events record what was sent.
          requestsReadWrite(fn);
          grantKey(fn, props.downloadTokenKey, ['kms:GenerateMac']);
          // The link's summary is read out of the archive's manifest (ranged GETs).
          grantBucket(fn, state.exports, {
            objects: ['s3:GetObject'],
            objectPrefixes: [ARCHIVES_PREFIX],
            kms: 'read',
            reason:
              'Archive keys are per request (exports/<requestId>/...), known only at run time; read access is ' +
              'limited to the exports/ prefix of the exports bucket.',
          });
          // The recipient: the staged subject's user id, then that account's address and locale only.
          grantBucket(fn, state.staging, {
            objects: ['s3:GetObject'],
            objectPrefixes: [STAGING_PREFIX],
            objectSuffix: '/subject.json',
            kms: 'read',
            reason:
              'The staged subject is at requests/<requestId>/subject.json, the request id known only at run ' +
              'time; read access is limited to those objects of the staging bucket.',
          });
          for (const accounts of stores.tablesOf('accountsTable'))
            grantGetAttributes(fn, accounts, NOTIFY_ACCOUNT_ATTRIBUTES);
          // SESv2 SendEmail with raw content, from the configured address of the verified identity only.
          fn.allow(
            new iam.PolicyStatement({
              actions: ['ses:SendEmail', 'ses:SendRawEmail'],
              resources: [
                Stack.of(this).formatArn({
                  service: 'ses',
                  resource: 'identity',
                  resourceName: props.notifySender.sesIdentity,
                }),
              ],
              conditions: { StringEquals: { 'ses:FromAddress': props.notifySender.fromAddress } },
            }),
          );
        },
      },
      restrict: {
        ...signedNotices,
        grant: (fn) => {
          // Reads the staged subject and the stores' results, writes the plan the connectors act on.
          staging(fn, ['s3:GetObject', 's3:PutObject'], 'write');
          // The request, its events, and the restriction records (same table).
          requestsReadWrite(fn, true);
          // Restriction notices are signed like processor notices.
          grantKey(fn, props.signingKey, KMS_SIGN);
        },
      },
      transmitExport: {
        // PUBLIC_API_URL (the transfer links' base) is added by the stack once the API exists: setPublicApiUrl.
        environment: {
          [ENV.requestsTable]: state.requests.table.tableName,
          [KEY_ENV.downloadTokenKey]: props.downloadTokenKey.keyArn,
          [KEY_ENV.signingKey]: props.signingKey.keyArn,
        },
        timeout: Duration.minutes(5),
        grant: (fn) => {
          // The transfer link lives on the request's items; the transfer is recorded on the request.
          requestsReadWrite(fn);
          grantKey(fn, props.downloadTokenKey, ['kms:GenerateMac']);
          // The transfer notice is signed (dsr-transfer+jws).
          grantKey(fn, props.signingKey, KMS_SIGN);
        },
      },
      indexLogs: {
        environment: {
          ...logIndexEnv(state.logIndex, stores.logs),
          [ENV.stagingBucket]: state.staging.bucket.bucketName,
          [KEY_ENV.subjectHashKey]: props.subjectHashKey.keyArn,
          [INDEX_LOGS_ENV.openDays]: String(props.logIndexOpenDays),
        },
        // A few log objects streamed at once (gunzip), their ids hashed in memory.
        memorySize: 2048,
        timeout: Duration.minutes(15),
        grant: (fn) => {
          // Reads the log objects (listing from the watermark); never writes them.
          grantLogsRead(fn, stores.logs);
          // Object files (the files of versions gone deleted), day files, and the watermarks.
          grantLogIndex(fn, state.logIndex, 'index');
          // The index's hash key is derived from the subject-hash key, once per cold start.
          grantKey(fn, props.subjectHashKey, ['kms:GenerateMac']);
        },
      },
      eraseLogs: {
        // ERASURE_STATE_MACHINE_ARN (the erasures it resumes) is added once that exists: allowResuming.
        environment: {
          ...logIndexEnv(state.logIndex, stores.logs),
          [ENV.stagingBucket]: state.staging.bucket.bucketName,
          [ENV.requestsTable]: state.requests.table.tableName,
          ...vaultWriterEnv(state.vaultTable),
          [KEY_ENV.subjectHashKey]: props.subjectHashKey.keyArn,
        },
        // A few log objects streamed at once (gunzip, filter, gzip, multipart upload).
        memorySize: 2048,
        timeout: Duration.minutes(15),
        grant: (fn) => {
          // Rewrites the day objects: read, then a conditional put (multipart for large objects).
          grantBucket(fn, stores.logs, {
            objects: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
            objectPrefixes: logsPrefixes(),
            list: ['s3:ListBucket'],
            kms: 'write',
            reason: LOGS_PREFIX_REASON,
          });
          // Its object list, subjects, partial results, and the Map's results (read back), under its prefix.
          grantBucket(fn, state.staging, {
            objects: ['s3:GetObject', 's3:PutObject'],
            objectPrefixes: [LOG_ERASURE_JOBS_PREFIX],
            list: ['s3:ListBucket'],
            kms: 'write',
            reason:
              'Log-erasure job files are keyed by job id (log-erasure-jobs/<jobId>/...), known only at run ' +
              'time; access is limited to the log-erasure-jobs/ prefix of the staging bucket.',
          });
          // The queue and the job lock, the per-object tallies, the requests' kept identifier sets, events
          // and the job's outcome.
          requestsReadWrite(fn);
          // The subjects' objects through the index; the object files of rewritten objects carried over
          // without them, and their days' files merged again.
          grantLogIndex(fn, state.logIndex, 'write');
          // Retained lines go to the vault (log records only).
          grantVaultAppend(fn, state.vaultTable, {
            actions: ['dynamodb:BatchWriteItem'],
            leadingKeys: LOG_JOB_VAULT_KEYS,
            store: 'logs',
          });
          grantKey(fn, props.subjectHashKey, ['kms:GenerateMac']);
        },
      },
    };

    const functions = {} as Record<TaskFunctionKey, DsrFunction>;
    for (const key of Object.keys(TASK_FUNCTIONS) as TaskFunctionKey[]) {
      const spec = TASK_FUNCTIONS[key];
      const settings = tasks[key];
      const fn = new DsrFunction(this, pascal(spec.folder), {
        entry: `functions/${spec.folder}/handler.ts`,
        description: `DSR task: ${spec.folder}`,
        environment: settings.environment,
        defaults: props.defaults,
        memorySize: settings.memorySize,
        timeout: settings.timeout ?? Duration.minutes(1),
      });
      settings.grant(fn);
      functions[key] = fn;
    }
    this.functions = functions;
  }

  /** The log-erasure job resumes erasures: the erasure state machine, known once it is built. */
  allowResumingErasures(erasure: { stateMachineArn: string }): void {
    const fn = this.functions.eraseLogs;
    fn.function.addEnvironment(KEY_ENV.erasureStateMachine, erasure.stateMachineArn);
    fn.allow(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [erasure.stateMachineArn] }),
    );
  }

  /** The base URL of download links (the API's), known once the API is built. */
  setPublicApiUrl(url: string): void {
    this.functions.notify.function.addEnvironment(KEY_ENV.publicApiUrl, url);
    this.functions.transmitExport.function.addEnvironment(KEY_ENV.publicApiUrl, url);
  }
}
