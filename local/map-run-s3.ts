/**
 * A local Distributed Map's S3 input and output, as Step Functions reads and writes them: ItemReader
 * items from a listing (s3:listObjectsV2) or from one object (s3:getObject: a JSON array, JSON Lines,
 * delimited text, an S3 inventory manifest), and ResultWriter's result files and manifest.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { listPages } from '../functions/lib/aws/s3-objects';
import { StatesError, type ItemReaderConfig } from './map-run';
import { isJsonObject, type Json, type JsonObject } from './payload-template';

function parameter(
  parameters: JsonObject,
  name: string,
  required: boolean,
  error: string,
): string | undefined {
  const value = parameters[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new StatesError(error, `Parameters.${name} must be a non-empty string`);
  return value;
}

function readerParameters(parameters: JsonObject, known: readonly string[]): void {
  const unknown = Object.keys(parameters).filter((key) => !known.includes(key));
  if (unknown.length > 0)
    throw new StatesError(
      'States.ItemReaderFailed',
      `ItemReader Parameters ${unknown.join(', ')} not supported by the local runner`,
    );
}

/**
 * Splits delimited text as Step Functions does: quoted fields may hold delimiters and newlines, `""`
 * is a quote, a backslash escapes a backslash, a quote or the delimiter (and is dropped before any
 * other character); empty lines are skipped.
 */
export function parseDelimited(text: string, delimiter: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let fieldStarted = false;
  const endRow = () => {
    if (fieldStarted || row.length > 0) rows.push([...row, field]);
    row = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) {
      i += 1;
      field += text[i];
      fieldStarted = true;
    } else if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') field += text[++i];
      else quoted = false;
    } else if (c === '"') {
      quoted = true;
      fieldStarted = true;
    } else if (c === delimiter) {
      row.push(field);
      field = '';
      fieldStarted = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      endRow();
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  endRow();
  return rows;
}

/** Rows as objects keyed by `headers`: missing fields are empty strings, extra fields are dropped. */
export function rowsToItems(rows: readonly string[][], headers: readonly string[]): JsonObject[] {
  return rows.map((row) => Object.fromEntries(headers.map((header, i) => [header, row[i] ?? ''])));
}

async function getObjectText(
  s3: S3Client,
  input: { Bucket: string; Key: string } & JsonObject,
): Promise<string> {
  // Step Functions decompresses by file name: GZIP is read here, ZSTD is not.
  if (/\.zstd?$/i.test(input.Key))
    throw new StatesError(
      'States.ItemReaderFailed',
      'ZSTD-compressed input is not supported by the local runner',
    );
  const out = await s3.send(
    new GetObjectCommand({
      Bucket: input.Bucket,
      Key: input.Key,
      VersionId: typeof input.VersionId === 'string' ? input.VersionId : undefined,
      ExpectedBucketOwner:
        typeof input.ExpectedBucketOwner === 'string' ? input.ExpectedBucketOwner : undefined,
    }),
  );
  const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? []);
  return (input.Key.toLowerCase().endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}

function parseJsonItems(text: string, what: string): Json[] {
  const value = JSON.parse(text) as Json;
  if (!Array.isArray(value))
    throw new StatesError(
      'States.ItemReaderFailed',
      `${what} must hold a JSON array (ItemsPointer is not supported locally)`,
    );
  return value;
}

/** An S3 inventory report's rows: its manifest names CSV data files and their columns (fileSchema). */
async function inventoryItems(s3: S3Client, manifestText: string, limit: number): Promise<Json[]> {
  const manifest = JSON.parse(manifestText) as Json;
  if (!isJsonObject(manifest) || manifest.fileFormat !== 'CSV' || !Array.isArray(manifest.files))
    throw new StatesError('States.ItemReaderFailed', 'The manifest is not a CSV S3 inventory manifest');
  const bucket = String(manifest.destinationBucket ?? '').replace(/^arn:aws[^:]*:s3:::/, '');
  const columns = String(manifest.fileSchema ?? '')
    .split(',')
    .map((column) => column.trim());
  const items: Json[] = [];
  for (const file of manifest.files) {
    if (items.length >= limit) break;
    const key = isJsonObject(file) ? file.key : undefined;
    if (typeof key !== 'string')
      throw new StatesError('States.ItemReaderFailed', 'A manifest file has no key');
    const rows = parseDelimited(await getObjectText(s3, { Bucket: bucket, Key: key }), ',');
    items.push(...rowsToItems(rows, columns));
  }
  return items;
}

