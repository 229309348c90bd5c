import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip, type Gunzip, type Gzip } from 'node:zlib';

/**
 * zlib streams with 256 KiB chunks: JSON log lines compress about tenfold, so zlib's default 16 KiB
 * chunks turn one object into thousands of small async steps (gunzip ran about 8x slower with them).
 */
const ZLIB_CHUNK_BYTES = 256 * 1024;
export const gunzipStream = (): Gunzip => createGunzip({ chunkSize: ZLIB_CHUNK_BYTES });
export const gzipStream = (): Gzip => createGzip({ chunkSize: ZLIB_CHUNK_BYTES });

export interface LineStats {
  /** Lines dropped because they grew past the limit without a newline. */
  oversized: number;
}

/**
 * Splits a byte stream into lines, a chunk's worth at a time (batches keep the per-line overhead of async
 * iteration off the hot path). Memory stays bounded: a line longer than `maxLineChars` is dropped up to
 * its newline rather than accumulated. UTF-8 sequences split across chunks are decoded correctly.
 */
export async function* splitLines(
  source: AsyncIterable<Buffer | string>,
  stats: LineStats = { oversized: 0 },
  maxLineChars = 8 * 1024 * 1024,
): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let skipping = false;
  const finish = (line: string): string => (line.endsWith('\r') ? line.slice(0, -1) : line);

  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    const lines: string[] = [];
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      if (!skipping) lines.push(finish(pending + text.slice(start, newline)));
      pending = '';
      skipping = false;
      start = newline + 1;
    }
    if (!skipping) {
      pending += text.slice(start);
      if (pending.length > maxLineChars) {
        pending = '';
        skipping = true;
        stats.oversized += 1;
      }
    }
    if (lines.length > 0) yield lines;
  }
  const tail = pending + decoder.end();
  if (!skipping && tail !== '') yield [finish(tail)];
}

/** What becomes of one line: kept as it is, dropped, or replaced by other text (same line ending). */
export type LineVerdict = 'keep' | 'drop' | { replace: string };

export interface LineFilterOptions {
  /** Only lines containing one of these are judged; every other line is kept without a look. Null: judge all. */
  needles: readonly Buffer[] | null;
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
 * the needle search skips lines that cannot be a candidate without splitting them.
 */
export async function* filterLines(
  source: AsyncIterable<Buffer | string>,
  options: LineFilterOptions,
): AsyncGenerator<Buffer> {
  const { needles, judge } = options;
  const maxLineBytes = options.maxLineBytes ?? 8 * 1024 * 1024;
  const stats = options.stats ?? { oversized: 0 };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  // Inside a line longer than the limit: copied through, up to and including its newline.
  let passthrough = false;

  const candidate = (line: Buffer) => needles === null || needles.some((n) => line.includes(n));
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
      // Next occurrence of each needle at or after the current line: -1 none left in this chunk, -2 not
      // searched yet. Each needle is searched for once per occurrence, not once per line.
      const next = needles?.map(() => -2) ?? [];
      let runStart = pos;
      let lineStart = pos;
      while (lineStart <= lastNewline) {
        let hit = needles === null ? lineStart : -1;
        for (const [i, needle] of (needles ?? []).entries()) {
          let at = next[i] ?? -2;
          if (at === -2 || (at !== -1 && at < lineStart)) {
            at = chunk.indexOf(needle, lineStart);
            next[i] = at;
          }
          if (at !== -1 && (hit === -1 || at < hit)) hit = at;
        }
        if (hit === -1 || hit > lastNewline) break;
        // Needles hold no newline, so a hit lies inside one line: the one around it.
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
