/**
 * Success bodies: one schema constant per response, and RESPONSE_SCHEMAS naming, per operation and
 * status, the one its JSON body matches. The OpenAPI document (openapi.ts) declares them as components
 * and the contract test validates every 2xx/3xx JSON answer against them. Closed
 * (`additionalProperties: false`) wherever the server builds the object field by field, so a field the
 * document does not name (a leaked attribute, a new one not declared) fails the contract test. Documents
 * the server passes through whole (the policy, a certificate's payload, a job's result, the OpenAPI
 * document itself) are typed as objects and described where they are defined.
 */
import { REQUEST_ID_PATTERN } from '../lib/requests/request-id';
import { REQUEST_STATUSES } from '../lib/requests/records';
import { REASON_CODES, VERIFICATION_METHODS } from '../lib/procedures/records';
import { CONSENT_NAMES, RESTRICTION_ACTIONS, RESTRICTION_KINDS } from '../lib/restrictions/kinds';

const text = { type: 'string' } as const;
const integer = { type: 'integer' } as const;
const boolean = { type: 'boolean' } as const;
const instant = { type: 'string', format: 'date-time' } as const;
const nullable = <S extends { type: string }>(schema: S) =>
  ({ ...schema, type: [schema.type, 'null'] }) as const;
const requestId = { type: 'string', pattern: REQUEST_ID_PATTERN } as const;
const jws = { type: 'string', pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*$' } as const;
/** Non-personal details of an event or audit entry: codes, statuses, counts, store names. */
const scalarDetail = {
  type: 'object',
  additionalProperties: { type: ['string', 'number', 'boolean'] },
} as const;

function closed(
  properties: Record<string, unknown>,
  required: readonly string[] = Object.keys(properties),
): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, required: [...required], properties };
}

// ---------------------------------------------------------------------------------------------
// Requests

/** A download link as a request shows it (functions/lib/downloads/download-links.ts downloadView). */
export const downloadViewSchema = closed(
  {
    status: { type: 'string', enum: ['active', 'expired', 'revoked', 'exhausted'] },
    expiresAt: instant,
    maxDownloads: integer,
    downloadsRemaining: integer,
    revokedAt: instant,
  },
  ['status', 'expiresAt', 'maxDownloads', 'downloadsRemaining'],
);

/** An erasure's part of a request (functions/lib/erasure/certificate.ts erasureView; docs/erasure.md). */
export const erasureViewSchema = closed(
  {
    policy: closed({ version: text, hash: text }),
    jurisdiction: { type: 'object' },
    plan: {
      type: 'object',
      required: ['plannedAt', 'summary', 'entries'],
      properties: {
        plannedAt: text,
        summary: { type: 'object' },
        nextStepAt: nullable(text),
        entries: {
          type: 'array',
          items: {
            type: 'object',
            required: ['store', 'category', 'action'],
            properties: {
              store: text,
              category: text,
              action: { type: 'string', enum: ['delete', 'anonymise', 'retain', 'held', 'none'] },
              count: integer,
              liveAction: { type: 'string', enum: ['delete', 'anonymise'] },
              retention: { type: 'object' },
              holds: { type: 'array' },
            },
            additionalProperties: false,
          },
        },
      },
      additionalProperties: false,
    },
    outcome: { type: 'array', items: { type: 'object' } },
    runs: { type: 'array', items: { type: 'object' } },
    processors: { type: 'array', items: { type: 'object' } },
    nextStepAt: nullable(text),
    heldBy: { type: 'array', items: text },
    certificate: closed({ number: integer, issuedAt: instant, kid: text, sha256: text, href: text }),
  },
  [],
);

/** Why support did not do (all of) what was asked (functions/lib/procedures/records.ts Grounds). */
const groundsProperties = {
  reasonCode: { type: 'string', enum: [...REASON_CODES] },
  legalGround: text,
  exception: text,
};

