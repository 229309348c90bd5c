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
 * bytes: the keys are found by their one capital letter, a string value is kept as bytes (each distinct
 * one once: `DistinctIds`), and the nesting depth (top level or not) is counted only up to a `userId`
 * key. That is exact for a line without a backslash (no escape can hide a quote, a key or a value); a
 * line with one is parsed with JSON.parse.
 */

import { ByteStrings, grown } from './byte-strings';

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
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** The one capital letter of both keys (`"userId"`, `"deviceId"`): rare elsewhere in log lines. */
const CAPITAL_I = 0x49;
const USER = [0x75, 0x73, 0x65, 0x72]; // user
const DEVICE = [0x64, 0x65, 0x76, 0x69, 0x63, 0x65]; // device
/**
 * Longer lines are skipped: the connector's collect drops lines over 8 M characters (at most 24 MiB of
 * UTF-8) and its erase leaves lines over 8 MiB alone, so none longer is ever the subject's.
 */
export const MAX_INDEXED_LINE_BYTES = 32 * 1024 * 1024;

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;
}

/** True when `name` sits in `buf` just before `at`, preceded by a quote, all at or after `lineStart`. */
function keyNameBefore(buf: Buffer, at: number, name: readonly number[], lineStart: number): boolean {
  const start = at - name.length;
  if (start - 1 < lineStart || buf[start - 1] !== QUOTE) return false;
  for (let i = 0; i < name.length; i++) if (buf[start + i] !== name[i]) return false;
  return true;
}

/**
 * Where the string value of the key ending just before `at` starts (a line without backslashes, ending at
 * `end`): the byte after its opening quote, or -1 when the key holds something else, -2 when it is not a
 * key at all. (Numbers, not a range object: this runs for every key of every line.)
 */
function stringValueStart(buf: Buffer, at: number, end: number): number {
  let p = at;
  while (p < end && isSpace(buf[p])) p++;
  if (buf[p] !== 0x3a) return -2;
  p++;
  while (p < end && isSpace(buf[p])) p++;
  return buf[p] === QUOTE ? p + 1 : -1;
}

/** The closing quote of a string value starting at `start`, or -1 when the line ends first. */
function closingQuote(buf: Buffer, start: number, end: number): number {
  for (let p = start; p < end; p++) if (buf[p] === QUOTE) return p;
  return -1;
}

/**
 * Ids of one kind kept as bytes, each numbered once, from 0, in the order first met. The log indexer's
 * container keeps one per kind for every object it reads (LogIndexHasher hashes each entry once, by its
 * number); a reader on its own gets its own. An id of a line is interned here straight away: no table per
 * object, built and then looked up again in the container's.
 */
export class IdTable {
  /** Each entry's tag is the stamp of the last object that named it. */
  readonly bytes = new ByteStrings();
  private stamps = 0;

  /** A stamp for a new object's ids (never 0, an entry's tag before any object names it). */
  newStamp(): number {
    if (this.stamps === 0x7fffffff) {
      // Old stamps come round again: no entry may look named by an object that has not named it.
      this.bytes.clearTags();
      this.stamps = 0;
    }
    return ++this.stamps;
  }

  /** Forgets every id: only when no object's ids refer to it any more. */
  clear(): void {
    this.bytes.clear();
  }
}

/**
 * The distinct ids of one kind in one object: entries of an IdTable (ids read from bytes stay bytes: a
 * string per occurrence, with the garbage it leaves, cost more than the rest of the line reading) and
 * strings (ids of lines read with JSON.parse, lines with escapes). Objects read at once over one table can
 * list an entry twice (each tags it in turn): whoever reads the entries (`entry`) takes each once (the
 * object file does). Iterating gives every id as the connector reads it (UTF-8), each once.
 */
export class DistinctIds implements Iterable<string> {
  readonly strings = new Set<string>();
  private list = new Int32Array(256);
  /** Entries listed in `list`. */
  count = 0;
  private readonly stamp: number;

  constructor(readonly table: IdTable = new IdTable()) {
    this.stamp = table.newStamp();
  }

