/**
 * Callback delivery from the outbox. Every status change writes, in the same transaction as the change
 * itself, one outbox item per callback URL (functions/lib/requests/callback-outbox.ts). This deliverer
 * sends them: per URL strictly in order (a failed one blocks the later ones until it succeeds or is
 * abandoned), signed, retried with exponential backoff and jitter, each attempt recorded in the event
 * history.
 * A lease per request keeps two deliverers from sending the same item at once. Delivery is at least
 * once (a crash after the receiver answered but before we recorded it resends); receivers deduplicate
 * on `eventId`.
 * A slow receiver must not hold up the others: the sweep works on several requests at once, a request's
 * URLs are served side by side, and one receiver (URL origin) gets at most a few attempts in flight;
 * what finds its receiver busy stays due and goes out on a later pass.
 */
import { forEachLimited } from '../lib/runtime/concurrency';
import type { RequestStatus, RequestRecord } from '../lib/requests/records';
import type { CallbackOutbox, QueuedCallback } from '../lib/requests/callback-outbox';
import type { RequestRepository } from '../lib/requests/requests';
import type { JwsSigner } from '../lib/crypto/jws';
import { errorFields, log } from '../lib/runtime/logger';
import { openDsrStatus, resultsUrl } from '../lib/requests/opendsr-status';
import { dsrSignatureHeaders, openDsrSignatureHeaders } from '../lib/webhooks/signing';
import type { CallbackTransport } from '../lib/webhooks/transport';
import { retryDelayMs } from '../lib/webhooks/backoff';
import { pollEvery } from '../lib/runtime/polling';

export interface DeliveryConfig {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** The domain OpenDSR callbacks name in X-OpenDSR-Processor-Domain. */
  processorDomain: string;
  /** Public base URL of the API, for OpenDSR's results_url (omitted when unset). */
  publicApiUrl?: string;
  /** Requests the sweep delivers at once. */
  concurrency?: number;
  /** Attempts in flight to one receiver (URL origin) across all requests. */
  perReceiverConcurrency?: number;
}

export const DEFAULT_DELIVERY_CONFIG: DeliveryConfig = {
  maxAttempts: 10,
  baseDelayMs: 2_000,
  maxDelayMs: 30 * 60_000,
  processorDomain: 'dsr.example',
  concurrency: 8,
  perReceiverConcurrency: 2,
};

/** Attempts in flight per receiver; a receiver at its limit is skipped, never waited for. */
class ReceiverSlots {
  private readonly busy = new Map<string, number>();

  constructor(private readonly limit: number) {}

  tryAcquire(receiver: string): boolean {
    const used = this.busy.get(receiver) ?? 0;
    if (used >= this.limit) return false;
    this.busy.set(receiver, used + 1);
    return true;
  }

  release(receiver: string): void {
    const used = (this.busy.get(receiver) ?? 1) - 1;
    if (used <= 0) this.busy.delete(receiver);
    else this.busy.set(receiver, used);
  }
}

function receiverOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

export interface DeliveryDeps {
  requests: RequestRepository;
  outbox: CallbackOutbox;
  signer: JwsSigner;
  transport: CallbackTransport;
  config: DeliveryConfig;
  clock?: () => Date;
  random?: () => number;
}

function dsrCallbackBody(
  record: RequestRecord,
  change: { version: number; status: RequestStatus; previousStatus?: RequestStatus; occurredAt: string },
): Record<string, unknown> {
  return {
    eventId: `${record.requestId}.${change.version}`,
    requestId: record.requestId,
    type: record.type,
    status: change.status,
    previousStatus: change.previousStatus ?? null,
    version: change.version,
    occurredAt: change.occurredAt,
    dueAt: record.dueAt ?? null,
  };
}

function openDsrCallbackBody(
  record: RequestRecord,
  change: { status: RequestStatus; url: string },
  config: DeliveryConfig,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    controller_id: record.createdBy ?? 'unknown',
    expected_completion_time: record.dueAt,
    status_callback_url: change.url,
    subject_request_id: record.externalId,
    request_status: openDsrStatus(change.status),
    api_version: '1.0',
  };
  if (change.status === 'failed') body.processor_status = 'failed';
  const results =
    change.status === 'completed'
      ? resultsUrl({ ...record, status: 'completed' }, config.publicApiUrl)
      : undefined;
  if (results) body.results_url = results;
  return body;
}

export class CallbackDelivery {
  private readonly clock: () => Date;
  private readonly random: () => number;
  private readonly receivers: ReceiverSlots;

  constructor(private readonly deps: DeliveryDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.random = deps.random ?? Math.random;
    this.receivers = new ReceiverSlots(
      deps.config.perReceiverConcurrency ?? DEFAULT_DELIVERY_CONFIG.perReceiverConcurrency ?? 2,
    );
  }