/** A restriction request's kind and action, then what was done (functions/lib/restrictions/types.ts). */
const restrictionViewSchema = closed(
  {
    kind: { type: 'string', enum: [...RESTRICTION_KINDS] },
    action: { type: 'string', enum: [...RESTRICTION_ACTIONS] },
    outcome: { type: 'string', enum: ['in_place', 'lifted', 'not_in_place', 'no_account'] },
    consents: closed(Object.fromEntries(CONSENT_NAMES.map((name) => [name, boolean])), []),
    recipients: {
      type: 'array',
      items: closed(
        {
          recipientId: text,
          name: text,
          processorId: text,
          status: { type: 'string', enum: ['acknowledged', 'unreachable', 'not_configured'] },
          httpStatus: integer,
          reason: text,
          attempts: integer,
          at: instant,
        },
        ['recipientId', 'name', 'status', 'attempts', 'at'],
      ),
    },
    appliedAt: instant,
    appliedByRequestId: requestId,
    liftedAt: instant,
    liftedByRequestId: requestId,
  },
  ['kind', 'action'],
);

/** An export transmitted to another controller: the recipient's host only, never its URL. */
const transferViewSchema = closed(
  {
    recipientHost: text,
    status: { type: 'string', enum: ['delivered', 'undelivered', 'revoked'] },
    sentAt: instant,
    httpStatus: integer,
    reason: text,
    attempts: integer,
    expiresAt: instant,
    downloadedAt: instant,
    revokedAt: instant,
  },
  ['recipientHost'],
);

const requestViewProperties = {
  requestId,
  type: { type: 'string', enum: ['export', 'erasure', 'restriction'] },
  status: { type: 'string', enum: [...REQUEST_STATUSES] },
  createdAt: instant,
  updatedAt: instant,
  subjectHash: text,
  service: text,
  policyVersion: text,
  jurisdiction: text,
  dueAt: instant,
  regime: text,
  daysLeft: integer,
  overdue: boolean,
  extension: closed({ reason: text, previousDueAt: instant, at: instant }),
  requester: closed(
    { kind: { type: 'string', enum: ['subject', 'agent', 'guardian'] }, evidenceRef: text, userId: text },
    ['kind'],
  ),
  callbacks: integer,
  notify: { const: true },
  subjectFound: boolean,
  notice: text,
  failure: closed({ code: text, store: text }, ['code']),
  // The procedures (functions/lib/procedures/view.ts procedureView): references only.
  verification: closed(
    {
      method: { type: 'string', enum: [...VERIFICATION_METHODS] },
      verifiedAt: instant,
      verifiedBy: text,
      evidenceRef: text,
    },
    ['method', 'verifiedAt', 'verifiedBy'],
  ),
  fee: closed(
    {
      status: { type: 'string', enum: ['due', 'paid', 'waived'] },
      amount: { type: 'number' },
      currency: text,
      reference: text,
      reason: text,
      recordedBy: text,
      recordedAt: instant,
    },
    ['status', 'currency'],
  ),
  refusal: closed({ ...groundsProperties, at: instant, by: text }, ['reasonCode', 'legalGround', 'at', 'by']),
  exclusions: {
    type: 'array',
    items: closed({ ...groundsProperties, store: text, category: text }, [
      'reasonCode',
      'legalGround',
      'store',
    ]),
  },
  deadlinePaused: { const: true },
  restriction: restrictionViewSchema,
  transfer: transferViewSchema,
  export: closed({ key: text, bytes: integer, sha256: text, files: integer, records: integer }),
  erasure: erasureViewSchema,
  download: downloadViewSchema,
  downloadUrl: text,
};
const requestViewRequired = ['requestId', 'type', 'status', 'createdAt', 'updatedAt', 'subjectHash'];

/** A request (functions/api/request-views.ts requestView): never the subject's identifiers. */
export const requestViewSchema = closed(requestViewProperties, requestViewRequired);

/** POST /v1/requests when an open request of the subject exists: that request, marked. */
export const duplicateRequestSchema = closed({ ...requestViewProperties, duplicate: { const: true } }, [
  ...requestViewRequired,
  'duplicate',
  'notice',
]);

export const requestPageSchema = closed({
  requests: { type: 'array', items: requestViewSchema },
  nextCursor: nullable(text),
});

export const requestEventsSchema = closed({
  requestId,
  events: {
    type: 'array',
    items: closed({ at: instant, type: text, detail: scalarDetail }, ['at', 'type']),
  },
});

export const certificateSchema = closed({
  certificate: jws,
  payload: { type: 'object', description: 'The JWS payload, decoded (docs/erasure.md, "Certificate")' },
  kid: text,
  number: { type: 'integer', minimum: 1 },
  latest: boolean,
});

