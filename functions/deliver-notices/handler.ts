/**
 * The outcome-notice deliverer Lambda, every minute by a schedule: sends the person's notices that status
 * changes wrote to the requests table's outbox (functions/lib/notices/outbox.ts), through SES (the
 * outbox directory locally), and marks each sent with its event.
 */
import middy from '@middy/core';
import { mailerFromEnv } from '../lib/notices/mailer';
import { deliverPendingNotices, type NoticeDeliveryDeps } from '../lib/notices/outbox';
import { requestTableFromEnv } from '../lib/requests/request-table';
import { observability } from '../lib/runtime/observability';

const { mailer, from } = mailerFromEnv();

export const deps: NoticeDeliveryDeps = { table: requestTableFromEnv(), mailer, from };

export const handler = middy<unknown, { sent: number }>()
  .use(observability())
  .handler(async () => ({ sent: await deliverPendingNotices(deps) }));
