/**
 * The byte layouts of the log index's files (docs/log-index.md, "What it holds"). No I/O of its own: a
 * day file's reader is given the ranged reads to make.
 *
 * - An **object file** holds one log object's subject hashes: sorted, distinct, 16 bytes each, end to end.
 * - A **day file** merges the object files of one closed `dt=` day of one log prefix:
 *
 *       magic "DSRLIX02" (8) | slot bits b (u32) | entries n (u32) | key list length j (u32)
 *       | slot table: 2^b + 1 entry indices (u32 each)
 *       | key list: JSON array of the day's objects, each [key, ETag] (j)
 *       | entries: n x (hash 16 | object number u32), sorted by hash then object number
 *
 *   The ETags make a day file the record of its objects' subjects at those versions: a merge takes an
 *   object from it when the object has no object file at its listed ETag (the log-erasure job carries a
 *   rewritten object over in its day file, not by writing an object file). Format 01 (a key list of
 *   plain keys) is still read; it records no version.
 *
 *   The slot of a hash is its first b bits; the slot table says where each slot's entries start, so a
 *   reader fetches the first few KiB, then only its subject's slots' table entries and entries (ranged
 *   reads), however many the day holds. All integers are big-endian.
 */

import { sortedHashes } from './log-ids';

/** Bytes of one subject hash in the files (LogIndexHasher's 22 base64url characters, 128 bits of them). */
export const HASH_BYTES = 16;
const ENTRY_BYTES = HASH_BYTES + 4;
const MAGIC = Buffer.from('DSRLIX02', 'latin1');
/** The first layout: its key list names the objects without their versions. */
const MAGIC_V1 = Buffer.from('DSRLIX01', 'latin1');
const FIXED_HEADER_BYTES = MAGIC.length + 12;
/** Entries a slot holds on average: small enough that a subject's slot is a few KiB at most. */
const ENTRIES_PER_SLOT = 32;
const MAX_SLOT_BITS = 16;

/** A hash in the files' form: LogIndexHasher's string, decoded (16 bytes). */
export function hashBytes(hash: string): Buffer {
  const bytes = Buffer.from(hash, 'base64url');
  if (bytes.length < HASH_BYTES) throw new RangeError('A log index hash is shorter than 16 bytes');
  return bytes.subarray(0, HASH_BYTES);
}

/** An object file's body: the hashes decoded, sorted and each once. */
export function encodeObjectFile(hashes: readonly string[]): Buffer {
  const raw = Buffer.alloc(hashes.length * HASH_BYTES);
  hashes.forEach((hash, i) => {
    if (raw.write(hash, i * HASH_BYTES, HASH_BYTES, 'base64url') < HASH_BYTES)
      throw new RangeError('A log index hash is shorter than 16 bytes');
  });
  return objectFileOf(raw);
}

/** An object file's body from 16-byte hashes laid end to end in any order: sorted, each once. */
export const objectFileOf = (raw: Buffer): Buffer => sortedHashes(raw);

/**
 * Copies the 16-byte hash at `from` in `source` to `at` in `target` (a loop: for 16 bytes, a call of
 * Buffer#copy costs several times more).
 */
export function copyHash(source: Buffer, from: number, target: Buffer, at: number): void {
  for (let i = 0; i < HASH_BYTES; i++) target[at + i] = source[from + i]!;
}

/** The number of hashes an object file holds. */
export function objectFileCount(file: Buffer): number {
  return Math.floor(file.length / HASH_BYTES);
}

