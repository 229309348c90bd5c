/**
 * /v1/requests: open, read, list, cancel and extend export and erasure requests. The engine here
 * (`openRequest`) is shared with the OpenDSR dialect (routes/opendsr.ts).
 */
import {
  daysLeft,
  dueAtFor,
  isOpenStatus,
  isOverdue,
  maxExtendedDueAt,
  ruleFor,
  DEFAULT_DEADLINE_CONFIG,
} from '../../lib/requests/deadlines';
import { errorFields, log } from '../../lib/runtime/logger';
import type {
  Dialect,
  RequestRecord,
  RequestStatus,
  RequestType,
  Requester,
  SubjectInput,
} from '../../lib/requests/records';
import type { StoredResponse } from '../../lib/requests/idempotency';
import { identifierKey } from '../../lib/crypto/subject-hash';
import { callbackUrlProblem } from '../../lib/webhooks/url-policy';
import { loadDefaultPolicy } from '../../lib/erasure/policy';
import { principalOf, requireRole, type Principal, type Role } from '../auth';
import type { ApiDeps, RequestSettings } from '../deps';
import { ApiError, headerOf, json, parseJsonBody, queryOf, type ApiEvent, type ApiResult } from '../http';
import type { Route } from '../router';
import {
  createRequestSchema,
  extendRequestSchema,
  parseCreateRequest,
  parseExtendRequest,
  type CreateRequestBody,
} from '../schemas';
import { downloadFields, type DownloadFields } from './downloads';
import { erasureView } from '../../lib/erasure/certificate';
import { isRequestId } from '../../lib/requests/request-id';

const STATUSES: readonly RequestStatus[] = [
  'received',
  'in_progress',
  'completed',
  'partially_completed',
  'failed',
  'cancelled',
];
const READERS: readonly Role[] = ['support', 'legal', 'auditor'];

export const DEFAULT_REQUEST_SETTINGS: RequestSettings = {
  deadlines: DEFAULT_DEADLINE_CONFIG,
  // The shortest deadline we know (Korea, 10 days) when nothing names a jurisdiction: never late by default.
  defaultJurisdiction: 'KR',
  allowPrivateCallbacks: false,
  processorDomain: 'dsr.example',
};

export function settingsOf(deps: ApiDeps): RequestSettings {
  return { ...DEFAULT_REQUEST_SETTINGS, ...(deps.settings ?? {}) };
}

export const clockOf = (deps: ApiDeps): Date => (deps.clock ?? (() => new Date()))();

export function identifierOf(subject: SubjectInput): string {
  if ('userId' in subject) return identifierKey('userId', subject.userId);
  if ('email' in subject) return identifierKey('email', subject.email);
  if ('phone' in subject) return identifierKey('phone', subject.phone);
  if ('deviceId' in subject) return identifierKey('deviceId', subject.deviceId);
  const { provider, providerUserId } = subject.externalAccount;
  return identifierKey('externalAccount', `${provider}:${providerUserId}`);
}

/** What callers see of a request: never the subject's identifiers (nor the callback URLs, which may hold tokens). */
export function requestView(
  record: RequestRecord,
  download: DownloadFields = {},
  now: Date = new Date(),
): Record<string, unknown> {
  const view: Record<string, unknown> = {
    requestId: record.requestId,
    type: record.type,
    status: record.status,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    subjectHash: record.subjectHash,
  };
  if (record.policyVersion) view.policyVersion = record.policyVersion;
  if (record.jurisdiction) view.jurisdiction = record.jurisdiction;
  if (record.dueAt) {
    view.dueAt = record.dueAt;
    view.regime = ruleFor(record.jurisdiction ?? '').regime;
    if (isOpenStatus(record.status)) view.daysLeft = daysLeft(record.dueAt, now);
    view.overdue = isOverdue(record.status, record.dueAt, now);
  }
  if (record.extension)
    view.extension = {
      reason: record.extension.reason,
      previousDueAt: record.extension.previousDueAt,
      at: record.extension.at,
    };
  if (record.requester) view.requester = record.requester;
  if (record.callbackUrls) view.callbacks = record.callbackUrls.length;
  if (record.notify) view.notify = true;
  if (record.subjectFound !== undefined) view.subjectFound = record.subjectFound;
  if (record.subjectFound === false) {
    view.notice = 'No account matched the identifier: the archive is valid and holds no personal data.';
  }
  if (record.failure) view.failure = record.failure;
  if (record.export) {
    const { key, bytes, sha256, files, records } = record.export;
    view.export = { key, bytes, sha256, files, records };
  }
  // Issue 4: an erasure's plan, outcome, runs, processors' answers and certificate (no personal data).
  const erasure = erasureView(record);
  if (erasure) view.erasure = erasure;
  // The download link (issue 6): the URL is a credential, so only support callers are given it.
  if (download.download) view.download = download.download;
  if (download.downloadUrl) view.downloadUrl = download.downloadUrl;
  return view;
}

