/**
 * What the procedures around a request record on it: the identity verification support checked, the
 * fee and whether it was paid or waived, a refusal, the parts left out of an answer, and where the
 * person is told about each outcome. No document, no card number: references only.
 */
import type { StoreName } from '../erasure/types';

/** How support verified who is asking (config/procedures.json says which a service accepts). */
export const VERIFICATION_METHODS = [
  'confirmed_email',
  'account_login',
  'id_document',
  'agent_authority_document',
  'guardianship_document',
  'power_of_attorney_appendix11',
] as const;
export type VerificationMethod = (typeof VERIFICATION_METHODS)[number];

export interface VerificationRecord {
  method: VerificationMethod;
  /** When support verified it. */
  verifiedAt: string;
  /** Who verified it: the support agent's or system's own reference (not a name from the document). */
  verifiedBy: string;
  /** The support system's reference to the evidence (ticket, case file); never the document itself. */
  evidenceRef?: string;
  /** The API client that recorded it, and when. */
  recordedBy: string;
  recordedAt: string;
}

export interface FeeRecord {
  status: 'due' | 'paid' | 'waived';
  /** Minor units are not used: the amount as the profile states it (1000 JPY), absent until known. */
  amount?: number;
  currency: string;
  /** The support system's payment reference. */
  reference?: string;
  /** Why a fee was waived. */
  reason?: string;
  recordedBy?: string;
  recordedAt?: string;
}

/** Why support did not (fully) do what was asked: a fixed list (functions/lib/procedures/refusals.ts). */
export const REASON_CODES = [
  'manifestly_unfounded',
  'manifestly_excessive',
  'rights_of_others',
  'legal_obligation',
  'identity_not_verified',
  'service_exception',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export interface Grounds {
  reasonCode: ReasonCode;
  /** An id of LEGAL_GROUNDS (refusals.ts). */
  legalGround: string;
  /** service_exception: the id of the service's own exception (config/procedures.json). */
  exception?: string;
}

export interface RefusalRecord extends Grounds {
  at: string;
  by: string;
}

/** One part left out of an export: a whole store, or one category (collection) of it. */
export interface Exclusion extends Grounds {
  store: StoreName;
  category?: string;
}

/** Where outcome notices go: the address is removed with the subject's other raw identifiers. */
export interface NoticeContact {
  email?: string;
  language: 'en' | 'ja';
}

export interface ProcedureFields {
  verification?: VerificationRecord;
  fee?: FeeRecord;
  refusal?: RefusalRecord;
  exclusions?: Exclusion[];
  /** True while the request waits and its jurisdiction pauses the clock: dueAt is set when it starts. */
  deadlinePaused?: boolean;
  noticeContact?: NoticeContact;
}
