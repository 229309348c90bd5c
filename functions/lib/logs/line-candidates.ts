/**
 * The line pre-filter of reads and rewrites (lines.ts `filterLines`): which lines may be a subject's, so
 * that only those are parsed and judged. A line is a candidate when one of its JSON strings is exactly one
 * of the ids.
 *
 * Two searches, one answer. The exact one (`IdStrings`) walks the bytes once, each string of the line
 * looked up in a set: the same cost for one subject's few ids as for a log-erasure job's hundreds
 * (searching each id through the bytes in turn grew with their number: 0.2 s for 2 ids, 4.4 s for 100
 * over 65 MiB), about 3 ns a byte. The fast one (`QuotedIds`) lets V8's regular expressions find `"<id>"`
 * in the bytes (about 0.7 to 1 ns a byte, 2 to 1,600 ids) and has the exact one judge only the lines they
 * point at: a quoted id in the bytes is not always a string of the line (`"k":"v"` holds `":"`).
 */
import { ByteStrings } from './byte-strings';

/** Ids that appear verbatim in JSON (no character a writer might escape): safe to pre-filter lines on. */
const PLAIN_ID = /^[A-Za-z0-9_.:@+-]+$/;

/**
 * The longest expression the fast search is built for. Past about 20,000 characters V8 no longer
 * optimises an expression (measured: 1,600 ids of 10 characters 1.1 ns a byte, 3,200 of them 4.5 ns),
 * and the exact search alone is faster.
 */
const MAX_EXPRESSION_LENGTH = 16_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

export interface LineCandidates {
  /** A search of `chunk[0..end)`: one per chunk, asked for the candidates in order. */
  search(chunk: Uint8Array, end: number): CandidateSearch;
}

export interface CandidateSearch {
  /**
   * Where in `[from..end)` the first candidate line is: an offset inside that line (its start is after
   * the newline before it), or -1 when there is none. `from` must be the start of a line.
   */
  next(from: number): number;
}

/** True when `line` (one line's bytes) is a candidate. */
export function isCandidate(candidates: LineCandidates, line: Uint8Array): boolean {
  return candidates.search(line, line.length).next(0) !== -1;
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

  search(chunk: Uint8Array, end: number): CandidateSearch {
    return { next: (from) => this.next(chunk, from, end) };
  }

  /** The first candidate line of `chunk[from..end)` (`from` a line start), as `CandidateSearch.next`. */
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
 * `"<id>"` found by a regular expression over the chunk's bytes (as latin1: one character a byte, so
 * offsets are the same), and each line it points at judged by the exact search: a line the exact search
 * finds holds those bytes, so none is missed, and a line holding them otherwise is passed over.
 */
class QuotedIds implements LineCandidates {
  constructor(
    private readonly quoted: RegExp,
    private readonly exact: IdStrings,
  ) {}

  search(chunk: Uint8Array, end: number): CandidateSearch {
    const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1', 0, end);
    return {
      next: (from) => {
        let lineStart = from;
        while (lineStart < end) {
          // Synchronous from here to exec: the expression's lastIndex is never shared across awaits.
          this.quoted.lastIndex = lineStart;
          const match = this.quoted.exec(text);
          if (match === null) return -1;
          const start = Math.max(lineStart, text.lastIndexOf('\n', match.index) + 1);
          const newline = text.indexOf('\n', match.index);
          const lineEnd = newline === -1 ? end : newline + 1;
          const hit = this.exact.next(chunk, start, lineEnd);
          if (hit !== -1) return hit;
          lineStart = lineEnd;
        }
        return -1;
      },
    };
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
  const exact = new IdStrings(bytes);
  if (bytes.length === 0) return exact;
  // Plain ids need no escaping but for the expression's own metacharacters among them (. and +).
  const expression = `"(?:${[...new Set(bytes.map((id) => id.toString('latin1').replace(/[.+]/g, '\\$&')))].join('|')})"`;
  return expression.length <= MAX_EXPRESSION_LENGTH
    ? new QuotedIds(new RegExp(expression, 'g'), exact)
    : exact;
}
