/**
 * Runs on a schedule (every 15 minutes): counts open requests past their legal deadline and emits the
 * count as a CloudWatch metric (Embedded Metric Format on stdout: no API call, no personal data).
 * The OverdueRequests alarm watches it.
 */
import middy from '@middy/core';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { applicationMetrics } from '../lib/runtime/metrics';
import { observability } from '../lib/runtime/observability';
import { recordOverdueMetric } from '../lib/requests/deadlines';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';

const requests = new RequestRepository(requestTableFromEnv());
const metrics = applicationMetrics();

export const handler = middy<unknown, { overdue: number }>()
  .use(observability())
  .use(logMetrics(metrics))
  .handler(async () => {
    const overdue = await requests.countOverdue(new Date());
    recordOverdueMetric(metrics, overdue);
    return { overdue };
  });
