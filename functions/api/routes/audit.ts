/** GET /v1/audit: the append-only audit trail, for auditors only, oldest first, cursor-paged. */
import { principalOf, requireRole } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError, json, queryOf, type ApiEvent, type ApiResult } from '../http';
import type { Route } from '../router';
import { decodeCursor, encodeCursor } from './requests';
import { isRequestId } from '../../lib/requests/request-id';

const PARAMS = ['from', 'to', 'requestId', 'limit', 'cursor'];

export async function listAudit(deps: ApiDeps, event: ApiEvent): Promise<ApiResult> {
  requireRole(principalOf(event), ['auditor']);
  const query = queryOf(event);
  const unknown = Object.keys(query).find((k) => !PARAMS.includes(k));
  if (unknown)
    throw new ApiError(400, 'UNKNOWN_PARAMETER', `Unknown query parameter: ${unknown.slice(0, 64)}`);
  for (const name of ['from', 'to'] as const) {
    const value = query[name];
    if (value !== undefined && (value.length > 40 || Number.isNaN(Date.parse(value)))) {
      throw new ApiError(400, 'INVALID_PARAMETER', `${name} must be an ISO 8601 date-time`);
    }
  }
  if (query.requestId !== undefined && !isRequestId(query.requestId)) {
    throw new ApiError(400, 'INVALID_PARAMETER', 'requestId is not a request id');
  }
  const limit = query.limit === undefined ? 100 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new ApiError(400, 'INVALID_PARAMETER', 'limit must be a whole number from 1 to 500');
  }
  const { records, lastKey } = await deps.audit.list({
    limit,
    from: query.from ? new Date(query.from).toISOString() : undefined,
    to: query.to ? new Date(query.to).toISOString() : undefined,
    requestId: query.requestId,
    cursor: decodeCursor(query.cursor, ['pk', 'sk', 'kind', 'createdAt']),
  });
  return json(200, { records, nextCursor: encodeCursor(lastKey) ?? null });
}

export const auditRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/audit$/,
    path: '/v1/audit',
    operationId: 'listAudit',
    summary: 'The audit trail: who did what, when, to which request (subjects only as keyed hashes)',
    access: ['auditor'],
    query: [
      { name: 'from', description: 'ISO 8601, inclusive', schema: { type: 'string', maxLength: 40 } },
      { name: 'to', description: 'ISO 8601, inclusive', schema: { type: 'string', maxLength: 40 } },
      { name: 'requestId', description: 'One request only', schema: { type: 'string', maxLength: 36 } },
      {
        name: 'limit',
        description: '1-500, default 100',
        schema: { type: 'integer', minimum: 1, maximum: 500 },
      },
      {
        name: 'cursor',
        description: 'nextCursor of the previous page',
        schema: { type: 'string', maxLength: 2048 },
      },
    ],
    responses: { '200': 'A page of audit records' },
    handler: (deps, event) => listAudit(deps, event),
  },
];
