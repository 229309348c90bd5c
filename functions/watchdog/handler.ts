/** The scheduled watchdog (EventBridge, every 5 minutes): see core.ts. */
import middy from '@middy/core';
import { ENV } from '../../config/data-map';
import { s3Client, stepFunctionsClient } from '../lib/aws/clients';
import { intEnv, requireEnv } from '../lib/runtime/config';
import { log } from '../lib/runtime/logger';
import { observability } from '../lib/runtime/observability';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';
import { runWatchdog, type WatchdogDeps, type WatchdogReport } from './core';
import { StepFunctionsControl } from './workflows';

export const deps: WatchdogDeps = {
  requests: new RequestRepository(requestTableFromEnv()),
  workflows: new StepFunctionsControl(stepFunctionsClient(), {
    export: requireEnv('EXPORT_STATE_MACHINE_ARN'),
    erasure: requireEnv('ERASURE_STATE_MACHINE_ARN'),
    restriction: requireEnv('RESTRICTION_STATE_MACHINE_ARN'),
  }),
  s3: s3Client(),
  stagingBucket: requireEnv(ENV.stagingBucket),
  // Longer than the API takes between storing a request and starting its workflow.
  graceMs: intEnv('WATCHDOG_GRACE_SECONDS', 300) * 1000,
  maxRedrives: intEnv('WATCHDOG_MAX_REDRIVES', 3),
};

export const handler = middy<unknown, WatchdogReport>()
  .use(observability())
  .handler(async () => {
    const report = await runWatchdog(deps, new Date());
    // Counts and request ids only: request ids name no one.
    log.info('watchdog done', {
      checked: report.checked,
      started: report.actions.filter((a) => a.action === 'started').length,
      redriven: report.actions.filter((a) => a.action === 'redriven').length,
      failed: report.actions.filter((a) => a.action === 'failed').length,
      stagingRemoved: report.stagingRemoved,
    });
    return report;
  });
