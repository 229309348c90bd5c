/**
 * Request schemas: the router validates bodies and query parameters with these (validation.ts), the
 * OpenAPI document (openapi.ts) embeds these very objects, and the handlers' input types are derived
 * from them (FromSchema), so the three cannot drift. Strict: unknown fields and parameters are refused
 * and every string and array is bounded.
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { ApiError } from './http';
import { JURISDICTION_PATTERN } from '../lib/requests/deadlines';
import { REQUEST_ID_PATTERN } from '../lib/requests/request-id';
import { STORE_NAMES } from '../../config/data-map';
import { STORE_CATEGORIES } from '../lib/erasure/types';
import { serviceIds } from '../lib/services/profiles';
import { PROCEDURE_SCHEMAS } from './procedure-schemas';
import { RESTRICTION_ACTIONS, RESTRICTION_KINDS } from '../lib/restrictions/kinds';

const boundedId = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001f]+$' } as const;
const callbackUrls = {
  type: 'array',
  description: 'URLs to POST each status change to (signed; see docs/api.md). HTTPS, public addresses only.',
  minItems: 1,
  maxItems: 5,
  uniqueItems: true,
  items: { type: 'string', minLength: 8, maxLength: 2048, pattern: '^https?://[^\\s]+$' },
} as const;

/** A service this deployment serves (config/services/); the caller must be bound to it (auth.ts). */
export const serviceField = (description: string) =>
  ({ type: 'string', enum: serviceIds(), maxLength: 64, description }) as const;

const requestService = serviceField(
  'The service (controller) the request is for. Required when the token is bound to several services; the only one when it is bound to one.',
);

export const subjectSchema = {
  type: 'object',
  description: 'Exactly one identifier of the subject.',
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
  properties: {
    userId: boundedId,
    email: { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' },
    phone: { type: 'string', pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164' },
    deviceId: boundedId,
    externalAccount: {
      type: 'object',
      additionalProperties: false,
      required: ['provider', 'providerUserId'],
      properties: { provider: boundedId, providerUserId: boundedId },
    },
  },
} as const;

export const requesterSchema = {
  type: 'object',
  description:
    'Who asked: the subject, an authorised agent (evidence: power of attorney), or a parent or guardian of a minor (evidence: guardianship; required under 14 in Korea, under 13 in the US). Defaults to the subject.',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { type: 'string', enum: ['subject', 'agent', 'guardian'] },
    evidenceRef: {
      type: 'string',
      minLength: 1,
      maxLength: 256,
      pattern: '^[^\\u0000-\\u001f]+$',
      description: "The support system's reference to the evidence it checked (never the document itself).",
    },
    userId: {
      ...boundedId,
      description:
        "A guardian's own account at the service: a minor's account may be asked about only by the guardian it links to (GUARDIAN_REQUIRED, NOT_GUARDIAN).",
    },
  },
  if: { properties: { kind: { enum: ['agent', 'guardian'] } } },
  then: { required: ['kind', 'evidenceRef'] },
} as const;

export const createRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'subject'],
  properties: {
    type: { type: 'string', enum: ['export', 'erasure', 'restriction'] },
    service: requestService,
    subject: subjectSchema,
    jurisdiction: {
      type: 'string',
      pattern: JURISDICTION_PATTERN,
      maxLength: 6,
      description: "`EU`, ISO 3166-1 alpha-2, or ISO 3166-2 (`US-CA`). Default: the account's country.",
    },
    requester: requesterSchema,
    callbackUrls,
    notify: {
      type: 'boolean',
      description:
        "Export only: when the archive is ready, email the download link and its expiry to the address on the subject's account, in the account's language. Default false.",
    },
    restriction: {
      type: 'object',
      description:
        "Restriction only (and required there): the kind of restriction of use, among those the service's policy offers (docs/rights.md), and whether to apply or lift it.",
      additionalProperties: false,
      required: ['kind'],
      properties: {
        kind: { type: 'string', enum: [...RESTRICTION_KINDS] },
        action: { type: 'string', enum: [...RESTRICTION_ACTIONS], description: 'Default apply.' },
      },
    },
    transmitTo: {
      type: 'string',
      minLength: 8,
      maxLength: 2048,
      pattern: '^https?://[^\\s]+$',
      description:
        "Export only: another controller's HTTPS endpoint (GDPR Art. 20(2)). Besides the subject's own link, it receives a signed notice (typ dsr-transfer+jws) with a single-use, expiring link to the archive. Public addresses only, as for callbacks.",
    },
  },
  // An erasure has no link to send: `notify: true` on one is refused as an invalid `notify`.
  if: { properties: { type: { const: 'erasure' } } },
  then: { properties: { notify: { const: false } } },
} as const;

