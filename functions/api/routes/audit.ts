/**
 * GET /v1/audit: the append-only audit trail, for auditors only, oldest first, cursor-paged: the
 * entries of the auditor's services (entries that concern no one service only for auditors bound to all).
 */
import { json } from '../http';
import { defineRoute, type Route } from '../router';
import {
  cursorParam,
  instantParam,
  limitParam,
  requestIdSchema,
  serviceField,
  strictQuery,
  timeRange,
} from '../schemas';
import { listingServices } from '../caller-services';
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
      service: serviceField('Only this service (one the token is bound to); default: all of its services'),
      limit: limitParam(500, 100),
      cursor: cursorParam,
    }),
    responses: {
      '200': "A page of audit records of the token's services",
      '403': 'SERVICE_NOT_ALLOWED: the token is not bound to the service named',
    },
    handler: async (deps, { principal, query }) => {
      const { records, lastKey } = await deps.audit.list({
        limit: query.limit,
        ...timeRange({ from: query.from, to: query.to }, 'to'),
        requestId: query.requestId,
        services: listingServices(principal, query.service),
        cursor: decodeCursor(query.cursor, 'audit'),
      });
      return json(200, { records, nextCursor: encodeCursor('audit', lastKey) ?? null });
    },
  }),
];
