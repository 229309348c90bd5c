/**
 * A small streaming ZIP writer (PKWARE APPNOTE 6.3) on Node core streams, with no dependency: files go
 * in one at a time, each hashed (SHA-256) and counted as it streams through, and the archive bytes come
 * out of `output` (hashed and counted too) for the uploader to read. CRC-32 is zlib's native `crc32`.
 * Backpressure runs end to end: a source is read only as fast as `output` is read, so memory stays flat
 * (about `output`'s 1 MiB buffer plus a few stream buffers) whatever the sizes.
 *
 * Any failure (a source stream error, a DEFLATE error, the consumer destroying `output`, or `fail()`)
 * puts the writer in a failed state: the pending `add` (or `finish`) rejects, the current source is
 * destroyed, and `output` is destroyed with the error, so an uploader reading it aborts rather than
 * completing a partial archive. Afterwards every `add` and `finish` rejects with the first error. A
 * consumer that destroys `output` without an error fails the writer with an ArchiveAssemblyError (one
 * that stops iterating over it, as lib-storage's Upload does when a part fails, with Node's AbortError):
 * the reason is the consumer's to tell. Refused calls (a second `add` while one runs, a bad name) do
 * not fail the writer, but the source they were given is destroyed.
 *
 * Layout of each entry: a local file header (general purpose bits 3, data descriptor, and 11, UTF-8
 * name), the data (method 0, stored, or 8, DEFLATE), then a data descriptor (signature 0x08074b50) with
 * the CRC-32 and sizes. Names are written exactly as given (callers supply safe relative paths). Every
 * entry carries the same modification time, the writer's `date`, encoded from its UTC fields: the same
 * inputs give the same bytes whatever the machine's time zone (DOS times have no zone; readers show
 * that time as local). Entries are regular files, mode 0644, "made by" UNIX.
 *
 * ZIP64: an entry is ZIP64 when `forceZip64` is set, when its `size` hint or its local header offset
 * reaches 0xFFFFFFFF (known before the data: its local header then carries a ZIP64 extra field, sizes
 * 0xFFFFFFFF there and 0 in the extra, as bit 3 allows), or when its sizes turn out to reach 0xFFFFFFFF
 * (known only after the data). A ZIP64 entry's data descriptor has 8-byte sizes, and its central
 * directory header a ZIP64 extra field (0x0001) holding, in APPNOTE order, each of the uncompressed
 * size, compressed size and local header offset that does not fit in 32 bits (all three under
 * `forceZip64`; an entry announced as ZIP64 whose sizes turn out small keeps both sizes there, so
 * that every 8-byte data descriptor has its extra field). The ZIP64 end of central directory record
 * and locator are written when there are 0xFFFF entries or more, when the central directory's offset
 * or size reaches 0xFFFFFFFF, or under `forceZip64`; the classic end record then holds 0xFFFF /
 * 0xFFFFFFFF in the fields that do not fit (all of them under `forceZip64`).
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isNativeError } from 'node:util/types';
import { crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';
import { ArchiveAssemblyError } from './errors';

export interface WrittenFile {
  path: string;
  /** SHA-256 (hex) of the file's content, as given (uncompressed). */
  sha256: string;
  /** Size of the file's content, uncompressed. */
  bytes: number;
}

export interface ZipWriterOptions {
  /** Modification time of every entry (the archive's generation time: the archive is reproducible). */
  date: Date;
  /** DEFLATE level for text entries (media are stored); 6 unless given. */
  level?: number;
  /** ZIP64 structures for every entry and for the archive, whatever the sizes (tests, compatibility). */
  forceZip64?: boolean;
}

export interface AddOptions {
  /** Keep the bytes as they are (media: already compressed), else DEFLATE. */
  store: boolean;
  /**
   * The file's expected uncompressed size, when known (e.g. an S3 object's ContentLength). Only a hint:
   * at 0xFFFFFFFF or more, the local header announces ZIP64 up front.
   */
  size?: number;
}

