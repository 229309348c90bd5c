/** The processors' webhook URLs (PROCESSOR_WEBHOOKS), read by the erasure's and the restriction's notices. */
import { intEnv } from '../runtime/config';
import { ContractError } from '../runtime/errors';
import { httpTransport } from './transport';

/** Parses PROCESSOR_WEBHOOKS: a JSON object of processor id -> URL. */
export function parseWebhooks(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ContractError('PROCESSOR_WEBHOOKS must be a JSON object of processor id to URL');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ContractError('PROCESSOR_WEBHOOKS must be a JSON object of processor id to URL');
  }
  const out: Record<string, string> = {};
  for (const [id, url] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof url !== 'string') throw new ContractError(`PROCESSOR_WEBHOOKS names no URL for ${id}`);
    out[id] = url;
  }
  return out;
}

/**
 * What every sender of signed notices to processors and other controllers reads from the environment:
 * the webhooks, the retry settings and the transport (private addresses only on the local stack, whose
 * test receivers listen on loopback).
 */
export function noticeDeliveryFromEnv(env: NodeJS.ProcessEnv = process.env) {
  const allowPrivate = env.ALLOW_PRIVATE_CALLBACKS === 'true';
  return {
    transport: httpTransport({ allowPrivate, timeoutMs: intEnv('PROCESSOR_TIMEOUT_MS', 10_000, env) }),
    config: {
      webhooks: parseWebhooks(env.PROCESSOR_WEBHOOKS),
      maxAttempts: intEnv('PROCESSOR_MAX_ATTEMPTS', 4, env),
      baseDelayMs: intEnv('PROCESSOR_RETRY_BASE_MS', 2_000, env),
      maxDelayMs: intEnv('PROCESSOR_RETRY_MAX_MS', 30_000, env),
      allowPrivate,
    },
  };
}
