/** /v1/requests: open, read, list, cancel and extend export and erasure requests. */
import { isOpenStatus, maxExtendedDueAt, ruleFor } from '../../lib/requests/deadlines';
import type { RequestRecord } from '../../lib/requests/records';
import type { StoredResponse } from '../../lib/requests/idempotency';
import { ROLES } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError, headerOf, json, type ApiEvent, type ApiResult } from '../http';
import { defineRoute, type Route } from '../router';
import {
  createRequestSchema,
  cursorParam,
  extendRequestSchema,
  idempotencyKeySchema,
  instantParam,
  limitParam,
  serviceField,
  strictQuery,
  subjectHashParam,
  timeRange,
  type CreateRequestBody,
  type ExtendRequestBody,
} from '../schemas';
import { decodeCursor, encodeCursor } from '../cursors';
import { cancelRecord } from '../request-cancelling';
import { loadRequest, type Caller } from '../request-lookup';
import { listingServices, serviceFor } from '../caller-services';
import { openRequest } from '../request-opening';
import { clockOf, settingsOf } from '../request-settings';
import { requestView } from '../request-views';
import { REQUEST_STATUSES } from '../../lib/requests/records';
import { downloadFields } from './downloads';

const STATUSES = REQUEST_STATUSES;

const IDEMPOTENCY_KEY = new RegExp(idempotencyKeySchema.pattern);

export function idempotencyKeyOf(event: ApiEvent): string | undefined {
  const key = headerOf(event, 'idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ApiError(
      400,
      'INVALID_IDEMPOTENCY_KEY',
      'Idempotency-Key must be 1-128 of A-Z a-z 0-9 _ . : -',
    );
  }
  return key;
}

export async function createRequest(
  deps: ApiDeps,
  event: ApiEvent,
  { principal, scope }: Caller,
  body: CreateRequestBody,
): Promise<ApiResult> {
  const key = idempotencyKeyOf(event);
  const service = serviceFor(principal, body.service);
  scope.service = service;
  const render = (record: RequestRecord): StoredResponse => ({
    statusCode: 202,
    body: JSON.stringify(requestView(record, {}, clockOf(deps))),
  });
  const result = await openRequest(
    deps,
    {
      ...body,
      service,
      dialect: 'dsr',
      principal,
      idempotency: key ? { scope: principal.callerId, key, body } : undefined,
    },
    render,
  );
  if (result.kind === 'replayed') {
    const requestId = (JSON.parse(result.response.body) as { requestId?: string }).requestId ?? '';
    return {
      statusCode: result.response.statusCode,
      headers: {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        location: `/v1/requests/${requestId}`,
        'idempotent-replayed': 'true',
      },
      body: result.response.body,
    };
  }
  const location = { location: `/v1/requests/${result.record.requestId}` };
  if (result.kind === 'duplicate') {
    return json(
      200,
      {
        ...requestView(result.record, {}, clockOf(deps)),
        duplicate: true,
        notice: `An open ${result.record.type} request for this subject already exists; it was returned instead of a new one.`,
      },
      location,
    );
  }
  return {
    ...render(result.record),
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...location },
  };
}

export async function extendRequest(
  deps: ApiDeps,
  caller: Caller,
  requestId: string,
  body: ExtendRequestBody,
): Promise<ApiResult> {
  const { principal } = caller;
  const record = await loadRequest(deps, caller, requestId);
  const now = clockOf(deps);
  if (!isOpenStatus(record.status)) {
    throw new ApiError(409, 'NOT_OPEN', 'Only an open request can have its deadline extended', {
      requestStatus: record.status,
    });
  }
  if (record.extension)
    throw new ApiError(409, 'ALREADY_EXTENDED', 'This deadline has already been extended once');
  if (!record.dueAt || !record.jurisdiction)
    throw new ApiError(409, 'NO_DEADLINE', 'This request has no deadline');
  const settings = settingsOf(deps);
  const max = maxExtendedDueAt(record.jurisdiction, new Date(record.dueAt), settings.deadlines);
  if (!max) {
    throw new ApiError(409, 'EXTENSION_NOT_ALLOWED', 'The law of this jurisdiction allows no extension', {
      regime: ruleFor(record.jurisdiction, settings.deadlines).regime,
    });
  }
  const until = body.until ? new Date(body.until) : max;
  if (until.getTime() <= Date.parse(record.dueAt)) {
    throw new ApiError(400, 'INVALID_FIELD', 'until must be later than the current deadline');
  }
  if (until.getTime() > max.getTime()) {
    throw new ApiError(
      400,
      'EXTENSION_TOO_LONG',
      `The deadline can be extended to ${max.toISOString()} at most`,
    );
  }
  const extended = await deps.requests.extend(
    record,
    until.toISOString(),
    { reason: body.reason, by: principal.callerId, at: now.toISOString(), previousDueAt: record.dueAt },
    principal.roles[0],
  );
  if (!extended) throw new ApiError(409, 'ALREADY_EXTENDED', 'This deadline has already been extended once');
  return json(200, requestView((await deps.requests.get(requestId)) ?? record, {}, now));
}

