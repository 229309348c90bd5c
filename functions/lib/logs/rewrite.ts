/**
 * Reading and rewriting one log object line by line, streamed (GetObject -> gunzip -> line filter ->
 * gzip -> multipart-capable upload), never held in memory. The logs connector reads (inventory) and the
 * log-erasure job rewrites (functions/erase-logs) with it.
 *
 * Writes are conditional: the object is read with its ETag and written with `If-Match`, so a line a log
 * shipper adds between read and write is never lost: on 412/409 the object is read again and filtered
 * again. Kept lines are copied byte-for-byte (never parsed and re-serialised), in order. An object with
 * nothing to change is not written. The logs bucket is not versioned (data map); if it ever were, the
 * old versions would still hold the removed lines and would have to be deleted too.
 */
import { PassThrough, Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AppError } from '../runtime/errors';
import { normalEtag } from './index-store';
import type { LineCandidates } from './line-candidates';
import { filterLines, gunzipStream, gzipStream, type LineStats, type LineVerdict } from './lines';

/**
 * The user metadata a rewritten object carries: the version (unquoted ETag) it was rewritten from. The
 * indexer, invoked by the rewrite's S3 event, leaves such a version to the log-erasure job, which
 * carries its index entries over (functions/index-logs/core.ts).
 */
export const REWRITTEN_FROM_METADATA = 'dsr-rewritten-from';

/** A log object that cannot be read as lines (not gzip, or a body that is not a stream). */
export class LogObjectUnreadable extends AppError {
  override name = 'LogObjectUnreadable';
  constructor(message = 'A log object could not be decompressed') {
    super(message, 'LOG_OBJECT_UNREADABLE');
  }
}

/** A log object kept changing between read and conditional write, past every attempt. */
export class LogObjectKeptChanging extends AppError {
  override name = 'LogObjectKeptChanging';
  constructor() {
    super('A log object kept changing while it was being rewritten', 'LOG_OBJECT_CHANGING');
  }
}

export interface RewriteStats extends LineStats {
  rewritten: number;
  retries: number;
}

/** One pass over an object: a judge with fresh counts (a re-read starts again). */
export interface RewritePass {
  judge(line: Buffer): LineVerdict;
  /** True when the pass changed a line: otherwise nothing is written. */
  changed(): boolean;
  /** Awaited after the last line and before the write completes (e.g. vault copies of removed lines). */
  beforeWrite?(): Promise<void>;
}

export interface RewriteOptions {
  /** `If-Match` on the ETag read (S3). False where it is not honoured (s3rver): a HeadObject re-check. */
  conditional: boolean;
  /** Attempts when the object keeps changing between read and write. */
  maxAttempts: number;
  /** The lines the pass judges (every other line is copied as it is); null: every line. */
  candidates: LineCandidates | null;
  stats: RewriteStats;
}

export type RewriteResult<P extends RewritePass> =
  | { state: 'missing' }
  | { state: 'unchanged'; pass: P; etag: string }
  /** `etag`: the version read; `writtenEtag`: the version written, when the store answered with it. */
  | { state: 'written'; pass: P; etag: string; writtenEtag?: string };

/** Thrown inside the filter to stop a rewrite before anything is written. */
class NothingToChange extends Error {
  override name = 'NothingToChange';
}
class ObjectChanged extends Error {
  override name = 'ObjectChanged';
}

function isCode(error: unknown, name: string): boolean {
  return (error as { name?: unknown } | undefined)?.name === name;
}

function isPreconditionFailure(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return (
    isCode(error, 'PreconditionFailed') ||
    isCode(error, 'ConditionalRequestConflict') ||
    status === 412 ||
    status === 409
  );
}

function isZlibError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** GetObject, or undefined when the object is gone (expired by the bucket's lifecycle since listing). */
export async function getLogObject(s3: S3Client, bucket: string, key: string) {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!(out.Body instanceof Readable)) throw new LogObjectUnreadable('Log object body is not a stream');
    return { ...out, Body: out.Body };
  } catch (error) {
    if (isCode(error, 'NoSuchKey')) return undefined;
    throw error;
  }
}

