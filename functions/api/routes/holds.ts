/**
 * Issue 4: legal holds. `legal` places and releases; `support` and `legal` read (auditors read the
 * audit trail instead). A hold names its subject by one identifier, in the body only (never in a URL,
 * which ends up in access logs); it is stored and listed by that identifier's keyed hash, the same
 * `subjectHash` requests show. Placing and releasing are recorded in the audit trail (who, when, case)
 * and in the event history of every erasure request of the subject.
 */
import { STORE_NAMES, type StoreName } from '../../../config/data-map';
import { isKnownCategory } from '../../lib/erasure/policy';
import { HOLD_ID, identifierHashesOf, type Hold } from '../../lib/holds/holds';
import { isRequestId } from '../../lib/requests/request-id';
import { principalOf, requireRole, type Role } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError, json, parseJsonBody, queryOf, type ApiEvent, type ApiResult } from '../http';
import type { Route } from '../router';
import {
  parsePlaceHoldBody,
  parseReleaseHold,
  placeHoldSchema,
  releaseHoldSchema,
  type PlaceHoldBody,
  type ReleaseHoldBody,
} from '../schemas';
import { identifierOf } from './requests';

const PLACERS: readonly Role[] = ['legal'];
const READERS: readonly Role[] = ['support', 'legal'];

export function parsePlaceHold(body: unknown): PlaceHoldBody {
  const candidate = parsePlaceHoldBody(body);
  // A category none of the held stores has would hold nothing: refuse it rather than protect nothing.
  const stores: readonly StoreName[] = candidate.stores?.length ? candidate.stores : STORE_NAMES;
  for (const [i, category] of (candidate.categories ?? []).entries()) {
    if (!stores.some((store) => isKnownCategory(store, category))) {
      throw new ApiError(
        400,
        'UNKNOWN_CATEGORY',
        `categories.${i} is not a category of the held stores (${stores.join(', ')})`,
      );
    }
  }
  return candidate;
}

function parseRelease(event: ApiEvent): ReleaseHoldBody {
  return event.body ? parseReleaseHold(parseJsonBody(event)) : {};
}

export function holdView(hold: Hold): Record<string, unknown> {
  return {
    holdId: hold.holdId,
    status: hold.status,
    subjectHash: hold.subjectHash,
    stores: hold.stores ?? [],
    categories: hold.categories ?? [],
    caseReference: hold.caseReference,
    reason: hold.reason,
    placedBy: hold.placedBy,
    placedAt: hold.placedAt,
    ...(hold.releasedAt
      ? { releasedBy: hold.releasedBy, releasedAt: hold.releasedAt, releaseReason: hold.releaseReason }
      : {}),
  };
}

async function recordOnRequests(
  deps: ApiDeps,
  requestIds: readonly string[],
  type: 'hold.placed' | 'hold.released',
  hold: Hold,
): Promise<void> {
  for (const requestId of requestIds) {
    await deps.events.append(requestId, {
      type,
      detail: { holdId: hold.holdId, caseReference: hold.caseReference },
    });
  }
}

export async function placeHold(deps: ApiDeps, event: ApiEvent): Promise<ApiResult> {
  const principal = principalOf(event);
  requireRole(principal, PLACERS);
  const body = parsePlaceHold(parseJsonBody(event));
  const { holds } = deps;
  const subjectHash = await deps.hasher.hash(identifierOf(body.subject));
  const affected = await holds.erasureRequestsFor(subjectHash);
  const hold = await holds.place(
    {
      subjectHash,
      ...(body.stores?.length ? { stores: body.stores } : {}),
      ...(body.categories?.length ? { categories: body.categories } : {}),
      caseReference: body.caseReference,
      reason: body.reason,
      placedBy: principal.callerId,
      placedByRole: principal.roles[0],
    },
    affected.map((requestId) => ({ requestId })),
  );
  await recordOnRequests(deps, affected, 'hold.placed', hold);
  return json(
    201,
    { ...holdView(hold), affectedRequests: affected },
    { location: `/v1/holds/${hold.holdId}` },
  );
}

const LIST_PARAMS = ['subjectHash', 'requestId', 'status'];