async function readAllItems(
  s3: S3Client,
  reader: ItemReaderConfig,
  parameters: JsonObject,
  limit: number,
): Promise<Json[]> {
  const error = 'States.ItemReaderFailed';
  const bucket = parameter(parameters, 'Bucket', true, error) as string;
  if (reader.source === 'listObjectsV2') {
    readerParameters(parameters, ['Bucket', 'Prefix']);
    const items: Json[] = [];
    for await (const page of listPages(s3, bucket, parameter(parameters, 'Prefix', false, error) ?? '')) {
      for (const object of page) {
        // The fields, and their form, each child gets from a listing in Step Functions.
        items.push({
          Etag: object.ETag ?? '',
          Key: object.Key,
          LastModified: Math.floor((object.LastModified?.getTime() ?? 0) / 1000),
          Size: object.Size ?? 0,
          StorageClass: object.StorageClass ?? 'STANDARD',
        });
      }
      if (items.length >= limit) break;
    }
    return items;
  }
  readerParameters(parameters, ['Bucket', 'Key', 'VersionId', 'ExpectedBucketOwner']);
  const key = parameter(parameters, 'Key', true, error) as string;
  const text = await getObjectText(s3, { ...parameters, Bucket: bucket, Key: key });
  switch (reader.inputType) {
    case 'JSON':
      return parseJsonItems(text, 'The object');
    case 'JSONL':
      return text
        .split(/\r?\n/)
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Json);
    case 'CSV': {
      const rows = parseDelimited(text, reader.csv.delimiter);
      const headers = reader.csv.headers === 'FIRST_ROW' ? rows.shift() : reader.csv.headers;
      return rowsToItems(rows, headers ?? []);
    }
    case 'MANIFEST':
      return inventoryItems(s3, text, limit);
  }
}

/** The items an ItemReader yields (at most `maxItems`); any failure is States.ItemReaderFailed. */
export async function readItems(
  s3: S3Client,
  reader: ItemReaderConfig,
  parameters: JsonObject,
  maxItems?: number,
): Promise<Json[]> {
  const limit = maxItems ?? Number.POSITIVE_INFINITY;
  try {
    return (await readAllItems(s3, reader, parameters, limit)).slice(0, limit);
  } catch (error) {
    if (error instanceof StatesError) throw error;
    const { name, message } = error as Error;
    throw new StatesError('States.ItemReaderFailed', `${name}: ${message}`);
  }
}

export interface ResultFiles {
  SUCCEEDED: Json[];
  FAILED: Json[];
  PENDING: Json[];
}

/**
 * Writes a Map Run's results as ResultWriter does: `<Prefix>/<map run id>/` gets one file per status
 * that has results (SUCCEEDED_0.json, FAILED_0.json, PENDING_0.json), then manifest.json listing them.
 * Returns the manifest's location; any failure is States.ResultWriterFailed.
 */
export async function writeResults(
  s3: S3Client,
  parameters: JsonObject,
  mapRun: { arn: string; id: string },
  results: ResultFiles,
): Promise<{ Bucket: string; Key: string }> {
  const error = 'States.ResultWriterFailed';
  const bucket = parameter(parameters, 'Bucket', true, error) as string;
  const prefix = parameter(parameters, 'Prefix', false, error) ?? '';
  const unknown = Object.keys(parameters).filter((key) => key !== 'Bucket' && key !== 'Prefix');
  if (unknown.length > 0)
    throw new StatesError(
      error,
      `ResultWriter Parameters ${unknown.join(', ')} not supported by the local runner`,
    );
  const base = `${prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`}${mapRun.id}/`;
  const put = async (key: string, body: string) => {
    try {
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }),
      );
    } catch (cause) {
      const { name, message } = cause as Error;
      throw new StatesError(error, `${name}: ${message}`);
    }
  };
  const files: Record<keyof ResultFiles, { Key: string; Size: number }[]> = {
    FAILED: [],
    PENDING: [],
    SUCCEEDED: [],
  };
  for (const status of Object.keys(files) as (keyof ResultFiles)[]) {
    if (results[status].length === 0) continue;
    const key = `${base}${status}_0.json`;
    const body = JSON.stringify(results[status]);
    await put(key, body);
    files[status].push({ Key: key, Size: Buffer.byteLength(body) });
  }
  const manifestKey = `${base}manifest.json`;
  await put(
    manifestKey,
    JSON.stringify({ DestinationBucket: bucket, MapRunArn: mapRun.arn, ResultFiles: files }),
  );
  return { Bucket: bucket, Key: manifestKey };
}
