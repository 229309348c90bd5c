/**
 * Legal holds. `legal` places and releases; `support` and `legal` read (auditors read the
 * audit trail instead). A hold names its subject by one identifier, in the body only (never in a URL,
 * which ends up in access logs); it is stored and listed by that identifier's keyed hash, the same
 * `subjectHash` requests show. Placing and releasing are recorded in the audit trail (who, when, case)
 * and in the event history of every erasure request of the subject.
 */
import { STORE_NAMES, type StoreName } from '../../../config/data-map';
import { isKnownCategory } from '../../lib/erasure/policy';
import { identifierHashesOf, type Hold } from '../../lib/holds/holds';
import type { Role } from '../auth';
import { canSee, serviceFor, serviceOf } from '../caller-services';
import type { ApiDeps } from '../deps';
import { ApiError, json, type ApiResult } from '../http';
import { notFound } from '../path-params';
import { loadRequest, type Caller } from '../request-lookup';
import { defineRoute, type Route } from '../router';
import {
  placeHoldSchema,
  releaseHoldSchema,
  requestIdSchema,
  serviceField,
  strictQuery,
  subjectHashParam,
  type PlaceHoldBody,
} from '../schemas';
import { identifierOf } from '../subject-identifiers';
import { checkBodyValue } from '../validation';

const PLACERS: readonly Role[] = ['legal'];
const READERS: readonly Role[] = ['support', 'legal'];

/** A category none of the held stores has would hold nothing: refused rather than protect nothing. */
function checkHeldCategories(body: PlaceHoldBody): PlaceHoldBody {
  const stores: readonly StoreName[] = body.stores?.length ? body.stores : STORE_NAMES;
  for (const [i, category] of (body.categories ?? []).entries()) {
    if (!stores.some((store) => isKnownCategory(store, category))) {
      throw new ApiError(
        400,
        'UNKNOWN_CATEGORY',
        `categories.${i} is not a category of the held stores (${stores.join(', ')})`,
      );
    }
  }
  return body;
}

/** Everything a hold's body must be: the schema (as the router checks it) and categories the stores have. */
export function parsePlaceHold(body: unknown): PlaceHoldBody {
  return checkHeldCategories(checkBodyValue(placeHoldSchema, body));
}

