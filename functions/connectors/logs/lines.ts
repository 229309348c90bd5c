import { StringDecoder } from 'node:string_decoder';

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
