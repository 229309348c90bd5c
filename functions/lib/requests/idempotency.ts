/**
 * Idempotency-Key records (`pk = IDEM#<scope>#<key>`, kind `idempotency`, expiring through the table's
 * TTL attribute `expiresAt`). The record holds the first call's answer and the fingerprint of its body;
 * it is written in the transaction that opens the request, so a repeated call finds it: the same body
 * gets the stored answer again, a different body is refused.
 */
import type { RequestRecord } from './records';
import { readItem, type RequestTable } from './request-table';

/** Idempotency records are kept this long. */
const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

export interface StoredResponse {
  statusCode: number;
  body: string;
}

/** A call made with an Idempotency-Key: where the key is valid, the key, and the call's body. */
export interface IdempotentCall {
  scope: string;
  key: string;
  /** Identifies the call's body: a repeated key with another fingerprint is a mismatch. */
  fingerprint: string;
  /** The answer to store for the request the call creates. */
  render: (record: RequestRecord) => StoredResponse;
}

export type RepeatedCall =
  /** The same Idempotency-Key with the same body: the stored first answer. */
  | { outcome: 'replayed'; requestId: string; response: StoredResponse }
  /** The same Idempotency-Key with a different body. */
  | { outcome: 'idempotency-mismatch' };

const idempotencyKey = (call: Pick<IdempotentCall, 'scope' | 'key'>) => ({
  pk: `IDEM#${call.scope}#${call.key}`,
  sk: 'IDEM',
});

/** The record of `call` creating `record`, to put (if absent) in the transaction that creates it. */
export function idempotencyItem(
  call: IdempotentCall,
  record: RequestRecord,
  now: Date,
): Record<string, unknown> {
  return {
    ...idempotencyKey(call),
    kind: 'idempotency',
    requestId: record.requestId,
    fingerprint: call.fingerprint,
    response: call.render(record),
    expiresAt: Math.floor(now.getTime() / 1000) + IDEMPOTENCY_TTL_SECONDS,
  };
}

/** What a call whose key is already recorded gets; undefined when no record is there to read. */
export async function repeatedCall(
  table: RequestTable,
  call: IdempotentCall,
): Promise<RepeatedCall | undefined> {
  const stored = await readItem(table, idempotencyKey(call));
  if (!stored) return undefined;
  if (stored.fingerprint !== call.fingerprint) return { outcome: 'idempotency-mismatch' };
  return {
    outcome: 'replayed',
    requestId: String(stored.requestId),
    response: stored.response as StoredResponse,
  };
}