/** JSON with sorted keys: equal bodies give equal fingerprints whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface OpenCommand {
  type: RequestType;
  subject: SubjectInput;
  jurisdiction?: string;
  requester?: Requester;
  callbackUrls?: string[];
  /** Export only: email the download link to the subject (the OpenDSR dialect never sets it). */
  notify?: boolean;
  dialect: Dialect;
  externalId?: string;
  principal: Principal;
  /** Idempotency: scope (caller or dialect) and key; `body` is what a replay must match. */
  idempotency?: { scope: string; key: string; body: unknown };
}

export type OpenResult =
  { kind: 'created' | 'duplicate'; record: RequestRecord } | { kind: 'replayed'; response: StoredResponse };

/** Checks callback URLs against the address policy; the code says what is wrong, never echoing the URL. */
export function checkCallbackUrls(deps: ApiDeps, urls: string[] | undefined): void {
  const { allowPrivateCallbacks } = settingsOf(deps);
  for (const [i, url] of (urls ?? []).entries()) {
    const problemCode = callbackUrlProblem(url, allowPrivateCallbacks);
    if (problemCode)
      throw new ApiError(400, problemCode, `callbackUrls.${i} is not an acceptable callback URL`);
  }
}

/** The one way a request is opened, whatever the dialect. */
export async function openRequest(
  deps: ApiDeps,
  command: OpenCommand,
  render: (record: RequestRecord) => StoredResponse,
): Promise<OpenResult> {
  const supported = deps.workflows.supports
    ? deps.workflows.supports(command.type)
    : command.type === 'export';
  if (!supported) {
    throw new ApiError(501, 'UNSUPPORTED_TYPE', `Requests of type ${command.type} are not available yet`);
  }
  checkCallbackUrls(deps, command.callbackUrls);
  const settings = settingsOf(deps);
  const now = clockOf(deps);
  let jurisdiction = command.jurisdiction;
  let source: RequestRecord['jurisdictionSource'] = 'request';
  if (!jurisdiction) {
    jurisdiction = await deps.accounts.countryOf(command.subject);
    source = jurisdiction ? 'account' : 'default';
    jurisdiction ??= settings.defaultJurisdiction;
  }
  const subjectHash = await deps.hasher.hash(identifierOf(command.subject));
  const idempotency = command.idempotency
    ? {
        scope: command.idempotency.scope,
        key: command.idempotency.key,
        // Keyed, so the stored fingerprint of a body holding an email reveals nothing.
        fingerprint: await deps.hasher.hash(`idempotency:${canonical(command.idempotency.body)}`),
        render,
      }
    : undefined;
  const outcome = await deps.requests.open(
    {
      requestId: deps.requests.newRequestId(),
      type: command.type,
      policyVersion: loadDefaultPolicy().version,
      subject: command.subject,
      subjectHash,
      jurisdiction,
      jurisdictionSource: source,
      dueAt: dueAtFor(jurisdiction, now, settings.deadlines).toISOString(),
      requester: command.requester ?? { kind: 'subject' },
      callbackUrls: command.callbackUrls,
      // Stored only when asked for: absent means no email.
      notify: command.notify ? true : undefined,
      dialect: command.dialect,
      externalId: command.externalId,
      createdBy: command.principal.callerId,
      role: command.principal.roles[0],
    },
    idempotency,
  );
  switch (outcome.outcome) {
    case 'idempotency-mismatch':
      throw new ApiError(
        422,
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was used with a different body; use a new key for a new request',
      );
    case 'replayed': {
      await resume(deps, outcome.requestId);
      return { kind: 'replayed', response: outcome.response };
    }
    case 'duplicate':
      await resume(deps, outcome.record.requestId, outcome.record);
      return { kind: 'duplicate', record: outcome.record };
    case 'created':
      await startWorkflow(deps, outcome.record);
      return { kind: 'created', record: outcome.record };
  }
}

