/**
 * yazl behind the assembler's writer interface (ArchiveWriter), for scripts/bench-assemble.ts to
 * compare with our ZipWriter on the same inputs. Same work per byte as ours: each file's content is
 * hashed (SHA-256) and counted on its way in, the archive's bytes on their way out; text DEFLATE
 * level 6, media stored, mode 0644, DOS times only. One file at a time: `add` resolves once yazl has
 * read the whole source (yazl pumps its entries in order, so the next source is opened only then).
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import type { ArchiveWriter } from '../functions/assemble-export/core';
import { ArchiveAssemblyError } from '../functions/assemble-export/errors';
import type { AddOptions, WrittenFile, ZipWriterOptions } from '../functions/assemble-export/zip-writer';

/** Passes bytes through, hashing and counting them. */
class Digesting extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  sha256(): string {
    return this.hash.digest('hex');
  }
}

export class YazlWriter implements ArchiveWriter {
  readonly output: Readable;
  private readonly zip = new ZipFile();
  private readonly archive = new Digesting();
  private readonly mtime: Date;
  private readonly level: number;
  private readonly forceZip64: boolean;
  private entries = 0;
  private failure: Error | undefined;
  private currentSource: Readable | undefined;
  private archiveDigest: string | undefined;

  constructor(options: ZipWriterOptions) {
    // yazl encodes DOS times from local fields; ours from UTC fields: shift so both write the same time.
    this.mtime = new Date(options.date.getTime() + options.date.getTimezoneOffset() * 60_000);
    this.level = options.level ?? 6;
    this.forceZip64 = options.forceZip64 ?? false;
    this.output = this.archive;
    this.zip.on('error', (error: Error) => this.fail(error));
    pipeline(this.zip.outputStream, this.archive).catch((error: unknown) => this.fail(error));
  }

  get fileCount(): number {
    return this.entries;
  }

  async add(path: string, source: Readable | Buffer, options: AddOptions): Promise<WrittenFile> {
    if (this.failure) {
      if (!Buffer.isBuffer(source)) source.destroy();
      throw this.failure;
    }
    const entryOptions = {
      mtime: this.mtime,
      mode: 0o100644,
      compress: !options.store,
      compressionLevel: options.store ? 0 : this.level,
      forceZip64Format: this.forceZip64,
      forceDosTimestamp: true,
    };
    if (Buffer.isBuffer(source)) {
      this.zip.addBuffer(source, path, entryOptions);
      this.entries += 1;
      return { path, sha256: createHash('sha256').update(source).digest('hex'), bytes: source.length };
    }
    const content = new Digesting();
    this.currentSource = source;
    this.zip.addReadStream(content, path, entryOptions);
    try {
      // Settles once yazl has read `content` to its end (or either stream failed).
      await Promise.all([pipeline(source, content), finished(content)]);
    } catch (error) {
      this.fail(error);
      throw this.failure ?? error;
    } finally {
      this.currentSource = undefined;
    }
    this.entries += 1;
    return { path, sha256: content.sha256(), bytes: content.bytes };
  }

  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    this.zip.end({ forceZip64Format: this.forceZip64, comment: '' });
    await new Promise<void>((resolve, reject) => {
      this.archive.once('finish', resolve);
      this.archive.once('error', reject);
    });
  }

  summary(): { sha256: string; bytes: number } {
    if (!this.archive.readableEnded) throw new ArchiveAssemblyError('The archive has not been fully written');
    this.archiveDigest ??= this.archive.sha256();
    return { sha256: this.archiveDigest, bytes: this.archive.bytes };
  }

  fail(error: unknown): void {
    if (this.failure) return;
    this.failure = error instanceof Error ? error : new ArchiveAssemblyError('Archive writing failed');
    this.currentSource?.destroy();
    this.archive.destroy(this.failure);
  }
}
