/**
 * A streaming ZIP writer over archiver: files go in one at a time, each hashed (SHA-256) and counted as
 * it streams through, and the archive bytes come out of `output` (hashed too) for the uploader to read.
 * Backpressure runs end to end, so memory stays flat whatever the sizes. ZIP64 structures are written
 * automatically once an entry or offset passes 4 GiB (or always, with `forceZip64`).
 *
 * Any failure (a source stream error, an archiver error, the consumer failing) puts the writer in a
 * failed state: the pending `add` rejects, and `output` is destroyed with the error, so an uploader
 * reading it aborts rather than completing a partial archive.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { ZipArchive } from 'archiver';
import { ArchiveAssemblyError } from './errors';

export interface WrittenFile {
  path: string;
  sha256: string;
  bytes: number;
}

export interface ZipWriterOptions {
  /** Modification time of every entry (the archive's generation time: the archive is reproducible). */
  date: Date;
  /** DEFLATE level for text entries (media are stored). */
  level?: number;
  forceZip64?: boolean;
}

/** Passes bytes through unchanged while hashing and counting them. */
class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export class ZipWriter {
  /** The archive's bytes: give this to the uploader. */
  readonly output: Readable;
  private readonly sink: HashingStream;
  private readonly archive: ZipArchive;
  private readonly date: Date;
  private failure: Error | undefined;
  private readonly failed: Promise<never>;
  private rejectFailed: (error: Error) => void = () => undefined;
  private currentSource: Readable | undefined;
  private busy = false;
  private entries = 0;
  private archiveDigest: string | undefined;

  constructor(options: ZipWriterOptions) {
    this.date = options.date;
    this.failed = new Promise<never>((_resolve, reject) => {
      this.rejectFailed = reject;
    });
    // The failure promise is observed through races; keep it from surfacing as an unhandled rejection.
    this.failed.catch(() => undefined);
    this.archive = new ZipArchive({
      zlib: { level: options.level ?? 6 },
      forceZip64: options.forceZip64 ?? false,
    });
    this.sink = new HashingStream();
    this.archive.on('error', (error: Error) => this.fail(error));
    // archiver reports recoverable problems (e.g. a missing file on disk) as warnings; none is acceptable here.
    this.archive.on('warning', (error: Error) => this.fail(error));
    this.archive.pipe(this.sink);
    this.output = this.sink;
  }

  /** Files written so far. */
  get fileCount(): number {
    return this.entries;
  }

  /**
   * Adds one file and resolves, with its hash and size, once it is fully written into the archive.
   * `store: true` keeps the bytes as they are (media: already compressed), else DEFLATE.
   */
  async add(path: string, source: Readable | Buffer, options: { store: boolean }): Promise<WrittenFile> {
    if (this.failure || this.busy) {
      // The caller opened the source for us: close it, or an S3 response would be left hanging.
      if (!Buffer.isBuffer(source)) source.destroy();
      // One entry at a time: a source is opened only when the archive is ready for it.
      throw (
        this.failure ?? new ArchiveAssemblyError('ZipWriter.add called while another file is being written')
      );
    }
    this.busy = true;
    try {
      const written = new Promise<{ name: string }>((resolve) => {
        this.archive.once('entry', (entry: { name: string }) => resolve(entry));
      });
      let file: () => WrittenFile;
      if (Buffer.isBuffer(source)) {
        const sha256 = createHash('sha256').update(source).digest('hex');
        file = () => ({ path, sha256, bytes: source.length });
        this.archive.append(source, { name: path, date: this.date, store: options.store });
      } else {
        const hashing = new HashingStream();
        // archiver pipes sources without forwarding their errors; a failed read must fail the archive.
        source.once('error', (error: Error) => this.fail(error));
        hashing.once('error', (error: Error) => this.fail(error));
        this.currentSource = source;
        source.pipe(hashing);
        file = () => ({ path, sha256: hashing.digest(), bytes: hashing.bytes });
        this.archive.append(hashing, { name: path, date: this.date, store: options.store });
      }
      const entry = await Promise.race([written, this.failed]);
      if (entry.name !== path) {
        // archiver normalises names; our paths are already normal, so a difference is a bug upstream.
        throw new ArchiveAssemblyError('An archive entry name was altered by the ZIP library');
      }
      this.entries += 1;
      return file();
    } finally {
      this.currentSource = undefined;
      this.busy = false;
    }
  }

  /** Writes the central directory. The archive is complete once the consumer has read `output` to its end. */
  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    await Promise.race([this.archive.finalize(), this.failed]);
  }

  /** SHA-256 and size of the whole archive, once `output` has been read to its end. */
  summary(): { sha256: string; bytes: number } {
    if (!this.sink.writableFinished) throw new ArchiveAssemblyError('The archive has not been fully written');
    this.archiveDigest ??= this.sink.digest();
    return { sha256: this.archiveDigest, bytes: this.sink.bytes };
  }

  /** Puts the writer in the failed state (idempotent) and tears the streams down. */
  fail(error: unknown): void {
    if (this.failure) return;
    this.failure = error instanceof Error ? error : new ArchiveAssemblyError('Archive writing failed');
    this.rejectFailed(this.failure);
    this.currentSource?.destroy();
    this.archive.abort();
    this.archive.unpipe(this.sink);
    // Destroying with an error makes an uploader reading `output` fail instead of completing.
    this.sink.destroy(this.failure);
  }
}