export const extendRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: {
    reason: {
      type: 'string',
      minLength: 10,
      maxLength: 1000,
      description: 'Why more time is needed (recorded; told to the subject). No personal data.',
    },
    until: {
      type: 'string',
      format: 'date-time',
      maxLength: 40,
      description: 'The new deadline; default the latest the law allows.',
    },
  },
} as const;

export const OPENDSR_IDENTITY_TYPES = [
  'controller_customer_id',
  'android_advertising_id',
  'android_id',
  'email',
  'fire_advertising_id',
  'ios_advertising_id',
  'ios_vendor_id',
  'microsoft_advertising_id',
  'microsoft_publisher_id',
  'roku_publisher_id',
  'roku_advertising_id',
] as const;

/**
 * Any JSON value nested at most `depth` levels, each level bounded: what a processor's extension may
 * hold. Unbounded, a deep enough extension exhausted the stack of whatever walked the body next.
 */
function boundedJson(depth: number): object {
  const scalars = [
    { type: 'string', maxLength: 1024 },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'null' },
  ];
  if (depth === 0) return { anyOf: scalars };
  const inner = boundedJson(depth - 1);
  return {
    anyOf: [
      ...scalars,
      { type: 'array', maxItems: 50, items: inner },
      { type: 'object', maxProperties: 50, propertyNames: { maxLength: 253 }, additionalProperties: inner },
    ],
  };
}

/** Levels inside one processor's extension object. */
const EXTENSION_DEPTH = 4;

/** OpenDSR's request (specification section 7.1.1); `extensions` are other processors' business. */
export const openDsrCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['subject_request_id', 'subject_request_type', 'submitted_time', 'subject_identities'],
  properties: {
    subject_request_id: {
      type: 'string',
      maxLength: 36,
      pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
      description: 'Lowercase UUID v4, generated by the controller.',
    },
    subject_request_type: { type: 'string', enum: ['access', 'portability', 'erasure'] },
    // Ours, not OpenDSR's: which of the controllers this processor serves the request is for.
    service: requestService,
    submitted_time: { type: 'string', format: 'date-time', maxLength: 40 },
    subject_identities: {
      type: 'array',
      minItems: 1,
      maxItems: 10,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['identity_type', 'identity_value', 'identity_format'],
        properties: {
          identity_type: { type: 'string', enum: [...OPENDSR_IDENTITY_TYPES] },
          identity_value: { type: 'string', minLength: 1, maxLength: 512, pattern: '^[^\\u0000-\\u001f]+$' },
          identity_format: { type: 'string', enum: ['raw', 'sha1', 'md5', 'sha256'] },
        },
      },
    },
    regulation: { type: 'string', enum: ['gdpr', 'ccpa'] },
    api_version: { type: 'string', maxLength: 16 },
    status_callback_urls: callbackUrls,
    extensions: {
      type: 'object',
      maxProperties: 20,
      propertyNames: { maxLength: 253 },
      additionalProperties: {
        type: 'object',
        maxProperties: 50,
        propertyNames: { maxLength: 253 },
        additionalProperties: boundedJson(EXTENSION_DEPTH),
      },
    },
  },
} as const;

// Legal holds.
const ALL_CATEGORIES = [...new Set(Object.values(STORE_CATEGORIES).flat())];
const text = (max: number, description: string) =>
  ({ type: 'string', minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u001f]+$', description }) as const;

export const placeHoldSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['subject', 'caseReference', 'reason'],
  properties: {
    service: serviceField(
      "The service whose data the hold keeps (only that service's erasures honour it). Required when the token is bound to several services.",
    ),
    subject: subjectSchema,
    stores: {
      type: 'array',
      description: 'Stores held; absent or empty = every store.',
      maxItems: STORE_NAMES.length,
      uniqueItems: true,
      items: { type: 'string', enum: [...STORE_NAMES] },
    },
    categories: {
      type: 'array',
      description: 'Categories held (docs/policy.md); absent or empty = every category of the stores.',
      maxItems: ALL_CATEGORIES.length,
      uniqueItems: true,
      items: { type: 'string', enum: ALL_CATEGORIES },
    },
    caseReference: text(128, "The legal case's reference (docket, police request number)."),
    reason: text(1000, 'Why the data must be kept (litigation, fraud, a police request). No personal data.'),
  },
} as const;

