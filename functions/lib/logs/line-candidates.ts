/**
 * The line pre-filter of reads and rewrites (lines.ts `filterLines`): which lines may be a subject's, so
 * that only those are parsed and judged. A line is a candidate when one of its JSON strings is exactly one
 * of the ids. The ids are found in one pass over the bytes, each string of the line looked up in a set:
 * the cost is the same for one subject's few ids as for a log-erasure job's hundreds (searching each id
 * through the bytes in turn grew with their number: 0.2 s for 2 ids, 4.4 s for 100 over 65 MiB).
 */
import { ByteStrings } from './byte-strings';

/** Ids that appear verbatim in JSON (no character a writer might escape): safe to pre-filter lines on. */
const PLAIN_ID = /^[A-Za-z0-9_.:@+-]+$/;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

export interface LineCandidates {
  /**
   * Where in `chunk[from..end)` the first candidate line is: an offset inside that line (its start is
   * after the newline before it), or -1 when there is none. `from` must be the start of a line.
   */
  next(chunk: Uint8Array, from: number, end: number): number;
}

/** True when `line` (one line's bytes) is a candidate. */
export function isCandidate(candidates: LineCandidates, line: Uint8Array): boolean {
  return candidates.next(line, 0, line.length) !== -1;
}

class IdStrings implements LineCandidates {
  private readonly ids = new ByteStrings();
  /** Which lengths and first bytes an id has: most strings of a line are rejected on these alone. */
  private readonly lengths: Uint8Array;
  private readonly firstBytes = new Uint8Array(256);

  constructor(ids: readonly Buffer[]) {
    this.lengths = new Uint8Array(Math.max(0, ...ids.map((id) => id.length)) + 1);
    for (const id of ids) {
      this.ids.intern(id, 0, id.length);
      this.lengths[id.length] = 1;
      this.firstBytes[id[0] ?? 0] = 1;
    }
  }

  next(chunk: Uint8Array, from: number, end: number): number {
    const { lengths, firstBytes } = this;
    const longest = lengths.length - 1;
    // No ids (a category no waiting subject has): no candidate, and nothing to scan for.
    if (longest === 0) return -1;
    let inString = false;
    let start = 0;
    for (let i = from; i < end; i++) {
      const byte = chunk[i];
      if (byte === QUOTE) {
        if (!inString) {
          inString = true;
          start = i + 1;
          continue;
        }
        inString = false;
        const length = i - start;
        if (
          length <= longest &&
          lengths[length] === 1 &&
          firstBytes[chunk[start] ?? 0] === 1 &&
          this.ids.find(chunk, start, i) !== -1
        )
          return i;
      } else if (byte === BACKSLASH) {
        // An escaped character is never the quote that ends the string (and a plain id has none); a
        // newline is never escaped (not JSON: that line is left to the judge, the next read as usual).
        if (inString && chunk[i + 1] !== NEWLINE) i += 1;
      } else if (byte === NEWLINE) {
        // A JSON line holds no raw newline: whatever the last line was, the next starts outside a string.
        inString = false;
      }
    }
    return -1;
  }
}

/**
 * The candidates for lines holding any of `ids` as a JSON string, or null when an id could be written
 * escaped (then every line must be judged). No ids: no line is a candidate.
 */
export function lineCandidates(ids: Iterable<string>): LineCandidates | null {
  const bytes: Buffer[] = [];
  for (const id of ids) {
    if (!PLAIN_ID.test(id)) return null;
    bytes.push(Buffer.from(id, 'utf8'));
  }
  return new IdStrings(bytes);
}
