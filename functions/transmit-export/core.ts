/**
 * TransmitToRecipient (export workflow, after NotifySubject): when the request names another controller
 * (`transmitTo`, GDPR Art. 20(2)), that endpoint receives a signed notice (`dsr-transfer+jws`, checked with
 * the JWKS) carrying a single-use, expiring link to the archive (TRANSFER_LINKS). The outcome is recorded
 * on the request (recipient host, sent at, delivery status) and the endpoint itself is then removed from
 * it. An unreachable recipient is recorded, never fails the export: the subject has their own link.
 */
import type { JwsSigner } from '../lib/crypto/jws';
import { JWS_TYPES } from '../lib/crypto/jws';
import { summaryFromManifest, type DownloadLinks } from '../lib/downloads/download-links';
import type { RequestRepository } from '../lib/requests/requests';
import type { TransferFields } from '../lib/restrictions/types';
import { ContractError } from '../lib/runtime/errors';
import { log } from '../lib/runtime/logger';
import { serviceProfile } from '../lib/services/profiles';
import { deliverSigned, type DeliveryConfig } from '../lib/webhooks/delivery';
import type { CallbackTransport } from '../lib/webhooks/transport';
import { callbackUrlProblem } from '../lib/webhooks/url-policy';

export interface TransmitDeps {
  requests: RequestRepository;
  /** The transfer links (TRANSFER_LINKS variant, single use). */
  links: DownloadLinks;
  signer: JwsSigner;
  transport: CallbackTransport;
  config: DeliveryConfig & { allowPrivate: boolean };
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface TransmitInput {
  requestId: string;
}

export interface TransmitOutput {
  requestId: string;
  transmitted: boolean;
}

export async function transmitExport(deps: TransmitDeps, input: TransmitInput): Promise<TransmitOutput> {
  if (!input?.requestId) throw new ContractError('requestId is required');
  const record = await deps.requests.require(input.requestId);
  const requestId = record.requestId;
  if (record.type !== 'export' || !record.transmitTo) return { requestId, transmitted: false };
  if (record.status !== 'completed' || !record.export)
    throw new ContractError('Only a completed export can be transmitted');
  const url = record.transmitTo;
  const base: TransferFields = { ...(record.transfer ?? { recipientHost: new URL(url).host }) };
  const clock = deps.links.clock;
  const record_ = async (transfer: TransferFields, ok: boolean) => {
    await deps.requests.update(
      requestId,
      { transfer },
      {
        type: ok ? 'transfer.delivered' : 'transfer.undelivered',
        detail: {
          recipientHost: transfer.recipientHost,
          attempts: transfer.attempts ?? 0,
          ...(transfer.httpStatus !== undefined ? { httpStatus: transfer.httpStatus } : {}),
          ...(transfer.reason ? { reason: transfer.reason } : {}),
        },
      },
      ['transmitTo'],
    );
    return { requestId, transmitted: ok };
  };
  const refused = callbackUrlProblem(url, deps.config.allowPrivate);
  if (refused)
    return record_(
      { ...base, status: 'undelivered', reason: refused, attempts: 0, sentAt: clock().toISOString() },
      false,
    );

  const archive = record.export;
  // The link's summary is the request's own counts: the recipient's notice names no store contents.
  const { link } = await deps.links.ensure(requestId, archive, () =>
    Promise.resolve(summaryFromManifest(archive, undefined)),
  );
  const profile = serviceProfile(record.service);
  const body = Buffer.from(
    JSON.stringify({
      eventId: `${requestId}.transfer`,
      type: 'transfer.archive_available',
      requestId,
      service: profile.id,
      controller: profile.controller.name,
      archive: {
        url: await deps.links.urlFor(link),
        expiresAt: link.expiresAt,
        maxDownloads: link.maxDownloads,
        bytes: archive.bytes,
        sha256: archive.sha256,
        format: 'application/zip',
      },
      jwksUrl: `${deps.links.config.publicBaseUrl}/.well-known/jwks.json`,
      sentAt: clock().toISOString(),
    }),
  );
  const sent = await deliverSigned(
    {
      signer: deps.signer,
      transport: deps.transport,
      config: deps.config,
      sleep: deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      random: deps.random ?? Math.random,
    },
    url,
    body,
    JWS_TYPES.transferNotice,
    'dsr-orchestrator-transfers/1',
  );
  if (!sent.ok) log.warn('transfer not delivered', { requestId });
  return record_(
    {
      ...base,
      status: sent.ok ? 'delivered' : 'undelivered',
      sentAt: clock().toISOString(),
      expiresAt: link.expiresAt,
      attempts: sent.attempts,
      ...(sent.result.status !== undefined ? { httpStatus: sent.result.status } : {}),
      ...(sent.ok ? {} : { reason: sent.result.reason ?? 'HTTP_ERROR' }),
    },
    sent.ok,
  );
}
