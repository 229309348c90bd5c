/**
 * OpenDSR (OpenGDPR / OpenCompliance) as a second dialect over the same engine as /v1/requests:
 * `access` and `portability` open an export, `erasure` an erasure (refused until its workflow exists).
 * Identities: `controller_customer_id` (our user id) and `email`, in `raw` format. An email in `sha256`
 * format is refused (UnsupportedIdentityFormat): the accounts table is indexed by the email itself and
 * our subject hashes are keyed HMACs, so an unkeyed SHA-256 could only be matched by hashing every
 * account's email, a scan of the platform's table per request. Responses and callbacks are signed with
 * the archive signing key (see docs/api.md).
 */
import type { RequestRecord, RequestType, SubjectInput } from '../../lib/requests/records';
import { openDsrStatus, resultsUrl } from '../../lib/requests/opendsr-status';
import { OPENDSR_DOMAIN_HEADER, openDsrSignatureHeaders } from '../../lib/webhooks/signing';
import { ROLES } from '../auth';
import { boundServices, canSee, serviceFor, serviceOf } from '../caller-services';
import type { Caller } from '../request-lookup';
import type { ApiDeps } from '../deps';
import { ApiError, type ApiEvent, type ApiResult } from '../http';
import { notFound } from '../path-params';
import { cancelRecord } from '../request-cancelling';
import { openRequest, supportsType } from '../request-opening';
import { clockOf, settingsOf } from '../request-settings';
import { defineRoute, type Route } from '../router';
import { openDsrCreateSchema, type OpenDsrCreateBody } from '../schemas';

const API_VERSION = '1.0';

const TYPES: Record<OpenDsrCreateBody['subject_request_type'], RequestType> = {
  access: 'export',
  portability: 'export',
  erasure: 'erasure',
};

/** Where this API is reachable, for URLs in OpenDSR bodies. */
export function publicBaseUrl(deps: ApiDeps, event: ApiEvent): string {
  const configured = settingsOf(deps).publicApiUrl;
  if (configured) return configured.replace(/\/$/, '');
  const host = event.requestContext.domainName || 'localhost';
  const local = /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host);
  return `${local ? 'http' : 'https'}://${host}`;
}

/** A signed OpenDSR response: X-OpenDSR-Signature over the exact body bytes sent. */
async function signedJson(deps: ApiDeps, statusCode: number, body: unknown): Promise<ApiResult> {
  const raw = Buffer.from(JSON.stringify(body), 'utf8');
  const { processorDomain } = settingsOf(deps);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    [OPENDSR_DOMAIN_HEADER]: processorDomain,
    ...(await openDsrSignatureHeaders(raw, deps.signer, processorDomain)),
  };
  return { statusCode, headers, body: raw.toString('utf8') };
}

/** How long a signed discovery answer is served again before it is signed anew. */
const DISCOVERY_CACHE_MS = 5 * 60_000;
const signedDiscovery = new WeakMap<ApiDeps, Map<string, { at: number; result: Promise<ApiResult> }>>();

/**
 * The discovery document is the same for every caller of one host: signed once and served from memory
 * for a few minutes, so calling it (public, unauthenticated) never costs a KMS call each time.
 */
export async function discovery(deps: ApiDeps, event: ApiEvent): Promise<ApiResult> {
  const key = publicBaseUrl(deps, event);
  const now = Date.now();
  let byHost = signedDiscovery.get(deps);
  if (!byHost) signedDiscovery.set(deps, (byHost = new Map()));
  let cached = byHost.get(key);
  if (!cached || now - cached.at >= DISCOVERY_CACHE_MS) {
    // Bounded: one entry per host name the API answers under.
    if (byHost.size >= 16) byHost.clear();
    const hosts = byHost;
    cached = { at: now, result: signDiscovery(deps, event) };
    hosts.set(key, cached);
    cached.result.catch(() => hosts.delete(key));
  }
  const result = await cached.result;
  return { ...result, headers: { ...result.headers } };
}

async function signDiscovery(deps: ApiDeps, event: ApiEvent): Promise<ApiResult> {
  const types = (Object.keys(TYPES) as (keyof typeof TYPES)[]).filter((t) => supportsType(deps, TYPES[t]));
  return signedJson(deps, 200, {
    api_version: API_VERSION,
    supported_identities: [
      { identity_type: 'controller_customer_id', identity_format: 'raw' },
      { identity_type: 'email', identity_format: 'raw' },
    ],
    supported_subject_request_types: types,
    // A JWKS, not an X.509 certificate: see docs/api.md (OpenDSR signatures).
    processor_certificate: `${publicBaseUrl(deps, event)}/.well-known/jwks.json`,
  });
}

function subjectOf(body: OpenDsrCreateBody): SubjectInput {
  const usable = body.subject_identities.filter(
    (i) => i.identity_type === 'controller_customer_id' || i.identity_type === 'email',
  );
  const raw = usable.find((i) => i.identity_format === 'raw');
  if (!raw) {
    throw usable.length
      ? new ApiError(400, 'UnsupportedIdentityFormat', 'Only raw identities can be matched to an account')
      : new ApiError(400, 'UnsupportedIdentity', 'Send a controller_customer_id or an email identity');
  }
  return raw.identity_type === 'email' ? { email: raw.identity_value } : { userId: raw.identity_value };
}

function statusBody(record: RequestRecord, base: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    controller_id: record.createdBy ?? 'unknown',
    expected_completion_time: record.dueAt,
    subject_request_id: record.externalId,
    request_status: openDsrStatus(record.status),
    api_version: API_VERSION,
  };
  const results = resultsUrl(record, base);
  if (results) body.results_url = results;
  if (record.status === 'failed') body.processor_status = 'failed';
  return body;
}

