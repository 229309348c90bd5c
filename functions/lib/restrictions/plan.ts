/**
 * What a restriction's steps pass each other through staging (requests/{id}/restriction/…): the plan
 * the first step makes, and what each store's connector found and set. The workflow's payloads carry
 * store names and counts only.
 */
import type { Consents, RestrictionAction, RestrictionKind } from './kinds';

export interface RestrictionPlan {
  kind: RestrictionKind;
  action: RestrictionAction;
  /** Nothing to change: a lift with no restriction in place, or no account. */
  outcome: 'in_place' | 'lifted' | 'not_in_place' | 'no_account';
  /** The consents to write (empty: none changes). */
  consents: Consents;
  /** The affected recipients' ids in the service's profile (told of the change). */
  recipients: string[];
  /**
   * Apply: the consents as they were before the restrictions already in place withdrew them (theirs to
   * give back, not the withdrawn values the account holds now).
   */
  inheritedPrevious?: Consents;
  /** The request that applied the restriction being lifted. */
  appliedByRequestId?: string;
  plannedAt: string;
}

/** What a store's connector did: accounts changed, and the consents as they were before (the first account's). */
export interface StoreRestrictionResult {
  store: string;
  accounts: number;
  previous?: Consents;
}

export const restrictionKeys = {
  plan: (requestId: string) => `requests/${requestId}/restriction/plan.json`,
  store: (requestId: string, store: string) => `requests/${requestId}/restriction/${store}.json`,
};
