/** The request a path names, or the 404 every route answers when there is none. */
import type { RequestRecord } from '../lib/requests/records';
import type { ApiDeps } from './deps';
import { notFound } from './path-params';

export async function loadRequest(deps: ApiDeps, requestId: string): Promise<RequestRecord> {
  const record = await deps.requests.get(requestId);
  if (!record) throw notFound('requestId');
  return record;
}
