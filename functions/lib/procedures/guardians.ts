/**
 * Who may ask for a minor: an account with a guardian link (`guardianUserId`, ../shared/stores.md) at a
 * service whose policy states an age under which a parent or legal representative must act (14 at
 * klub-outside, 13 at Cluster and METALIVE) may be asked about only by that guardian; a guardian may
 * ask only about their own ward. An account the API cannot find is not judged here (the workflow finds
 * nothing), nor one at a service whose policy states no such age.
 */
import type { Requester } from '../requests/records';
import { serviceProfile } from '../services/profiles';

/** What the check needs of the account the request names. */
export interface AccountGuardianship {
  userId: string;
  guardianUserId?: string;
}

export type GuardianRefusal = 'GUARDIAN_REQUIRED' | 'NOT_GUARDIAN';

/** Why the requester may not ask about this account, or undefined when they may. */
export function guardianRefusal(
  service: string | undefined,
  account: AccountGuardianship | undefined,
  requester: Requester,
): GuardianRefusal | undefined {
  if (!account || !serviceProfile(service).guardian) return undefined;
  const ward = account.guardianUserId;
  if (requester.kind === 'guardian') {
    return ward !== undefined && requester.userId === ward ? undefined : 'NOT_GUARDIAN';
  }
  return ward === undefined ? undefined : 'GUARDIAN_REQUIRED';
}
