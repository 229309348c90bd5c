/**
 * NotifyProcessors (erasure workflow): tells each processor that received the erased categories (the plan's
 * ProcessorNotices) to delete them, through a signed webhook (the callbacks' transport, URL policy and
 * ES256 detached JWS), retried with backoff within the task, and records every answer on the request.
 * An unreachable or unconfigured processor is reported (`unreachable`, `not_configured`), never hidden,
 * and never fails the erasure. Held categories are told on the run that follows their release.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { ProcessorNotice } from '../lib/erasure/types';
import { deliverSigned } from '../lib/webhooks/delivery';
import type { CallbackTransport, PostResult } from '../lib/webhooks/transport';
import { callbackUrlProblem } from '../lib/webhooks/url-policy';
import { retryDelayMs } from '../lib/webhooks/backoff';
import { runNumberOf, type ProcessorAnswer } from '../lib/erasure/certificate';
import type { StagedSubject } from '../lib/connectors/contract';
import { ContractError } from '../lib/runtime/errors';
export { parseWebhooks } from '../lib/webhooks/webhook-config';
import { JWS_TYPES, type JwsSigner } from '../lib/crypto/jws';
import { errorFields, log } from '../lib/runtime/logger';
import type { RequestRepository } from '../lib/requests/requests';
import { getJson, stagingKeys } from '../lib/aws/s3-objects';
import { loadStagedPlan } from '../lib/erasure/staged-plan';
import type { RunInput } from '../lib/erasure/run';

export interface NotifyConfig {
  /** processorId -> webhook URL (deployment configuration, PROCESSOR_WEBHOOKS). */
  webhooks: Readonly<Record<string, string>>;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Local stack only: loopback receivers. */
  allowPrivate: boolean;
}

export interface NotifyDeps {
  s3: S3Client;
  stagingBucket: string;
  requests: RequestRepository;
  signer: JwsSigner;
  transport: CallbackTransport;
  config: NotifyConfig;
  clock?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface NotifyInput {
  requestId: string;
  run?: RunInput;
  executionName?: string;
}

export interface NotifyOutput {
  requestId: string;
  notified: number;
  acknowledged: number;
}

/**
 * The deletion request a processor receives. It names the person by the platform's user id (the
 * reference the processor holds them under) and our keyed hash; nothing else about them.
 */
function deletionBody(
  requestId: string,
  run: number,
  notice: ProcessorNotice,
  subject: StagedSubject,
  at: string,
): Record<string, unknown> {
  return {
    eventId: `${requestId}.erasure.${run}.${notice.processorId}`,
    type: 'erasure.processor_deletion',
    requestId,
    processorId: notice.processorId,
    subject: { userIds: subject.identifiers.userIds, keyedHash: subject.subjectHash },
    categories: notice.categories.map((c) => `${c.store}/${c.category}`),
    requestedAt: at,
  };
}

export class ProcessorNotifier {
  private readonly clock: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly deps: NotifyDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = deps.random ?? Math.random;
  }

  /** Delay before attempt n+1 after n failures (retryDelayMs). */
  backoffMs(failures: number): number {
    return retryDelayMs(failures, this.deps.config, this.random);
  }

  /** One processor: POST until a 2xx, a permanent refusal, or the attempts run out. */
  private async deliver(url: string, body: Buffer): Promise<{ result: PostResult; attempts: number }> {
    const { signer, transport, config } = this.deps;
    const deps = { signer, transport, config, sleep: this.sleep, random: this.random };
    return deliverSigned(deps, url, body, JWS_TYPES.processorNotice, 'dsr-orchestrator-processors/1');
  }

  async notify(input: NotifyInput): Promise<NotifyOutput> {
    if (!input?.requestId) throw new ContractError('requestId is required');
    const { requests, config } = this.deps;
    const run = runNumberOf(input.executionName);
    const staging = { bucket: this.deps.stagingBucket };
    // Held at erase time is told after the release, like held at plan time.
    const plan = await loadStagedPlan(this.deps.s3, this.deps.stagingBucket, input.requestId);
    const subject = await getJson<StagedSubject>(this.deps.s3, {
      ...staging,
      key: stagingKeys.subject(input.requestId),
    });
    const request = await requests.require(input.requestId);
    const answers: ProcessorAnswer[] = [...(request.processors ?? [])];
    let notified = 0;
    let acknowledged = 0;
    for (const notice of plan.processors) {
      if (notice.categories.length === 0) continue;
      // A retried task does not tell a processor twice what it already acknowledged in this run.
      const done = answers.find(
        (a) => a.processorId === notice.processorId && a.run === run && a.status === 'acknowledged',
      );
      if (done) {
        notified += 1;
        acknowledged += 1;
        continue;
      }
      const at = this.clock().toISOString();
      const categories = notice.categories.map((c) => `${c.store}/${c.category}`);
      const base = { processorId: notice.processorId, name: notice.name, run, categories };
      const url = config.webhooks[notice.processorId];
      let answer: ProcessorAnswer;
      if (!url) {
        answer = { ...base, status: 'not_configured', reason: 'NO_WEBHOOK_CONFIGURED', attempts: 0, at };
      } else {
        const refused = callbackUrlProblem(url, config.allowPrivate);
        if (refused) {
          answer = { ...base, status: 'unreachable', reason: refused, attempts: 0, at };
        } else {
          const body = Buffer.from(JSON.stringify(deletionBody(input.requestId, run, notice, subject, at)));
          const { result, attempts } = await this.deliver(url, body);
          const ok =
            result.status !== undefined && result.status >= 200 && result.status < 300 && !result.reason;
          answer = {
            ...base,
            status: ok ? 'acknowledged' : 'unreachable',
            ...(result.status !== undefined ? { httpStatus: result.status } : {}),
            ...(ok ? {} : { reason: result.reason ?? 'HTTP_ERROR' }),
            attempts,
            at: this.clock().toISOString(),
          };
        }
      }
      notified += 1;
      if (answer.status === 'acknowledged') acknowledged += 1;
      else
        log.warn('processor not acknowledged', { requestId: input.requestId, processor: notice.processorId });
      const index = answers.findIndex((a) => a.processorId === notice.processorId && a.run === run);
      if (index >= 0) answers.splice(index, 1, answer);
      else answers.push(answer);
      // Recorded one by one: a crash half-way keeps what was already answered.
      await requests
        .update(
          input.requestId,
          { processors: answers },
          {
            type: `processor.${answer.status}`,
            detail: {
              processorId: answer.processorId,
              run,
              attempts: answer.attempts,
              ...(answer.httpStatus !== undefined ? { httpStatus: answer.httpStatus } : {}),
              ...(answer.reason ? { reason: answer.reason } : {}),
            },
          },
        )
        .catch((error: unknown) => {
          log.error('processor answer not recorded', { requestId: input.requestId, ...errorFields(error) });
          throw error;
        });
    }
    return { requestId: input.requestId, notified, acknowledged };
  }
}
