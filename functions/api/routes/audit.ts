/** GET /v1/audit: the append-only audit trail, for auditors only, oldest first, cursor-paged. */
import { json } from '../http';
import { defineRoute, type Route } from '../router';
import { cursorParam, instantParam, timeRange, limitParam, requestIdSchema, strictQuery } from '../schemas';
import { decodeCursor, encodeCursor } from '../cursors';

export const auditRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/v1/audit',
    operationId: 'listAudit',
    summary: 'The audit trail: who did what, when, to which request (subjects only as keyed hashes)',
    access: ['auditor'],
    query: strictQuery({
      from: instantParam,
      to: instantParam,
      requestId: { ...requestIdSchema, description: 'One request only' },
      limit: limitParam(500, 100),
      cursor: cursorParam,
    }),
    responses: { '200': 'A page of audit records' },
    handler: async (deps, { query }) => {
      const { records, lastKey } = await deps.audit.list({
        limit: query.limit,
        ...timeRange({ from: query.from, to: query.to }, 'to'),
        requestId: query.requestId,
        cursor: decodeCursor(query.cursor, 'audit'),
      });
      return json(200, { records, nextCursor: encodeCursor('audit', lastKey) ?? null });
    },
  }),
];