// ---------------------------------------------------------------------------------------------
// Holds

const holdProperties = {
  holdId: text,
  service: text,
  status: { type: 'string', enum: ['active', 'released'] },
  subjectHash: text,
  stores: { type: 'array', items: text },
  categories: { type: 'array', items: text },
  caseReference: text,
  reason: text,
  placedBy: text,
  placedAt: instant,
  releasedBy: text,
  releasedAt: instant,
  releaseReason: text,
};
const holdRequired = [
  'holdId',
  'service',
  'status',
  'subjectHash',
  'stores',
  'categories',
  'caseReference',
  'reason',
  'placedBy',
  'placedAt',
];

export const holdViewSchema = closed(holdProperties, holdRequired);
export const placedHoldSchema = closed(
  { ...holdProperties, affectedRequests: { type: 'array', items: requestId } },
  [...holdRequired, 'affectedRequests'],
);
export const releasedHoldSchema = closed({ ...holdProperties, alreadyReleased: boolean, notice: text }, [
  ...holdRequired,
  'alreadyReleased',
  'notice',
]);
export const holdListSchema = closed({
  holds: { type: 'array', items: holdViewSchema },
});

// ---------------------------------------------------------------------------------------------
// Policy, audit, log-erasure jobs

export const policyViewSchema = closed({
  version: text,
  hash: text,
  policy: { type: 'object', description: 'The policy document (docs/policy.md)' },
});

export const auditPageSchema = closed({
  records: {
    type: 'array',
    items: closed(
      {
        auditId: text,
        at: instant,
        actor: text,
        role: text,
        action: text,
        outcome: integer,
        requestId,
        subjectHash: text,
        service: text,
        detail: scalarDetail,
      },
      ['auditId', 'at', 'actor', 'action'],
    ),
  },
  nextCursor: nullable(text),
});

export const logErasureJobStartedSchema = closed({
  jobId: text,
  status: { const: 'RUNNING' },
  startedAt: instant,
  href: text,
});

export const logErasureJobSchema = closed({
  jobId: text,
  status: {
    type: 'string',
    enum: ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'],
  },
  startedAt: instant,
  stoppedAt: nullable(text),
  result: {
    type: ['object', 'null'],
    description: "The job's output once it succeeded (docs/erasure.md §12)",
  },
  error: nullable(text),
});

// ---------------------------------------------------------------------------------------------
// Download links

export const downloadPageSchema = closed({
  status: { const: 'active' },
  expiresAt: instant,
  maxDownloads: integer,
  downloadsRemaining: integer,
  archive: { type: 'object', description: "The archive's summary, from its manifest" },
  archiveUrl: text,
});

export const archiveRedirectSchema = closed({
  url: text,
  validUntil: instant,
  fileName: text,
  downloadsRemaining: integer,
  maxDownloads: integer,
});

/** GET /v1/transfers/{token}: the other controller's one download (functions/api/routes/transfers.ts). */
export const transferRedirectSchema = closed({ url: text, validUntil: instant, fileName: text });

export const revokedDownloadSchema = closed({ requestId, download: downloadViewSchema });

// ---------------------------------------------------------------------------------------------
// OpenDSR (signed bodies: the X-OpenDSR-Signature header signs exactly these bytes)

const openDsrVersion = text;

export const openDsrDiscoverySchema = closed({
  api_version: openDsrVersion,
  supported_identities: {
    type: 'array',
    items: closed({ identity_type: text, identity_format: text }),
  },
  supported_subject_request_types: {
    type: 'array',
    items: { type: 'string', enum: ['access', 'portability', 'erasure'] },
  },
  processor_certificate: text,
});

export const openDsrCreatedSchema = closed(
  {
    controller_id: text,
    expected_completion_time: instant,
    received_time: instant,
    subject_request_id: text,
    encoded_request: text,
  },
  ['controller_id', 'received_time', 'subject_request_id', 'encoded_request'],
);