async function startWorkflow(deps: ApiDeps, record: RequestRecord): Promise<void> {
  try {
    await deps.workflows.start(record.requestId, record.type);
  } catch (error) {
    log.error('workflow start failed', { requestId: record.requestId, ...errorFields(error) });
    throw new ApiError(
      503,
      'WORKFLOW_START_FAILED',
      'The request was recorded but could not be started; retry the same call to resume it',
      { requestId: record.requestId },
    );
  }
}

/** A retried or duplicate create re-starts a request still waiting (starting twice is a no-op). */
async function resume(deps: ApiDeps, requestId: string, known?: RequestRecord): Promise<void> {
  const record = known ?? (await deps.requests.get(requestId));
  if (record?.status === 'received') await startWorkflow(deps, record);
}

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,128}$/;

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

export async function createRequest(deps: ApiDeps, event: ApiEvent): Promise<ApiResult> {
  const principal = principalOf(event);
  requireRole(principal, ['support']);
  const key = idempotencyKeyOf(event);
  const body: CreateRequestBody = parseCreateRequest(parseJsonBody(event));
  const render = (record: RequestRecord): StoredResponse => ({
    statusCode: 202,
    body: JSON.stringify(requestView(record, {}, clockOf(deps))),
  });
  const result = await openRequest(
    deps,
    {
      ...body,
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

async function loadRequest(deps: ApiDeps, requestId: string): Promise<RequestRecord> {
  if (!isRequestId(requestId)) throw new ApiError(404, 'REQUEST_NOT_FOUND', 'No such request');
  const record = await deps.requests.get(requestId);
  if (!record) throw new ApiError(404, 'REQUEST_NOT_FOUND', 'No such request');
  return record;
}

export async function getRequest(deps: ApiDeps, event: ApiEvent, requestId: string): Promise<ApiResult> {
  const principal = principalOf(event);
  requireRole(principal, READERS);
  const record = await loadRequest(deps, requestId);
  const { downloadUrl, download } = await downloadFields(deps, record);
  return json(
    200,
    requestView(
      record,
      principal.roles.includes('support') ? { downloadUrl, download } : { download },
      clockOf(deps),
    ),
  );
}

export async function listEvents(deps: ApiDeps, event: ApiEvent, requestId: string): Promise<ApiResult> {
  requireRole(principalOf(event), READERS);
  await loadRequest(deps, requestId);
  return json(200, { requestId, events: await deps.events.list(requestId) });
}

/** Cursors are opaque to callers: base64url of the last key, checked field by field when it comes back. */
export function encodeCursor(key: Record<string, string> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key), 'utf8').toString('base64url') : undefined;
}

export function decodeCursor(
  raw: string | undefined,
  allowed: readonly string[],
): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  const bad = () => new ApiError(400, 'INVALID_CURSOR', 'The cursor is not one this API issued');
  if (raw.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad();
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length === 0) throw bad();
  for (const [k, v] of entries) {
    if (!allowed.includes(k) || typeof v !== 'string' || v.length > 512) throw bad();
  }
  return parsed as Record<string, string>;
}

function isoParam(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (
    value.length > 40 ||
    !/^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) ||
    Number.isNaN(Date.parse(value))
  ) {
    throw new ApiError(400, 'INVALID_PARAMETER', `${name} must be an ISO 8601 date or date-time`);
  }
  return new Date(value).toISOString();
}

function limitParam(value: string | undefined): number {
  if (value === undefined) return 50;
  const n = Number(value);
  if (!/^\d{1,3}$/.test(value) || n < 1 || n > 100) {
    throw new ApiError(400, 'INVALID_PARAMETER', 'limit must be a whole number from 1 to 100');
  }
  return n;
}