/** True when the sorted object file holds `hash` (binary search). */
export function objectFileHas(file: Buffer, hash: Buffer): boolean {
  let low = 0;
  let high = objectFileCount(file) - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const order = Buffer.compare(file.subarray(middle * HASH_BYTES, (middle + 1) * HASH_BYTES), hash);
    if (order === 0) return true;
    if (order < 0) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

/** An object file without the hashes of `remove`. */
export function objectFileWithout(file: Buffer, remove: readonly Buffer[]): Buffer {
  const gone = new Set(remove.map((hash) => hash.toString('hex')));
  const kept: Buffer[] = [];
  for (let i = 0; i < objectFileCount(file); i++) {
    const hash = file.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
    if (!gone.has(hash.toString('hex'))) kept.push(hash);
  }
  return Buffer.concat(kept);
}

function slotBitsFor(entries: number): number {
  let bits = 0;
  while (bits < MAX_SLOT_BITS && entries / 2 ** bits > ENTRIES_PER_SLOT) bits += 1;
  return bits;
}

/** The slot of a hash: its first `bits` bits. */
export function slotOf(hash: Buffer, bits: number): number {
  return bits === 0 ? 0 : hash.readUInt32BE(0) >>> (32 - bits);
}

/** One log object version and its object file: what a day file is merged from, and decoded into. */
export interface IndexedObject {
  key: string;
  /** The version (unquoted ETag) the hashes are of; absent in a format 01 day file. */
  etag?: string;
  file: Buffer;
}

/** A day file from the day's object files (key order gives the object numbers). */
export function encodeDayFile(objects: readonly (IndexedObject & { etag: string })[]): Buffer {
  const count = objects.reduce((n, o) => n + objectFileCount(o.file), 0);
  const bits = slotBitsFor(count);
  const slots = 2 ** bits;
  // Entries are placed by slot (a counting sort), then each slot's few entries sorted in place.
  const perSlot = new Uint32Array(slots + 1);
  for (const { file } of objects) {
    for (let i = 0; i < objectFileCount(file); i++)
      perSlot[slotOf(file.subarray(i * HASH_BYTES), bits) + 1]! += 1;
  }
  for (let s = 1; s <= slots; s++) perSlot[s]! += perSlot[s - 1]!;
  const table = Uint32Array.from(perSlot);
  const keys = Buffer.from(JSON.stringify(objects.map((o) => [o.key, o.etag])), 'utf8');
  const headerBytes = FIXED_HEADER_BYTES + 4 * (slots + 1) + keys.length;
  const out = Buffer.alloc(headerBytes + count * ENTRY_BYTES);
  const entries = out.subarray(headerBytes);
  const next = perSlot.subarray(0, slots);
  objects.forEach(({ file }, number) => {
    for (let i = 0; i < objectFileCount(file); i++) {
      const hash = file.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
      const at = next[slotOf(hash, bits)]!++ * ENTRY_BYTES;
      hash.copy(entries, at);
      entries.writeUInt32BE(number, at + HASH_BYTES);
    }
  });
  for (let s = 0; s < slots; s++) {
    const from = table[s]!;
    const to = table[s + 1]!;
    if (to - from < 2) continue;
    const sorted = [];
    for (let e = from; e < to; e++)
      sorted.push(Buffer.from(entries.subarray(e * ENTRY_BYTES, (e + 1) * ENTRY_BYTES)));
    sorted.sort(Buffer.compare);
    sorted.forEach((entry, i) => entry.copy(entries, (from + i) * ENTRY_BYTES));
  }
  MAGIC.copy(out, 0);
  out.writeUInt32BE(bits, 8);
  out.writeUInt32BE(count, 12);
  out.writeUInt32BE(keys.length, 16);
  for (let s = 0; s <= slots; s++) out.writeUInt32BE(table[s]!, FIXED_HEADER_BYTES + 4 * s);
  keys.copy(out, FIXED_HEADER_BYTES + 4 * (slots + 1));
  return out;
}

/** Thrown when an index file is not in the layout above. */
export class LogIndexFileCorrupt extends Error {
  override name = 'LogIndexFileCorrupt';
}

/** Where a day file's parts are, from its fixed header. */
export interface DayFileLayout {
  bits: number;
  count: number;
  keysAt: number;
  /** Byte offset of the entries (the key list ends there). */
  entriesAt: number;
}

/**
 * The first bytes a reader fetches: the fixed header, the table and key list of most days, and the whole
 * of a small day file. A GET's first byte costs the time, not its next 60 KiB: the reads after it fall
 * from a table entry, the entries and the key list per slot to the entries of the slots beyond it.
 */
export const DAY_FILE_FIRST_READ_BYTES = 64 * 1024;

/** The layout of a day file from (at least) its first FIXED_HEADER_BYTES. */
export function dayFileLayout(start: Buffer): DayFileLayout {
  const magic = start.subarray(0, MAGIC.length);
  if (start.length < FIXED_HEADER_BYTES || !(magic.equals(MAGIC) || magic.equals(MAGIC_V1)))
    throw new LogIndexFileCorrupt('A log index day file has no valid header');
  const bits = start.readUInt32BE(8);
  if (bits > MAX_SLOT_BITS) throw new LogIndexFileCorrupt('A log index day file has too many slots');
  const keysAt = FIXED_HEADER_BYTES + 4 * (2 ** bits + 1);
  return { bits, count: start.readUInt32BE(12), keysAt, entriesAt: keysAt + start.readUInt32BE(16) };
}

/** Reads bytes [from, to) of a file (a ranged GET). */
export type ReadRange = (from: number, to: number) => Promise<Buffer>;

/**
 * The keys a day file names for any of `hashes`, reading as little of it as it can: its first few KiB,
 * then for each hash's slot its two table entries (unless the first read held them) and its entries,
 * and the key list only when a hash matched. However large the day, a few KiB per hash.
 */
export async function namesInDayFile(read: ReadRange, hashes: readonly Buffer[]): Promise<string[]> {
  const start = await read(0, DAY_FILE_FIRST_READ_BYTES);
  const layout = dayFileLayout(start);
  const bytes = (from: number, to: number) =>
    to <= start.length ? Promise.resolve(start.subarray(from, to)) : read(from, to);
  const numbers = new Set<number>();
  const slots = [...new Set(hashes.map((hash) => slotOf(hash, layout.bits)))];
  await Promise.all(
    slots.map(async (slot) => {
      const table = await bytes(FIXED_HEADER_BYTES + 4 * slot, FIXED_HEADER_BYTES + 4 * (slot + 2));
      if (table.length < 8) throw new LogIndexFileCorrupt('A log index day file is cut short');
      const [first, end] = [table.readUInt32BE(0), table.readUInt32BE(4)];
      if (end <= first) return;
      const entries = await bytes(
        layout.entriesAt + first * ENTRY_BYTES,
        layout.entriesAt + end * ENTRY_BYTES,
      );
      for (const hash of hashes) {
        if (slotOf(hash, layout.bits) !== slot) continue;
        for (const number of objectNumbersIn(entries, hash)) numbers.add(number);
      }
    }),
  );
  if (numbers.size === 0) return [];
  const objects = dayFileObjects(await bytes(layout.keysAt, layout.entriesAt));
  return [...numbers]
    .sort((x, y) => x - y)
    .flatMap((n) => {
      const object = objects[n];
      return object ? [object.key] : [];
    });
}

/** The objects a day file's key list names, in object-number order, with their versions (format 02). */
export function dayFileObjects(keyList: Buffer): { key: string; etag?: string }[] {
  const list = JSON.parse(keyList.toString('utf8')) as unknown;
  if (!Array.isArray(list)) throw new LogIndexFileCorrupt('A log index day file has no key list');
  return list.map((entry: unknown) => {
    if (typeof entry === 'string') return { key: entry };
    if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string')
      return { key: entry[0], etag: entry[1] };
    throw new LogIndexFileCorrupt('A log index day file has no key list');
  });
}

/**
 * A whole day file taken apart again: each object's hashes, as its object file holds them (sorted, each
 * once: the entries are in hash order). A merge takes from it the objects that have no object file.
 */
export function decodeDayFile(file: Buffer): IndexedObject[] {
  const layout = dayFileLayout(file);
  if (file.length < layout.entriesAt + layout.count * ENTRY_BYTES)
    throw new LogIndexFileCorrupt('A log index day file is cut short');
  const objects = dayFileObjects(file.subarray(layout.keysAt, layout.entriesAt));
  const entries = file.subarray(layout.entriesAt, layout.entriesAt + layout.count * ENTRY_BYTES);
  const counts = new Uint32Array(objects.length);
  const numberAt = (e: number) => {
    const number = entries.readUInt32BE(e * ENTRY_BYTES + HASH_BYTES);
    if (number >= objects.length) throw new LogIndexFileCorrupt('A log index day file names no such object');
    return number;
  };
  for (let e = 0; e < layout.count; e++) counts[numberAt(e)]! += 1;
  const files = objects.map((_, n) => Buffer.allocUnsafe(counts[n]! * HASH_BYTES));
  const filled = new Uint32Array(objects.length);
  for (let e = 0; e < layout.count; e++) {
    const n = numberAt(e);
    copyHash(entries, e * ENTRY_BYTES, files[n]!, filled[n]!++ * HASH_BYTES);
  }
  return objects.map((object, n) => ({ ...object, file: files[n]! }));
}

/** The object numbers a slot's entries give `hash`. */
function objectNumbersIn(slot: Buffer, hash: Buffer): number[] {
  const numbers: number[] = [];
  for (let at = 0; at + ENTRY_BYTES <= slot.length; at += ENTRY_BYTES) {
    if (slot.subarray(at, at + HASH_BYTES).equals(hash)) numbers.push(slot.readUInt32BE(at + HASH_BYTES));
  }
  return numbers;
}