export async function createOpenDsr(
  deps: ApiDeps,
  event: ApiEvent,
  { principal, scope }: Caller,
  body: OpenDsrCreateBody,
): Promise<ApiResult> {
  const service = serviceFor(principal, body.service);
  scope.service = service;
  const type = TYPES[body.subject_request_type];
  if (!supportsType(deps, type)) {
    throw new ApiError(
      400,
      'UnsupportedRequestType',
      `subject_request_type ${body.subject_request_type} is not supported yet`,
    );
  }
  const subject = subjectOf(body);
  const receivedTime = clockOf(deps).toISOString();
  const result = await openRequest(
    deps,
    {
      type,
      service,
      subject,
      jurisdiction: body.regulation === 'ccpa' ? 'US-CA' : body.regulation === 'gdpr' ? 'EU' : undefined,
      callbackUrls: body.status_callback_urls,
      dialect: 'opendsr',
      externalId: body.subject_request_id,
      principal,
      // The controller's own id makes the call idempotent across retries; each service's controller
      // has ids of its own.
      idempotency: { scope: `opendsr#${service}`, key: body.subject_request_id, body },
    },
    // Stored for replays without encoded_request: the specification says not to keep the request body.
    (record) => ({
      statusCode: 201,
      body: JSON.stringify({
        controller_id: principal.callerId,
        expected_completion_time: record.dueAt,
        received_time: receivedTime,
        subject_request_id: body.subject_request_id,
      }),
    }),
  );
  if (result.kind === 'duplicate') {
    throw new ApiError(409, 'DuplicateRequest', 'An open request of this type for this subject exists', {
      subject_request_id: result.record.externalId,
    });
  }
  const stored =
    result.kind === 'replayed'
      ? (JSON.parse(result.response.body) as Record<string, unknown>)
      : {
          controller_id: principal.callerId,
          expected_completion_time: result.record.dueAt,
          received_time: receivedTime,
          subject_request_id: body.subject_request_id,
        };
  const rawRequest = event.body
    ? event.isBase64Encoded
      ? event.body
      : Buffer.from(event.body).toString('base64')
    : '';
  return signedJson(deps, 201, { ...stored, encoded_request: rawRequest });
}

/** The request a subject_request_id names at one of the caller's services; 404 like any unknown id. */
async function loadBySrid(deps: ApiDeps, { principal, scope }: Caller, srid: string): Promise<RequestRecord> {
  const record = await deps.requests.findByExternalId('opendsr', srid, boundServices(principal));
  if (!record || !canSee(principal, record)) throw notFound('subjectRequestId');
  scope.service = serviceOf(record);
  return record;
}

export async function cancelOpenDsr(deps: ApiDeps, caller: Caller, srid: string): Promise<ApiResult> {
  const { principal } = caller;
  const record = await loadBySrid(deps, caller, srid);
  try {
    await cancelRecord(deps, principal, record);
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      throw new ApiError(400, 'NotCancellable', 'Only a pending request can be cancelled');
    }
    throw error;
  }
  return signedJson(deps, 202, {
    controller_id: record.createdBy ?? principal.callerId,
    subject_request_id: srid,
    received_time: clockOf(deps).toISOString(),
    api_version: API_VERSION,
  });
}

export const openDsrRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/opendsr/v1/discovery',
    operationId: 'openDsrDiscovery',
    summary: 'OpenDSR discovery: identities, request types, where the signing keys are',
    access: 'public',
    dialect: 'opendsr',
    responses: { '200': 'Discovery document' },
    handler: (deps, { event }) => discovery(deps, event),
  }),
  defineRoute({
    method: 'POST',
    path: '/opendsr/v1/requests',
    operationId: 'openDsrCreate',
    summary: 'OpenDSR request (access/portability -> export, erasure -> erasure)',
    access: ['support'],
    dialect: 'opendsr',
    requestSchema: openDsrCreateSchema,
    responses: {
      '201': 'Created',
      '400': 'Invalid or unsupported (OpenDSR error shape); SERVICE_REQUIRED: name the service',
      '403': 'SERVICE_NOT_ALLOWED: the token is not bound to the service named',
      '409':
        'An open request of this type exists for the subject, or its identifiers match more than one account',
      '422': 'The subject_request_id was used before with a different body',
    },
    handler: (deps, { event, principal, scope, body }) =>
      createOpenDsr(deps, event, { principal, scope }, body),
  }),
  defineRoute({
    method: 'GET',
    path: '/opendsr/v1/requests/{subjectRequestId}',
    operationId: 'openDsrStatus',
    summary: 'OpenDSR status: pending | in_progress | completed | cancelled',
    access: ROLES,
    dialect: 'opendsr',
    responses: { '200': 'Status', '404': "No such request (or another service's)" },
    handler: async (deps, { event, principal, scope, params }) =>
      signedJson(
        deps,
        200,
        statusBody(
          await loadBySrid(deps, { principal, scope }, params.subjectRequestId),
          publicBaseUrl(deps, event),
        ),
      ),
  }),
  defineRoute({
    method: 'DELETE',
    path: '/opendsr/v1/requests/{subjectRequestId}',
    operationId: 'openDsrCancel',
    summary: 'OpenDSR cancellation (while pending)',
    access: ['support'],
    dialect: 'opendsr',
    responses: { '202': 'Cancelled', '404': "No such request (or another service's)" },
    handler: (deps, { principal, scope, params }) =>
      cancelOpenDsr(deps, { principal, scope }, params.subjectRequestId),
  }),
];