function rejectUnknownParams(query: Record<string, string>, known: readonly string[]): void {
  const unknown = Object.keys(query).find((k) => !known.includes(k));
  if (unknown)
    throw new ApiError(400, 'UNKNOWN_PARAMETER', `Unknown query parameter: ${unknown.slice(0, 64)}`);
}

const LIST_PARAMS = [
  'status',
  'type',
  'subjectHash',
  'overdue',
  'createdFrom',
  'createdTo',
  'limit',
  'cursor',
] as const;

export async function listRequests(deps: ApiDeps, event: ApiEvent): Promise<ApiResult> {
  requireRole(principalOf(event), READERS);
  const query = queryOf(event);
  rejectUnknownParams(query, LIST_PARAMS);
  const statuses = query.status?.split(',').map((s) => s.trim());
  if (
    statuses &&
    (statuses.length > STATUSES.length || statuses.some((s) => !STATUSES.includes(s as RequestStatus)))
  ) {
    throw new ApiError(400, 'INVALID_PARAMETER', `status must be among: ${STATUSES.join(', ')}`);
  }
  if (query.type !== undefined && query.type !== 'export' && query.type !== 'erasure') {
    throw new ApiError(400, 'INVALID_PARAMETER', 'type must be export or erasure');
  }
  if (query.subjectHash !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(query.subjectHash)) {
    throw new ApiError(400, 'INVALID_PARAMETER', 'subjectHash must be a subject hash this API returned');
  }
  if (query.overdue !== undefined && query.overdue !== 'true' && query.overdue !== 'false') {
    throw new ApiError(400, 'INVALID_PARAMETER', 'overdue must be true or false');
  }
  const now = clockOf(deps);
  const { records, lastKey } = await deps.requests.list(
    {
      statuses: statuses as RequestStatus[] | undefined,
      type: query.type as RequestType | undefined,
      subjectHash: query.subjectHash,
      overdue: query.overdue === undefined ? undefined : query.overdue === 'true',
      createdFrom: isoParam('createdFrom', query.createdFrom),
      createdTo: isoParam('createdTo', query.createdTo),
      limit: limitParam(query.limit),
      cursor: decodeCursor(query.cursor, ['pk', 'sk', 'kind', 'createdAt', 'subjectHash']),
    },
    now,
  );
  return json(200, {
    requests: records.map((r) => requestView(r, {}, now)),
    nextCursor: encodeCursor(lastKey) ?? null,
  });
}

/** Cancels a request that has not started changing anything; says precisely why when it cannot. */
export async function cancelRecord(
  deps: ApiDeps,
  principal: Principal,
  record: RequestRecord,
): Promise<RequestRecord> {
  if (record.status === 'cancelled') return record;
  if (record.status === 'received') {
    const changed = await deps.requests.transition(
      record.requestId,
      'cancelled',
      {},
      {
        actor: principal.callerId,
        role: principal.roles[0],
        event: { type: 'request.cancelled', detail: { by: 'api' } },
      },
    );
    const after = (await deps.requests.get(record.requestId)) ?? record;
    if (changed || after.status === 'cancelled') return after;
    return cancelRecord(deps, principal, after);
  }
  if (record.status === 'in_progress') {
    if (record.type === 'erasure') {
      throw new ApiError(
        409,
        'ERASURE_IN_PROGRESS',
        'This erasure is already changing stores; it cannot be cancelled halfway and will run to completion',
        { status: record.status },
      );
    }
    throw new ApiError(409, 'NOT_CANCELLABLE', 'This request is already being processed', {
      status: record.status,
    });
  }
  throw new ApiError(409, 'ALREADY_FINISHED', 'This request has already finished', { status: record.status });
}

export async function cancelRequest(deps: ApiDeps, event: ApiEvent, requestId: string): Promise<ApiResult> {
  const principal = principalOf(event);
  requireRole(principal, ['support']);
  const record = await cancelRecord(deps, principal, await loadRequest(deps, requestId));
  return json(200, requestView(record, {}, clockOf(deps)));
}

