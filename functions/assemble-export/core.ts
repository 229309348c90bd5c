/**
 * Assembles the export archive (format version 1, docs/export-format.md) from what the connectors
 * staged: per store, each collection as JSON (and CSV when tabular) with its JSON Schema, the original
 * media files, then about-your-data.json, index.html, manifest.json and manifest.jws (a detached ES256
 * JWS over the manifest's bytes).
 *
 * Everything streams: staged NDJSON and media are read from S3 one file at a time (the next media
 * object opened while the current one is copied), through our ZIP writer (zip-writer.ts) and a SHA-256,
 * into a multipart upload; memory does not grow with the data. The manifest is written last. If
 * anything fails, the multipart upload is aborted, so no archive (complete or partial) appears under
 * the key, and a typed error is thrown.
 */
import { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { STORE_NAMES } from '../../config/data-map';
import { aboutYourDataFor } from '../lib/export/about-your-data';
import { serviceProfile, withheldCollection } from '../lib/services/profiles';
import { excludedCollection } from '../lib/procedures/refusals';
import { sanitizeArchivePath, UniquePaths } from '../lib/export/archive-path';
import { ConfigError } from '../lib/runtime/config';
import type {
  CollectResult,
  S3Pointer,
  StagedSubject,
  StoreIndex,
  StoreName,
} from '../lib/connectors/contract';
import { AppError, classifyAwsError, ContractError, TransientError } from '../lib/runtime/errors';
import { JWS_TYPES, signDetached } from '../lib/crypto/jws';
import { oneAhead } from '../lib/runtime/concurrency';
import { log } from '../lib/runtime/logger';
import { getJson, stagingKeys } from '../lib/aws/s3-objects';
import type { ArchiveSigner } from '../lib/crypto/signing';
import { csvChunks, csvHeader } from './csv';
import { ArchiveAssemblyError } from './errors';
import {
  indexPages,
  renderIndexHtml,
  type IndexCollection,
  type IndexMediaFile,
  type IndexStore,
} from './index-html';
import { AMOUNT_SPECS, dateFieldOf, DigestBuilder } from './digest';
import { accountLocale } from '../lib/downloads/download-page';
import { dataFileSchema } from './json-schema';
import {
  FORMAT_VERSION,
  MANIFEST_PATH,
  serializeManifest,
  SIGNATURE_PATH,
  type Manifest,
  type ManifestFile,
  type ManifestStore,
} from '../lib/export/manifest';
import { jsonArrayChunks, ndjsonLines, ndjsonRecords, type RecordCounter } from './ndjson';
import { ZipWriter, type ZipWriterOptions } from './zip-writer';

const ABOUT_PATH = 'about-your-data.json';

export interface AssembleInput {
  requestId: string;
  stores: CollectResult[];
}

export interface ArchivePointer extends S3Pointer {
  bytes: number;
  sha256: string;
  /** Files in the archive, manifest.json and manifest.jws included. */
  files: number;
  records: number;
}

export interface AssembleOutput {
  archive: ArchivePointer;
}

export interface AssembleDeps {
  s3: S3Client;
  stagingBucket: string;
  exportsBucket: string;
  /** The only bucket (besides this request's staging area) media may be copied from. */
  mediaBucket: string;
  signer: ArchiveSigner;
  clock?: () => Date;
  /** Multipart part size (min 5 MiB) and parallel parts: memory is about partSize x (queueSize + 1). */
  partSize?: number;
  queueSize?: number;
  /** Write ZIP64 structures even for small archives. */
  forceZip64?: boolean;
  /** Makes the ZIP writer: ours unless given (scripts/bench-assemble.ts runs yazl here to compare). */
  createWriter?: (options: ZipWriterOptions) => ArchiveWriter;
}

/** What the assembler needs of a ZIP writer (ZipWriter's public face). */
export type ArchiveWriter = Pick<ZipWriter, 'output' | 'fileCount' | 'add' | 'finish' | 'summary' | 'fail'>;

const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const COLLECTION_NAME = /^[a-z][a-z0-9-]*$/;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 2;
const ABORT_SETTLE_MS = 15_000;

// Controls, DEL, C1 controls, bidi overrides, backslashes and reserved characters never appear in a safe path.
// eslint-disable-next-line no-control-regex
const UNSAFE_PATH_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\\<>:"|?*]/;

const WINDOWS_DEVICE = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;

/** A relative `/`-separated path with no empty, `.` or `..` segment and no unsafe character. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.length > 1000 || UNSAFE_PATH_CHARS.test(path)) return false;
  return path
    .split('/')
    .every(
      (segment) =>
        segment !== '' &&
        segment !== '.' &&
        segment !== '..' &&
        segment.trim() === segment &&
        !segment.endsWith('.') &&
        !WINDOWS_DEVICE.test(segment),
    );
}

export function archiveKey(requestId: string): string {
  return `exports/${requestId}/export-${requestId}.zip`;
}

interface LoadedStore {
  result: CollectResult;
  index: StoreIndex;
}

async function readBody(s3: S3Client, pointer: S3Pointer & { versionId?: string }): Promise<Readable> {
  const out = await s3.send(
    new GetObjectCommand({ Bucket: pointer.bucket, Key: pointer.key, VersionId: pointer.versionId }),
  );
  if (!(out.Body instanceof Readable)) throw new ArchiveAssemblyError('An S3 object had no readable body');
  return out.Body;
}

/** Lines of one staged collection, read from S3 as they are consumed. */
async function* stagedLines(s3: S3Client, pointer: S3Pointer): AsyncGenerator<Buffer> {
  yield* ndjsonLines(await readBody(s3, pointer));
}

/** Records of one staged collection, read from S3 as they are consumed. */
async function* stagedRecords(s3: S3Client, pointer: S3Pointer): AsyncGenerator<Record<string, unknown>> {
  yield* ndjsonRecords(await readBody(s3, pointer));
}

function checkInput(input: AssembleInput, deps: AssembleDeps): void {
  if (typeof input?.requestId !== 'string' || !REQUEST_ID.test(input.requestId)) {
    throw new ContractError('assemble-export needs a well-formed requestId');
  }
  if (!Array.isArray(input.stores)) throw new ContractError('assemble-export needs the collected stores');
  const seen = new Set<string>();
  for (const result of input.stores) {
    if (!STORE_NAMES.includes(result?.store)) throw new ContractError('assemble-export got an unknown store');
    if (seen.has(result.store)) throw new ContractError(`Store ${result.store} was collected twice`);
    seen.add(result.store);
    // Only this request's staging area may be read: a pointer elsewhere is a bug, never followed.
    if (
      result.index?.bucket !== deps.stagingBucket ||
      result.index.key !== stagingKeys.storeIndex(input.requestId, result.store)
    ) {
      throw new ContractError(`The ${result.store} index pointer is outside this request's staging area`);
    }
  }
}

function checkIndex(requestId: string, store: StoreName, index: StoreIndex, deps: AssembleDeps): void {
  if (index?.formatVersion !== 1 || index.store !== store) {
    throw new ContractError(`The ${store} store index is not a version 1 index of that store`);
  }
  if (!Array.isArray(index.collections) || !Array.isArray(index.media)) {
    throw new ContractError(`The ${store} store index is malformed`);
  }
  const prefix = stagingKeys.prefix(requestId);
  const names = new Set<string>();
  for (const c of index.collections) {
    if (typeof c.name !== 'string' || !COLLECTION_NAME.test(c.name) || names.has(c.name)) {
      throw new ContractError(`The ${store} store index has a bad or repeated collection name`);
    }
    names.add(c.name);
    if (typeof c.key !== 'string' || !c.key.startsWith(prefix)) {
      throw new ContractError(`A ${store} collection is staged outside this request's staging area`);
    }
    if (!Array.isArray(c.keys) || !c.keys.every((key) => typeof key === 'string')) {
      throw new ContractError(`A ${store} collection is staged without the keys of its records`);
    }
  }
  for (const m of index.media) {
    if (
      typeof m?.archivePath !== 'string' ||
      typeof m.source?.key !== 'string' ||
      !Number.isSafeInteger(m.bytes) ||
      m.bytes < 0
    ) {
      throw new ContractError(`A ${store} media entry is malformed`);
    }
    const bucket = m.source.bucket;
    const allowed =
      bucket === deps.mediaBucket ||
      (bucket === deps.stagingBucket && String(m.source.key).startsWith(prefix));
    if (!allowed)
      throw new ContractError(`A ${store} media file comes from a bucket the archive may not read`);
  }
}

function failure(error: unknown): Error {
  if (error instanceof AppError || error instanceof ConfigError) return error;
  const classified = classifyAwsError(error);
  if (classified instanceof TransientError) return classified;
  const name = (error as { name?: unknown } | undefined)?.name;
  // Only the error's name: its message may quote an object key, and keys can carry personal data.
  return new ArchiveAssemblyError(
    `The archive could not be assembled (${typeof name === 'string' ? name : 'Error'})`,
  );
}

/**
 * What to report when the archive fails: the writer's own error, unless that only says its output was
 * torn down by a failed upload, in which case the upload's error (a throttled part is worth a retry).
 */
function rootCause(writerError: unknown, uploadError: unknown): Error {
  const fromWriter = failure(writerError);
  if (uploadError === undefined || writerError instanceof AppError || fromWriter instanceof TransientError) {
    return fromWriter;
  }
  return failure(uploadError);
}

export async function assembleExport(deps: AssembleDeps, input: AssembleInput): Promise<AssembleOutput> {
  checkInput(input, deps);
  const { s3, stagingBucket, exportsBucket } = deps;
  const { requestId } = input;

  const subject = await getJson<StagedSubject>(s3, {
    bucket: stagingBucket,
    key: stagingKeys.subject(requestId),
  });
  if (subject.requestId !== requestId || typeof subject.subjectHash !== 'string') {
    throw new ContractError('The staged subject does not belong to this request');
  }
  // The subject's own service: its controller and policy speak in the archive, and nothing of another's.
  const profile = serviceProfile(subject.service);
  const order = (s: StoreName) => STORE_NAMES.indexOf(s);
  const stores: LoadedStore[] = [];
  for (const result of [...input.stores].sort((a, b) => order(a.store) - order(b.store))) {
    const index = await getJson<StoreIndex>(s3, result.index);
    checkIndex(requestId, result.store, index, deps);
    stores.push({ result, index });
  }

  const generatedAt = (deps.clock ?? (() => new Date()))();
  const key = archiveKey(requestId);
  const createWriter = deps.createWriter ?? ((options: ZipWriterOptions) => new ZipWriter(options));
  const writer = createWriter({ date: generatedAt, forceZip64: deps.forceZip64 });
  const upload = new Upload({
    client: s3,
    params: {
      Bucket: exportsBucket,
      Key: key,
      Body: writer.output,
      ContentType: 'application/zip',
      ContentDisposition: `attachment; filename="export-${requestId}.zip"`,
    },
    partSize: deps.partSize ?? DEFAULT_PART_SIZE,
    queueSize: deps.queueSize ?? DEFAULT_QUEUE_SIZE,
    leavePartsOnError: false,
  });
  const uploading = upload.done();
  // If the upload fails, stop writing at once (otherwise the writer would wait on backpressure forever),
  // and keep its error: the writer only sees its output torn down, the upload knows why (a throttled
  // part is worth a retry; an aborted stream says nothing).
  let uploadError: unknown;
  uploading.catch((error: unknown) => {
    uploadError = error;
    writer.fail(error);
  });

  try {
    const files: ManifestFile[] = [];
    const storeSummaries: ManifestStore[] = [];
    const indexStores: IndexStore[] = [];
    const paths = new UniquePaths();
    /** Records of the collections the service does not disclose, left out of the archive. */
    const withheldRecords: Record<string, number> = {};
    let totalRecords = 0;

    const addFile = async (
      path: string,
      source: Readable | Buffer,
      store: boolean,
      counter?: RecordCounter,
      /** Expected size, when known: lets the writer announce a ZIP64 entry up front. */
      size?: number,
    ): Promise<ManifestFile> => {
      const written = await writer.add(path, source, { store, ...(size === undefined ? {} : { size }) });
      const entry: ManifestFile = { path, sha256: written.sha256, bytes: written.bytes };
      if (counter) entry.records = counter.records;
      files.push(entry);
      return entry;
    };
    const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');

    for (const { result, index } of stores) {
      const store = result.store;
      let storeFiles = 0;
      let storeRecords = 0;
      const collections: IndexCollection[] = [];
      for (const c of index.collections) {
        if (withheldCollection(profile, store, c.name)) {
          withheldRecords[`${store}/${c.name}`] = c.records;
          continue;
        }
        // Left out by support (an answer in part): the manifest's leftOut says what and why.
        if (excludedCollection(subject.leftOut, store, c.name)) continue;
        const pointer = { bucket: stagingBucket, key: c.key };
        const schemaPath = paths.claim(`schemas/${store}/${c.name}.schema.json`);
        await addFile(schemaPath, json(dataFileSchema(store, c)), false);

        // The CSV header is the union of the records' keys, which the staging area noted as they went by.
        const header = csvHeader(c.recordSchema, c.keys);
        // What index.html shows of the collection, gathered on the way: tabular records are parsed for
        // the CSV anyway, so they are digested there; others as their lines are copied.
        const digest = new DigestBuilder(
          header,
          dateFieldOf(c.recordSchema),
          AMOUNT_SPECS[`${store}/${c.name}`],
        );
        const jsonPath = paths.claim(`data/${store}/${c.name}.json`);
        const counter: RecordCounter = { records: 0 };
        const lines = stagedLines(s3, pointer);
        await addFile(
          jsonPath,
          Readable.from(jsonArrayChunks(c.tabular ? lines : digest.lines(lines), counter), {
            objectMode: false,
          }),
          false,
          counter,
        );
        // Staging counted the records as it wrote them: fewer now means a staged part was lost (a torn
        // write, a crash), and an archive missing records must never be published.
        if (counter.records !== c.records) {
          log.error('staged record count differs', {
            requestId,
            store,
            expected: c.records,
            actual: counter.records,
          });
          throw new ArchiveAssemblyError('A staged collection does not hold the records staging counted');
        }

        let csvPath: string | undefined;
        if (c.tabular) {
          csvPath = paths.claim(`data/${store}/${c.name}.csv`);
          const csvCounter: RecordCounter = { records: 0 };
          await addFile(
            csvPath,
            Readable.from(csvChunks(header, digest.records(stagedRecords(s3, pointer)), csvCounter), {
              objectMode: false,
            }),
            false,
            csvCounter,
          );
          if (csvCounter.records !== counter.records) {
            throw new ArchiveAssemblyError('A staged collection changed while the archive was being written');
          }
        }
        storeFiles += csvPath ? 3 : 2;
        storeRecords += counter.records;
        collections.push({
          name: c.name,
          description: c.description,
          records: counter.records,
          jsonPath,
          csvPath,
          schemaPath,
          digest: digest.result(),
        });
      }

      const media: IndexMediaFile[] = [];
      const bodies = oneAhead(
        index.media.map((m) => async () => {
          const body = await readBody(s3, m.source);
          // Opened ahead, it can fail before its turn with nobody listening yet (which would crash the
          // process); the failure still reaches the writer, whose pipeline sees the stream errored.
          body.on('error', () => undefined);
          return body;
        }),
        (body) => body.destroy(),
      );
      try {
        for (const m of index.media) {
          // The staging area sanitised the path already (and records may refer to it): keep it when it is
          // safe, sanitise it only when it is not (sanitising twice could decode a literal %xx again).
          const label = isSafeRelativePath(m.archivePath)
            ? m.archivePath
            : sanitizeArchivePath(m.archivePath);
          const path = paths.claim(`media/${store}/${label}`);
          const body = (await bodies.next()).value as Readable;
          const written = await addFile(path, body, true, undefined, m.bytes);
          if (written.bytes !== m.bytes) {
            log.warn('media size differs from staging', {
              requestId,
              store,
              expected: m.bytes,
              actual: written.bytes,
            });
          }
          media.push({
            path,
            label: path.slice(`media/${store}/`.length),
            bytes: written.bytes,
            contentType: m.contentType,
          });
          storeFiles += 1;
        }
      } finally {
        // Closes the object opened ahead when the loop did not get to it.
        await bodies.return(undefined);
      }

      totalRecords += storeRecords;
      storeSummaries.push({ store, records: storeRecords, files: storeFiles });
      indexStores.push({ store, collections, media });
    }

    const storesWithData = indexStores
      .filter((s) => s.media.length > 0 || s.collections.some((c) => c.records > 0))
      .map((s) => s.store);
    const about = aboutYourDataFor({
      profile,
      stores: storesWithData,
      jurisdiction: subject.jurisdiction,
      withheldRecords,
    });
    await addFile(ABOUT_PATH, json(about), false);
    // index.html in the person's language, the other language beside it, each linking to the other.
    const [page, other] = indexPages(accountLocale(subject.locale, profile));
    for (const [self, alternate] of [
      [page, other],
      [other, page],
    ] as const) {
      const html = renderIndexHtml({
        requestId,
        generatedAt: generatedAt.toISOString(),
        subjectFound: subject.found,
        stores: indexStores,
        about,
        aboutPath: ABOUT_PATH,
        manifestPath: MANIFEST_PATH,
        signaturePath: SIGNATURE_PATH,
        locale: self.locale,
        alternate: alternate,
      });
      await addFile(self.path, Buffer.from(html, 'utf8'), false);
    }

    const manifest: Manifest = {
      formatVersion: FORMAT_VERSION,
      requestId,
      subject: subject.subjectHash,
      service: profile.id,
      generatedAt: generatedAt.toISOString(),
      subjectFound: subject.found,
      stores: storeSummaries,
      files,
      ...(subject.leftOut?.length
        ? {
            leftOut: subject.leftOut.map(({ store, category, reasonCode, legalGround, exception }) => ({
              store,
              ...(category ? { category } : {}),
              reasonCode,
              legalGround,
              ...(exception ? { exception } : {}),
            })),
          }
        : {}),
    };
    const manifestBytes = serializeManifest(manifest);
    const signature = await signDetached(manifestBytes, deps.signer, { typ: JWS_TYPES.manifest });
    await writer.add(MANIFEST_PATH, manifestBytes, { store: false });
    await writer.add(SIGNATURE_PATH, Buffer.from(signature, 'ascii'), { store: false });
    await writer.finish();
    await uploading;

    const { sha256, bytes } = writer.summary();
    log.info('archive assembled', { requestId, files: writer.fileCount, records: totalRecords, bytes });
    return {
      archive: { bucket: exportsBucket, key, bytes, sha256, files: writer.fileCount, records: totalRecords },
    };
  } catch (error) {
    await abortUpload(s3, upload, uploading, writer, error, exportsBucket, key);
    throw rootCause(error, uploadError);
  }
}

async function abortUpload(
  s3: S3Client,
  upload: Upload,
  uploading: Promise<unknown>,
  writer: ArchiveWriter,
  error: unknown,
  bucket: string,
  key: string,
): Promise<void> {
  // Destroying the writer's output makes the upload fail, which aborts its multipart upload; wait for it
  // (bounded), so the abort happens before we return.
  writer.fail(error);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    uploading.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ABORT_SETTLE_MS);
    }),
  ]);
  clearTimeout(timer);
  await upload.abort();
  if (upload.uploadId) {
    // Idempotent second abort: parts left behind would cost storage and could never be completed anyway.
    await s3
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.uploadId }))
      .catch(() => undefined);
  }
  log.warn('archive upload aborted', { multipart: Boolean(upload.uploadId) });
}
