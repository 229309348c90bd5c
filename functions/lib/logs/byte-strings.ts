/**
 * A set of short byte strings, looked up by their bytes where they lie (a range of a chunk), so that the
 * logs connector's candidate search (line-candidates.ts) builds no JS string per lookup: open addressing
 * over FNV-1a of the bytes. Entries are numbered from 0 in the order they were added. A slot of 32 bytes
 * holds its entry's hash, number and length and the first bytes of the string; only a longer string is
 * compared further, in the arena that holds every string whole.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** A slot, in words: hash, entry + 1 (0: empty), length, start in the arena, then the first bytes. */
const SLOT_WORDS = 8;
const INLINE_OFFSET = 4 * 4;
/** Bytes of a string a slot holds itself. */
const INLINE_BYTES = (SLOT_WORDS - 4) * 4;

/** `old`'s values in a new array of `size` (larger) entries. */
const grown = (old: Int32Array, size: number) => {
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
  /** The slots, as words and as bytes (the same memory). */
  private slots = new Int32Array(SLOT_WORDS * 1024);
  private slotBytes = new Uint8Array(this.slots.buffer);
  /** Per entry, where its string ends in the arena (the next one's starts there). */
  private ends = new Int32Array(512);
  /** Every string whole, end to end, in the order of the entries. */
  private bytes = Buffer.alloc(16 * 1024);
  private used = 0;
  /** Entries so far: the next one added gets this number. */
  count = 0;

  /** The arena: entry `n` is `arena.subarray(start(n), end(n))`. */
  get arena(): Buffer {
    return this.bytes;
  }

  start(entry: number): number {
    return entry === 0 ? 0 : (this.ends[entry - 1] ?? 0);
  }

  end(entry: number): number {
    return this.ends[entry] ?? 0;
  }

  /**
   * The entry holding the bytes `buf[start..end)`, added first if there is none (then it is `count - 1`);
   * `hash` is their `byteHash` when known (a test forces one).
   */
  intern(buf: Uint8Array, start: number, end: number, hash = byteHash(buf, start, end)): number {
    const slot = this.locate(buf, start, end, hash);
    return slot >= 0
      ? (this.slots[SLOT_WORDS * slot + 1] ?? 0) - 1
      : this.insert(buf, start, end, hash, -slot - 1);
  }

  /** The entry holding the bytes `buf[start..end)`, or -1 when there is none. */
  find(buf: Uint8Array, start: number, end: number, hash = byteHash(buf, start, end)): number {
    const slot = this.locate(buf, start, end, hash);
    return slot >= 0 ? (this.slots[SLOT_WORDS * slot + 1] ?? 0) - 1 : -1;
  }

  /** The slot holding `buf[start..end)`, or, when there is none, `-(slot + 1)` for the empty one where it would go. */
  private locate(buf: Uint8Array, start: number, end: number, hash: number): number {
    const length = end - start;
    const { slots, slotBytes, bytes } = this;
    const mask = slots.length / SLOT_WORDS - 1;
    const inline = Math.min(length, INLINE_BYTES);
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const at = SLOT_WORDS * slot;
      if (slots[at + 1] === 0) return -slot - 1;
      if (slots[at] !== hash || slots[at + 2] !== length) continue;
      const first = 4 * at + INLINE_OFFSET;
      let same = true;
      for (let i = 0; i < inline; i++) {
        if (slotBytes[first + i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      // Past the first bytes (a long string): the rest, in the arena.
      const rest = (slots[at + 3] ?? 0) - start;
      for (let i = inline; same && i < length; i++) same = bytes[rest + start + i] === buf[start + i];
      if (same) return slot;
    }
  }

  private insert(buf: Uint8Array, start: number, end: number, hash: number, slot: number): number {
    const length = end - start;
    if (this.count === this.ends.length) this.ends = grown(this.ends, this.ends.length * 2);
    if (this.used + length > this.bytes.length) {
      const bigger = Buffer.alloc(Math.max(this.bytes.length * 2, this.used + length));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
    // Ids are short: loops cost less than calls into C++ (Buffer#copy).
    const from = this.used;
    for (let i = 0; i < length; i++) this.bytes[from + i] = buf[start + i] ?? 0;
    this.used += length;
    const entry = this.count++;
    const at = SLOT_WORDS * slot;
    this.slots[at] = hash;
    this.slots[at + 1] = entry + 1;
    this.slots[at + 2] = length;
    this.slots[at + 3] = from;
    const first = 4 * at + INLINE_OFFSET;
    for (let i = 0; i < Math.min(length, INLINE_BYTES); i++) this.slotBytes[first + i] = buf[start + i] ?? 0;
    this.ends[entry] = this.used;
    // At most half full: probes stay short.
    if (this.count > this.slots.length / SLOT_WORDS / 2) this.rehash((2 * this.slots.length) / SLOT_WORDS);
    return entry;
  }

  /** Places every entry's slot again in a table of `size` slots (reading the old one in order). */
  private rehash(size: number): void {
    const old = this.slots;
    this.slots = new Int32Array(SLOT_WORDS * size);
    this.slotBytes = new Uint8Array(this.slots.buffer);
    const mask = size - 1;
    for (let from = 0; from < old.length; from += SLOT_WORDS) {
      if (old[from + 1] === 0) continue;
      let slot = (old[from] ?? 0) & mask;
      while (this.slots[SLOT_WORDS * slot + 1] !== 0) slot = (slot + 1) & mask;
      for (let i = 0; i < SLOT_WORDS; i++) this.slots[SLOT_WORDS * slot + i] = old[from + i] ?? 0;
    }
  }
}
