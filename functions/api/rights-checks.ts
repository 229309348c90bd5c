/**
 * What a request for a restriction of use or a transmission to another controller must satisfy beyond
 * its schema: the fields belong to their type, the kind is one the service's policy offers
 * (config/restrictions.json), and the recipient's endpoint passes the callbacks' address policy. Each
 * refusal has a stable code and changes nothing.
 */
import type { RequestRecord, RequestType } from '../lib/requests/records';
import { offeredKinds, type RestrictionAction, type RestrictionKind } from '../lib/restrictions/kinds';
import type { RestrictionFields, TransferFields } from '../lib/restrictions/types';
import { callbackUrlProblem } from '../lib/webhooks/url-policy';
import { ApiError } from './http';

export interface RightsInput {
  type: RequestType;
  service: string;
  restriction?: { kind: RestrictionKind; action?: RestrictionAction };
  transmitTo?: string;
}

/** The fields to store on the request, or a refusal. */
export function checkRightsFields(
  input: RightsInput,
  allowPrivate: boolean,
): { restriction?: RestrictionFields; transmitTo?: string; transfer?: TransferFields } {
  if (input.type === 'restriction' && !input.restriction)
    throw new ApiError(400, 'MISSING_FIELD', 'Missing field: restriction', { pointer: '/restriction' });
  if (input.type !== 'restriction' && input.restriction)
    throw new ApiError(400, 'INVALID_FIELD', 'restriction is for restriction requests only', {
      pointer: '/restriction',
    });
  if (input.type !== 'export' && input.transmitTo !== undefined)
    throw new ApiError(400, 'INVALID_FIELD', 'transmitTo is for export requests only', {
      pointer: '/transmitTo',
    });
  const out: ReturnType<typeof checkRightsFields> = {};
  if (input.restriction) {
    const offered = offeredKinds(input.service);
    if (!offered.includes(input.restriction.kind))
      throw new ApiError(
        422,
        'RESTRICTION_NOT_OFFERED',
        `The service's policy does not offer ${input.restriction.kind}`,
        { offered },
      );
    out.restriction = { kind: input.restriction.kind, action: input.restriction.action ?? 'apply' };
  }
  if (input.transmitTo !== undefined) {
    const problem = callbackUrlProblem(input.transmitTo, allowPrivate);
    if (problem)
      throw new ApiError(
        400,
        problem.replace(/^CALLBACK_URL_/, 'TRANSMIT_TO_'),
        'transmitTo is not an acceptable recipient endpoint',
        { pointer: '/transmitTo' },
      );
    out.transmitTo = input.transmitTo;
    out.transfer = { recipientHost: new URL(input.transmitTo).host };
  }
  return out;
}

/**
 * An open restriction request of the same subject is returned as a duplicate only when it asks for the
 * same thing; one asking for another kind or action has to finish first.
 */
export function checkDuplicateRestriction(asked: RestrictionFields | undefined, open: RequestRecord): void {
  if (!asked || !open.restriction) return;
  if (open.restriction.kind !== asked.kind || open.restriction.action !== asked.action)
    throw new ApiError(
      409,
      'RESTRICTION_IN_PROGRESS',
      'Another restriction request for this subject is still open; retry once it has finished',
      { requestId: open.requestId },
    );
}
