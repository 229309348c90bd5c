/**
 * The restriction workflow's own steps (statemachines/restriction.asl.json), one Lambda:
 *
 * - plan: what the request changes: the consents to write, the recipients to tell, or nothing (a lift
 *   with no restriction in place, no account). Staged for the connectors; returns the stores to call.
 * - notify: tells each affected recipient that has a webhook, by a signed notice
 *   (`dsr-restriction-notice+jws`), and records every answer on the request. A recipient without a
 *   webhook is recorded as `not_configured`; an unreachable one never fails the restriction.
 * - complete: keeps the restriction record (applied, or lifted with the apply request marked), and
 *   completes the request with what was done.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { StagedSubject } from '../lib/connectors/contract';
import type { StoreName } from '../lib/connectors/contract';
import { getJson, putJson, stagingKeys, isNoSuchObject } from '../lib/aws/s3-objects';
import { JWS_TYPES, type JwsSigner } from '../lib/crypto/jws';
import type { RequestRecord } from '../lib/requests/records';
import type { RequestRepository } from '../lib/requests/requests';
import {
  affectedRecipients,
  consentTargets,
  KIND_SPECS,
  type Consents,
  type RestrictionKind,
} from '../lib/restrictions/kinds';
import { restrictionKeys, type RestrictionPlan, type StoreRestrictionResult } from '../lib/restrictions/plan';
import type { RestrictionStore } from '../lib/restrictions/store';
import type { RecipientNotice, RestrictionFields } from '../lib/restrictions/types';
import { ContractError } from '../lib/runtime/errors';
import { log } from '../lib/runtime/logger';
import { serviceProfile } from '../lib/services/profiles';
import { deliverSigned, type DeliveryConfig } from '../lib/webhooks/delivery';
import type { CallbackTransport } from '../lib/webhooks/transport';
import { callbackUrlProblem } from '../lib/webhooks/url-policy';

/** The stores whose connectors keep consents: only the account holds them (stores.md). */
const CONSENT_STORES: readonly StoreName[] = ['accounts'];

export interface RestrictConfig extends DeliveryConfig {
  /** processorId -> webhook URL (PROCESSOR_WEBHOOKS, shared with the erasure's processor notices). */
  webhooks: Readonly<Record<string, string>>;
  allowPrivate: boolean;
}

export interface RestrictDeps {
  s3: S3Client;
  stagingBucket: string;
  requests: RequestRepository;
  restrictions: RestrictionStore;
  signer: JwsSigner;
  transport: CallbackTransport;
  config: RestrictConfig;
  clock?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export type RestrictInput =
  | { requestId: string; step: 'plan'; stores?: { store: StoreName; functionName: string }[] }
  | { requestId: string; step: 'notify' | 'complete' };

export interface RestrictOutput {
  requestId: string;
  stores?: { store: StoreName; functionName: string }[];
  outcome?: RestrictionPlan['outcome'];
  notified?: number;
}

function askedFor(record: RequestRecord): RestrictionFields {
  if (record.type !== 'restriction' || !record.restriction)
    throw new ContractError('Not a restriction request');
  return record.restriction;
}

export class Restrictor {
  private readonly clock: () => Date;

