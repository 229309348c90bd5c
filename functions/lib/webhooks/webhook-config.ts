/** The processors' webhook URLs (PROCESSOR_WEBHOOKS), read by the erasure's and the restriction's notices. */
import { ContractError } from '../runtime/errors';

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