export const openDsrStatusSchema = closed(
  {
    controller_id: text,
    expected_completion_time: instant,
    subject_request_id: text,
    request_status: { type: 'string', enum: ['pending', 'in_progress', 'completed', 'cancelled'] },
    api_version: openDsrVersion,
    results_url: text,
    processor_status: { const: 'failed' },
  },
  ['controller_id', 'subject_request_id', 'request_status', 'api_version'],
);

export const openDsrCancelledSchema = closed({
  controller_id: text,
  subject_request_id: text,
  received_time: instant,
  api_version: openDsrVersion,
});

// ---------------------------------------------------------------------------------------------
// Public documents

export const jwksSchema = closed({
  keys: {
    type: 'array',
    minItems: 1,
    items: closed(
      {
        kty: { const: 'EC' },
        crv: { const: 'P-256' },
        x: text,
        y: text,
        kid: text,
        use: { const: 'sig' },
        alg: { const: 'ES256' },
      },
      ['kty', 'crv', 'x', 'y', 'kid'],
    ),
  },
});

export const openApiDocumentSchema = {
  type: 'object',
  required: ['openapi', 'info', 'paths', 'components'],
  properties: { openapi: { const: '3.1.0' } },
} as const;

/** Component names of the success bodies, as the OpenAPI document declares them. */
export const RESPONSE_COMPONENTS = {
  RequestView: requestViewSchema,
  DuplicateRequest: duplicateRequestSchema,
  RequestPage: requestPageSchema,
  RequestEvents: requestEventsSchema,
  ErasureCertificate: certificateSchema,
  HoldView: holdViewSchema,
  PlacedHold: placedHoldSchema,
  ReleasedHold: releasedHoldSchema,
  HoldList: holdListSchema,
  PolicyView: policyViewSchema,
  AuditPage: auditPageSchema,
  LogErasureJobStarted: logErasureJobStartedSchema,
  LogErasureJob: logErasureJobSchema,
  DownloadPage: downloadPageSchema,
  ArchiveRedirect: archiveRedirectSchema,
  TransferRedirect: transferRedirectSchema,
  RevokedDownload: revokedDownloadSchema,
  OpenDsrDiscovery: openDsrDiscoverySchema,
  OpenDsrCreated: openDsrCreatedSchema,
  OpenDsrStatus: openDsrStatusSchema,
  OpenDsrCancelled: openDsrCancelledSchema,
  Jwks: jwksSchema,
  OpenApiDocument: openApiDocumentSchema,
} as const;

export type ResponseComponent = keyof typeof RESPONSE_COMPONENTS;

/** Per operation, per success status: the component its JSON body matches. One line per response. */
export const RESPONSE_SCHEMAS: Record<string, Record<string, ResponseComponent>> = {
  createRequest: { '200': 'DuplicateRequest', '202': 'RequestView' },
  listRequests: { '200': 'RequestPage' },
  getRequest: { '200': 'RequestView' },
  listRequestEvents: { '200': 'RequestEvents' },
  cancelRequest: { '200': 'RequestView' },
  extendRequest: { '200': 'RequestView' },
  recordVerification: { '200': 'RequestView' },
  recordFee: { '200': 'RequestView' },
  refuseRequest: { '200': 'RequestView' },
  setExclusions: { '200': 'RequestView' },
  getErasureCertificate: { '200': 'ErasureCertificate' },
  placeHold: { '201': 'PlacedHold' },
  listHolds: { '200': 'HoldList' },
  getHold: { '200': 'HoldView' },
  releaseHold: { '200': 'ReleasedHold' },
  getPolicy: { '200': 'PolicyView' },
  listAudit: { '200': 'AuditPage' },
  startLogErasureJob: { '202': 'LogErasureJobStarted' },
  getLogErasureJob: { '200': 'LogErasureJob' },
  downloadPage: { '200': 'DownloadPage' },
  downloadArchive: { '303': 'ArchiveRedirect' },
  transferArchive: { '303': 'TransferRedirect' },
  revokeDownload: { '200': 'RevokedDownload' },
  openDsrDiscovery: { '200': 'OpenDsrDiscovery' },
  openDsrCreate: { '201': 'OpenDsrCreated' },
  openDsrStatus: { '200': 'OpenDsrStatus' },
  openDsrCancel: { '202': 'OpenDsrCancelled' },
  getJwks: { '200': 'Jwks' },
  getOpenApi: { '200': 'OpenApiDocument' },
};
