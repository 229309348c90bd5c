/**
 * One signed message to one receiver, retried with backoff: what processor notices (erasure),
 * restriction notices and transfer notices share. A 2xx is delivered; a redirect, a refused address or a
 * 4xx other than 429 will not change by retrying and stops at once.
 */
import type { JwsSigner } from '../crypto/jws';
import { retryDelayMs, type BackoffConfig } from './backoff';
import { dsrSignatureHeaders, type DsrSignedKind } from './signing';
import type { CallbackTransport, PostResult } from './transport';

export interface DeliveryConfig extends BackoffConfig {
  maxAttempts: number;
}

export interface DeliveryDeps {
  signer: JwsSigner;
  transport: CallbackTransport;
  config: DeliveryConfig;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export interface Delivery {
  result: PostResult;
  attempts: number;
  ok: boolean;
}

export const isDelivered = (result: PostResult): boolean =>
  result.status !== undefined && result.status >= 200 && result.status < 300 && !result.reason;

export async function deliverSigned(
  deps: DeliveryDeps,
  url: string,
  body: Buffer,
  typ: DsrSignedKind,
  userAgent: string,
): Promise<Delivery> {
  let result: PostResult = { reason: 'CONNECTION_FAILED' };
  let attempts = 0;
  while (attempts < deps.config.maxAttempts) {
    attempts += 1;
    const headers = {
      'content-type': 'application/json',
      'user-agent': userAgent,
      ...(await dsrSignatureHeaders(body, deps.signer, typ)),
    };
    result = await deps.transport(url, body, headers).catch(() => ({ reason: 'CONNECTION_FAILED' as const }));
    if (isDelivered(result)) break;
    if (result.reason === 'REDIRECT_NOT_FOLLOWED' || result.reason === 'PRIVATE_ADDRESS') break;
    if (result.status !== undefined && result.status >= 400 && result.status < 500 && result.status !== 429)
      break;
    if (attempts < deps.config.maxAttempts)
      await deps.sleep(retryDelayMs(attempts, deps.config, deps.random));
  }
  return { result, attempts, ok: isDelivered(result) };
}