export function holdView(hold: Hold): Record<string, unknown> {
  return {
    holdId: hold.holdId,
    service: serviceOf(hold),
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

export async function placeHold(
  deps: ApiDeps,
  { principal, scope }: Caller,
  body: PlaceHoldBody,
): Promise<ApiResult> {
  checkHeldCategories(body);
  const service = serviceFor(principal, body.service);
  scope.service = service;
  const { holds } = deps;
  const subjectHash = await deps.hasher.hash(identifierOf(body.subject));
  const affected = await holds.erasureRequestsFor(subjectHash, service);
  const hold = await holds.place(
    {
      service,
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

/**
 * The keyed hashes whose holds concern a listing: the one given, or every identifier of a request's
 * subject (and then only the holds of the request's service: those its erasure would honour).
 */
async function hashesToList(
  deps: ApiDeps,
  caller: Caller,
  query: { subjectHash?: string; requestId?: string },
): Promise<{ hashes: string[]; service?: string }> {
  if (query.subjectHash !== undefined) return { hashes: [query.subjectHash] };
  const record = await loadRequest(deps, caller, query.requestId ?? '');
  return {
    hashes: [
      record.subjectHash,
      ...(record.accountHash ? [record.accountHash] : []),
      ...(record.resolvedSubject
        ? await identifierHashesOf(deps.hasher, record.resolvedSubject.identifiers)
        : []),
    ],
    service: serviceOf(record),
  };
}

/** A hold by id; another service's hold is answered like one that does not exist. */
async function loadHold(deps: ApiDeps, { principal, scope }: Caller, holdId: string): Promise<Hold> {
  const hold = await deps.holds.get(holdId);
  if (!hold) throw notFound('holdId');
  scope.service = serviceOf(hold);
  if (!canSee(principal, hold)) throw notFound('holdId');
  return hold;
}

export async function releaseHold(
  deps: ApiDeps,
  caller: Caller,
  holdId: string,
  reason: string | undefined,
): Promise<ApiResult> {
  const { principal } = caller;
  const current = await loadHold(deps, caller, holdId);
  const { holds } = deps;
  const affected = await holds.erasureRequestsFor(current.subjectHash, serviceOf(current));
  const { hold, changed } = await holds.release(
    holdId,
    { actor: principal.callerId, role: principal.roles[0], reason },
    affected.map((requestId) => ({ requestId })),
  );
  if (!hold) throw notFound('holdId');
  if (changed) await recordOnRequests(deps, affected, 'hold.released', hold);
  // Releasing twice is fine: the first release stands.
  return json(200, {
    ...holdView(hold),
    alreadyReleased: !changed,
    notice: 'Erasures this hold kept from completing resume at the next sweep.',
  });
}

export const holdRoutes: Route[] = [
  defineRoute({
    method: 'POST',
    path: '/v1/holds',
    operationId: 'placeHold',
    summary:
      'Place a legal hold on a subject (optionally some stores/categories): erasures leave it untouched',
    access: PLACERS,
    requestSchema: placeHoldSchema,
    responses: {
      '201': 'The hold',
      '400': 'Invalid body (unknown store or category, ...); SERVICE_REQUIRED: name the service',
      '403': 'SERVICE_NOT_ALLOWED: the token is not bound to the service named',
    },
    handler: (deps, { principal, scope, body }) => placeHold(deps, { principal, scope }, body),
  }),
  defineRoute({
    method: 'GET',
    path: '/v1/holds',
    operationId: 'listHolds',
    summary: "Holds on a subject (by its keyed hash) or on a request's subject (every identifier)",
    access: READERS,
    query: strictQuery({
      subjectHash: subjectHashParam,
      requestId: { ...requestIdSchema, description: "Holds on any identifier of this request's subject" },
      status: {
        type: 'string',
        enum: ['active', 'released', 'all'],
        default: 'all',
        description: 'active, released or all (default)',
      },
      service: serviceField('Only this service (one the token is bound to); default: all of its services'),
    }),
    responses: {
      '200': "The holds of the token's services, newest first",
      '404': "No such request (or another service's)",
    },
    handler: async (deps, { principal, scope, query }) => {
      if ((query.subjectHash === undefined) === (query.requestId === undefined)) {
        throw new ApiError(400, 'INVALID_PARAMETER', 'Give exactly one of subjectHash or requestId');
      }
      const { holds } = deps;
      const named = query.service === undefined ? undefined : serviceFor(principal, query.service);
      const { hashes, service = named } = await hashesToList(deps, { principal, scope }, query);
      const byId = new Map<string, Hold>();
      for (const hash of new Set(hashes)) {
        const status = query.status === 'all' ? undefined : query.status;
        for (const hold of await holds.listBySubjectHash(hash, status)) {
          // Not paged: a subject has a handful of holds, so they are filtered here.
          if (canSee(principal, hold) && (service === undefined || serviceOf(hold) === service))
            byId.set(hold.holdId, hold);
        }
      }
      const list = [...byId.values()].sort((a, b) => (a.placedAt < b.placedAt ? 1 : -1));
      return json(200, { holds: list.map(holdView) });
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/v1/holds/{holdId}',
    operationId: 'getHold',
    summary: 'One hold',
    access: READERS,
    responses: { '200': 'The hold', '404': "No such hold (or another service's)" },
    handler: async (deps, { principal, scope, params }) =>
      json(200, holdView(await loadHold(deps, { principal, scope }, params.holdId))),
  }),
  defineRoute({
    method: 'POST',
    path: '/v1/holds/{holdId}/release',
    operationId: 'releaseHold',
    summary: 'Release a hold; the erasures it held resume at the next sweep',
    access: PLACERS,
    requestSchema: releaseHoldSchema,
    optionalBody: true,
    responses: { '200': 'Released (or already released)', '404': "No such hold (or another service's)" },
    handler: (deps, { principal, scope, params, body }) =>
      releaseHold(deps, { principal, scope }, params.holdId, body.reason),
  }),
];
