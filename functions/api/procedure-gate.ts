/**
 * What a new request must wait for before its workflow starts, by its service's procedures and its
 * jurisdiction's law (functions/lib/procedures/): who may ask about a minor (refused at once with
 * GUARDIAN_REQUIRED or NOT_GUARDIAN), the identity verification, then the fee. A waiting request opens
 * in `awaiting_verification` or `awaiting_payment` (the repository writes the person's notice with it);
 * where the law pauses the clock while it waits, it has no deadline until it starts.
 */
import { clockPausedWhileWaiting, dueAtFor } from '../lib/requests/deadlines';
import type { RequestRecord, Requester, RequestType, SubjectInput } from '../lib/requests/records';
import type { OpenRequestInput } from '../lib/requests/requests';
import { accountLocale } from '../lib/downloads/download-page';
import { serviceProfile } from '../lib/services/profiles';
import { dueFee, feeRuleFor } from '../lib/procedures/fees';
import { guardianRefusal } from '../lib/procedures/guardians';
import type { NoticeContact } from '../lib/procedures/records';
import { verificationRuleFor } from '../lib/procedures/verification';
import type { AccountFacts } from './accounts';
import type { ApiDeps } from './deps';
import { ApiError } from './http';
import { settingsOf } from './request-settings';

/** Where the person hears from us: the guardian of a minor, else the account's own address. */
async function contactFor(
  deps: ApiDeps,
  service: string,
  account: AccountFacts | undefined,
  requester: Requester,
): Promise<NoticeContact> {
  const profile = serviceProfile(service);
  const guardian =
    requester.kind === 'guardian' && requester.userId
      ? await deps.accounts.accountOf({ userId: requester.userId }, service)
      : undefined;
  const who = guardian ?? account;
  return {
    language: accountLocale(who?.locale, profile),
    ...(who?.email?.includes('@') ? { email: who.email } : {}),
  };
}

export interface Gate {
  /** What the repository opens the request with besides the command's fields. */
  fields: Pick<OpenRequestInput, 'status' | 'dueAt'> &
    Pick<RequestRecord, 'fee' | 'deadlinePaused' | 'noticeContact'>;
}

export async function openingGate(
  deps: ApiDeps,
  input: {
    type: RequestType;
    service: string;
    subject: SubjectInput;
    requester: Requester;
    jurisdiction: string;
    account: AccountFacts | undefined;
    now: Date;
  },
): Promise<Gate> {
  const refusal = guardianRefusal(input.service, input.account, input.requester);
  if (refusal === 'GUARDIAN_REQUIRED') {
    throw new ApiError(
      422,
      'GUARDIAN_REQUIRED',
      "The account is a minor's: the request must come from the guardian the account names (requester.kind guardian, requester.userId)",
    );
  }
  if (refusal === 'NOT_GUARDIAN') {
    throw new ApiError(422, 'NOT_GUARDIAN', "The requester is not the guardian of this account's holder");
  }
  const settings = settingsOf(deps);
  const needsVerification =
    verificationRuleFor(input.service, input.type, input.requester.kind) !== undefined;
  const feeRule = feeRuleFor(input.service, input.type, input.jurisdiction, settings.deadlines);
  const status = needsVerification ? 'awaiting_verification' : feeRule ? 'awaiting_payment' : 'received';
  const paused = status !== 'received' && clockPausedWhileWaiting(input.jurisdiction, settings.deadlines);
  const dueAt = paused
    ? undefined
    : dueAtFor(input.jurisdiction, input.now, settings.deadlines).toISOString();
  const noticeContact = await contactFor(deps, input.service, input.account, input.requester);
  const fee = feeRule ? dueFee(feeRule) : undefined;
  return {
    fields: {
      status,
      dueAt,
      ...(fee ? { fee } : {}),
      ...(paused ? { deadlinePaused: true } : {}),
      noticeContact,
    },
  };
}
