/**
 * Verifies an export archive (format version 1, docs/export-format.md): the detached JWS in
 * manifest.jws against a JWKS or a public key, then every file against manifest.json. Reads the ZIP
 * with yauzl through its central directory and streams each file through SHA-256, so archives of any
 * size verify in constant memory. Reports every problem by file name rather than stopping at the first.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { MANIFEST_PATH, ManifestFormatError, parseManifest, SIGNATURE_PATH, type Manifest } from './manifest';
import { JWS_TYPES, verifyDetached, type EcPublicJwk, type Jwks, type VerificationKeys } from '../crypto/jws';

export type VerifyIssueCode =
  | 'unreadable-archive'
  | 'missing-manifest'
  | 'missing-signature'
  | 'bad-manifest'
  | 'bad-signature'
  | 'duplicate-entry'
  | 'missing-file'
  | 'extra-file'
  | 'altered-file';

export interface VerifyIssue {
  code: VerifyIssueCode;
  /** The file concerned, when there is one. */
  path?: string;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  errors: VerifyIssue[];
  /** Key id of the valid signature. */
  kid?: string;
  manifest?: Manifest;
  /** Files compared against the manifest. */
  filesChecked: number;
}

/** manifest.json can list many files, but it is never this big; the signature is a few hundred bytes. */
const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;
const MAX_SIGNATURE_BYTES = 16 * 1024;

async function readAll(stream: Readable, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limit) {
      stream.destroy();
      return undefined;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

async function digest(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    hash.update(buf);
    bytes += buf.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export async function verifyArchive(zipPath: string, keys: VerificationKeys): Promise<VerifyResult> {
  const errors: VerifyIssue[] = [];
  const found = new Map<string, { sha256: string; bytes: number }>();
  let manifestBytes: Buffer | undefined;
  let signature: string | undefined;

  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(zipPath, { lazyEntries: true, autoClose: false, validateEntrySizes: true });
  } catch (error) {
    return {
      ok: false,
      errors: [{ code: 'unreadable-archive', message: `Not a readable ZIP archive: ${describe(error)}` }],
      filesChecked: 0,
    };
  }
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (name.endsWith('/')) continue; // a directory entry holds no data
      if (
        found.has(name) ||
        (name === MANIFEST_PATH && manifestBytes) ||
        (name === SIGNATURE_PATH && signature)
      ) {
        errors.push({
          code: 'duplicate-entry',
          path: name,
          message: `${name} appears more than once in the archive`,
        });
        continue;
      }
      let stream: Readable;
      try {
        stream = await zip.openReadStreamPromise(entry);
      } catch (error) {
        errors.push({
          code: 'altered-file',
          path: name,
          message: `${name} cannot be read: ${describe(error)}`,
        });
        continue;
      }
      try {
        if (name === MANIFEST_PATH) {
          manifestBytes = await readAll(stream, MAX_MANIFEST_BYTES);
          if (!manifestBytes)
            errors.push({ code: 'bad-manifest', path: name, message: 'manifest.json is implausibly large' });
        } else if (name === SIGNATURE_PATH) {
          const bytes = await readAll(stream, MAX_SIGNATURE_BYTES);
          if (bytes) signature = bytes.toString('ascii');
          else
            errors.push({ code: 'bad-signature', path: name, message: 'manifest.jws is implausibly large' });
        } else {
          found.set(name, await digest(stream));
        }
      } catch (error) {
        errors.push({
          code: 'altered-file',
          path: name,
          message: `${name} cannot be read: ${describe(error)}`,
        });
      }
    }
  } catch (error) {
    errors.push({
      code: 'unreadable-archive',
      message: `The archive's directory cannot be read: ${describe(error)}`,
    });
  } finally {
    zip.close();
  }

  if (!manifestBytes) {
    if (!errors.some((e) => e.code === 'bad-manifest')) {
      errors.push({
        code: 'missing-manifest',
        path: MANIFEST_PATH,
        message: 'The archive has no manifest.json',
      });
    }
    return { ok: false, errors, filesChecked: 0 };
  }

  let kid: string | undefined;
  if (signature === undefined) {
    if (!errors.some((e) => e.code === 'bad-signature')) {
      errors.push({
        code: 'missing-signature',
        path: SIGNATURE_PATH,
        message: 'The archive has no manifest.jws',
      });
    }
  } else {
    // Archives from before manifests carried a typ are still in people's hands (acceptUntyped).
    const verdict = await verifyDetached(signature, manifestBytes, keys, {
      typ: JWS_TYPES.manifest,
      acceptUntyped: true,
    });
    if (verdict.ok) kid = verdict.kid;
    else {
      errors.push({
        code: 'bad-signature',
        path: SIGNATURE_PATH,
        message: `The signature over manifest.json is not valid: ${verdict.reason}`,
      });
    }
  }

  let manifest: Manifest;
  try {
    manifest = parseManifest(manifestBytes);
  } catch (error) {
    const message = error instanceof ManifestFormatError ? error.message : 'manifest.json cannot be read';
    errors.push({ code: 'bad-manifest', path: MANIFEST_PATH, message });
    return { ok: false, errors, kid, filesChecked: 0 };
  }

  const listed = new Set<string>();
  for (const file of manifest.files) {
    listed.add(file.path);
    const actual = found.get(file.path);
    if (!actual) {
      errors.push({
        code: 'missing-file',
        path: file.path,
        message: `${file.path} is listed in the manifest but missing`,
      });
    } else if (actual.sha256 !== file.sha256 || actual.bytes !== file.bytes) {
      errors.push({
        code: 'altered-file',
        path: file.path,
        message: `${file.path} differs from the manifest (${actual.bytes} bytes, sha256 ${actual.sha256}; expected ${file.bytes} bytes, sha256 ${file.sha256})`,
      });
    }
  }
  for (const path of found.keys()) {
    if (!listed.has(path)) {
      errors.push({ code: 'extra-file', path, message: `${path} is in the archive but not in the manifest` });
    }
  }
  return { ok: errors.length === 0, errors, kid, manifest, filesChecked: manifest.files.length };
}

function isJwk(value: unknown): value is EcPublicJwk {
  const v = value as Record<string, unknown> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.kty === 'EC' &&
    v.crv === 'P-256' &&
    typeof v.x === 'string' &&
    typeof v.y === 'string' &&
    typeof v.kid === 'string'
  );
}

/** Parses a JWKS document, keeping the P-256 keys (others cannot verify ES256 anyway). */
function parseJwks(text: string): Jwks {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('The JWKS is not valid JSON');
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('The JWKS has no "keys" array');
  return { keys: keys.filter(isJwk) };
}

/** Loads a JWKS from a file path or an http(s) URL. */
export async function loadJwks(location: string): Promise<Jwks> {
  if (/^https?:\/\//i.test(location)) {
    const response = await fetch(location, {
      signal: AbortSignal.timeout(15_000),
      headers: { accept: 'application/json' },
    });
    if (!response.ok) throw new Error(`Fetching the JWKS failed: HTTP ${response.status}`);
    return parseJwks(await response.text());
  }
  return parseJwks(await readFile(location, 'utf8'));
}