export const releaseHoldSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: text(1000, 'Why the hold ends (case closed). No personal data.') },
} as const;

export const REQUEST_SCHEMAS = {
  CreateRequest: createRequestSchema,
  ExtendRequest: extendRequestSchema,
  OpenDsrCreateRequest: openDsrCreateSchema,
  PlaceHold: placeHoldSchema,
  ReleaseHold: releaseHoldSchema,
  ...PROCEDURE_SCHEMAS,
} as const;

/** What FromSchema cannot read from minProperties = maxProperties = 1: exactly one of the properties. */
type ExactlyOne<T> = { [K in keyof T]-?: { [P in K]-?: NonNullable<T[P]> } }[keyof T];

/** The subject as the schema means it: one identifier (the domain's SubjectInput accepts it). */
export type Subject = ExactlyOne<FromSchema<typeof subjectSchema>>;

/** FromSchema reads a body's subject as optional identifiers; the schema means exactly one. */
type WithOneIdentifier<T> = T extends { subject: object } ? Omit<T, 'subject'> & { subject: Subject } : T;

/** The type of a body that passed `schema`. */
export type Validated<S> = S extends JSONSchema ? WithOneIdentifier<FromSchema<S>> : never;

/** The type of a query that passed `schema` (values converted, defaults filled in). */
export type ValidatedQuery<S> = S extends JSONSchema ? FromSchema<S> : never;

export type CreateRequestBody = Validated<typeof createRequestSchema>;
export type OpenDsrCreateBody = Validated<typeof openDsrCreateSchema>;
export type ExtendRequestBody = Validated<typeof extendRequestSchema>;
export type PlaceHoldBody = Validated<typeof placeHoldSchema>;

/** The Idempotency-Key header of POST /v1/requests. */
export const idempotencyKeySchema = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' } as const;

// Query parameters: each route's `query` is an object schema whose properties are its parameters.
// Values arrive as strings; integers and booleans are converted and an array parameter is
// comma-separated (as API Gateway joins a repeated parameter) before they are checked.

/** A route's query schema: the parameters named here, and no others. */
export function strictQuery<const P extends Record<string, JSONSchema>>(properties: P) {
  return { type: 'object', additionalProperties: false, properties } as const;
}

export const requestIdSchema = {
  type: 'string',
  pattern: REQUEST_ID_PATTERN,
  description: 'A request id (req_ and 32 hex digits)',
} as const;

export const subjectHashParam = {
  type: 'string',
  pattern: '^[A-Za-z0-9_-]{43}$',
  description: 'The subjectHash a request or hold returned (raw identifiers never go in URLs)',
} as const;

export const cursorParam = {
  type: 'string',
  maxLength: 2048,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'nextCursor of the previous page',
} as const;

/** An ISO 8601 date or date-time with its offset (a bound of a time range, inclusive). */
export const instantParam = {
  type: 'string',
  maxLength: 40,
  anyOf: [
    { type: 'string', format: 'date' },
    { type: 'string', format: 'date-time' },
  ],
  description: 'ISO 8601 date or date-time, inclusive',
} as const;

/** The instant a value that passed instantParam names, as the ISO string the repositories compare with. */
export const instantOf = (value: string | undefined): string | undefined =>
  value === undefined ? undefined : new Date(value).toISOString();

/** The bounds of a time range (two instantParams) as instants; one that ends before it starts: 400. */
export function timeRange(
  bounds: { from: string | undefined; to: string | undefined },
  toParameter: string,
): { from?: string; to?: string } {
  const from = instantOf(bounds.from);
  const to = instantOf(bounds.to);
  if (from !== undefined && to !== undefined && from > to) {
    throw new ApiError(400, 'INVALID_PARAMETER', `${toParameter} is before the start of the range`, {
      parameter: toParameter,
    });
  }
  return { from, to };
}

export function limitParam<const Max extends number, const Default extends number>(
  max: Max,
  fallback: Default,
) {
  return {
    type: 'integer',
    minimum: 1,
    maximum: max,
    default: fallback,
    description: `A whole number from 1 to ${max}, default ${fallback}`,
  } as const;
}