/** Reads one object's lines through `judge`, writing nothing. False when the object is gone. */
export async function scanLogObject(
  s3: S3Client,
  bucket: string,
  key: string,
  options: { candidates: LineCandidates | null; judge(line: Buffer): LineVerdict; stats: LineStats },
): Promise<boolean> {
  const got = await getLogObject(s3, bucket, key);
  if (!got) return false;
  const filter = async (source: AsyncIterable<Buffer>) => {
    for await (const bytes of filterLines(source, options)) void bytes;
  };
  try {
    if (key.endsWith('.gz')) await pipeline(got.Body, gunzipStream(), filter);
    else await pipeline(got.Body, filter);
  } catch (error) {
    if (isZlibError(error)) throw new LogObjectUnreadable();
    throw error;
  }
  return true;
}

/**
 * Rewrites one object through the judge of a fresh pass, conditionally on it not having changed since it
 * was read; reads and filters it again when it did. Returns the successful pass, and whether it wrote.
 */
export async function rewriteLogObject<P extends RewritePass>(
  s3: S3Client,
  bucket: string,
  key: string,
  /** A fresh pass for each attempt, given the version (ETag) it reads. */
  newPass: (etag: string) => P,
  options: RewriteOptions,
): Promise<RewriteResult<P>> {
  const { conditional, stats } = options;
  const attempts = Math.max(1, options.maxAttempts);
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) {
      stats.retries += 1;
      await sleep(20 * 2 ** attempt + Math.floor(Math.random() * 20));
    }
    const got = await getLogObject(s3, bucket, key);
    if (!got) return { state: 'missing' };
    const etag = got.ETag;
    if (!etag) throw new LogObjectUnreadable('A log object was read without an ETag');
    const pass = newPass(etag);
    const gzipped = key.endsWith('.gz');
    const output: Transform = gzipped ? gzipStream() : new PassThrough();
    const upload = new Upload({
      client: s3,
      queueSize: 2,
      params: {
        Bucket: bucket,
        Key: key,
        Body: output,
        ContentType: got.ContentType,
        ContentEncoding: got.ContentEncoding,
        CacheControl: got.CacheControl,
        Metadata: { ...got.Metadata, [REWRITTEN_FROM_METADATA]: normalEtag(etag) },
        ...(conditional ? { IfMatch: etag } : {}),
      },
    });
    const beforeEnd = async () => {
      if (!pass.changed()) throw new NothingToChange();
      await pass.beforeWrite?.();
      if (!conditional) {
        // Weaker stand-in where If-Match is not honoured (the local s3rver): a change between this
        // check and the write can still be lost. S3 itself always gets the real condition.
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        if (head.ETag !== etag) throw new ObjectChanged();
      }
    };
    const filter = (source: AsyncIterable<Buffer>) =>
      filterLines(source, {
        candidates: options.candidates,
        judge: (line) => pass.judge(line),
        stats,
        beforeEnd,
      });
    const stop = new AbortController();
    const piping = gzipped
      ? pipeline(got.Body, gunzipStream(), filter, output, { signal: stop.signal })
      : pipeline(got.Body, filter, output, { signal: stop.signal });
    // A failed upload stops reading: abort the pipeline so it does not wait on a full buffer forever.
    const uploading = upload.done().catch((error: unknown) => {
      stop.abort();
      throw error;
    });
    const [piped, uploaded] = await Promise.allSettled([piping, uploading]);
    if (piped.status === 'fulfilled' && uploaded.status === 'fulfilled') {
      stats.rewritten += 1;
      const written = (uploaded.value as { ETag?: string }).ETag;
      return { state: 'written', pass, etag, ...(written ? { writtenEtag: written } : {}) };
    }
    const pipeError = piped.status === 'rejected' ? (piped.reason as unknown) : undefined;
    const uploadError = uploaded.status === 'rejected' ? (uploaded.reason as unknown) : undefined;
    if (pipeError instanceof NothingToChange) return { state: 'unchanged', pass, etag };
    if (pipeError instanceof ObjectChanged || isPreconditionFailure(uploadError)) continue;
    if (isCode(uploadError, 'NoSuchKey')) return { state: 'missing' };
    if (isZlibError(pipeError)) throw new LogObjectUnreadable();
    const aborted = isCode(pipeError, 'AbortError');
    throw (aborted ? uploadError : pipeError) ?? uploadError;
  }
  throw new LogObjectKeptChanging();
}
