/**
 * The log-erasure job's Lambda (core.ts): every Task state of statemachines/log-erasure.asl.json. The
 * local stack runs the same handler for `npm run erase-logs` and the API's job starts.
 */
import { ENV, platformStores } from '../../config/data-map';
import { documentClient, s3Client, stepFunctionsClient } from '../lib/aws/clients';
import { subjectHasherFromEnv } from '../lib/crypto/subject-hash';
import { LogErasureQueue } from '../lib/erasure/log-queue';
import { StepFunctionsResumeStarter } from '../lib/erasure/resume';
import { DynamoVault, vaultKeysFromEnv } from '../lib/erasure/vault';
import { logIndexReaderFromEnv } from '../lib/logs/index-from-env';
import { EventLog } from '../lib/requests/event-log';
import { HoldRepository } from '../lib/holds/holds';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { intEnv, requireEnv } from '../lib/runtime/config';
import { taskHandler } from '../lib/runtime/task-handler';
import { eraseLogs, MAX_JOB_SUBJECTS, type EraseLogsDeps, type EraseLogsInput } from './core';

/** Env names of the job's own settings (infra/constructs/task-functions.ts sets them). */
export const ERASE_LOGS_ENV = {
  /** `false` only on the local stack: s3rver ignores If-Match (a HeadObject re-check instead). */
  conditionalWrites: 'LOGS_CONDITIONAL_WRITES',
  concurrency: 'LOG_ERASURE_CONCURRENCY',
  /** Erasures one round takes (at most MAX_JOB_SUBJECTS, the default): lower only to test rounds. */
  maxSubjects: 'LOG_ERASURE_MAX_SUBJECTS',
  erasureStateMachine: 'ERASURE_STATE_MACHINE_ARN',
} as const;

const table = requestTableFromEnv();
const deps: EraseLogsDeps = {
  s3: s3Client(),
  config: {
    logsBucket: requireEnv(ENV.logsBucket),
    accessPrefix: platformStores.logs.accessPrefix,
    voiceSessionsPrefix: platformStores.logs.voiceSessionsPrefix,
    stagingBucket: requireEnv(ENV.stagingBucket),
    conditionalWrites: process.env[ERASE_LOGS_ENV.conditionalWrites] !== 'false',
    maxWriteAttempts: 5,
    concurrency: intEnv(ERASE_LOGS_ENV.concurrency, 4),
    maxSubjects: intEnv(ERASE_LOGS_ENV.maxSubjects, MAX_JOB_SUBJECTS),
  },
  requests: new RequestRepository(table),
  events: new EventLog(table),
  holds: new HoldRepository(table),
  hasher: subjectHasherFromEnv(),
  queue: new LogErasureQueue(table),
  index: logIndexReaderFromEnv(),
  vault: new DynamoVault(documentClient(), {
    tableName: requireEnv(ENV.vaultTable),
    keys: vaultKeysFromEnv('write'),
  }),
  starter: new StepFunctionsResumeStarter(
    stepFunctionsClient(),
    requireEnv(ERASE_LOGS_ENV.erasureStateMachine),
  ),
};

export const handler = taskHandler<EraseLogsInput & { requestId?: string }, unknown>('erase-logs', (input) =>
  eraseLogs(deps, input),
);
