/** What a restriction request and a transfer record on the request item (no personal data). */
import type { Consents, RestrictionAction, RestrictionKind } from './kinds';

/** How one recipient was told of a restriction. */
export interface RecipientNotice {
  recipientId: string;
  name: string;
  processorId?: string;
  /** acknowledged: a 2xx; unreachable: no 2xx; not_configured: no webhook known for it. */
  status: 'acknowledged' | 'unreachable' | 'not_configured';
  httpStatus?: number;
  reason?: string;
  attempts: number;
  at: string;
}

/** A restriction request: what was asked at creation, then what the workflow did. */
export interface RestrictionFields {
  kind: RestrictionKind;
  action: RestrictionAction;
  /**
   * in_place: applied (or already in place); lifted; not_in_place: a lift with nothing to lift;
   * no_account: nobody to restrict.
   */
  outcome?: 'in_place' | 'lifted' | 'not_in_place' | 'no_account';
  /** The consents written to the account. */
  consents?: Consents;
  recipients?: RecipientNotice[];
  /** The apply request: when the restriction took effect; lifted later by liftedByRequestId. */
  appliedAt?: string;
  appliedByRequestId?: string;
  liftedAt?: string;
  liftedByRequestId?: string;
}

/** An export transmitted to another controller (GDPR Art. 20(2)): the recipient's URL is not kept here. */
export interface TransferFields {
  /** Host of the recipient's endpoint (the whole URL goes with the request's subject at completion). */
  recipientHost: string;
  status?: 'delivered' | 'undelivered' | 'revoked';
  sentAt?: string;
  httpStatus?: number;
  reason?: string;
  attempts?: number;
  expiresAt?: string;
  downloadedAt?: string;
  revokedAt?: string;
}
