/** How a request reads in the OpenDSR dialect: its status and where its results are. */
import type { RequestRecord, RequestStatus } from './records';

/** OpenDSR knows four statuses; a failed request is reported as cancelled with our own status beside it. */
export function openDsrStatus(status: RequestStatus): 'pending' | 'in_progress' | 'completed' | 'cancelled' {
  switch (status) {
    case 'received':
    case 'awaiting_verification':
    case 'awaiting_payment':
      return 'pending';
    case 'in_progress':
      return 'in_progress';
    case 'completed':
    case 'partially_completed':
      return 'completed';
    default:
      return 'cancelled';
  }
}

export function resultsUrl(record: RequestRecord, publicApiUrl: string | undefined): string | undefined {
  if (!publicApiUrl || record.status !== 'completed' || record.type !== 'export') return undefined;
  return `${publicApiUrl.replace(/\/$/, '')}/v1/requests/${record.requestId}`;
}
