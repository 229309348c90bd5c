/**
 * Opens a request for one service on the test stack as a caller bound to that service does: the request
 * is written with the repository the API uses, with its service, and its workflow started through the
 * same Step Functions starter (the local endpoint).
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { orchestratorResources } from '../../config/data-map';
import { StepFunctionsStarter } from '../../functions/api/workflows';
import { identifierOf } from '../../functions/api/subject-identifiers';
import { subjectHasherFromEnv } from '../../functions/lib/crypto/subject-hash';
import { loadDefaultPolicy } from '../../functions/lib/erasure/policy';
import { dueAtFor } from '../../functions/lib/requests/deadlines';
import type { RequestType, SubjectInput } from '../../functions/lib/requests/records';
import { requestTable } from '../../functions/lib/requests/request-table';
import { RequestRepository } from '../../functions/lib/requests/requests';
import type { LocalStack } from '../../local/stack';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/stores';

export async function openServiceRequest(
  stack: LocalStack,
  input: { type: RequestType; subject: SubjectInput; service: string; jurisdiction: string },
): Promise<string> {
  const requests = new RequestRepository(
    requestTable(stack.doc, orchestratorResources.requestsTable.tableName),
  );
  const requestId = requests.newRequestId();
  const now = new Date();
  const outcome = await requests.open({
    requestId,
    type: input.type,
    policyVersion: loadDefaultPolicy().version,
    subject: input.subject,
    service: input.service,
    subjectHash: await subjectHasherFromEnv().hash(identifierOf(input.subject)),
    jurisdiction: input.jurisdiction,
    jurisdictionSource: 'request',
    dueAt: dueAtFor(input.jurisdiction, now).toISOString(),
    requester: { kind: 'subject' },
    dialect: 'dsr',
    createdBy: `test-${input.service}`,
    role: 'support',
  });
  if (outcome.outcome !== 'created') throw new Error(`The request was not created (${outcome.outcome})`);
  const sfn = new SFNClient({
    endpoint: stack.sfnEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    await new StepFunctionsStarter(sfn, {
      export: stack.env.EXPORT_STATE_MACHINE_ARN,
      erasure: stack.env.ERASURE_STATE_MACHINE_ARN,
      restriction: stack.env.RESTRICTION_STATE_MACHINE_ARN,
    }).start(requestId, input.type);
  } finally {
    sfn.destroy();
  }
  return requestId;
}