/** Largest value of a 16-bit and of a 32-bit field; as a value, it means "see the ZIP64 record". */
const MAX16 = 0xffff;
const MAX32 = 0xffffffff;

const SIG_LOCAL_HEADER = 0x04034b50;
const SIG_DATA_DESCRIPTOR = 0x08074b50;
const SIG_CENTRAL_HEADER = 0x02014b50;
const SIG_ZIP64_END = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_END = 0x06054b50;

/** Bit 3: CRC-32 and sizes follow the data, in a data descriptor. Bit 11: the name is UTF-8. */
const FLAGS = (1 << 3) | (1 << 11);
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
/** "Version needed to extract": 2.0 (DEFLATE, data descriptor), 4.5 (ZIP64). */
const VERSION_DEFAULT = 20;
const VERSION_ZIP64 = 45;
/** "Version made by": UNIX (3) in the high byte, APPNOTE 4.5 in the low byte. */
const VERSION_MADE_BY = (3 << 8) | VERSION_ZIP64;
/** External attributes: a regular file, rw-r--r--, in the UNIX mode's place (the high 16 bits). */
const EXTERNAL_ATTRIBUTES = (0o100644 << 16) >>> 0;
const ZIP64_EXTRA_ID = 0x0001;

const MiB = 1024 * 1024;
/** Bytes `output` buffers before writing waits for the consumer: big enough to keep an uploader busy. */
const OUTPUT_HIGH_WATER_MARK = MiB;
/** Buffers inside an entry's pipeline (on top of the source's own). */
const STAGE_HIGH_WATER_MARK = 256 * 1024;
/** DEFLATE output chunks: fewer, larger chunks cost less per byte than zlib's default 16 KiB. */
const DEFLATE_CHUNK_SIZE = 64 * 1024;
/** Buffers up to this size are compressed in one call and written in one piece; larger ones stream. */
const INLINE_LIMIT = MiB;
/** Central directory headers are gathered into chunks of about this size. */
const CENTRAL_CHUNK_SIZE = 64 * 1024;

/** A large Buffer as views of INLINE_LIMIT bytes. */
function* pieces(buffer: Buffer): Generator<Buffer> {
  for (let at = 0; at < buffer.length; at += INLINE_LIMIT) yield buffer.subarray(at, at + INLINE_LIMIT);
}

/** An entry as the central directory needs it. */
interface Entry {
  name: Buffer;
  method: number;
  offset: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  zip64: boolean;
}

function writeUInt64LE(buffer: Buffer, value: number, at: number): void {
  buffer.writeUInt32LE(value % 0x100000000, at);
  buffer.writeUInt32LE(Math.floor(value / 0x100000000), at + 4);
}