  /** Delay before attempt n+1 after n failures (retryDelayMs). */
  backoffMs(failures: number): number {
    return retryDelayMs(failures, this.deps.config, this.random);
  }

  /** Sends whatever is due for one request. Safe to call any number of times, from anywhere. */
  async deliverRequest(requestId: string): Promise<void> {
    const { requests, outbox } = this.deps;
    const lease = await outbox.lease(requestId, 120_000);
    if (!lease) return;
    try {
      const record = await requests.get(requestId);
      if (!record) return;
      const items = await outbox.list(requestId);
      const byUrl = new Map<number, typeof items>();
      for (const item of items) byUrl.set(item.urlIndex, [...(byUrl.get(item.urlIndex) ?? []), item]);
      // Each URL's queue in order, the queues side by side.
      await Promise.all(
        [...byUrl.values()].map(async (queue) => {
          queue.sort((a, b) => a.version - b.version);
          for (const item of queue) {
            if (item.kind !== 'callback-pending') continue;
            if (Date.parse(item.nextAttemptAt) > this.clock().getTime()) break;
            const receiver = receiverOf(item.url);
            if (!this.receivers.tryAcquire(receiver)) break;
            let delivered: boolean;
            try {
              delivered = await this.attempt(record, item);
            } finally {
              this.receivers.release(receiver);
            }
            if (!delivered) break;
          }
        }),
      );
    } finally {
      await outbox.release(requestId, lease);
    }
  }

  private async attempt(record: RequestRecord, item: QueuedCallback): Promise<boolean> {
    const { outbox, signer, transport, config } = this.deps;
    const body = Buffer.from(
      JSON.stringify(
        item.dialect === 'opendsr'
          ? openDsrCallbackBody(record, item, config)
          : dsrCallbackBody(record, item),
      ),
      'utf8',
    );
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'dsr-orchestrator-callbacks/1',
      'x-dsr-event-id': `${record.requestId}.${item.version}`,
      ...(item.dialect === 'opendsr'
        ? await openDsrSignatureHeaders(body, signer, config.processorDomain)
        : await dsrSignatureHeaders(body, signer)),
    };
    const attempts = item.attempts + 1;
    const detail = { status: item.status, version: item.version, urlIndex: item.urlIndex, attempt: attempts };
    const result = await transport(item.url, body, headers).catch((error: unknown) => {
      log.warn('callback transport failed', { requestId: record.requestId, ...errorFields(error) });
      return { status: undefined, reason: 'CONNECTION_FAILED' as const };
    });
    if (result.status !== undefined && result.status >= 200 && result.status < 300 && !result.reason) {
      await outbox.settle(item, {
        result: 'delivered',
        attempts,
        event: { type: 'callback.delivered', detail: { ...detail, httpStatus: result.status } },
      });
      return true;
    }
    const failure = {
      ...detail,
      reason: result.reason ?? 'HTTP_ERROR',
      ...(result.status !== undefined ? { httpStatus: result.status } : {}),
    };
    log.warn('callback delivery failed', {
      requestId: record.requestId,
      attempt: attempts,
      reason: failure.reason,
      httpStatus: result.status,
    });
    if (attempts >= config.maxAttempts) {
      await outbox.settle(item, {
        result: 'abandoned',
        attempts,
        event: { type: 'callback.abandoned', detail: failure },
      });
      // Later changes still go out: the receiver learns the current state even if it missed one.
      return true;
    }
    await outbox.settle(item, {
      result: 'retry',
      attempts,
      nextAttemptAt: new Date(this.clock().getTime() + this.backoffMs(attempts)).toISOString(),
      event: { type: 'callback.failed', detail: failure },
    });
    return false;
  }

  /** Delivers everything due across requests (the scheduled retry sweep, and the local stack's poller). */
  async sweep(): Promise<number> {
    const ids = await this.deps.outbox.pendingRequests();
    const limit = this.deps.config.concurrency ?? DEFAULT_DELIVERY_CONFIG.concurrency ?? 8;
    await forEachLimited(ids, limit, (id) =>
      this.deliverRequest(id).catch((error: unknown) =>
        log.error('callback sweep failed for a request', { requestId: id, ...errorFields(error) }),
      ),
    );
    return ids.length;
  }
}

/** Runs `sweep` every `intervalMs` until stopped (the local stack; in AWS a schedule does this). */
export function startPolling(delivery: CallbackDelivery, intervalMs: number): { stop(): Promise<void> } {
  return pollEvery(() => delivery.sweep(), intervalMs);
}
