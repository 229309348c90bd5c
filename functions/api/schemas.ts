/**
 * Request body schemas: the handlers validate with these, and the OpenAPI document (openapi.ts) embeds
 * these very objects, so the two cannot drift. Strict: unknown fields are refused and every string and
 * array is bounded.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { ApiError } from './http';
import type { Requester, RequestType, SubjectInput } from '../lib/requests/records';
import { JURISDICTION_PATTERN } from '../lib/requests/deadlines';
import { STORE_NAMES, type StoreName } from '../../config/data-map';
import { STORE_CATEGORIES } from '../lib/erasure/types';

const boundedId = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001f]+$' } as const;
const callbackUrls = {
  type: 'array',
  description: 'URLs to POST each status change to (signed; see docs/api.md). HTTPS, public addresses only.',
  minItems: 1,
  maxItems: 5,
  uniqueItems: true,
  items: { type: 'string', minLength: 8, maxLength: 2048, pattern: '^https?://[^\\s]+$' },
} as const;

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
  },
  if: { properties: { kind: { enum: ['agent', 'guardian'] } } },
  then: { required: ['kind', 'evidenceRef'] },
} as const;

export interface CreateRequestBody {
  type: RequestType;
  subject: SubjectInput;
  jurisdiction?: string;
  requester?: Requester;
  callbackUrls?: string[];
  /** Export only: email the download link to the subject's own address (docs/downloads.md). */
  notify?: boolean;
}

export const createRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'subject'],
  properties: {
    type: { type: 'string', enum: ['export', 'erasure'] },
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
  },
  // An erasure has no link to send: `notify: true` on one is refused as an invalid `notify`.
  if: { properties: { type: { const: 'erasure' } } },
  then: { properties: { notify: { const: false } } },
} as const;

export interface ExtendRequestBody {
  reason: string;
  until?: string;
}

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

export interface OpenDsrIdentity {
  identity_type: (typeof OPENDSR_IDENTITY_TYPES)[number];
  identity_value: string;
  identity_format: 'raw' | 'sha1' | 'md5' | 'sha256';
}

export interface OpenDsrCreateBody {
  subject_request_id: string;
  subject_request_type: 'access' | 'portability' | 'erasure';
  submitted_time: string;
  subject_identities: OpenDsrIdentity[];
  regulation?: 'gdpr' | 'ccpa';
  api_version?: string;
  status_callback_urls?: string[];
  extensions?: Record<string, Record<string, unknown>>;
}

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
      additionalProperties: { type: 'object', maxProperties: 50 },
    },
  },
} as const;

// strictRequired off only because requester's if/then names a property declared beside it, not inside it.

// Legal holds (issue 4).
const ALL_CATEGORIES = [...new Set(Object.values(STORE_CATEGORIES).flat())];
const text = (max: number, description: string) =>
  ({ type: 'string', minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u001f]+$', description }) as const;

export interface PlaceHoldBody {
  subject: SubjectInput;
  stores?: StoreName[];
  categories?: string[];
  caseReference: string;
  reason: string;
}

export const placeHoldSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['subject', 'caseReference', 'reason'],
  properties: {
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

export interface ReleaseHoldBody {
  reason?: string;
}

export const releaseHoldSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: text(1000, 'Why the hold ends (case closed). No personal data.') },
} as const;

const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false });
addFormats(ajv, ['date-time']);

function compile<T>(schema: object): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

const validateCreate = compile<CreateRequestBody>(createRequestSchema);
const validateExtend = compile<ExtendRequestBody>(extendRequestSchema);
const validateOpenDsr = compile<OpenDsrCreateBody>(openDsrCreateSchema);
const validatePlaceHold = compile<PlaceHoldBody>(placeHoldSchema);
const validateReleaseHold = compile<ReleaseHoldBody>(releaseHoldSchema);

/** The field a schema error is about, as a dotted path (never its value). */
export function fieldOf(error: ErrorObject | undefined): string {
  return error?.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : 'body';
}

/** Maps the first schema error to a stable code and a message that names the field, never its value. */
function toApiError(error: ErrorObject | undefined): ApiError {
  const field = fieldOf(error);
  switch (error?.keyword) {
    case 'required':
      if (error.params.missingProperty === 'subject') {
        return new ApiError(400, 'MISSING_IDENTIFIER', 'The subject needs exactly one identifier');
      }
      if (error.params.missingProperty === 'evidenceRef') {
        return new ApiError(400, 'MISSING_EVIDENCE', 'An agent or guardian needs requester.evidenceRef');
      }
      return new ApiError(400, 'MISSING_FIELD', `Missing field: ${String(error.params.missingProperty)}`);
    case 'additionalProperties':
      return new ApiError(
        400,
        'UNKNOWN_FIELD',
        `Unknown field in ${field}: ${String(error.params.additionalProperty).slice(0, 64)}`,
      );
    case 'enum':
      if (field === 'type') return new ApiError(400, 'UNKNOWN_TYPE', 'type must be one of: export, erasure');
      if (field.startsWith('stores')) return new ApiError(400, 'UNKNOWN_STORE', `${field} is not a store`);
      if (field.startsWith('categories')) {
        return new ApiError(400, 'UNKNOWN_CATEGORY', `${field} is not a data category`);
      }
      return new ApiError(400, 'INVALID_FIELD', `Invalid value for ${field}`);
    case 'minProperties':
    case 'maxProperties':
      if (field === 'subject')
        return new ApiError(400, 'MISSING_IDENTIFIER', 'The subject needs exactly one identifier');
      return new ApiError(400, 'INVALID_FIELD', `Invalid value for ${field}`);
    case 'maxLength':
    case 'maxItems':
      return new ApiError(400, 'FIELD_TOO_LONG', `${field} is too long`);
    default:
      return new ApiError(400, 'INVALID_FIELD', `Invalid value for ${field}`);
  }
}

function requireObject(body: unknown): object {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'INVALID_BODY', 'The body must be a JSON object');
  }
  return body;
}

export function parseCreateRequest(body: unknown): CreateRequestBody {
  const candidate = requireObject(body);
  if (!validateCreate(candidate)) throw toApiError(validateCreate.errors?.[0]);
  return candidate;
}

export function parseExtendRequest(body: unknown): ExtendRequestBody {
  const candidate = requireObject(body);
  if (!validateExtend(candidate)) throw toApiError(validateExtend.errors?.[0]);
  return candidate;
}

/** Validates an OpenDSR body; the error carries the schema error for OpenDSR's own error shape. */
export function parseOpenDsrCreate(body: unknown): OpenDsrCreateBody {
  const candidate = requireObject(body);
  if (!validateOpenDsr(candidate)) throw toApiError(validateOpenDsr.errors?.[0]);
  return candidate;
}

/** Every body schema a route validates with, by name: the OpenAPI document and its test use this map. */
export function parsePlaceHoldBody(body: unknown): PlaceHoldBody {
  const candidate = requireObject(body);
  if (!validatePlaceHold(candidate)) throw toApiError(validatePlaceHold.errors?.[0]);
  return candidate;
}

export function parseReleaseHold(body: unknown): ReleaseHoldBody {
  const candidate = requireObject(body);
  if (!validateReleaseHold(candidate)) throw toApiError(validateReleaseHold.errors?.[0]);
  return candidate;
}

export const REQUEST_SCHEMAS = {
  CreateRequest: createRequestSchema,
  ExtendRequest: extendRequestSchema,
  OpenDsrCreateRequest: openDsrCreateSchema,
  PlaceHold: placeHoldSchema,
  ReleaseHold: releaseHoldSchema,
} as const;
