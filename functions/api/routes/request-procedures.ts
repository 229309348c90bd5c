/**
 * Support's side of the procedures around a request: recording the identity verification, the fee paid
 * or waived, a refusal, and the parts an export leaves out. Recording what a request waits for starts
 * it through the same status transition and workflow start the API uses when it opens one; every change
 * commits with its event, audit record, callbacks and the person's notice (functions/lib/notices/).
 */
import { dueAtFor } from '../../lib/requests/deadlines';
import { openKey, type RequestRecord, type RequestStatus } from '../../lib/requests/records';
import type { RequestEvent } from '../../lib/requests/event-log';
import type { FeeRecord, ProcedureFields, VerificationRecord } from '../../lib/procedures/records';
import { checkExclusions, checkGrounds, GroundsProblem, storesAnswered } from '../../lib/procedures/refusals';
import { acceptsMethod, verificationRuleFor } from '../../lib/procedures/verification';
import { heldStores, serviceProfile } from '../../lib/services/profiles';
import type { ApiDeps } from '../deps';
import { ApiError, json, type ApiResult } from '../http';
import { loadRequest, type Caller } from '../request-lookup';
import { startWorkflow } from '../request-opening';
import { clockOf, settingsOf } from '../request-settings';
import { requestView } from '../request-views';
import { defineRoute, type Route } from '../router';
import {
  exclusionsSchema,
  recordFeeSchema,
  recordVerificationSchema,
  refuseRequestSchema,
} from '../procedure-schemas';
import type { Validated } from '../schemas';

const WAITING: readonly RequestStatus[] = ['awaiting_verification', 'awaiting_payment'];

function notIn(record: RequestRecord, code: string, detail: string): ApiError {
  return new ApiError(409, code, detail, { requestStatus: record.status });
}

function groundsError(error: unknown): unknown {
  return error instanceof GroundsProblem ? new ApiError(422, error.code, error.message) : error;
}

async function view(deps: ApiDeps, requestId: string, fallback: RequestRecord): Promise<ApiResult> {
  return json(200, requestView((await deps.requests.get(requestId)) ?? fallback, {}, clockOf(deps)));
}

/**
 * Moves a waiting request on (to `awaiting_payment`, or to `received` and its workflow's start). Where
 * its law paused the clock while it waited, its deadline runs from now, on the request and its lock.
 */
async function advance(
  deps: ApiDeps,
  { principal }: Caller,
  record: RequestRecord,
  next: Extract<RequestStatus, 'awaiting_payment' | 'received'>,
  set: Pick<ProcedureFields, 'verification' | 'fee'>,
  event: Omit<RequestEvent, 'at'>,
): Promise<ApiResult> {
  const now = clockOf(deps);
  const starts = next === 'received' && record.deadlinePaused && record.jurisdiction;
  const dueAt = starts
    ? dueAtFor(record.jurisdiction ?? '', now, settingsOf(deps).deadlines).toISOString()
    : undefined;
  const changed = await deps.requests.transition(
    record.requestId,
    next,
    { ...set, ...(dueAt ? { dueAt } : {}) },
    {
      actor: principal.callerId,
      role: principal.roles[0],
      event,
      remove: dueAt ? ['deadlinePaused'] : [],
      sideItems: dueAt
        ? [
            {
              Update: {
                TableName: deps.requests.tableName,
                Key: openKey(record.type, record.subjectHash, record.service),
                UpdateExpression: 'SET dueAt = :due',
                ConditionExpression: 'requestId = :id',
                ExpressionAttributeValues: { ':due': dueAt, ':id': record.requestId },
              },
            },
          ]
        : [],
    },
  );
  const after = (await deps.requests.get(record.requestId)) ?? record;
  if (!changed) throw notIn(after, 'CONFLICT', 'The request changed meanwhile; read it and try again');
  if (after.status === 'received') await startWorkflow(deps, after);
  return json(200, requestView(after, {}, now));
}

