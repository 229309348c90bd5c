import { ENV } from '../../config/data-map';
import { loadDefaultPolicy } from '../erasure/policy';
import { documentClient, s3Client } from '../shared/clients';
import { requireEnv } from '../shared/config';
import { HoldRepository } from '../shared/holds';
import { RequestRepository } from '../shared/requests';
import { subjectHasherFromEnv } from '../shared/subject-hash';
import { taskHandler } from '../shared/task-handler';
import { planErasure, type PlanDeps, type PlanTaskInput, type PlanTaskOutput } from './core';

const doc = documentClient();
const deps: PlanDeps = {
  s3: s3Client(),
  stagingBucket: requireEnv(ENV.stagingBucket),
  requests: new RequestRepository(doc, requireEnv(ENV.requestsTable)),
  holds: new HoldRepository(doc, requireEnv(ENV.requestsTable)),
  hasher: subjectHasherFromEnv(),
  // A bad policy fails the cold start, not a request halfway.
  policy: loadDefaultPolicy(),
};

export const handler = taskHandler<PlanTaskInput, PlanTaskOutput>('plan-erasure', (input) =>
  planErasure(deps, input),
);
