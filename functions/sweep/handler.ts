/** The scheduled sweep (EventBridge, e.g. hourly): see core.ts. `asOf` in the event overrides the clock. */
import middy from '@middy/core';
import { ENV } from '../../config/data-map';
import { documentClient, stepFunctionsClient } from '../lib/aws/clients';
import { requireEnv } from '../lib/runtime/config';
import { HoldRepository } from '../lib/holds/holds';
import { log } from '../lib/runtime/logger';
import { observability } from '../lib/runtime/observability';
import { EventLog } from '../lib/requests/event-log';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { DynamoVault } from '../lib/erasure/vault';
import { runSweep, StepFunctionsResumeStarter, type SweepDeps, type SweepReport } from './core';
import { ErasureSchedule } from '../lib/erasure/schedule';

const doc = documentClient();
const table = requestTableFromEnv();

export const deps: SweepDeps = {
  requests: new RequestRepository(table),
  events: new EventLog(table),
  holds: new HoldRepository(table),
  schedule: new ErasureSchedule(table),
  vault: new DynamoVault(doc, { tableName: requireEnv(ENV.vaultTable) }),
  starter: new StepFunctionsResumeStarter(stepFunctionsClient(), requireEnv('ERASURE_STATE_MACHINE_ARN')),
};

export const handler = middy<{ asOf?: string }, SweepReport>()
  .use(observability())
  .handler(async (event) => {
    const now = event?.asOf ? new Date(event.asOf) : new Date();
    if (Number.isNaN(now.getTime())) throw new Error('asOf is not a date');
    const report = await runSweep(deps, now);
    log.info('sweep done', {
      vaultDestroyed: report.vaultDestroyed,
      pending: report.pending,
      resumed: report.resumed.length,
    });
    return report;
  });