export async function extendRequest(deps: ApiDeps, event: ApiEvent, requestId: string): Promise<ApiResult> {
  const principal = principalOf(event);
  requireRole(principal, ['support']);
  const body = parseExtendRequest(parseJsonBody(event));
  const record = await loadRequest(deps, requestId);
  const now = clockOf(deps);
  if (!isOpenStatus(record.status)) {
    throw new ApiError(409, 'NOT_OPEN', 'Only an open request can have its deadline extended', {
      status: record.status,
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

const ID_PARAM = '([^/]+)';

export const requestRoutes: Route[] = [
  {
    method: 'POST',
    pattern: /^\/v1\/requests$/,
    path: '/v1/requests',
    operationId: 'createRequest',
    summary:
      'Open an export or erasure request (Idempotency-Key supported; a duplicate returns the open one)',
    access: ['support'],
    requestSchema: createRequestSchema,
    responses: {
      '200': 'An open request of this type for this subject already exists (duplicate: true)',
      '202': 'Accepted: the workflow has started',
      '422': 'Idempotency-Key reused with a different body',
      '501': 'No workflow exists for this type yet',
    },
    handler: (deps, event) => createRequest(deps, event),
  },
  {
    method: 'GET',
    pattern: /^\/v1\/requests$/,
    path: '/v1/requests',
    operationId: 'listRequests',
    summary: 'List requests, newest first, with filters and cursor paging',
    access: READERS,
    query: [
      { name: 'status', description: 'Comma-separated statuses', schema: { type: 'string', maxLength: 200 } },
      {
        name: 'type',
        description: 'export or erasure',
        schema: { type: 'string', enum: ['export', 'erasure'] },
      },
      {
        name: 'subjectHash',
        description: 'The subjectHash a request returned',
        schema: { type: 'string', maxLength: 43 },
      },
      {
        name: 'overdue',
        description: 'Only (or no) overdue requests',
        schema: { type: 'string', enum: ['true', 'false'] },
      },
      { name: 'createdFrom', description: 'ISO 8601, inclusive', schema: { type: 'string', maxLength: 40 } },
      { name: 'createdTo', description: 'ISO 8601, inclusive', schema: { type: 'string', maxLength: 40 } },
      {
        name: 'limit',
        description: '1-100, default 50',
        schema: { type: 'integer', minimum: 1, maximum: 100 },
      },
      {
        name: 'cursor',
        description: 'nextCursor of the previous page',
        schema: { type: 'string', maxLength: 2048 },
      },
    ],
    responses: { '200': 'A page of requests' },
    handler: (deps, event) => listRequests(deps, event),
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/v1/requests/${ID_PARAM}$`),
    path: '/v1/requests/{requestId}',
    operationId: 'getRequest',
    summary: 'A request: status, deadline (days left, overdue), archive',
    access: READERS,
    responses: { '200': 'The request' },
    handler: (deps, event, [id]) => getRequest(deps, event, id ?? ''),
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/v1/requests/${ID_PARAM}/events$`),
    path: '/v1/requests/{requestId}/events',
    operationId: 'listRequestEvents',
    summary: "A request's append-only event history (status changes, callback deliveries)",
    access: READERS,
    responses: { '200': 'The events, oldest first' },
    handler: (deps, event, [id]) => listEvents(deps, event, id ?? ''),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/v1/requests/${ID_PARAM}/cancel$`),
    path: '/v1/requests/{requestId}/cancel',
    operationId: 'cancelRequest',
    summary: 'Cancel a request that has not started (an erasure under way cannot be cancelled)',
    access: ['support'],
    responses: { '200': 'Cancelled', '409': 'Already under way or finished' },
    handler: (deps, event, [id]) => cancelRequest(deps, event, id ?? ''),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/v1/requests/${ID_PARAM}/extend$`),
    path: '/v1/requests/{requestId}/extend',
    operationId: 'extendRequest',
    summary: 'Extend the deadline once, with a recorded reason, as far as the jurisdiction allows',
    access: ['support'],
    requestSchema: extendRequestSchema,
    responses: { '200': 'Extended', '409': 'Not open, already extended, or no extension allowed' },
    handler: (deps, event, [id]) => extendRequest(deps, event, id ?? ''),
  },
];
