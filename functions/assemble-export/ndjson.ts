/**
 * Reads staged NDJSON as a stream of lines (or of parsed records, for CSV) and writes a collection as a
 * JSON array, one record at a time: a collection is never held in memory, whatever its size.
 */
import { ArchiveAssemblyError } from './errors';

/** A single record can be up to DynamoDB's 400 KB item, larger once exported as JSON; bound the line. */
const MAX_LINE_BYTES = 32 * 1024 * 1024;
/** Output is batched into chunks of about this size, so a million small records are not a million writes. */
const CHUNK_BYTES = 64 * 1024;

export type JsonRecord = Record<string, unknown>;

/** One staged line as a record; a line that is not a JSON object fails the archive. */
export function parseLine(line: Buffer): JsonRecord {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    throw new ArchiveAssemblyError('A staged collection has a line that is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ArchiveAssemblyError('A staged collection has a line that is not a JSON object');
  }
  return value as JsonRecord;
}

/** The line without a trailing CR, or undefined when it is blank. */
function trimLine(line: Buffer): Buffer | undefined {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0d) end -= 1;
  let start = 0;
  // Blank means only JSON whitespace: space, tab, CR.
  while (start < end && (line[start] === 0x20 || line[start] === 0x09 || line[start] === 0x0d)) start += 1;
  return start === end ? undefined : line.subarray(0, end);
}

/**
 * The lines of newline-delimited JSON, as bytes (CR stripped, blank lines skipped), never decoded: a
 * line is only as long as one record, whatever the size of the file.
 */
export async function* ndjsonLines(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of source) {
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    // Splitting on the byte 0x0A is safe in UTF-8: it never occurs inside a multi-byte character.
    for (let newline = buf.indexOf(0x0a, start); newline !== -1; newline = buf.indexOf(0x0a, start)) {
      const piece = buf.subarray(start, newline);
      const line = trimLine(pendingBytes > 0 ? Buffer.concat([...pending, piece]) : piece);
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
      if (line) yield line;
    }
    if (start < buf.length) {
      pending.push(buf.subarray(start));
      pendingBytes += buf.length - start;
      if (pendingBytes > MAX_LINE_BYTES)
        throw new ArchiveAssemblyError('A staged record exceeds the line limit');
    }
  }
  const last = pendingBytes > 0 ? trimLine(Buffer.concat(pending)) : undefined;
  if (last) yield last;
}

/** Parses newline-delimited JSON objects from a byte stream; blank lines are skipped. */
export async function* ndjsonRecords(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<JsonRecord> {
  for await (const line of ndjsonLines(source)) yield parseLine(line);
}

/** Counts what passed through, for the manifest. */
export interface RecordCounter {
  records: number;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const ARRAY_OPEN = Buffer.from('[\n');
const SEPARATOR = Buffer.from(',\n');
const ARRAY_CLOSE = Buffer.from('\n]\n');
const EMPTY_ARRAY = Buffer.from('[]\n');

/**
 * A JSON array, one record a line: `[\n{...},\n{...}\n]\n`, or `[]\n` when empty. The staged lines are
 * copied as they are: each is one `JSON.stringify` of a record, written by the staging area of this
 * very request, so parsing and re-serialising would give back the same bytes at the cost of the
 * largest share of the assembler's time. A line that does not even look like an object (a truncated
 * or foreign file) fails the archive.
 */
export async function* jsonArrayChunks(
  lines: AsyncIterable<Buffer>,
  counter: RecordCounter,
): AsyncGenerator<Buffer> {
  let batch: Buffer[] = [];
  let batchBytes = 0;
  for await (const line of lines) {
    if (line[0] !== OPEN_BRACE || line[line.length - 1] !== CLOSE_BRACE) {
      throw new ArchiveAssemblyError('A staged collection has a line that is not a JSON object');
    }
    batch.push(counter.records === 0 ? ARRAY_OPEN : SEPARATOR, line);
    batchBytes += line.length + 2;
    counter.records += 1;
    if (batchBytes >= CHUNK_BYTES) {
      yield Buffer.concat(batch, batchBytes);
      batch = [];
      batchBytes = 0;
    }
  }
  batch.push(counter.records === 0 ? EMPTY_ARRAY : ARRAY_CLOSE);
  yield Buffer.concat(batch);
}
