/**
 * `npm run reapply-suppressions`: after a platform table was restored from a point-in-time backup, opens
 * a new erasure for every restored account of an erased subject (functions/lib/erasure/suppressions.ts;
 * docs/deploy.md "Backups"). Against the running local stack (`npm start`) unless `--aws`, where the
 * environment names the tables, the erasure workflow (ERASURE_STATE_MACHINE_ARN) and the keys, as the
 * API's Lambda has them. Prints what it opened; exit status 1 if any erasure could not be opened.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV, serviceOwnTables, platformStores } from '../config/data-map';
import { StepFunctionsStarter } from '../functions/api/workflows';
import { STATE_MACHINES } from '../functions/lib/connectors/catalog';
import { subjectHasherFromEnv } from '../functions/lib/crypto/subject-hash';
import { loadDefaultPolicy } from '../functions/lib/erasure/policy';
import { reapplySuppressions, type ReapplyReport } from '../functions/lib/erasure/suppressions';
import { dueAtFor } from '../functions/lib/requests/deadlines';
import { requestTable } from '../functions/lib/requests/request-table';
import { RequestRepository } from '../functions/lib/requests/requests';
import { requireEnv } from '../functions/lib/runtime/config';
import { defaultServiceId } from '../functions/lib/services/profiles';

/** Where a re-erasure's deadline and rules come from when the account names no country. */
const FALLBACK_JURISDICTION = 'KR';

export interface ReapplyTarget {
  doc: DynamoDBDocumentClient;
  sfn: SFNClient;
  requestsTable: string;
  vaultTable: string;
  erasureStateMachineArn: string;
  accountsTables?: readonly string[];
}

export async function reapplyOn(target: ReapplyTarget): Promise<ReapplyReport> {
  const requests = new RequestRepository(requestTable(target.doc, target.requestsTable));
  const starter = new StepFunctionsStarter(target.sfn, { erasure: target.erasureStateMachineArn });
  return reapplySuppressions({
    doc: target.doc,
    hasher: subjectHasherFromEnv(),
    vaultTable: target.vaultTable,
    accountsTables: target.accountsTables ?? [
      platformStores.accounts.table.tableName,
      ...serviceOwnTables()
        .filter((t) => t.resource === 'accountsTable')
        .map((t) => t.spec.tableName),
    ],
    openErasure: async (account) => {
      const now = new Date();
      const jurisdiction = /^[A-Z]{2}$/.test(account.country ?? '')
        ? account.country!
        : FALLBACK_JURISDICTION;
      const requestId = requests.newRequestId();
      const opened = await requests.open({
        requestId,
        type: 'erasure',
        policyVersion: loadDefaultPolicy().version,
        service: account.service ?? defaultServiceId(),
        subjectHash: account.subjectHash,
        subject: { userId: account.userId },
        jurisdiction,
        jurisdictionSource: account.country ? 'account' : 'default',
        dueAt: dueAtFor(jurisdiction, now).toISOString(),
        requester: { kind: 'subject' },
        dialect: 'dsr',
        createdBy: 'reapply-suppressions',
        role: 'operator',
      });
      if (opened.outcome !== 'created') return { outcome: opened.outcome };
      await starter.start(requestId, 'erasure');
      return { requestId, outcome: 'created' };
    },
  });
}

async function main(): Promise<void> {
  if (!process.argv.includes('--aws')) {
    const { useRunningLocalStack } = await import('./local-stack-env');
    useRunningLocalStack();
    process.env.ERASURE_STATE_MACHINE_ARN = `arn:aws:states:us-east-1:000000000000:stateMachine:${STATE_MACHINES.erasure.localName}`;
  }
  const { documentClient } = await import('../functions/lib/aws/clients');
  const report = await reapplyOn({
    doc: documentClient(),
    sfn: new SFNClient({}),
    requestsTable: requireEnv(ENV.requestsTable),
    vaultTable: requireEnv(ENV.vaultTable),
    erasureStateMachineArn: requireEnv('ERASURE_STATE_MACHINE_ARN'),
  });
  console.log(JSON.stringify(report, null, 2));
  if (report.reErased.some((r) => r.outcome !== 'created' && r.outcome !== 'duplicate')) process.exit(1);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(
      `Re-applying the suppression list failed: ${error instanceof Error ? error.name : 'Error'}`,
    );
    process.exit(1);
  });
}
