/**
 * Crash repair for the local S3's data directory, run before s3rver serves it. s3rver writes an object
 * in place as three files, in this order: the content (`<name>._S3rver_object`), its MD5
 * (`…_object.md5`) and its metadata (`…_metadata.json`). A process killed in between leaves a torn
 * object: metadata empty or cut short (listing the bucket then fails with 500 for every caller), no
 * MD5, or content rewritten after the metadata that describes the previous version (its MD5 no longer
 * the recorded one). Such a write was
 * never acknowledged, so setting the object aside is what S3 itself could have answered (the write did
 * not happen); the writer's retry puts it again. Set-aside files keep their path under a quarantine
 * directory beside the data directory (never inside it: s3rver would serve it as a bucket), to look at.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  statSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';

const SUFFIX = '._S3rver_';
const OBJECT = `${SUFFIX}object`;
const MD5 = `${SUFFIX}object.md5`;
const METADATA = `${SUFFIX}metadata.json`;
/** A whole-object MD5, or S3's multipart form (MD5 of the parts' MD5s, then `-<parts>`). */
const MD5_TEXT = /^[0-9a-f]{32}(?:-\d{1,5})?$/;

export interface S3RepairReport {
  /** Objects looked at. */
  checked: number;
  /** Files moved aside, relative to the data directory, with why. */
  quarantined: { file: string; reason: string }[];
  /** Where they went (absent when nothing was moved). */
  quarantineDir?: string;
}

function statOf(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function isJsonObject(text: string | undefined): boolean {
  if (text === undefined) return false;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

/** The MD5 (hex) of a file's content, read in chunks; undefined when it cannot be read. */
function md5Of(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const hash = createHash('md5');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) hash.update(chunk.subarray(0, n));
    return hash.digest('hex');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Why the object whose content file is `objectPath` is torn, or undefined when it is whole. */
function tornReason(objectPath: string, objectStat: Stats): string | undefined {
  const base = objectPath.slice(0, -OBJECT.length);
  const metadataPath = `${base}${METADATA}`;
  const md5Path = `${base}${MD5}`;
  const metadataStat = statOf(metadataPath);
  if (!metadataStat) return 'no metadata';
  if (!isJsonObject(readText(metadataPath))) return 'metadata unreadable';
  const md5 = readText(md5Path)?.trim() ?? '';
  if (!MD5_TEXT.test(md5)) return 'checksum missing or unreadable';
  // Content written after the metadata: an overwrite cut short (the metadata is the old version's),
  // unless the content is exactly what its checksum says. s3rver before local/stores.ts's patch could
  // write an object's last bytes after its metadata; such an object is whole, and setting it aside
  // would lose data that was never lost. A multipart checksum cannot be checked against the content.
  if (objectStat.mtimeMs > metadataStat.mtimeMs && md5 !== md5Of(objectPath))
    return 'content newer than its metadata';
  return undefined;
}

/** Every file under `dir`, depth first (s3rver nests keys as directories). */
function* filesUnder(dir: string): Generator<string> {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(full);
    else if (entry.isFile()) yield full;
  }
}

/**
 * Sets aside every torn object (and stray metadata, checksum or configuration file that is empty or
 * belongs to no object) under `dataDir`. Never throws for what it finds: a file it cannot move is left
 * and reported, so the store still starts.
 */
export function repairS3DataDir(dataDir: string, now: Date = new Date()): S3RepairReport {
  const root = path.resolve(dataDir);
  const report: S3RepairReport = { checked: 0, quarantined: [] };
  if (!statOf(root)?.isDirectory()) return report;
  const quarantineDir = path.join(`${root}-quarantine`, now.toISOString().replace(/[:.]/g, '-'));
  const setAside = (file: string, reason: string) => {
    if (!statOf(file)) return;
    const relative = path.relative(root, file);
    try {
      const target = path.join(quarantineDir, relative);
      mkdirSync(path.dirname(target), { recursive: true });
      renameSync(file, target);
      report.quarantined.push({ file: relative, reason });
    } catch {
      report.quarantined.push({ file: relative, reason: `${reason} (could not be moved)` });
    }
  };

  const files = [...filesUnder(root)];
  for (const file of files) {
    if (!file.endsWith(OBJECT)) continue;
    const objectStat = statOf(file);
    if (!objectStat) continue;
    report.checked++;
    const reason = tornReason(file, objectStat);
    if (!reason) continue;
    const base = file.slice(0, -OBJECT.length);
    for (const part of [OBJECT, MD5, METADATA]) setAside(`${base}${part}`, reason);
  }
  for (const file of files) {
    if (!statOf(file)) continue;
    if (file.endsWith(METADATA) || file.endsWith(MD5)) {
      // What is left of an object whose content is gone: harmless, but torn ones are set aside.
      const base = file.slice(0, -(file.endsWith(METADATA) ? METADATA : MD5).length);
      if (!statOf(`${base}${OBJECT}`)) setAside(file, 'no object');
    } else if (file.includes(SUFFIX) && file.endsWith('.xml') && !readText(file)?.trim()) {
      // A bucket's or object's configuration (CORS, lifecycle, tagging) cut short.
      setAside(file, 'configuration empty');
    }
  }
  if (report.quarantined.length > 0) report.quarantineDir = quarantineDir;
  return report;
}
