import { createGunzip, createGzip, type Gunzip, type Gzip } from 'node:zlib';
import { isCandidate, type LineCandidates } from './line-candidates';

/**
 * zlib streams with 256 KiB chunks: JSON log lines compress about tenfold, so zlib's default 16 KiB
 * chunks turn one object into thousands of small async steps (gunzip ran about 8x slower with them).
 */
const ZLIB_CHUNK_BYTES = 256 * 1024;
export const gunzipStream = (): Gunzip => createGunzip({ chunkSize: ZLIB_CHUNK_BYTES });
export const gzipStream = (): Gzip => createGzip({ chunkSize: ZLIB_CHUNK_BYTES });

export interface LineStats {
  /** Lines longer than the limit: never judged (a rewrite copies them through as they are). */
  oversized: number;
}

/** What becomes of one line: kept as it is, dropped, or replaced by other text (same line ending). */
export type LineVerdict = 'keep' | 'drop' | { replace: string };

export interface LineFilterOptions {
  /** Only these lines are judged; every other line is kept without a look. Null: judge all. */
  candidates: LineCandidates | null;
  /** Decides on one line (its bytes without the `\n`; a `\r` before it stays part of the line). */
  judge(line: Buffer): LineVerdict;
  /** Longer lines are copied through unjudged, so memory stays bounded (default 8 MiB). */
  maxLineBytes?: number;
  stats?: LineStats;
  /** Awaited once the source is exhausted, before the stream ends (a last check before a write). */
  beforeEnd?(): Promise<void>;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Copies a byte stream of lines, dropping or replacing the lines `judge` says, and every other byte as it
 * is: kept lines are never decoded and re-encoded, so they stay byte-for-byte the same, in the same order
 * (odd encodings and line endings included). Runs of kept lines go out as slices of the input chunks, and
 * the candidate search skips lines that cannot be one without splitting them.
 */
export async function* filterLines(
  source: AsyncIterable<Buffer | string>,
  options: LineFilterOptions,
): AsyncGenerator<Buffer> {
  const { candidates, judge } = options;
  const maxLineBytes = options.maxLineBytes ?? 8 * 1024 * 1024;
  const stats = options.stats ?? { oversized: 0 };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  // Inside a line longer than the limit: copied through, up to and including its newline.
  let passthrough = false;

  const candidate = (line: Buffer) => candidates === null || isCandidate(candidates, line);
  /** The bytes a judged line becomes (its ending included), or undefined when it is kept as it is. */
  const rewrite = (line: Buffer, terminated: boolean): Buffer | undefined => {
    const verdict = judge(line);
    if (verdict === 'keep') return undefined;
    if (verdict === 'drop') return Buffer.alloc(0);
    const ending = !terminated ? '' : line[line.length - 1] === CR ? '\r\n' : '\n';
    return Buffer.from(verdict.replace + ending, 'utf8');
  };

  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    let pos = 0;
    if (passthrough) {
      const newline = chunk.indexOf(NEWLINE);
      if (newline === -1) {
        yield chunk;
        continue;
      }
      yield chunk.subarray(0, newline + 1);
      passthrough = false;
      pos = newline + 1;
    } else if (pendingBytes > 0) {
      const newline = chunk.indexOf(NEWLINE);
      if (newline === -1) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes > maxLineBytes) {
          yield* pending;
          pending = [];
          pendingBytes = 0;
          passthrough = true;
          stats.oversized += 1;
        }
        continue;
      }
      pending.push(chunk.subarray(0, newline));
      const line = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      const out = candidate(line) ? rewrite(line, true) : undefined;
      if (out === undefined) yield Buffer.concat([line, chunk.subarray(newline, newline + 1)]);
      else if (out.length > 0) yield out;
      pos = newline + 1;
    }

    const lastNewline = chunk.lastIndexOf(NEWLINE);
    if (lastNewline >= pos) {
      let runStart = pos;
      let lineStart = pos;
      const search = candidates?.search(chunk, lastNewline + 1);
      while (lineStart <= lastNewline) {
        const hit = search === undefined ? lineStart : search.next(lineStart);
        if (hit === -1) break;
        // A hit lies inside one line: the one around it.
        // (lastIndexOf counts a negative offset from the end: only look back from a hit past the start.)
        const start =
          hit === lineStart ? lineStart : Math.max(lineStart, chunk.lastIndexOf(NEWLINE, hit - 1) + 1);
        const end = chunk.indexOf(NEWLINE, hit);
        const out = rewrite(chunk.subarray(start, end), true);
        if (out !== undefined) {
          if (start > runStart) yield chunk.subarray(runStart, start);
          if (out.length > 0) yield out;
          runStart = end + 1;
        }
        lineStart = end + 1;
      }
      if (lastNewline + 1 > runStart) yield chunk.subarray(runStart, lastNewline + 1);
      pos = lastNewline + 1;
    }

    if (pos < chunk.length) {
      const tail = chunk.subarray(pos);
      if (tail.length > maxLineBytes) {
        yield tail;
        passthrough = true;
        stats.oversized += 1;
      } else {
        pending = [tail];
        pendingBytes = tail.length;
      }
    }
  }

  if (pendingBytes > 0) {
    // The last line, without a newline: judged like the others, and left without one.
    const line = Buffer.concat(pending);
    const out = candidate(line) ? rewrite(line, false) : undefined;
    if (out === undefined) yield line;
    else if (out.length > 0) yield out;
  }
  await options.beforeEnd?.();
}
