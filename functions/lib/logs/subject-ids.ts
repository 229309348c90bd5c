/**
 * Which subjects a log object names, for the subject index (docs/log-index.md): the user ids and device
 * ids under which the logs connector could find a line of someone in it. It must never miss one, so it
 * takes a superset of what lib/logs/subject-lines.ts matches (a line it names but the connector
 * does not match only costs an extra read):
 *
 * - access logs: every string `userId` in the line, and, when the line's own (top-level) `userId` is not a
 *   non-empty string (signed out), every string `deviceId` in it;
 * - voice sessions: every string `userId` in the line (participants' and any other).
 *
 * Reading every line with JSON.parse would cost several times the gunzip before it, so lines are read as
 * bytes, in WebAssembly (wasm/log-ids.ts, through LogIdReader): the keys are found by their one capital
 * letter, a string value is kept as bytes (each distinct one once an object), and the nesting depth (top
 * level or not) is counted only up to a `userId` key. That is exact for a line without a backslash (no
 * escape can hide a quote, a key or a value); a line with one is parsed here, with JSON.parse.
 */

import { LogIdReader, type BlockMac, type IdBytes, type IdKind } from './log-ids';

export type LogKind = 'access' | 'voice-sessions';

export interface ObjectSubjects {
  userIds: DistinctIds;
  deviceIds: DistinctIds;
  lines: number;
  /** Decompressed bytes read. */
  bytes: number;
  /** Lines longer than the limit, skipped (the connector reads none that long). */
  oversized: number;
}

const NEWLINE = 0x0a;
/**
 * Longer lines are skipped: the connector's collect drops lines over 8 M characters (at most 24 MiB of
 * UTF-8) and its erase leaves lines over 8 MiB alone, so none longer is ever the subject's.
 */
export const MAX_INDEXED_LINE_BYTES = 32 * 1024 * 1024;

/**
 * The distinct ids of one kind in one object: the byte strings its reader holds (ids read from bytes stay
 * bytes: a string per occurrence, with the garbage it leaves, would cost more than the rest of the
 * reading) and strings (ids of lines read with JSON.parse, lines with escapes). Iterating gives every id
 * as the connector reads it (UTF-8), each once.
 */
export class DistinctIds implements Iterable<string> {
  readonly strings = new Set<string>();

  constructor(
    private readonly reader: LogIdReader,
    readonly kind: IdKind,
  ) {}

  /** The ids read as bytes, in the reader's memory: valid until it reads or MACs again. */
  bytes(): IdBytes {
    return this.reader.ids(this.kind);
  }

  /** The AES-CMAC of `prefix` and each id read as bytes, in their order (LogIdReader.macs). */
  macs(prefix: Buffer, mac: BlockMac): Buffer {
    return this.reader.macs(this.kind, prefix, mac);
  }

  *[Symbol.iterator](): IterableIterator<string> {
    const { count, arena, ends } = this.bytes();
    const seen = new Set<string>();
    for (let n = 0; n < count; n++) {
      const id = arena.toString('utf8', n === 0 ? 0 : ends[n - 1], ends[n]);
      // Two byte strings can read as one string (invalid UTF-8 reads as U+FFFD).
      if (!this.strings.has(id) && !seen.has(id)) yield id;
      seen.add(id);
    }
    yield* this.strings;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Collects the subjects of one object from its decompressed bytes, pushed chunk by chunk. */
export class SubjectIdCollector {
  readonly result: ObjectSubjects;
  /** Bytes of an unfinished line, kept at the start of the reader's input. */
  private carried = 0;
  /** Inside a line longer than the limit: skipped up to its newline. */
  private skipping = false;
  private readonly parsed = (line: Buffer) => this.parsedLine(line.toString('utf8'));

  /** `reader`: one lent for this object (its last object's ids are forgotten), or a new one. */
  constructor(
    private readonly kind: LogKind,
    private readonly reader: LogIdReader = new LogIdReader(),
  ) {
    reader.beginObject();
    this.result = {
      userIds: new DistinctIds(reader, 'user'),
      deviceIds: new DistinctIds(reader, 'device'),
      lines: 0,
      bytes: 0,
      oversized: 0,
    };
  }

  push(chunk: Buffer): void {
    this.result.bytes += chunk.length;
    let bytes = chunk;
    if (this.skipping) {
      const newline = chunk.indexOf(NEWLINE);
      if (newline === -1) return;
      this.skipping = false;
      bytes = chunk.subarray(newline + 1);
    }
    this.carried = this.reader.read(this.carried, bytes, this.kind === 'access', false, this.parsed);
    if (this.carried > MAX_INDEXED_LINE_BYTES) {
      this.carried = 0;
      this.skipping = true;
      this.result.oversized += 1;
    }
  }

  /** The last line, when the object does not end with a newline. */
  end(): ObjectSubjects {
    if (this.carried > 0)
      this.reader.read(this.carried, Buffer.alloc(0), this.kind === 'access', true, this.parsed);
    this.carried = 0;
    this.result.lines = this.reader.lines;
    return this.result;
  }

  /** A line with escapes: read exactly as the connector reads it (a line that does not parse is nobody's). */
  private parsedLine(text: string): void {
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    if (!isRecord(line)) return;
    if (this.kind === 'voice-sessions') {
      const participants = Array.isArray(line.participants) ? line.participants : [];
      for (const entry of participants) {
        if (isRecord(entry) && typeof entry.userId === 'string' && entry.userId !== '')
          this.result.userIds.strings.add(entry.userId);
      }
      return;
    }
    const { userId, deviceId } = line;
    if (typeof userId === 'string' && userId !== '') this.result.userIds.strings.add(userId);
    else if (typeof deviceId === 'string') this.result.deviceIds.strings.add(deviceId);
  }
}

/** The subjects named in a stream of decompressed log bytes (read by `reader`, or one of its own). */
export async function collectSubjectIds(
  source: AsyncIterable<Buffer>,
  kind: LogKind,
  reader?: LogIdReader,
): Promise<ObjectSubjects> {
  const collector = new SubjectIdCollector(kind, reader);
  for await (const chunk of source) collector.push(chunk);
  return collector.end();
}