/** MS-DOS time and date of `date`'s UTC fields, clamped to the format's range (1980 to 2107). */
function dosDateTime(date: Date): { time: number; date: number } {
  const year = date.getUTCFullYear();
  if (year < 1980) return { time: 0, date: (1 << 5) | 1 };
  if (year > 2107) return { time: (23 << 11) | (59 << 5) | 29, date: (127 << 9) | (12 << 5) | 31 };
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | (date.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
}

/** CRC-32, SHA-256 and size of an entry's content. */
class ContentDigest {
  crc = 0;
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');

  update(chunk: Buffer): void {
    this.crc = crc32(chunk, this.crc);
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  sha256(): string {
    return this.hash.digest('hex');
  }
}

/** Passes bytes through unchanged while digesting them (ahead of DEFLATE). */
class DigestingStream extends Transform {
  constructor(private readonly digest: ContentDigest) {
    super({ highWaterMark: STAGE_HIGH_WATER_MARK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.digest.update(chunk);
    callback(null, chunk);
  }
}

/** The archive's bytes. Calls `onRead` when the consumer wants more, `onDestroy` when destroyed. */
class ArchiveOutput extends Readable {
  constructor(
    private readonly onRead: () => void,
    private readonly onDestroy: (error: Error | null) => void,
  ) {
    super({ highWaterMark: OUTPUT_HIGH_WATER_MARK });
  }

  override _read(): void {
    this.onRead();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.onDestroy(error);
    callback(error);
  }
}

export class ZipWriter {
  /** The archive's bytes: give this to the uploader. */
  readonly output: Readable;
  private readonly out: ArchiveOutput;
  private readonly level: number;
  private readonly forceZip64: boolean;
  private readonly dos: { time: number; date: number };
  private readonly archiveHash: Hash = createHash('sha256');
  /** Bytes pushed to `output` so far: the offset of the next byte in the archive. */
  private offset = 0;
  private central: Entry[] = [];
  private entries = 0;
  private failure: Error | undefined;
  /** Set while a write waits for the consumer to read: resumes it (or fails it). */
  private resume: ((error?: Error) => void) | undefined;
  private currentSource: Readable | undefined;
  private entryAbort: AbortController | undefined;
  private busy = false;
  private finishing = false;
  private archiveDigest: string | undefined;

  constructor(options: ZipWriterOptions) {
    const level = options.level ?? 6;
    if (!Number.isInteger(level) || level < -1 || level > 9) {
      throw new ArchiveAssemblyError('The DEFLATE level must be an integer from -1 to 9');
    }
    if (!(options.date instanceof Date) || Number.isNaN(options.date.getTime())) {
      throw new ArchiveAssemblyError('The archive date is not a valid date');
    }
    this.level = level;
    this.forceZip64 = options.forceZip64 ?? false;
    this.dos = dosDateTime(options.date);
    this.out = new ArchiveOutput(
      () => this.resumeWriting(),
      (error) => {
        // Destroyed before its end was read (by the consumer, or by fail()): the archive is incomplete.
        if (!this.out.readableEnded) {
          this.fail(error ?? new ArchiveAssemblyError('The archive output was closed before its end'));
        }
      },
    );
    this.output = this.out;
  }

  /** Files written so far. */
  get fileCount(): number {
    return this.entries;
  }

  /**
   * Adds one file and resolves, with its hash and size, once it is fully written into the archive.
   * One file at a time: wait for an `add` to settle before the next one (or `finish`).
   */
  async add(path: string, source: Readable | Buffer, options: AddOptions): Promise<WrittenFile> {
    const stream = Buffer.isBuffer(source) ? undefined : source;
    const refusal = this.refuseAdd(path, options);
    if (refusal) {
      // The caller opened the source for us: close it, or an S3 response would be left hanging.
      stream?.destroy();
      throw refusal;
    }
    this.busy = true;
    this.currentSource = stream;
    try {
      return await this.writeEntry(path, source, options);
    } catch (error) {
      this.fail(error);
      throw this.failure ?? error;
    } finally {
      this.currentSource = undefined;
      this.entryAbort = undefined;
      this.busy = false;
    }
  }

  /**
   * Writes the central directory and ends `output`. Resolves once every byte has been handed to
   * `output`; the archive is complete once the consumer has read `output` to its end.
   */
  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.busy) throw new ArchiveAssemblyError('ZipWriter.finish called while a file is being written');
    if (this.finishing) throw new ArchiveAssemblyError('ZipWriter.finish called twice');
    this.finishing = true;
    try {
      const centralOffset = this.offset;
      const count = this.central.length;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      for (const entry of this.central) {
        const header = this.centralHeader(entry);
        pending.push(header);
        pendingBytes += header.length;
        if (pendingBytes >= CENTRAL_CHUNK_SIZE) {
          await this.emit(Buffer.concat(pending, pendingBytes));
          pending = [];
          pendingBytes = 0;
        }
      }
      const centralSize = this.offset + pendingBytes - centralOffset;
      pending.push(this.endRecords(count, centralOffset, centralSize));
      await this.emit(Buffer.concat(pending));
      this.central = []; // no longer needed: free it
      this.out.push(null);
    } catch (error) {
      this.fail(error);
      throw this.failure ?? error;
    }
  }

  /** SHA-256 and size of the whole archive, once `output` has been read to its end. */
  summary(): { sha256: string; bytes: number } {
    if (!this.out.readableEnded) throw new ArchiveAssemblyError('The archive has not been fully written');
    this.archiveDigest ??= this.archiveHash.digest('hex');
    return { sha256: this.archiveDigest, bytes: this.offset };
  }

  /** Puts the writer in the failed state (idempotent) and tears the streams down. */
  fail(error: unknown): void {
    if (this.failure) return;
    // isNativeError: also errors from another realm (Node's own, seen from a vm context such as Jest's).
    this.failure =
      error instanceof Error || isNativeError(error)
        ? error
        : new ArchiveAssemblyError('Archive writing failed');
    const resume = this.resume;
    this.resume = undefined;
    resume?.(this.failure);
    this.entryAbort?.abort(this.failure);
    this.currentSource?.destroy();
    // Destroying with an error makes an uploader reading `output` fail instead of completing.
    this.out.destroy(this.failure);
  }

  private refuseAdd(path: string, options: AddOptions): Error | undefined {
    if (this.failure) return this.failure;
    // One entry at a time: a source is opened only when the archive is ready for it.
    if (this.busy) {
      return new ArchiveAssemblyError('ZipWriter.add called while another file is being written');
    }
    if (this.finishing) return new ArchiveAssemblyError('ZipWriter.add called after finish');
    const bytes = Buffer.byteLength(path, 'utf8');
    if (bytes === 0 || bytes > MAX16) {
      return new ArchiveAssemblyError('An archive entry name must be 1 to 65535 bytes long');
    }
    // A lone surrogate would be written as U+FFFD: the entry would not have the name asked for.
    if (Buffer.from(path, 'utf8').toString('utf8') !== path) {
      return new ArchiveAssemblyError('An archive entry name is not valid Unicode');
    }
    const size = options.size;
    if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
      return new ArchiveAssemblyError('An archive entry size hint must be a non-negative integer');
    }
    return undefined;
  }

  private async writeEntry(
    path: string,
    source: Readable | Buffer,
    options: AddOptions,
  ): Promise<WrittenFile> {
    const name = Buffer.from(path, 'utf8');
    const offset = this.offset;
    const method = options.store ? METHOD_STORE : METHOD_DEFLATE;
    // Known before the data: the local header can say so, and the data descriptor will have 8-byte sizes.
    const zip64Ahead = this.forceZip64 || (options.size ?? 0) >= MAX32 || offset >= MAX32;
    const header = this.localHeader(name, method, zip64Ahead);
    const digest = new ContentDigest();
    const describe = (compressedSize: number): Entry => ({
      name,
      method,
      offset,
      crc: digest.crc,
      compressedSize,
      uncompressedSize: digest.bytes,
      zip64: zip64Ahead || digest.bytes >= MAX32 || compressedSize >= MAX32,
    });
    let entry: Entry;
    if (Buffer.isBuffer(source) && source.length <= INLINE_LIMIT) {
      // Small and already in memory (data files, the manifest): compressed at once, written in one piece.
      digest.update(source);
      const data = options.store ? source : deflateRawSync(source, { level: this.level });
      entry = describe(data.length);
      await this.emit(Buffer.concat([header, data, this.dataDescriptor(entry)]));
    } else {
      await this.emit(header);
      entry = describe(await this.streamData(source, options.store, digest));
      await this.emit(this.dataDescriptor(entry));
    }
    this.central.push(entry);
    this.entries += 1;
    return { path, sha256: digest.sha256(), bytes: digest.bytes };
  }

  /** Streams an entry's data into the archive, digesting its content; resolves to the bytes written. */
  private async streamData(
    source: Readable | Buffer,
    store: boolean,
    digest: ContentDigest,
  ): Promise<number> {
    let written = 0;
    const sink = new Writable({
      highWaterMark: STAGE_HIGH_WATER_MARK,
      write: (chunk: Buffer, _encoding, callback: (error?: Error | null) => void) => {
        if (store) digest.update(chunk);
        written += chunk.length;
        this.send(chunk, callback);
      },
    });
    // A large Buffer goes in pieces (views, not copies), so that no step blocks the event loop for long.
    const input = Buffer.isBuffer(source) ? Readable.from(pieces(source), { objectMode: false }) : source;
    const abort = new AbortController();
    this.entryAbort = abort;
    if (this.failure) throw this.failure;
    if (store) {
      await pipeline(input, sink, { signal: abort.signal });
    } else {
      const deflate = createDeflateRaw({ level: this.level, chunkSize: DEFLATE_CHUNK_SIZE });
      await pipeline(input, new DigestingStream(digest), deflate, sink, { signal: abort.signal });
    }
    return written;
  }

  /** Hands bytes to `output`; calls `done` at once if it can take more, else once the consumer reads. */
  private send(chunk: Buffer, done: (error?: Error) => void): void {
    if (this.failure) return done(this.failure);
    if (chunk.length === 0) return done();
    this.archiveHash.update(chunk);
    this.offset += chunk.length;
    if (this.out.push(chunk)) return done();
    this.resume = done;
  }

  private emit(chunk: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.send(chunk, (error) => (error ? reject(error) : resolve()));
    });
  }

  private resumeWriting(): void {
    const resume = this.resume;
    this.resume = undefined;
    resume?.();
  }

  private localHeader(name: Buffer, method: number, zip64: boolean): Buffer {
    const extraLength = zip64 ? 20 : 0;
    const header = Buffer.alloc(30 + name.length + extraLength);
    header.writeUInt32LE(SIG_LOCAL_HEADER, 0);
    header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
    header.writeUInt16LE(FLAGS, 6);
    header.writeUInt16LE(method, 8);
    header.writeUInt16LE(this.dos.time, 10);
    header.writeUInt16LE(this.dos.date, 12);
    // 14: CRC-32, 18: compressed size, 22: uncompressed size: 0, in the data descriptor (bit 3).
    if (zip64) {
      // The sizes are in the ZIP64 extra field (which must hold both), still 0 there.
      header.writeUInt32LE(MAX32, 18);
      header.writeUInt32LE(MAX32, 22);
    }
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(extraLength, 28);
    name.copy(header, 30);
    if (zip64) {
      const at = 30 + name.length;
      header.writeUInt16LE(ZIP64_EXTRA_ID, at);
      header.writeUInt16LE(16, at + 2);
      // at + 4: uncompressed size, at + 12: compressed size, both 0.
    }
    return header;
  }

  private dataDescriptor(entry: Entry): Buffer {
    const descriptor = Buffer.alloc(entry.zip64 ? 24 : 16);
    descriptor.writeUInt32LE(SIG_DATA_DESCRIPTOR, 0);
    descriptor.writeUInt32LE(entry.crc, 4);
    if (entry.zip64) {
      writeUInt64LE(descriptor, entry.compressedSize, 8);
      writeUInt64LE(descriptor, entry.uncompressedSize, 16);
    } else {
      descriptor.writeUInt32LE(entry.compressedSize, 8);
      descriptor.writeUInt32LE(entry.uncompressedSize, 12);
    }
    return descriptor;
  }

  private centralHeader(entry: Entry): Buffer {
    const force = this.forceZip64;
    let uncompressed64 = force || entry.uncompressedSize >= MAX32;
    let compressed64 = force || entry.compressedSize >= MAX32;
    const offset64 = force || entry.offset >= MAX32;
    if (entry.zip64 && !uncompressed64 && !compressed64 && !offset64) {
      // Announced as ZIP64 (a size hint) but small after all: its data descriptor has 8-byte sizes, so
      // it keeps a ZIP64 extra field here too (APPNOTE 4.3.9.2), with the sizes.
      uncompressed64 = compressed64 = true;
    }
    const fields = [
      uncompressed64 ? entry.uncompressedSize : undefined,
      compressed64 ? entry.compressedSize : undefined,
      offset64 ? entry.offset : undefined,
    ].filter((value): value is number => value !== undefined);
    const extraLength = fields.length ? 4 + 8 * fields.length : 0;
    const header = Buffer.alloc(46 + entry.name.length + extraLength);
    header.writeUInt32LE(SIG_CENTRAL_HEADER, 0);
    header.writeUInt16LE(VERSION_MADE_BY, 4);
    header.writeUInt16LE(fields.length ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
    header.writeUInt16LE(FLAGS, 8);
    header.writeUInt16LE(entry.method, 10);
    header.writeUInt16LE(this.dos.time, 12);
    header.writeUInt16LE(this.dos.date, 14);
    header.writeUInt32LE(entry.crc, 16);
    header.writeUInt32LE(compressed64 ? MAX32 : entry.compressedSize, 20);
    header.writeUInt32LE(uncompressed64 ? MAX32 : entry.uncompressedSize, 24);
    header.writeUInt16LE(entry.name.length, 28);
    header.writeUInt16LE(extraLength, 30);
    // 32: comment length, 34: disk number, 36: internal attributes: 0.
    header.writeUInt32LE(EXTERNAL_ATTRIBUTES, 38);
    header.writeUInt32LE(offset64 ? MAX32 : entry.offset, 42);
    entry.name.copy(header, 46);
    if (fields.length) {
      let at = 46 + entry.name.length;
      header.writeUInt16LE(ZIP64_EXTRA_ID, at);
      header.writeUInt16LE(8 * fields.length, at + 2);
      at += 4;
      for (const value of fields) {
        writeUInt64LE(header, value, at);
        at += 8;
      }
    }
    return header;
  }

  /** The ZIP64 end of central directory record and locator when needed, then the classic end record. */
  private endRecords(count: number, centralOffset: number, centralSize: number): Buffer {
    const force = this.forceZip64;
    const count64 = force || count >= MAX16;
    const size64 = force || centralSize >= MAX32;
    const offset64 = force || centralOffset >= MAX32;
    const zip64 = count64 || size64 || offset64;
    const records = Buffer.alloc((zip64 ? 56 + 20 : 0) + 22);
    let at = 0;
    if (zip64) {
      const zip64EndOffset = centralOffset + centralSize;
      records.writeUInt32LE(SIG_ZIP64_END, 0);
      writeUInt64LE(records, 56 - 12, 4); // size of the rest of the record
      records.writeUInt16LE(VERSION_MADE_BY, 12);
      records.writeUInt16LE(VERSION_ZIP64, 14);
      // 16: this disk, 20: disk where the central directory starts: 0.
      writeUInt64LE(records, count, 24);
      writeUInt64LE(records, count, 32);
      writeUInt64LE(records, centralSize, 40);
      writeUInt64LE(records, centralOffset, 48);
      records.writeUInt32LE(SIG_ZIP64_LOCATOR, 56);
      // 60: disk holding the ZIP64 end record: 0.
      writeUInt64LE(records, zip64EndOffset, 64);
      records.writeUInt32LE(1, 72); // total number of disks
      at = 76;
    }
    records.writeUInt32LE(SIG_END, at);
    // at + 4: this disk, at + 6: disk where the central directory starts: 0.
    records.writeUInt16LE(count64 ? MAX16 : count, at + 8);
    records.writeUInt16LE(count64 ? MAX16 : count, at + 10);
    records.writeUInt32LE(size64 ? MAX32 : centralSize, at + 12);
    records.writeUInt32LE(offset64 ? MAX32 : centralOffset, at + 16);
    // at + 20: comment length: 0.
    return records;
  }
}
