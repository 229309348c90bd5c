/**
 * Bodies of the procedure routes (routes/request-procedures.ts): recording the identity verification,
 * the fee paid or waived, a refusal, and the parts an export leaves out. Strict and bounded like every
 * other body (schemas.ts); the reason codes, grounds and methods are the fixed lists of
 * functions/lib/procedures/.
 */
import { STORE_NAMES } from '../../config/data-map';
import { STORE_CATEGORIES } from '../lib/erasure/types';
import { REASON_CODES, VERIFICATION_METHODS } from '../lib/procedures/records';
import { LEGAL_GROUNDS } from '../lib/procedures/refusals';

const reference = (description: string) =>
  ({ type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f]+$', description }) as const;

const groundsProperties = {
  reasonCode: { type: 'string', enum: [...REASON_CODES], description: 'Why (a fixed list).' },
  legalGround: {
    type: 'string',
    enum: LEGAL_GROUNDS.map((g) => g.id),
    description: "The provision it rests on: one of the request's own law (docs/api.md lists them).",
  },
  exception: {
    type: 'string',
    minLength: 1,
    maxLength: 64,
    pattern: '^[a-z0-9-]+$',
    description: "reasonCode service_exception: the id of one of the service's own exceptions.",
  },
} as const;

export const recordVerificationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['method', 'verifiedBy'],
  properties: {
    method: {
      type: 'string',
      enum: [...VERIFICATION_METHODS],
      description: 'How the identity was verified.',
    },
    verifiedAt: {
      type: 'string',
      format: 'date-time',
      maxLength: 40,
      description: 'When it was verified (not in the future); default now.',
    },
    verifiedBy: reference('Who verified it: the support agent or system (their own reference).'),
    evidenceRef: reference("The support system's reference to the evidence it checked; never the document."),
  },
} as const;

export const recordFeeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['outcome'],
  properties: {
    outcome: { type: 'string', enum: ['paid', 'waived'] },
    amount: {
      type: 'integer',
      minimum: 0,
      maximum: 1_000_000,
      description: "What was paid, in the fee's currency; required where the service states no amount.",
    },
    reference: reference("The support system's payment reference."),
    reason: reference('waived: why the fee is waived.'),
  },
  if: { properties: { outcome: { const: 'waived' } } },
  then: { required: ['outcome', 'reason'] },
} as const;

export const refuseRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['reasonCode', 'legalGround'],
  properties: groundsProperties,
} as const;

const ALL_CATEGORIES = [...new Set(Object.values(STORE_CATEGORIES).flat())];

export const exclusionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['exclusions'],
  properties: {
    exclusions: {
      type: 'array',
      minItems: 1,
      maxItems: 20,
      description: 'The parts of the export left out; replaces any given before.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['store', 'reasonCode', 'legalGround'],
        properties: {
          store: { type: 'string', enum: [...STORE_NAMES] },
          category: {
            type: 'string',
            enum: ALL_CATEGORIES,
            description: 'One category of the store; absent: the whole store.',
          },
          ...groundsProperties,
        },
      },
    },
  },
} as const;

export const PROCEDURE_SCHEMAS = {
  RecordVerification: recordVerificationSchema,
  RecordFee: recordFeeSchema,
  RefuseRequest: refuseRequestSchema,
  SetExclusions: exclusionsSchema,
} as const;
