/**
 * A set of short byte strings, looked up by their bytes where they lie (a range of a chunk), so that the
 * log indexer's hot path builds no JS string per id: open addressing over FNV-1a of the bytes, with the
 * bytes of each entry kept in one arena to compare against. Entries are numbered from 0 in the order they
 * were added, so a caller keeps what it knows of each in arrays of its own.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** `old`'s values in a new array of `size` (larger) entries. */
export const grown = (old: Int32Array, size: number) => {
  const bigger = new Int32Array(size);
  bigger.set(old);
  return bigger;
};

/** FNV-1a of `buf[start..end)`. */
function byteHash(buf: Uint8Array, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ (buf[i] ?? 0), FNV_PRIME);
  // As an Int32Array holds it (the offset alone, for no bytes, is over 2^31).
  return hash | 0;
}

export class ByteStrings {
  /**
   * Per slot, its entry's hash and number + 1 (0: empty), side by side: a probe reads one place in
   * memory until the hash matches (the table outgrows the caches, and each miss costs more than the
   * rest of a lookup).
   */
  private slots = new Int32Array(2 * 1024);
  private hashes = new Int32Array(512);
  /** Per entry, its start in the arena and its length. */
  private spans = new Int32Array(2 * 512);
  private bytes = Buffer.allocUnsafe(16 * 1024);
  private used = 0;
  /** Entries so far: the next one added gets this number. */
  count = 0;

  /** The arena: entry `n` is `arena.subarray(start(n), end(n))`. */
  get arena(): Buffer {
    return this.bytes;
  }

  start(entry: number): number {
    return this.spans[2 * entry] ?? 0;
  }

  end(entry: number): number {
    return (this.spans[2 * entry] ?? 0) + (this.spans[2 * entry + 1] ?? 0);
  }

  /**
   * The entry holding the bytes `buf[start..end)`, added first if there is none (then it is `count - 1`);
   * `hash` is their `byteHash` when known.
   */
  intern(buf: Uint8Array, start: number, end: number, hash = byteHash(buf, start, end)): number {
    const entry = this.find(buf, start, end, hash);
    return entry !== -1 ? entry : this.insert(buf, start, end - start, hash);
  }

  /** The entry holding the bytes `buf[start..end)`, or -1 when there is none. */
  find(buf: Uint8Array, start: number, end: number, hash = byteHash(buf, start, end)): number {
    const length = end - start;
    const mask = this.slots.length / 2 - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = (this.slots[2 * slot + 1] ?? 0) - 1;
      if (entry < 0) return -1;
      if (this.slots[2 * slot] === hash && this.spans[2 * entry + 1] === length) {
        const at = this.spans[2 * entry] ?? 0;
        let same = true;
        for (let i = 0; i < length; i++) {
          if (this.bytes[at + i] !== buf[start + i]) {
            same = false;
            break;
          }
        }
        if (same) return entry;
      }
    }
  }

  /** Forgets every entry (the memory it grew to stays). */
  clear(): void {
    this.slots.fill(0);
    this.used = 0;
    this.count = 0;
  }

  private insert(buf: Uint8Array, start: number, length: number, hash: number): number {
    if (this.count === this.hashes.length) {
      const size = this.hashes.length * 2;
      this.hashes = grown(this.hashes, size);
      this.spans = grown(this.spans, 2 * size);
    }
    if (this.used + length > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + length));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
    // Ids are short: a loop costs less than a call into C++ (Buffer#copy).
    const at = this.used;
    for (let i = 0; i < length; i++) this.bytes[at + i] = buf[start + i] ?? 0;
    const entry = this.count++;
    this.hashes[entry] = hash;
    this.spans[2 * entry] = at;
    this.spans[2 * entry + 1] = length;
    this.used += length;
    // At most half full: probes stay short.
    if (this.count > this.slots.length / 4) this.rehash(this.slots.length * 2);
    else this.place(entry, hash);
    return entry;
  }

  private place(entry: number, hash: number): void {
    const mask = this.slots.length / 2 - 1;
    let slot = hash & mask;
    while (this.slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
    this.slots[2 * slot] = hash;
    this.slots[2 * slot + 1] = entry + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let entry = 0; entry < this.count; entry++) this.place(entry, this.hashes[entry] ?? 0);
  }
}