export async function listHolds(deps: ApiDeps, event: ApiEvent): Promise<ApiResult> {
  requireRole(principalOf(event), READERS);
  const query = queryOf(event);
  const unknown = Object.keys(query).find((k) => !LIST_PARAMS.includes(k));
  if (unknown)
    throw new ApiError(400, 'UNKNOWN_PARAMETER', `Unknown query parameter: ${unknown.slice(0, 64)}`);
  if ((query.subjectHash === undefined) === (query.requestId === undefined)) {
    throw new ApiError(400, 'INVALID_PARAMETER', 'Give exactly one of subjectHash or requestId');
  }
  const status = query.status ?? 'all';
  if (!['active', 'released', 'all'].includes(status)) {
    throw new ApiError(400, 'INVALID_PARAMETER', 'status must be active, released or all');
  }
  const { holds } = deps;
  let hashes: string[];
  if (query.subjectHash !== undefined) {
    if (!/^[A-Za-z0-9_-]{43}$/.test(query.subjectHash)) {
      throw new ApiError(400, 'INVALID_PARAMETER', 'subjectHash must be a subject hash this API returned');
    }
    hashes = [query.subjectHash];
  } else {
    const requestId = query.requestId ?? '';
    const record = isRequestId(requestId) ? await deps.requests.get(requestId) : undefined;
    if (!record) throw new ApiError(404, 'REQUEST_NOT_FOUND', 'No such request');
    // Every identifier of the request's subject: the holds its erasure would honour.
    hashes = [
      record.subjectHash,
      ...(record.accountHash ? [record.accountHash] : []),
      ...(record.resolvedSubject
        ? await identifierHashesOf(deps.hasher, record.resolvedSubject.identifiers)
        : []),
    ];
  }
  const byId = new Map<string, Hold>();
  for (const hash of new Set(hashes)) {
    for (const hold of await holds.listBySubjectHash(
      hash,
      status === 'all' ? undefined : (status as Hold['status']),
    ))
      byId.set(hold.holdId, hold);
  }
  const list = [...byId.values()].sort((a, b) => (a.placedAt < b.placedAt ? 1 : -1));
  return json(200, { holds: list.map(holdView) });
}

async function loadHold(deps: ApiDeps, holdId: string): Promise<Hold> {
  const hold = HOLD_ID.test(holdId) ? await deps.holds.get(holdId) : undefined;
  if (!hold) throw new ApiError(404, 'HOLD_NOT_FOUND', 'No such hold');
  return hold;
}

export async function getHold(deps: ApiDeps, event: ApiEvent, holdId: string): Promise<ApiResult> {
  requireRole(principalOf(event), READERS);
  return json(200, holdView(await loadHold(deps, holdId)));
}

export async function releaseHold(deps: ApiDeps, event: ApiEvent, holdId: string): Promise<ApiResult> {
  const principal = principalOf(event);
  requireRole(principal, PLACERS);
  const body = parseRelease(event);
  const current = await loadHold(deps, holdId);
  const { holds } = deps;
  const affected = await holds.erasureRequestsFor(current.subjectHash);
  const { hold, changed } = await holds.release(
    holdId,
    { actor: principal.callerId, role: principal.roles[0], reason: body.reason },
    affected.map((requestId) => ({ requestId })),
  );
  if (!hold) throw new ApiError(404, 'HOLD_NOT_FOUND', 'No such hold');
  if (changed) await recordOnRequests(deps, affected, 'hold.released', hold);
  // Releasing twice is fine: the first release stands.
  return json(200, {
    ...holdView(hold),
    alreadyReleased: !changed,
    notice: 'Erasures this hold kept from completing resume at the next sweep.',
  });
}

const HOLD_PARAM = '([^/]+)';

export const holdRoutes: Route[] = [
  {
    method: 'POST',
    pattern: /^\/v1\/holds$/,
    path: '/v1/holds',
    operationId: 'placeHold',
    summary:
      'Place a legal hold on a subject (optionally some stores/categories): erasures leave it untouched',
    access: PLACERS,
    requestSchema: placeHoldSchema,
    responses: { '201': 'The hold', '400': 'Invalid body (unknown store or category, ...)' },
    handler: (deps, event) => placeHold(deps, event),
  },
  {
    method: 'GET',
    pattern: /^\/v1\/holds$/,
    path: '/v1/holds',
    operationId: 'listHolds',
    summary: "Holds on a subject (by its keyed hash) or on a request's subject (every identifier)",
    access: READERS,
    query: [
      {
        name: 'subjectHash',
        description: 'The subjectHash a hold or request returned (raw identifiers never go in URLs)',
        schema: { type: 'string', maxLength: 43 },
      },
      {
        name: 'requestId',
        description: "Holds on any identifier of this request's subject",
        schema: { type: 'string', maxLength: 36 },
      },
      {
        name: 'status',
        description: 'active, released or all (default)',
        schema: { type: 'string', enum: ['active', 'released', 'all'] },
      },
    ],
    responses: { '200': 'The holds, newest first' },
    handler: (deps, event) => listHolds(deps, event),
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/v1/holds/${HOLD_PARAM}$`),
    path: '/v1/holds/{holdId}',
    operationId: 'getHold',
    summary: 'One hold',
    access: READERS,
    responses: { '200': 'The hold', '404': 'No such hold' },
    handler: (deps, event, [id]) => getHold(deps, event, id ?? ''),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/v1/holds/${HOLD_PARAM}/release$`),
    path: '/v1/holds/{holdId}/release',
    operationId: 'releaseHold',
    summary: 'Release a hold; the erasures it held resume at the next sweep',
    access: PLACERS,
    requestSchema: releaseHoldSchema,
    responses: { '200': 'Released (or already released)', '404': 'No such hold' },
    handler: (deps, event, [id]) => releaseHold(deps, event, id ?? ''),
  },
];