export const requestRoutes: Route[] = [
  defineRoute({
    method: 'POST',
    path: '/v1/requests',
    operationId: 'createRequest',
    summary:
      'Open an export, erasure or restriction request (Idempotency-Key supported; a duplicate returns the open one)',
    access: ['support'],
    requestSchema: createRequestSchema,
    responses: {
      '200': 'An open request of this type for this subject already exists (duplicate: true)',
      '202':
        'Accepted: the workflow has started, or the request waits (awaiting_verification, awaiting_payment) for what its service requires',
      '400':
        'Invalid body; SERVICE_REQUIRED: the token is bound to several services and none is named; TRANSMIT_TO_*: transmitTo refused by the address policy',
      '403':
        'FORBIDDEN: not a support client; SERVICE_NOT_ALLOWED: the token is not bound to the service named',
      '409':
        'The identifiers match more than one account (SUBJECT_CONFLICT); another restriction request for the subject is open (RESTRICTION_IN_PROGRESS)',
      '422':
        "Idempotency-Key reused with a different body; GUARDIAN_REQUIRED: a minor's account, asked about by someone other than the guardian; NOT_GUARDIAN: the requester is not this account's guardian; RESTRICTION_NOT_OFFERED: the service's policy does not name the kind",
      '501': 'No workflow exists for this type yet',
    },
    handler: (deps, { event, principal, scope, body }) =>
      createRequest(deps, event, { principal, scope }, body),
  }),
  defineRoute({
    method: 'GET',
    path: '/v1/requests',
    operationId: 'listRequests',
    summary: 'List requests, newest first, with filters and cursor paging',
    access: ROLES,
    query: strictQuery({
      status: {
        type: 'array',
        items: { type: 'string', enum: STATUSES },
        maxItems: STATUSES.length,
        description: `Comma-separated statuses among: ${STATUSES.join(', ')}`,
      },
      type: {
        type: 'string',
        enum: ['export', 'erasure', 'restriction'],
        description: 'export, erasure or restriction',
      },
      subjectHash: subjectHashParam,
      overdue: { type: 'boolean', description: 'true: only overdue requests; false: none of them' },
      createdFrom: instantParam,
      createdTo: instantParam,
      service: serviceField('Only this service (one the token is bound to); default: all of its services'),
      limit: limitParam(100, 50),
      cursor: cursorParam,
    }),
    responses: {
      '200': "A page of requests of the token's services",
      '403': 'SERVICE_NOT_ALLOWED: the token is not bound to the service named',
    },
    handler: async (deps, { principal, query }) => {
      const now = clockOf(deps);
      const created = timeRange({ from: query.createdFrom, to: query.createdTo }, 'createdTo');
      const { records, lastKey } = await deps.requests.list(
        {
          statuses: query.status,
          type: query.type,
          subjectHash: query.subjectHash,
          overdue: query.overdue,
          createdFrom: created.from,
          createdTo: created.to,
          services: listingServices(principal, query.service),
          limit: query.limit,
          cursor: decodeCursor(query.cursor, 'requests'),
        },
        now,
      );
      return json(200, {
        requests: records.map((r) => requestView(r, {}, now)),
        nextCursor: encodeCursor('requests', lastKey) ?? null,
      });
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/v1/requests/{requestId}',
    operationId: 'getRequest',
    summary: 'A request: status, deadline (days left, overdue), archive',
    access: ROLES,
    responses: { '200': 'The request', '404': "No such request (or another service's)" },
    handler: async (deps, { principal, scope, params }) => {
      const record = await loadRequest(deps, { principal, scope }, params.requestId);
      const { downloadUrl, download } = await downloadFields(deps, record);
      // The download URL is a credential: only support callers, who send it to the subject, get it.
      const fields = principal.roles.includes('support') ? { downloadUrl, download } : { download };
      return json(200, requestView(record, fields, clockOf(deps)));
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/v1/requests/{requestId}/events',
    operationId: 'listRequestEvents',
    summary: "A request's append-only event history (status changes, callback deliveries)",
    access: ROLES,
    responses: { '200': 'The events, oldest first', '404': "No such request (or another service's)" },
    handler: async (deps, { principal, scope, params: { requestId } }) => {
      await loadRequest(deps, { principal, scope }, requestId);
      return json(200, { requestId, events: await deps.events.list(requestId) });
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/v1/requests/{requestId}/cancel',
    operationId: 'cancelRequest',
    summary: 'Cancel a request that has not started (an erasure under way cannot be cancelled)',
    access: ['support'],
    responses: {
      '200': 'Cancelled',
      '404': "No such request (or another service's)",
      '409': 'Already under way or finished (requestStatus says which)',
    },
    handler: async (deps, { principal, scope, params }) => {
      const record = await cancelRecord(
        deps,
        principal,
        await loadRequest(deps, { principal, scope }, params.requestId),
      );
      return json(200, requestView(record, {}, clockOf(deps)));
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/v1/requests/{requestId}/extend',
    operationId: 'extendRequest',
    summary: 'Extend the deadline once, with a recorded reason, as far as the jurisdiction allows',
    access: ['support'],
    requestSchema: extendRequestSchema,
    responses: { '200': 'Extended', '409': 'Not open, already extended, or no extension allowed' },
    handler: (deps, { principal, scope, params, body }) =>
      extendRequest(deps, { principal, scope }, params.requestId, body),
  }),
];