export async function recordVerification(
  deps: ApiDeps,
  caller: Caller,
  requestId: string,
  body: Validated<typeof recordVerificationSchema>,
): Promise<ApiResult> {
  const record = await loadRequest(deps, caller, requestId);
  // A repeated call after a lost answer (this very verification is recorded): answered as the request
  // stands now, however far it went since; one still `received` gets its workflow started.
  const recorded = record.verification;
  if (
    record.status !== 'awaiting_verification' &&
    recorded?.method === body.method &&
    recorded.verifiedBy === body.verifiedBy &&
    recorded.evidenceRef === body.evidenceRef
  ) {
    if (record.status === 'received') await startWorkflow(deps, record);
    return view(deps, requestId, record);
  }
  if (record.status !== 'awaiting_verification')
    throw notIn(record, 'NOT_AWAITING_VERIFICATION', 'This request is not waiting for identity verification');
  const rule = verificationRuleFor(record.service, record.type, record.requester?.kind ?? 'subject');
  if (!acceptsMethod(rule, body.method)) {
    throw new ApiError(
      422,
      'VERIFICATION_METHOD_NOT_ACCEPTED',
      `This service accepts, for this request: ${(rule?.methods ?? []).join(', ')}`,
    );
  }
  const now = clockOf(deps);
  const verifiedAt = body.verifiedAt ? new Date(body.verifiedAt) : now;
  if (verifiedAt.getTime() > now.getTime() + 5 * 60_000)
    throw new ApiError(400, 'INVALID_FIELD', 'verifiedAt is in the future', { pointer: '/verifiedAt' });
  const verification: VerificationRecord = {
    method: body.method,
    verifiedAt: verifiedAt.toISOString(),
    verifiedBy: body.verifiedBy,
    ...(body.evidenceRef ? { evidenceRef: body.evidenceRef } : {}),
    recordedBy: caller.principal.callerId,
    recordedAt: now.toISOString(),
  };
  const next = record.fee?.status === 'due' ? 'awaiting_payment' : 'received';
  return advance(
    deps,
    caller,
    record,
    next,
    { verification },
    {
      type: 'request.verified',
      detail: { method: body.method },
    },
  );
}

export async function recordFee(
  deps: ApiDeps,
  caller: Caller,
  requestId: string,
  body: Validated<typeof recordFeeSchema>,
): Promise<ApiResult> {
  const record = await loadRequest(deps, caller, requestId);
  if (record.status === 'received' && record.fee && record.fee.status === body.outcome) {
    await startWorkflow(deps, record);
    return view(deps, requestId, record);
  }
  const due = record.fee;
  if (record.status !== 'awaiting_payment' || !due)
    throw notIn(record, 'NOT_AWAITING_PAYMENT', 'This request is not waiting for a fee');
  let amount = due.amount;
  if (body.outcome === 'paid') {
    if (body.amount !== undefined && due.amount !== undefined && body.amount !== due.amount)
      throw new ApiError(422, 'FEE_AMOUNT_MISMATCH', `The fee is ${due.amount} ${due.currency}`);
    amount = body.amount ?? due.amount;
    if (amount === undefined)
      throw new ApiError(422, 'FEE_AMOUNT_REQUIRED', 'This service states no amount: give the amount paid');
  }
  const fee: FeeRecord = {
    status: body.outcome,
    currency: due.currency,
    ...(amount !== undefined ? { amount } : {}),
    ...(body.reference ? { reference: body.reference } : {}),
    ...(body.reason ? { reason: body.reason } : {}),
    recordedBy: caller.principal.callerId,
    recordedAt: clockOf(deps).toISOString(),
  };
  return advance(
    deps,
    caller,
    record,
    'received',
    { fee },
    {
      type: `request.fee_${body.outcome}`,
      detail: { currency: due.currency, ...(amount !== undefined ? { amount } : {}) },
    },
  );
}

export async function refuseRequest(
  deps: ApiDeps,
  caller: Caller,
  requestId: string,
  body: Validated<typeof refuseRequestSchema>,
): Promise<ApiResult> {
  const record = await loadRequest(deps, caller, requestId);
  if (record.status === 'refused') return view(deps, requestId, record);
  if (!['received', ...WAITING].includes(record.status))
    throw notIn(record, 'NOT_REFUSABLE', 'Only a request that has not started can be refused');
  try {
    checkGrounds(body, record, settingsOf(deps).deadlines);
  } catch (error) {
    throw groundsError(error);
  }
  const { principal } = caller;
  const refusal = { ...body, at: clockOf(deps).toISOString(), by: principal.callerId };
  const changed = await deps.requests.transition(
    requestId,
    'refused',
    { refusal },
    {
      actor: principal.callerId,
      role: principal.roles[0],
      event: {
        type: 'request.refused',
        detail: { reasonCode: body.reasonCode, legalGround: body.legalGround },
      },
    },
  );
  const after = (await deps.requests.get(requestId)) ?? record;
  if (!changed && after.status !== 'refused')
    throw notIn(after, 'NOT_REFUSABLE', 'The request started meanwhile; it can no longer be refused');
  return json(200, requestView(after, {}, clockOf(deps)));
}

