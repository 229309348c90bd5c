/**
 * Paging cursors are opaque to callers: base64url of the listing they were issued by and the last key
 * of the page, checked when one comes back: the same listing, and exactly the key attributes of one of
 * its indexes (its length and alphabet are checked before, by cursorParam in the route's query schema).
 * A cursor that passes and still names no position of the query is refused by DynamoDB, and answered
 * with the same 400 (InvalidCursorError in queryPage).
 */
import { isRecord } from '../lib/aws/dynamo-paging';
import { invalidCursor } from './error-mapping';

/** The listings that issue cursors, each with the key attributes of the indexes it pages through. */
export const CURSOR_KEYS = {
  requests: [
    ['pk', 'sk', 'kind', 'createdAt'],
    ['pk', 'sk', 'subjectHash', 'createdAt'],
  ],
  audit: [['pk', 'sk', 'kind', 'createdAt']],
} as const satisfies Record<string, readonly (readonly string[])[]>;

export type CursorListing = keyof typeof CURSOR_KEYS;

export function encodeCursor(
  listing: CursorListing,
  key: Record<string, string> | undefined,
): string | undefined {
  return key ? Buffer.from(JSON.stringify({ l: listing, k: key }), 'utf8').toString('base64url') : undefined;
}

export function decodeCursor(
  raw: string | undefined,
  listing: CursorListing,
): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const { l, k } = (isRecord(parsed) ? parsed : {}) as { l?: unknown; k?: unknown };
  if (l !== listing || !isRecord(k)) throw invalidCursor();
  const names = Object.keys(k).sort().join(',');
  const complete = CURSOR_KEYS[listing].some((keys) => [...keys].sort().join(',') === names);
  if (!complete || !Object.values(k).every((v) => typeof v === 'string' && v.length <= 512)) {
    throw invalidCursor();
  }
  return k as Record<string, string>;
}
