/**
 * manifest.json: every file of the archive (except manifest.json and manifest.jws themselves) with its
 * SHA-256, size and, for data files, record count. It is written last, and manifest.jws signs its exact
 * bytes. Format version 1, documented in docs/export-format.md.
 */
import type { StoreName } from '../connectors/contract';

export const MANIFEST_PATH = 'manifest.json';
export const SIGNATURE_PATH = 'manifest.jws';
export const FORMAT_VERSION = 1;

export interface ManifestFile {
  path: string;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
  bytes: number;
  /** Records in a data file (.json or .csv); absent for other files. */
  records?: number;
}

export interface ManifestStore {
  store: StoreName;
  records: number;
  /** Files of this store in the archive: data, CSV, schemas and media. */
  files: number;
}

export interface Manifest {
  formatVersion: 1;
  requestId: string;
  /** The subject's keyed hash: the archive never names the person any other way. */
  subject: string;
  /** The service (config/services/) whose controller issued the archive; absent in older archives. */
  service?: string;
  generatedAt: string;
  subjectFound: boolean;
  stores: ManifestStore[];
  files: ManifestFile[];
  /** An answer in part: the stores (or a store's category) left out, each with its reason and ground. */
  leftOut?: ManifestLeftOut[];
}

export interface ManifestLeftOut {
  store: StoreName;
  category?: string;
  reasonCode: string;
  legalGround: string;
  exception?: string;
}

/** The bytes that are signed: stable key order, two-space indent, trailing newline. */
export function serializeManifest(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}

export class ManifestFormatError extends Error {
  override name = 'ManifestFormatError';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** Parses and checks a manifest read from an archive; throws ManifestFormatError saying what is wrong. */
export function parseManifest(bytes: Buffer): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ManifestFormatError('manifest.json is not valid JSON');
  }
  if (!isObject(value)) throw new ManifestFormatError('manifest.json is not a JSON object');
  if (value.formatVersion !== FORMAT_VERSION) {
    throw new ManifestFormatError(`Unsupported manifest formatVersion (expected ${FORMAT_VERSION})`);
  }
  for (const key of ['requestId', 'subject', 'generatedAt'] as const) {
    if (typeof value[key] !== 'string')
      throw new ManifestFormatError(`manifest.json: ${key} must be a string`);
  }
  if (value.service !== undefined && typeof value.service !== 'string')
    throw new ManifestFormatError('manifest.json: service must be a string');
  if (typeof value.subjectFound !== 'boolean')
    throw new ManifestFormatError('manifest.json: subjectFound must be a boolean');
  if (!Array.isArray(value.stores) || !Array.isArray(value.files)) {
    throw new ManifestFormatError('manifest.json: stores and files must be arrays');
  }
  value.stores.forEach((store, i) => {
    if (
      !isObject(store) ||
      typeof store.store !== 'string' ||
      !isCount(store.records) ||
      !isCount(store.files)
    ) {
      throw new ManifestFormatError(`manifest.json: stores[${i}] is malformed`);
    }
  });
  if (
    value.leftOut !== undefined &&
    (!Array.isArray(value.leftOut) ||
      !value.leftOut.every(
        (part) => isObject(part) && typeof part.store === 'string' && typeof part.legalGround === 'string',
      ))
  )
    throw new ManifestFormatError('manifest.json: leftOut is malformed');
  const seen = new Set<string>();
  value.files.forEach((file, i) => {
    if (
      !isObject(file) ||
      typeof file.path !== 'string' ||
      file.path === '' ||
      typeof file.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(file.sha256) ||
      !isCount(file.bytes) ||
      (file.records !== undefined && !isCount(file.records))
    ) {
      throw new ManifestFormatError(`manifest.json: files[${i}] is malformed`);
    }
    if (seen.has(file.path)) throw new ManifestFormatError(`manifest.json lists ${file.path} twice`);
    seen.add(file.path);
  });
  return value as unknown as Manifest;
}