  /**
   * Adds the ids of `buf` in `ranges` (start and end pairs), all at once (ByteStrings.internAllOnce):
   * each entry is listed the first time this object names it.
   */
  addAll(buf: Buffer, ranges: IdRanges): void {
    if (this.count + ranges.count > this.list.length) {
      this.list = grown(this.list, Math.max(this.list.length * 2, this.count + ranges.count));
    }
    this.count += this.table.bytes.internAllOnce(
      buf,
      ranges.data,
      ranges.count,
      this.stamp,
      this.list,
      this.count,
    );
  }

  /** The table entry listed at `n` (below `count`). */
  entry(n: number): number {
    return this.list[n] ?? 0;
  }

  *[Symbol.iterator](): IterableIterator<string> {
    const { bytes } = this.table;
    const seen = new Set<string>();
    for (let n = 0; n < this.count; n++) {
      const entry = this.entry(n);
      const id = bytes.arena.toString('utf8', bytes.start(entry), bytes.end(entry));
      // Two byte strings can read as one string (invalid UTF-8 reads as U+FFFD).
      if (!this.strings.has(id) && !seen.has(id)) yield id;
      seen.add(id);
    }
    yield* this.strings;
  }
}

/** Ranges of ids in a buffer (start and end pairs), gathered to be added at once. */
class IdRanges {
  data = new Int32Array(2 * 1024);
  count = 0;

  push(start: number, end: number): void {
    if (2 * this.count + 2 > this.data.length) this.data = grown(this.data, this.data.length * 2);
    this.data[2 * this.count] = start;
    this.data[2 * this.count + 1] = end;
    this.count += 1;
  }
}

