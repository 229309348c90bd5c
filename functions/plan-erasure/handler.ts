import { ENV } from '../../config/data-map';
import { loadDefaultPolicy } from '../lib/erasure/policy';
import { s3Client } from '../lib/aws/clients';
import { requireEnv } from '../lib/runtime/config';
import { HoldRepository } from '../lib/holds/holds';
import { EventLog } from '../lib/requests/event-log';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { subjectHasherFromEnv } from '../lib/crypto/subject-hash';
import { taskHandler } from '../lib/runtime/task-handler';
import {
  checkHolds,
  planErasure,
  type CheckHoldsInput,
  type CheckHoldsOutput,
  type PlanDeps,
  type PlanTaskInput,
  type PlanTaskOutput,
} from './core';
import { defaultServiceId } from '../lib/services/profiles';
import { withdrawSubjectExports } from '../lib/downloads/subject-exports';

const table = requestTableFromEnv();
const s3 = s3Client();
const stagingBucket = requireEnv(ENV.stagingBucket);
const requests = new RequestRepository(table);
const events = new EventLog(table);
const deps: PlanDeps = {
  s3,
  stagingBucket,
  requests,
  events,
  holds: new HoldRepository(table),
  hasher: subjectHasherFromEnv(),
  // A bad policy fails the cold start, not a request halfway.
  policy: loadDefaultPolicy(),
  withdrawExports: (requestId, hashes, service) =>
    withdrawSubjectExports({ table, requests, events, s3, stagingBucket }, requestId, hashes, service),
};

// The service profiles and DEFAULT_SERVICE are checked at cold start, not by a request halfway.
defaultServiceId();

// BuildPlan, and the check each store of the Erase map makes before its erase.
export const handler = taskHandler<PlanTaskInput | CheckHoldsInput, PlanTaskOutput | CheckHoldsOutput>(
  'plan-erasure',
  (input) =>
    'operation' in input && input.operation === 'checkHolds'
      ? checkHolds(deps, input)
      : planErasure(deps, input as PlanTaskInput),
);
