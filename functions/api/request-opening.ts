/**
 * The one way a request is opened, whatever the dialect (/v1/requests and OpenDSR): the workflow must
 * exist, callback URLs must pass the address policy, the jurisdiction and deadline are settled, and the
 * repository's transaction makes idempotent replays and duplicates come back instead of new requests.
 */
import { errorFields, log } from '../lib/runtime/logger';
import type { Dialect, RequestRecord, RequestType, Requester, SubjectInput } from '../lib/requests/records';
import type { StoredResponse } from '../lib/requests/idempotency';
import { callbackUrlProblem } from '../lib/webhooks/url-policy';
import { loadDefaultPolicy } from '../lib/erasure/policy';
import type { Principal } from './auth';
import type { ApiDeps } from './deps';
import { ApiError } from './http';
import { clockOf, settingsOf } from './request-settings';
import { identifierOf } from './subject-identifiers';
import { openingGate } from './procedure-gate';
import { countryOfAccount } from './accounts';
import { checkDuplicateRestriction, checkRightsFields, type RightsInput } from './rights-checks';

/** JSON with sorted keys: equal bodies give equal fingerprints whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface OpenCommand {
  type: RequestType;
  /** The service the request is for: already checked against the caller's (caller-services.ts). */
  service: string;
  subject: SubjectInput;
  jurisdiction?: string;
  requester?: Requester;
  callbackUrls?: string[];
  /** Export only: email the download link to the subject (the OpenDSR dialect never sets it). */
  notify?: boolean;
  /** Restriction only: its kind and action (rights-checks.ts). */
  restriction?: RightsInput['restriction'];
  /** Export only: another controller the archive is transmitted to (rights-checks.ts). */
  transmitTo?: string;
  dialect: Dialect;
  externalId?: string;
  principal: Principal;
  /** Idempotency: scope (caller or dialect) and key; `body` is what a replay must match. */
  idempotency?: { scope: string; key: string; body: unknown };
}

export type OpenResult =
  { kind: 'created' | 'duplicate'; record: RequestRecord } | { kind: 'replayed'; response: StoredResponse };

/** Checks callback URLs against the address policy; the code says what is wrong, never echoing the URL. */
export function checkCallbackUrls(deps: ApiDeps, urls: string[] | undefined): void {
  const { allowPrivateCallbacks } = settingsOf(deps);
  for (const [i, url] of (urls ?? []).entries()) {
    const problemCode = callbackUrlProblem(url, allowPrivateCallbacks);
    if (problemCode)
      throw new ApiError(400, problemCode, `callbackUrls.${i} is not an acceptable callback URL`);
  }
}

/** Whether a workflow exists for the type (a starter that does not say runs exports only). */
export function supportsType(deps: ApiDeps, type: RequestType): boolean {
  return deps.workflows.supports ? deps.workflows.supports(type) : type === 'export';
}

/** The one way a request is opened, whatever the dialect. */
export async function openRequest(
  deps: ApiDeps,
  command: OpenCommand,
  render: (record: RequestRecord) => StoredResponse,
): Promise<OpenResult> {
  if (!supportsType(deps, command.type)) {
    throw new ApiError(501, 'UNSUPPORTED_TYPE', `Requests of type ${command.type} are not available yet`);
  }
  checkCallbackUrls(deps, command.callbackUrls);
  const rights = checkRightsFields(command, settingsOf(deps).allowPrivateCallbacks);
  const settings = settingsOf(deps);
  const now = clockOf(deps);
  const account = await deps.accounts.accountOf(command.subject, command.service);
  let jurisdiction = command.jurisdiction;
  let source: RequestRecord['jurisdictionSource'] = 'request';
  if (!jurisdiction) {
    jurisdiction = countryOfAccount(account);
    source = jurisdiction ? 'account' : 'default';
    jurisdiction ??= settings.defaultJurisdiction;
  }
  const requestId = deps.requests.newRequestId();
  const requester = command.requester ?? { kind: 'subject' };
  // Who may ask (minors), and what the request waits for: refused here, or opened waiting.
  const gate = await openingGate(deps, {
    type: command.type,
    service: command.service,
    subject: command.subject,
    requester,
    jurisdiction,
    account,
    now,
  });
  const subjectHash = await deps.hasher.hash(identifierOf(command.subject));
  const idempotency = command.idempotency
    ? {
        scope: command.idempotency.scope,
        key: command.idempotency.key,
        // Keyed, so the stored fingerprint of a body holding an email reveals nothing.
        fingerprint: await deps.hasher.hash(`idempotency:${canonical(command.idempotency.body)}`),
        render,
      }
    : undefined;
  const outcome = await deps.requests.open(
    {
      requestId,
      type: command.type,
      service: command.service,
      policyVersion: loadDefaultPolicy().version,
      subject: command.subject,
      subjectHash,
      jurisdiction,
      jurisdictionSource: source,
      requester,
      ...gate.fields,
      callbackUrls: command.callbackUrls,
      // Stored only when asked for: absent means no email.
      notify: command.notify ? true : undefined,
      ...rights,
      dialect: command.dialect,
      externalId: command.externalId,
      createdBy: command.principal.callerId,
      role: command.principal.roles[0],
    },
    idempotency,
  );
  switch (outcome.outcome) {
    case 'idempotency-mismatch':
      throw new ApiError(
        422,
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was used with a different body; use a new key for a new request',
      );
    case 'replayed': {
      await resume(deps, outcome.requestId);
      return { kind: 'replayed', response: outcome.response };
    }
    case 'duplicate':
      checkDuplicateRestriction(rights.restriction, outcome.record);
      await resume(deps, outcome.record.requestId, outcome.record);
      return { kind: 'duplicate', record: outcome.record };
    case 'created':
      // A waiting request starts when what it waits for is recorded (routes/request-procedures.ts).
      if (outcome.record.status === 'received') await startWorkflow(deps, outcome.record);
      return { kind: 'created', record: outcome.record };
  }
}

/** Starts the request's workflow (a second start of the same request is a no-op). */
export async function startWorkflow(deps: ApiDeps, record: RequestRecord): Promise<void> {
  try {
    await deps.workflows.start(record.requestId, record.type);
  } catch (error) {
    log.error('workflow start failed', { requestId: record.requestId, ...errorFields(error) });
    throw new ApiError(
      503,
      'WORKFLOW_START_FAILED',
      'The request was recorded but could not be started; retry the same call to resume it',
      { requestId: record.requestId },
    );
  }
}

/** A retried or duplicate create re-starts a request still waiting (starting twice is a no-op). */
async function resume(deps: ApiDeps, requestId: string, known?: RequestRecord): Promise<void> {
  const record = known ?? (await deps.requests.get(requestId));
  if (record?.status === 'received') await startWorkflow(deps, record);
}
