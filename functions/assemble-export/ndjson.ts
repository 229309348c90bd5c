/**
 * Reads staged NDJSON as a stream of records and writes a collection as a JSON array, one record at a
 * time: a collection is never held in memory, whatever its size.
 */
import { ArchiveAssemblyError } from './errors';

/** A single record can be up to DynamoDB's 400 KB item, larger once exported as JSON; bound the line. */
const MAX_LINE_BYTES = 32 * 1024 * 1024;
/** Output is batched into chunks of about this size, so a million small records are not a million writes. */
const CHUNK_BYTES = 64 * 1024;

export type JsonRecord = Record<string, unknown>;

function parseLine(line: Buffer): JsonRecord | undefined {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0d) end -= 1;
  const text = line.toString('utf8', 0, end);
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ArchiveAssemblyError('A staged collection has a line that is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ArchiveAssemblyError('A staged collection has a line that is not a JSON object');
  }
  return value as JsonRecord;
}

/** Parses newline-delimited JSON objects from a byte stream; blank lines are skipped. */
export async function* ndjsonRecords(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<JsonRecord> {
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
      const line = pendingBytes > 0 ? Buffer.concat([...pending, piece]) : piece;
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
      const record = parseLine(line);
      if (record) yield record;
    }
    if (start < buf.length) {
      pending.push(buf.subarray(start));
      pendingBytes += buf.length - start;
      if (pendingBytes > MAX_LINE_BYTES)
        throw new ArchiveAssemblyError('A staged record exceeds the line limit');
    }
  }
  if (pendingBytes > 0) {
    const record = parseLine(Buffer.concat(pending));
    if (record) yield record;
  }
}

/** Counts what passed through, for the manifest. */
export interface RecordCounter {
  records: number;
}

/** A JSON array, one record a line: `[\n{...},\n{...}\n]\n`, or `[]\n` when empty. */
export async function* jsonArrayChunks(
  records: AsyncIterable<JsonRecord>,
  counter: RecordCounter,
): AsyncGenerator<Buffer> {
  let batch = '';
  for await (const record of records) {
    batch += (counter.records === 0 ? '[\n' : ',\n') + JSON.stringify(record);
    counter.records += 1;
    if (batch.length >= CHUNK_BYTES) {
      yield Buffer.from(batch, 'utf8');
      batch = '';
    }
  }
  batch += counter.records === 0 ? '[]\n' : '\n]\n';
  yield Buffer.from(batch, 'utf8');
}