export async function setExclusions(
  deps: ApiDeps,
  caller: Caller,
  requestId: string,
  body: Validated<typeof exclusionsSchema>,
): Promise<ApiResult> {
  const record = await loadRequest(deps, caller, requestId);
  if (record.type !== 'export')
    throw new ApiError(422, 'PARTIAL_NOT_SUPPORTED', 'Only an export can be answered in part');
  if (!WAITING.includes(record.status))
    throw notIn(
      record,
      'NOT_WAITING',
      'Parts can be left out only while the request waits, before it starts',
    );
  try {
    checkExclusions(body.exclusions, record, settingsOf(deps).deadlines);
  } catch (error) {
    throw groundsError(error);
  }
  if (storesAnswered(heldStores(serviceProfile(record.service)), body.exclusions).length === 0)
    throw new ApiError(422, 'NOTHING_LEFT', 'This leaves every store out: refuse the request instead');
  await deps.requests.update(
    requestId,
    { exclusions: body.exclusions },
    {
      type: 'request.exclusions_set',
      detail: { parts: body.exclusions.length },
    },
  );
  return view(deps, requestId, record);
}

const NOT_FOUND = "No such request (or another service's)";

export const requestProcedureRoutes: Route[] = [
  defineRoute({
    method: 'POST',
    path: '/v1/requests/{requestId}/verification',
    operationId: 'recordVerification',
    summary:
      "Record the requester's identity verification (method, when, by whom, evidence reference); starts the request",
    access: ['support'],
    requestSchema: recordVerificationSchema,
    responses: {
      '200': 'Recorded: the request waits for its fee (awaiting_payment) or has started (received)',
      '400': 'Invalid body (verifiedAt in the future: INVALID_FIELD)',
      '404': NOT_FOUND,
      '409': 'NOT_AWAITING_VERIFICATION (requestStatus says where it is); CONFLICT',
      '422': 'VERIFICATION_METHOD_NOT_ACCEPTED: the service does not accept that method for this requester',
    },
    handler: (deps, { principal, scope, params, body }) =>
      recordVerification(deps, { principal, scope }, params.requestId, body),
  }),
  defineRoute({
    method: 'POST',
    path: '/v1/requests/{requestId}/fee',
    operationId: 'recordFee',
    summary: 'Record the fee paid, or waived with a reason; starts the request',
    access: ['support'],
    requestSchema: recordFeeSchema,
    responses: {
      '200': 'Recorded: the request has started (received)',
      '400': 'Invalid body (waived without a reason: MISSING_FIELD)',
      '404': NOT_FOUND,
      '409': 'NOT_AWAITING_PAYMENT (requestStatus says where it is); CONFLICT',
      '422': 'FEE_AMOUNT_MISMATCH; FEE_AMOUNT_REQUIRED (the service states no amount)',
    },
    handler: (deps, { principal, scope, params, body }) =>
      recordFee(deps, { principal, scope }, params.requestId, body),
  }),
  defineRoute({
    method: 'POST',
    path: '/v1/requests/{requestId}/refuse',
    operationId: 'refuseRequest',
    summary:
      'Refuse a request that has not started, with a reason code and a legal ground; the person is told why and how to appeal',
    access: ['support'],
    requestSchema: refuseRequestSchema,
    responses: {
      '200': 'Refused (a repeated call returns the refused request)',
      '404': NOT_FOUND,
      '409': 'NOT_REFUSABLE: already started or finished (requestStatus says which)',
      '422':
        "LEGAL_GROUND_NOT_APPLICABLE: not a ground of the request's law for that reason; UNKNOWN_EXCEPTION",
    },
    handler: (deps, { principal, scope, params, body }) =>
      refuseRequest(deps, { principal, scope }, params.requestId, body),
  }),
  defineRoute({
    method: 'POST',
    path: '/v1/requests/{requestId}/exclusions',
    operationId: 'setExclusions',
    summary:
      'Leave stores or categories out of an export that has not started, each with a reason code and a legal ground',
    access: ['support'],
    requestSchema: exclusionsSchema,
    responses: {
      '200': 'Recorded: the archive will leave them out and its manifest will say so',
      '404': NOT_FOUND,
      '409': 'NOT_WAITING: only while the request waits for verification or payment',
      '422':
        'PARTIAL_NOT_SUPPORTED (not an export); STORE_NOT_HELD; UNKNOWN_CATEGORY; LEGAL_GROUND_NOT_APPLICABLE; UNKNOWN_EXCEPTION; NOTHING_LEFT',
    },
    handler: (deps, { principal, scope, params, body }) =>
      setExclusions(deps, { principal, scope }, params.requestId, body),
  }),
];
