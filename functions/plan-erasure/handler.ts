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
import { planErasure, type PlanDeps, type PlanTaskInput, type PlanTaskOutput } from './core';
import { defaultServiceId } from '../lib/services/profiles';

const table = requestTableFromEnv();
const deps: PlanDeps = {
  s3: s3Client(),
  stagingBucket: requireEnv(ENV.stagingBucket),
  requests: new RequestRepository(table),
  events: new EventLog(table),
  holds: new HoldRepository(table),
  hasher: subjectHasherFromEnv(),
  // A bad policy fails the cold start, not a request halfway.
  policy: loadDefaultPolicy(),
};

// The service profiles and DEFAULT_SERVICE are checked at cold start, not by a request halfway.
defaultServiceId();

export const handler = taskHandler<PlanTaskInput, PlanTaskOutput>('plan-erasure', (input) =>
  planErasure(deps, input),
);