/** Nesting depth at `at` of a line starting at `start` (no backslashes): 1 is the top-level object. */
function depthAt(buf: Buffer, start: number, at: number): number {
  let depth = 0;
  for (let i = start; i < at; i++) {
    const byte = buf[i];
    if (byte === QUOTE) {
      // A string (no escapes): only its closing quote matters.
      i += 1;
      while (i < at && buf[i] !== QUOTE) i++;
      if (i === at) return -1;
    } else if (byte === 0x7b || byte === 0x5b) depth += 1;
    else if (byte === 0x7d || byte === 0x5d) depth -= 1;
  }
  return depth;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The tables an object's ids are interned in, per kind (a container's, or a reader's own). */
export interface IdTables {
  users: IdTable;
  devices: IdTable;
}

/** Collects the subjects of one object from its decompressed bytes, pushed chunk by chunk. */
export class SubjectIdCollector {
  readonly result: ObjectSubjects;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside a line longer than the limit: skipped up to its newline. */
  private skipping = false;
  private readonly users: DistinctIds;
  private readonly devices: DistinctIds;
  /**
   * The ids of the lines being read, added together at the end of a buffer (DistinctIds.addAll). A
   * line's device ids are gathered as it is read, and dropped again if it turns out signed in.
   */
  private readonly userRanges = new IdRanges();
  private readonly deviceRanges = new IdRanges();

  constructor(
    private readonly kind: LogKind,
    tables: IdTables = { users: new IdTable(), devices: new IdTable() },
  ) {
    this.users = new DistinctIds(tables.users);
    this.devices = new DistinctIds(tables.devices);
    this.result = { userIds: this.users, deviceIds: this.devices, lines: 0, bytes: 0, oversized: 0 };
  }

  push(chunk: Buffer): void {
    this.result.bytes += chunk.length;
    let pos = 0;
    if (this.skipping || this.pendingBytes > 0) {
      const newline = chunk.indexOf(NEWLINE);
      if (newline === -1) {
        if (!this.skipping) this.hold(chunk);
        return;
      }
      if (!this.skipping) {
        this.pending.push(chunk.subarray(0, newline));
        const line = Buffer.concat(this.pending);
        this.lines(line, 0, line.length);
      }
      this.pending = [];
      this.pendingBytes = 0;
      this.skipping = false;
      pos = newline + 1;
    }
    const lastNewline = chunk.lastIndexOf(NEWLINE);
    if (lastNewline >= pos) {
      this.lines(chunk, pos, lastNewline);
      pos = lastNewline + 1;
    }
    if (pos < chunk.length) this.hold(chunk.subarray(pos));
  }

  /** The last line, when the object does not end with a newline. */
  end(): ObjectSubjects {
    if (this.pendingBytes > 0) {
      const line = Buffer.concat(this.pending);
      this.lines(line, 0, line.length);
    }
    this.pending = [];
    this.pendingBytes = 0;
    return this.result;
  }

  private hold(part: Buffer): void {
    this.pending.push(part);
    this.pendingBytes += part.length;
    if (this.pendingBytes > MAX_INDEXED_LINE_BYTES) {
      this.pending = [];
      this.pendingBytes = 0;
      this.skipping = true;
      this.result.oversized += 1;
    }
  }

  /**
   * Every line in `buf` from `start` up to `stop` (a newline, or the end of a lone last line). Keys are
   * found through their capital I (one native byte search per occurrence, the next one found once and
   * kept for the lines after it); everything else is a few bytes looked at around each.
   */
  private lines(buf: Buffer, start: number, stop: number): void {
    const access = this.kind === 'access';
    // Next occurrence at or after the current line: -2 not searched yet, -1 none left in `buf`.
    let nextI = -2;
    let nextBackslash = -2;
    let lineStart = start;
    while (lineStart <= stop) {
      let lineEnd = buf.indexOf(NEWLINE, lineStart);
      if (lineEnd === -1 || lineEnd > stop) lineEnd = stop;
      if (lineEnd > lineStart) this.result.lines += 1;
      if (nextBackslash !== -1 && nextBackslash < lineStart)
        nextBackslash = buf.indexOf(BACKSLASH, lineStart);
      if (nextBackslash !== -1 && nextBackslash < lineEnd) {
        this.parsedLine(buf.toString('utf8', lineStart, lineEnd));
      } else {
        if (nextI !== -1 && nextI < lineStart) nextI = buf.indexOf(CAPITAL_I, lineStart);
        // The top-level userId as JSON.parse sees it (the last one wins): signed in if a non-empty string.
        let signedIn = false;
        const devicesBefore = this.deviceRanges.count;
        while (nextI !== -1 && nextI < lineEnd) {
          const at = nextI;
          if (buf[at + 1] === 0x64 && buf[at + 2] === QUOTE) {
            if (keyNameBefore(buf, at, USER, lineStart)) {
              const start = stringValueStart(buf, at + 3, lineEnd);
              if (start !== -2) {
                const end = start < 0 ? -1 : closingQuote(buf, start, lineEnd);
                const nonEmpty = end > start;
                if (nonEmpty) this.userRanges.push(start, end);
                if (access && depthAt(buf, lineStart, at - USER.length - 1) === 1) signedIn = nonEmpty;
              }
            } else if (access && keyNameBefore(buf, at, DEVICE, lineStart)) {
              const start = stringValueStart(buf, at + 3, lineEnd);
              const end = start < 0 ? -1 : closingQuote(buf, start, lineEnd);
              if (end !== -1) this.deviceRanges.push(start, end);
            }
          }
          nextI = buf.indexOf(CAPITAL_I, at + 1);
        }
        if (signedIn) this.deviceRanges.count = devicesBefore;
      }
      lineStart = lineEnd + 1;
    }
    this.users.addAll(buf, this.userRanges);
    this.devices.addAll(buf, this.deviceRanges);
    this.userRanges.count = 0;
    this.deviceRanges.count = 0;
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
          this.users.strings.add(entry.userId);
      }
      return;
    }
    const { userId, deviceId } = line;
    if (typeof userId === 'string' && userId !== '') this.users.strings.add(userId);
    else if (typeof deviceId === 'string') this.devices.strings.add(deviceId);
  }
}

/** The subjects named in a stream of decompressed log bytes. */
export async function collectSubjectIds(
  source: AsyncIterable<Buffer>,
  kind: LogKind,
  tables?: IdTables,
): Promise<ObjectSubjects> {
  const collector = new SubjectIdCollector(kind, tables);
  for await (const chunk of source) collector.push(chunk);
  return collector.end();
}