  constructor(private readonly deps: RestrictDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async run(input: RestrictInput): Promise<RestrictOutput> {
    if (!input?.requestId) throw new ContractError('requestId is required');
    switch (input.step) {
      case 'plan':
        return this.plan(input.requestId, input.stores ?? []);
      case 'notify':
        return this.notify(input.requestId);
      case 'complete':
        return this.complete(input.requestId);
      default:
        throw new ContractError('Unknown restriction step');
    }
  }

  private staged<T>(key: string): Promise<T> {
    return getJson<T>(this.deps.s3, { bucket: this.deps.stagingBucket, key });
  }

  private subject(requestId: string): Promise<StagedSubject> {
    return this.staged<StagedSubject>(stagingKeys.subject(requestId));
  }

  private async plan(
    requestId: string,
    stores: { store: StoreName; functionName: string }[],
  ): Promise<RestrictOutput> {
    const record = await this.deps.requests.require(requestId);
    const { kind, action } = askedFor(record);
    const subject = await this.subject(requestId);
    const service = serviceProfile(subject.service ?? record.service).id;
    const base = { kind, action, plannedAt: this.clock().toISOString() };
    let plan: RestrictionPlan;
    if (!subject.found) {
      plan = { ...base, outcome: 'no_account', consents: {}, recipients: [] };
    } else {
      const records = await this.deps.restrictions.list(service, subject.subjectHash);
      const current = records.find((r) => r.kind === kind && r.state === 'in_place');
      const stillInPlace = records
        .filter((r) => r.state === 'in_place' && r.kind !== kind)
        .map((r) => r.kind);
      const recipients = affectedRecipients(serviceProfile(service), kind).map((r) => r.id);
      if (action === 'apply') {
        const inheritedPrevious: Consents = {};
        for (const other of records.filter((r) => r.state === 'in_place' && r.kind !== kind))
          for (const name of KIND_SPECS[other.kind].consents) {
            const before = other.previousConsents?.[name];
            if (before !== undefined) inheritedPrevious[name] ??= before;
          }
        plan = {
          ...base,
          outcome: 'in_place',
          consents: consentTargets(kind, action, { stillInPlace }),
          recipients,
          inheritedPrevious,
        };
      } else if (!current) {
        plan = { ...base, outcome: 'not_in_place', consents: {}, recipients: [] };
      } else {
        plan = {
          ...base,
          outcome: 'lifted',
          consents: consentTargets(kind, action, { stillInPlace, previous: current.previousConsents }),
          recipients,
          appliedByRequestId: current.appliedByRequestId,
        };
      }
    }
    await putJson(
      this.deps.s3,
      { bucket: this.deps.stagingBucket, key: restrictionKeys.plan(requestId) },
      plan,
    );
    const changes = subject.found && Object.keys(plan.consents).length > 0;
    return {
      requestId,
      outcome: plan.outcome,
      stores: changes ? stores.filter((s) => CONSENT_STORES.includes(s.store)) : [],
    };
  }

  private async notify(requestId: string): Promise<RestrictOutput> {
    const plan = await this.staged<RestrictionPlan>(restrictionKeys.plan(requestId));
    const record = await this.deps.requests.require(requestId);
    const asked = askedFor(record);
    if (plan.recipients.length === 0) return { requestId, notified: 0 };
    const subject = await this.subject(requestId);
    const profile = serviceProfile(subject.service ?? record.service);
    const notices: RecipientNotice[] = [...(asked.recipients ?? [])];
    const { config } = this.deps;
    const delivery = {
      signer: this.deps.signer,
      transport: this.deps.transport,
      config,
      sleep: this.deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
      random: this.deps.random ?? Math.random,
    };
    for (const recipient of profile.recipients.filter((r) => plan.recipients.includes(r.id))) {
      // A retried step does not tell a recipient twice what it already acknowledged.
      if (notices.some((n) => n.recipientId === recipient.id && n.status === 'acknowledged')) continue;
      const base = {
        recipientId: recipient.id,
        name: recipient.name,
        ...(recipient.processorId ? { processorId: recipient.processorId } : {}),
      };
      const url = recipient.processorId ? config.webhooks[recipient.processorId] : undefined;
      const refused = url ? callbackUrlProblem(url, config.allowPrivate) : undefined;
      let notice: RecipientNotice;
      if (!url) {
        notice = {
          ...base,
          status: 'not_configured',
          reason: 'NO_WEBHOOK_CONFIGURED',
          attempts: 0,
          at: this.clock().toISOString(),
        };
      } else if (refused) {
        notice = {
          ...base,
          status: 'unreachable',
          reason: refused,
          attempts: 0,
          at: this.clock().toISOString(),
        };
      } else {
        const body = Buffer.from(
          JSON.stringify(
            noticeBody(
              requestId,
              plan,
              recipient.id,
              recipient.processorId,
              recipient.stores,
              subject,
              this.clock(),
            ),
          ),
        );
        const sent = await deliverSigned(
          delivery,
          url,
          body,
          JWS_TYPES.restrictionNotice,
          'dsr-orchestrator-restrictions/1',
        );
        notice = {
          ...base,
          status: sent.ok ? 'acknowledged' : 'unreachable',
          ...(sent.result.status !== undefined ? { httpStatus: sent.result.status } : {}),
          ...(sent.ok ? {} : { reason: sent.result.reason ?? 'HTTP_ERROR' }),
          attempts: sent.attempts,
          at: this.clock().toISOString(),
        };
      }
      if (notice.status !== 'acknowledged')
        log.warn('restriction recipient not acknowledged', { requestId, recipient: recipient.id });
      const index = notices.findIndex((n) => n.recipientId === recipient.id);
      if (index >= 0) notices.splice(index, 1, notice);
      else notices.push(notice);
      // Recorded one by one: a crash half-way keeps what was already answered.
      await this.deps.requests.update(
        requestId,
        { restriction: { ...asked, recipients: notices } },
        {
          type: `restriction.recipient_${notice.status}`,
          detail: {
            recipientId: notice.recipientId,
            attempts: notice.attempts,
            ...(notice.httpStatus !== undefined ? { httpStatus: notice.httpStatus } : {}),
            ...(notice.reason ? { reason: notice.reason } : {}),
          },
        },
      );
    }
    return { requestId, notified: notices.length };
  }

  private async complete(requestId: string): Promise<RestrictOutput> {
    const plan = await this.staged<RestrictionPlan>(restrictionKeys.plan(requestId));
    const record = await this.deps.requests.require(requestId);
    const asked = askedFor(record);
    const subject = await this.subject(requestId);
    const service = serviceProfile(subject.service ?? record.service).id;
    const at = this.clock().toISOString();
    const fields: RestrictionFields = {
      ...asked,
      outcome: plan.outcome,
      consents: plan.consents,
      recipients: asked.recipients ?? [],
    };
    if (plan.outcome === 'in_place') {
      const stored = await this.storeResult(requestId);
      const kept = await this.deps.restrictions.apply({
        service,
        accountHash: subject.subjectHash,
        kind: plan.kind,
        appliedAt: at,
        appliedByRequestId: requestId,
        previousConsents: { ...stored?.previous, ...plan.inheritedPrevious },
      });
      fields.appliedAt = kept.appliedAt;
      fields.appliedByRequestId = kept.appliedByRequestId;
    } else if (plan.outcome === 'lifted') {
      await this.deps.restrictions.lift(service, subject.subjectHash, plan.kind, { requestId, at });
      fields.liftedAt = at;
      fields.liftedByRequestId = requestId;
      if (plan.appliedByRequestId) {
        fields.appliedByRequestId = plan.appliedByRequestId;
        await this.markApplyRequestLifted(plan.appliedByRequestId, plan.kind, { requestId, at });
      }
    }
    await this.deps.requests.transition(
      requestId,
      'completed',
      { restriction: fields, subjectFound: subject.found },
      {
        event: {
          type: 'request.completed',
          detail: {
            kind: plan.kind,
            action: plan.action,
            outcome: plan.outcome,
            subjectFound: subject.found,
          },
        },
      },
    );
    return { requestId, outcome: plan.outcome };
  }

  private async storeResult(requestId: string): Promise<StoreRestrictionResult | undefined> {
    try {
      return await this.staged<StoreRestrictionResult>(restrictionKeys.store(requestId, 'accounts'));
    } catch (error) {
      if (isNoSuchObject(error)) return undefined;
      throw error;
    }
  }

  /** The request that applied the restriction shows, from now on, when and by which request it was lifted. */
  private async markApplyRequestLifted(
    applyRequestId: string,
    kind: RestrictionKind,
    by: { requestId: string; at: string },
  ): Promise<void> {
    const applied = await this.deps.requests.get(applyRequestId);
    if (!applied?.restriction || applied.restriction.kind !== kind) return;
    await this.deps.requests.update(
      applyRequestId,
      { restriction: { ...applied.restriction, liftedAt: by.at, liftedByRequestId: by.requestId } },
      { type: 'restriction.lifted', detail: { liftedByRequestId: by.requestId } },
    );
  }
}

/**
 * What a recipient is told: the person by the platform's user id (the reference the recipient holds
 * them under) and our keyed hash, the kind, and the stores of theirs it concerns. Nothing else.
 */
function noticeBody(
  requestId: string,
  plan: RestrictionPlan,
  recipientId: string,
  processorId: string | undefined,
  stores: readonly string[],
  subject: StagedSubject,
  now: Date,
): Record<string, unknown> {
  return {
    eventId: `${requestId}.restriction.${recipientId}`,
    type: plan.outcome === 'lifted' ? 'restriction.lifted' : 'restriction.applied',
    requestId,
    kind: plan.kind,
    recipientId,
    ...(processorId ? { processorId } : {}),
    subject: { userIds: subject.identifiers.userIds, keyedHash: subject.subjectHash },
    stores,
    at: now.toISOString(),
  };
}
