/**
 * Runs on a schedule (every 15 minutes): counts open requests past their legal deadline and emits the
 * count as a CloudWatch metric (Embedded Metric Format on stdout: no API call, no personal data).
 * The OverdueRequests alarm watches it.
 */
import middy from '@middy/core';
import { overdueMetricLine } from '../lib/requests/deadlines';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { RequestRepository } from '../lib/requests/requests';

const requests = new RequestRepository(requestTableFromEnv());

export const handler = middy<unknown, { overdue: number }>().handler(async () => {
  const now = new Date();
  const overdue = await requests.countOverdue(now);
  console.log(overdueMetricLine(overdue, now));
  return { overdue };
});
