/**
 * Paging cursors are opaque to callers: base64url of the last key, checked field by field when it
 * comes back (its length and alphabet are checked before, by cursorParam in the route's query schema).
 */
import { ApiError } from './http';

export function encodeCursor(key: Record<string, string> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key), 'utf8').toString('base64url') : undefined;
}

export function decodeCursor(
  raw: string | undefined,
  allowed: readonly string[],
): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  const bad = () => new ApiError(400, 'INVALID_CURSOR', 'The cursor is not one this API issued');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad();
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length === 0) throw bad();
  for (const [k, v] of entries) {
    if (!allowed.includes(k) || typeof v !== 'string' || v.length > 512) throw bad();
  }
  return parsed as Record<string, string>;
}
