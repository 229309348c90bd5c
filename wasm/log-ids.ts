/**
 * The log indexer's inner loop, in WebAssembly (AssemblyScript, compiled by `npm run build:wasm` into
 * functions/lib/logs/log-ids-wasm.ts): the subject ids of an object's lines, each distinct one once, and
 * the blocks of their AES-CMAC. In JavaScript the same work cost more than the gunzip before it; here
 * lines are searched 16 bytes at a time (SIMD) and ids hashed and compared 8 bytes at a time, with no
 * bounds checks (docs/log-index.md, "The reader in WebAssembly", and "Measured": session 14).
 *
 * One instance reads one object at a time (functions/lib/logs/log-ids.ts drives it): the caller copies
 * decompressed bytes to `input`, `scan` reads the complete lines, and the ids of the object so far sit in
 * one table per kind until `beginObject` clears them. Which ids a line names is the rule of
 * functions/lib/logs/subject-ids.ts, for lines without a backslash; a line with one (an escape could hide
 * a quote) is listed for the caller to parse (`escapes`).
 *
 * Memory comes from the stub runtime's allocator, which never frees: every region grows by doubling, so
 * what it leaves behind is at most what it holds.
 */

const NEWLINE: u8 = 0x0a;
const QUOTE: u8 = 0x22;
const BACKSLASH: u8 = 0x5c;
const CAPITAL_I: u8 = 0x49;
const COLON: u8 = 0x3a;
/** "user", and "de" + "vice", as little-endian words (the bytes before a key's "Id"). */
const USER_WORD: u32 = 0x72657375;
const DE_HALF: u16 = 0x6564;
const VICE_WORD: u32 = 0x65636976;

/** Bytes readable past any id or block, so words can be loaded whole and masked. */
const SLACK: usize = 16;

/** A slot: hash, entry + 1 (0: empty), length, start in the arena, then the first 16 bytes (zero-padded). */
const SLOT_BYTES: usize = 32;
const INLINE_BYTES: i32 = 16;
/** Ids of one kind a line may name before it is left to the caller to parse instead. */
const LINE_IDS: i32 = 64;

/** A growable region. */
@unmanaged
class Region {
  ptr: usize = 0;
  size: usize = 0;
}

function ensure(region: Region, size: usize, keep: usize): void {
  if (size <= region.size) return;
  let grown = region.size === 0 ? <usize>4096 : region.size;
  while (grown < size) grown *= 2;
  const ptr = heap.alloc(grown + SLACK);
  if (keep > 0) memory.copy(ptr, region.ptr, keep);
  region.ptr = ptr;
  region.size = grown;
}

/** The distinct ids of one kind in the object being read, numbered from 0 in the order first met. */
@unmanaged
class Table {
  slots: Region = new Region();
  mask: u32 = 0;
  count: i32 = 0;
  /** Every id whole, end to end. */
  arena: Region = new Region();
  used: usize = 0;
  /** Per entry, where its id ends in the arena. */
  ends: Region = new Region();
  /** Entries with a byte over 0x7f (their UTF-8 may not be what the connector decodes). */
  other: Region = new Region();
  others: i32 = 0;
  /** The ids found in the input, not interned yet: start (in the input), length, hash. */
  pending: Region = new Region();
  found: i32 = 0;
}

const tables = new StaticArray<Table>(2);
tables[0] = new Table();
tables[1] = new Table();
const input = new Region();
/** The line's ids, per kind: start and length pairs (relative to the input). */
const lineIds = new Region();
ensure(lineIds, <usize>(2 * 2 * LINE_IDS * 4), 0);
const escapes = new Region();
let escapeCount: i32 = 0;
let lineCount: i32 = 0;

function clearTable(table: Table, slots: u32): void {
  ensure(table.slots, <usize>slots * SLOT_BYTES, 0);
  memory.fill(table.slots.ptr, 0, <usize>slots * SLOT_BYTES);
  table.mask = slots - 1;
  table.count = 0;
  table.used = 0;
  table.others = 0;
}

/**
 * What a reader starts with, sized for a log object of tens of thousands of ids (4 MiB or so): growing
 * from less, a new container's first object spent a tenth of its time growing and rehashing.
 */
const FIRST_SLOTS: u32 = 1 << 16;
const FIRST_IDS: usize = 1 << 16;
const FIRST_INPUT: usize = 512 * 1024;

/** Forgets the ids of the last object (the memory stays). */
export function beginObject(): void {
  for (let kind = 0; kind < 2; kind++) {
    const table = unchecked(tables[kind]);
    if (table.mask === 0) {
      ensure(table.arena, FIRST_IDS * 16, 0);
      ensure(table.ends, FIRST_IDS * 4, 0);
      ensure(table.pending, FIRST_IDS * 12, 0);
    }
    clearTable(table, table.mask === 0 ? FIRST_SLOTS : table.mask + 1);
  }
  ensure(input, FIRST_INPUT, 0);
  lineCount = 0;
}

/** Where `size` bytes of input go (what was there up to `keep` bytes stays). */
export function inputFor(size: i32, keep: i32): usize {
  ensure(input, <usize>size, <usize>keep);
  return input.ptr;
}

export function count(kind: i32): i32 {
  return unchecked(tables[kind]).count;
}
export function arena(kind: i32): usize {
  return unchecked(tables[kind]).arena.ptr;
}
export function ends(kind: i32): usize {
  return unchecked(tables[kind]).ends.ptr;
}
export function otherCount(kind: i32): i32 {
  return unchecked(tables[kind]).others;
}
export function others(kind: i32): usize {
  return unchecked(tables[kind]).other.ptr;
}
export function lines(): i32 {
  return lineCount;
}
export function escapeList(): usize {
  return escapes.ptr;
}

/** The bytes of `p` to `p + n` (n at most 8) as a word, zero past them. */
function word(p: usize, n: i32): u64 {
  const whole = load<u64>(p);
  return n >= 8 ? whole : whole & (((<u64>1) << (<u64>n * 8)) - 1);
}

function hashOf(p: usize, n: i32): u32 {
  let h: u64 = <u64>n * 0x9e3779b97f4a7c15;
  for (let i = 0; i < n; i += 8) {
    h = (h ^ word(p + i, n - i)) * 0xff51afd7ed558ccd;
    h ^= h >> 32;
  }
  return <u32>(h ^ (h >> 29));
}

function rehash(table: Table): void {
  const oldPtr = table.slots.ptr;
  const oldSlots = table.mask + 1;
  // A region of its own: the old slots are read while the new ones are written.
  const fresh = new Region();
  const slots = oldSlots * 2;
  ensure(fresh, <usize>slots * SLOT_BYTES, 0);
  memory.fill(fresh.ptr, 0, <usize>slots * SLOT_BYTES);
  const mask = slots - 1;
  for (let s: u32 = 0; s < oldSlots; s++) {
    const from = oldPtr + <usize>s * SLOT_BYTES;
    if (load<i32>(from, 4) === 0) continue;
    let slot = load<u32>(from) & mask;
    while (load<i32>(fresh.ptr + <usize>slot * SLOT_BYTES, 4) !== 0) slot = (slot + 1) & mask;
    memory.copy(fresh.ptr + <usize>slot * SLOT_BYTES, from, SLOT_BYTES);
  }
  table.slots.ptr = fresh.ptr;
  table.slots.size = fresh.size;
  table.mask = mask;
}

/** Adds the id at `p` (`n` bytes, hashed `hash`) to `table` unless it holds it. */
function intern(table: Table, p: usize, n: i32, hash: u32): void {
  const first = word(p, n);
  const second = n > 8 ? word(p + 8, n - 8) : 0;
  const mask = table.mask;
  let slot = hash & mask;
  let at: usize = 0;
  while (true) {
    at = table.slots.ptr + <usize>slot * SLOT_BYTES;
    if (load<i32>(at, 4) === 0) break;
    if (
      load<u32>(at) === hash &&
      load<i32>(at, 8) === n &&
      load<u64>(at, 16) === first &&
      load<u64>(at, 24) === second &&
      (n <= INLINE_BYTES || same(table.arena.ptr + <usize>load<i32>(at, 12), p, n))
    )
      return;
    slot = (slot + 1) & mask;
  }
  const from = table.used;
  ensure(table.arena, from + <usize>n, from);
  memory.copy(table.arena.ptr + from, p, n);
  table.used = from + <usize>n;
  const entry = table.count;
  ensure(table.ends, <usize>(entry + 1) * 4, <usize>entry * 4);
  store<i32>(table.ends.ptr + <usize>entry * 4, <i32>table.used);
  if (!ascii(p, n)) {
    ensure(table.other, <usize>(table.others + 1) * 4, <usize>table.others * 4);
    store<i32>(table.other.ptr + <usize>table.others * 4, entry);
    table.others += 1;
  }
  store<u32>(at, hash);
  store<i32>(at, entry + 1, 4);
  store<i32>(at, n, 8);
  store<i32>(at, <i32>from, 12);
  store<u64>(at, first, 16);
  store<u64>(at, second, 24);
  table.count = entry + 1;
  // At most half full: probes stay short.
  if (<u32>table.count * 2 > mask + 1) rehash(table);
}

function same(a: usize, b: usize, n: i32): bool {
  let i = 0;
  for (; i + 8 <= n; i += 8) if (load<u64>(a + i) !== load<u64>(b + i)) return false;
  for (; i < n; i++) if (load<u8>(a + i) !== load<u8>(b + i)) return false;
  return true;
}

function ascii(p: usize, n: i32): bool {
  for (let i = 0; i < n; i += 8) if ((word(p + i, n - i) & 0x8080808080808080) !== 0) return false;
  return true;
}

/** The first newline at or after `p`, or `end`. */
function newlineFrom(p: usize, end: usize): usize {
  const newline = i8x16.splat(NEWLINE);
  while (p + 16 <= end) {
    const hits = i8x16.bitmask(i8x16.eq(v128.load(p), newline));
    if (hits !== 0) return p + ctz(hits);
    p += 16;
  }
  while (p < end && load<u8>(p) !== NEWLINE) p++;
  return p;
}

/** The first capital I, backslash or newline at or after `p`, or `end`. */
function hitFrom(p: usize, end: usize): usize {
  const capital = i8x16.splat(CAPITAL_I);
  const backslash = i8x16.splat(BACKSLASH);
  const newline = i8x16.splat(NEWLINE);
  while (p + 16 <= end) {
    const v = v128.load(p);
    const hits = i8x16.bitmask(
      v128.or(v128.or(i8x16.eq(v, capital), i8x16.eq(v, backslash)), i8x16.eq(v, newline)),
    );
    if (hits !== 0) return p + ctz(hits);
    p += 16;
  }
  while (p < end) {
    const byte = load<u8>(p);
    if (byte === CAPITAL_I || byte === BACKSLASH || byte === NEWLINE) return p;
    p++;
  }
  return end;
}

/** Blanks JSON allows between tokens, but a newline: it ends the line. */
function isBlank(byte: u8): bool {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d;
}

/**
 * Where the string value of the key ending just before `p` starts: the byte after its opening quote, or
 * -1 when the key holds something else, -2 when it is not a key at all (no colon).
 */
function valueStart(p: usize, end: usize): isize {
  while (p < end && isBlank(load<u8>(p))) p++;
  if (p >= end || load<u8>(p) !== COLON) return -2;
  p++;
  while (p < end && isBlank(load<u8>(p))) p++;
  return p < end && load<u8>(p) === QUOTE ? <isize>(p + 1) : -1;
}

/** The closing quote of a string starting at `p`, or -1 when its line ends first. */
function closingQuote(p: usize, end: usize): isize {
  for (; p < end; p++) {
    const byte = load<u8>(p);
    if (byte === QUOTE) return <isize>p;
    if (byte === NEWLINE) return -1;
  }
  return -1;
}

/**
 * The nesting depth at `at` of a line starting at `start` (no backslashes): 1 is the top-level object, -1
 * inside a string.
 */
function depthAt(start: usize, at: usize): i32 {
  let depth = 0;
  for (let i = start; i < at; i++) {
    const byte = load<u8>(i);
    if (byte === QUOTE) {
      // A string (no escapes): only its closing quote matters.
      i++;
      while (i < at && load<u8>(i) !== QUOTE) i++;
      if (i === at) return -1;
    } else if (byte === 0x7b || byte === 0x5b) depth++;
    else if (byte === 0x7d || byte === 0x5d) depth--;
  }
  return depth;
}

function escape(start: usize, end: usize): void {
  ensure(escapes, <usize>(escapeCount + 1) * 8, <usize>escapeCount * 8);
  store<i32>(escapes.ptr + <usize>escapeCount * 8, <i32>(start - input.ptr));
  store<i32>(escapes.ptr + <usize>escapeCount * 8, <i32>(end - input.ptr), 4);
  escapeCount += 1;
}

/**
 * The line starting at `start`: its ids into the tables, or, when it holds a backslash, the line into the
 * escape list. Returns where it ends (its newline), or `end` when the input ends first: then it is left
 * for the next input, unless it is the object's `last`.
 */
function line(start: usize, end: usize, access: bool, last: bool): usize {
  const users = lineIds.ptr;
  const devices = lineIds.ptr + <usize>(2 * LINE_IDS * 4);
  let userIds = 0;
  let deviceIds = 0;
  let signedIn = false;
  let overflow = false;
  let p = start;
  let stop = end;
  while (true) {
    const at = hitFrom(p, end);
    if (at === end) break;
    const byte = load<u8>(at);
    if (byte === NEWLINE) {
      stop = at;
      break;
    }
    if (byte === BACKSLASH) {
      stop = newlineFrom(at + 1, end);
      if (stop === end && !last) return end;
      if (stop > start) lineCount += 1;
      escape(start, stop);
      return stop;
    }
    p = at + 1;
    if (load<u8>(at + 1) !== 0x64 || at + 2 >= end || load<u8>(at + 2) !== QUOTE) continue;
    if (at >= start + 5 && load<u32>(at - 4) === USER_WORD && load<u8>(at - 5) === QUOTE) {
      const value = valueStart(at + 3, end);
      if (value === -2) continue;
      const close: isize = value < 0 ? -1 : closingQuote(<usize>value, end);
      const nonEmpty = close > value;
      if (nonEmpty) {
        if (userIds < LINE_IDS) userIds = keep(users, userIds, start, value, close);
        else overflow = true;
      }
      if (access && depthAt(start, at - 5) === 1) signedIn = nonEmpty;
    } else if (
      access &&
      at >= start + 7 &&
      load<u32>(at - 4) === VICE_WORD &&
      load<u16>(at - 6) === DE_HALF &&
      load<u8>(at - 7) === QUOTE
    ) {
      const value = valueStart(at + 3, end);
      const close: isize = value < 0 ? -1 : closingQuote(<usize>value, end);
      if (close === -1) continue;
      if (deviceIds < LINE_IDS) deviceIds = keep(devices, deviceIds, start, value, close);
      else overflow = true;
    }
  }
  if (stop === end && !last) return end;
  if (stop > start) lineCount += 1;
  if (overflow) {
    // More ids than a line's lists hold: parsed by the caller instead.
    escape(start, stop);
    return stop;
  }
  foundAll(unchecked(tables[0]), users, userIds, start);
  if (!signedIn) foundAll(unchecked(tables[1]), devices, deviceIds, start);
  return stop;
}

/** Adds the string from `value` to `close` to a line's `list` of `count` ids; returns the new count. */
function keep(list: usize, count: i32, start: usize, value: isize, close: isize): i32 {
  store<i32>(list + <usize>count * 8, <i32>(<usize>value - start));
  store<i32>(list + <usize>count * 8, <i32>(close - value), 4);
  return count + 1;
}

/** The `count` ids of a line's `list` (the line starting at `start`), for `table`. */
function foundAll(table: Table, list: usize, count: i32, start: usize): void {
  for (let i = 0; i < count; i++) {
    found(table, start + <usize>load<i32>(list + <usize>i * 8), load<i32>(list + <usize>i * 8, 4));
  }
}

/** An id of a line read: interned with the others of the input (`internFound`). */
function found(table: Table, p: usize, n: i32): void {
  const at = <usize>table.found * 12;
  ensure(table.pending, at + 12, at);
  store<i32>(table.pending.ptr + at, <i32>(p - input.ptr));
  store<i32>(table.pending.ptr + at, n, 4);
  table.found += 1;
}

/** What the reads ahead read: kept (and exported), so they are not left out as unused. */
let readAhead: u32 = 0;
export function readsAhead(): u32 {
  return readAhead;
}

/**
 * Interns the ids found in the input, all at once: each one's first slot is read ahead in a loop of its
 * own, so the CPU fetches many from memory at once instead of one after another (the tables outgrow its
 * caches).
 */
function internFound(table: Table): void {
  const pending = table.pending.ptr;
  let touched: u32 = 0;
  for (let i = 0; i < table.found; i++) {
    const at = pending + <usize>i * 12;
    const hash = hashOf(input.ptr + <usize>load<i32>(at), load<i32>(at, 4));
    store<u32>(at, hash, 8);
    touched ^= load<u32>(table.slots.ptr + <usize>(hash & table.mask) * SLOT_BYTES);
  }
  readAhead ^= touched;
  for (let i = 0; i < table.found; i++) {
    const at = pending + <usize>i * 12;
    intern(table, input.ptr + <usize>load<i32>(at), load<i32>(at, 4), load<u32>(at, 8));
  }
  table.found = 0;
}

/**
 * Reads the lines of the input's first `size` bytes that end in a newline (all of them when `last`: the
 * rest is the object's last line) and returns how many bytes that took; the lines with a backslash are
 * listed (`escapeList`, start and end pairs in the input), `escapesFound` of them. The first `carried`
 * bytes are the start of an unfinished line, searched before: it is read again only once its newline
 * has come (a long line arriving in many chunks is read once, not once per chunk).
 */
export function scan(size: i32, carried: i32, access: bool, last: bool): i32 {
  escapeCount = 0;
  const end = input.ptr + <usize>size;
  // Past the input: zeros, so a look one or two bytes ahead never reads what an earlier chunk left.
  store<u16>(end, 0);
  let start = input.ptr;
  if (carried > 0 && !last && newlineFrom(start + <usize>carried, end) === end) return 0;
  while (start < end) {
    const stop = line(start, end, access, last);
    if (stop === end && !last) break;
    start = stop + 1;
  }
  internFound(unchecked(tables[0]));
  internFound(unchecked(tables[1]));
  return <i32>(min(start, end) - input.ptr);
}

export function escapesFound(): i32 {
  return escapeCount;
}

// AES-CMAC (SP 800-38B) of every id of a kind, `prefix` before each, for functions/lib/crypto/cmac.ts's
// cipher: the caller writes the prefix and the subkeys to `macArea`, then for each round of blocks
// (`macBegin` says how many) has `macRound` lay out one block per id still going, enciphers them in
// place (AES-ECB), and `macAbsorb` takes them back: as the chaining value, or, after an id's last block,
// as its MAC (`macList`, 16 bytes per id, in the ids' order).

const BLOCK: i32 = 16;
/** The prefix (zero-padded to a block), K1, K2. */
const macKeys = new Region();
ensure(macKeys, 3 * <usize>BLOCK, 0);
const chain = new Region();
const order = new Region();
const blockList = new Region();
const macOut = new Region();

export function macArea(): usize {
  return macKeys.ptr;
}

export function macList(): usize {
  return macOut.ptr;
}

export function blockArea(): usize {
  return blockList.ptr;
}

function entryStart(table: Table, n: i32): i32 {
  return n === 0 ? 0 : load<i32>(table.ends.ptr + <usize>(n - 1) * 4);
}

/** The length of id `n`'s message: the prefix and the id. */
function messageLength(table: Table, n: i32, prefixLength: i32): i32 {
  return prefixLength + load<i32>(table.ends.ptr + <usize>n * 4) - entryStart(table, n);
}

function blocksOf(length: i32): i32 {
  return length === 0 ? 1 : (length + BLOCK - 1) / BLOCK;
}

/** Makes room for the MACs of `kind`'s ids; returns the rounds of blocks they take. */
export function macBegin(kind: i32, prefixLength: i32): i32 {
  const table = unchecked(tables[kind]);
  const count = table.count;
  ensure(chain, <usize>count * BLOCK, 0);
  memory.fill(chain.ptr, 0, <usize>count * BLOCK);
  ensure(order, <usize>count * 4, 0);
  ensure(blockList, <usize>count * BLOCK, 0);
  ensure(macOut, <usize>count * BLOCK, 0);
  let rounds = 0;
  for (let n = 0; n < count; n++) {
    rounds = max(rounds, blocksOf(messageLength(table, n, prefixLength)));
  }
  return rounds;
}

/** Lays out block `round` of each id that has one (`blockArea`), chained; returns how many. */
export function macRound(kind: i32, prefixLength: i32, round: i32): i32 {
  const table = unchecked(tables[kind]);
  const prefix = macKeys.ptr;
  const from = round * BLOCK;
  let active = 0;
  for (let n = 0; n < table.count; n++) {
    const start = entryStart(table, n);
    const length = messageLength(table, n, prefixLength);
    const blocks = blocksOf(length);
    if (blocks <= round) continue;
    const block = blockList.ptr + <usize>active * BLOCK;
    const id = table.arena.ptr + <usize>start - <usize>prefixLength;
    if (from >= prefixLength && from + BLOCK <= length) {
      v128.store(block, v128.load(id + <usize>from));
    } else {
      // The prefix's bytes, the id's, then the padding (10*).
      for (let i = 0; i < BLOCK; i++) {
        const at = from + i;
        const byte: u8 =
          at < prefixLength
            ? load<u8>(prefix + <usize>at)
            : at < length
              ? load<u8>(id + <usize>at)
              : at === length
                ? 0x80
                : 0;
        store<u8>(block + <usize>i, byte);
      }
    }
    let value = v128.xor(v128.load(block), v128.load(chain.ptr + <usize>n * BLOCK));
    if (round === blocks - 1) {
      // The last block, with its subkey: K1 when whole, K2 when padded.
      const whole = length > 0 && length % BLOCK === 0;
      value = v128.xor(value, v128.load(macKeys.ptr + (whole ? <usize>BLOCK : <usize>(2 * BLOCK))));
    }
    v128.store(block, value);
    store<i32>(order.ptr + <usize>active * 4, n);
    active += 1;
  }
  return active;
}

/** Takes the enciphered blocks of `macRound` back (in `blockArea`, in place). */
export function macAbsorb(kind: i32, prefixLength: i32, round: i32, active: i32): void {
  const table = unchecked(tables[kind]);
  for (let k = 0; k < active; k++) {
    const n = load<i32>(order.ptr + <usize>k * 4);
    const last = round === blocksOf(messageLength(table, n, prefixLength)) - 1;
    const target = last ? macOut.ptr : chain.ptr;
    v128.store(target + <usize>n * BLOCK, v128.load(blockList.ptr + <usize>k * BLOCK));
  }
}

// An object file's body (functions/lib/logs/index-files.ts): 16-byte hashes sorted in byte order, each
// once. The caller writes them to `hashesFor(count)`; `sortHashes` places them by their first bits (a
// counting sort: the hashes are uniform, about one a bucket), sorts each bucket's few in place, leaves
// out repeats, and returns how many are left at `sortedHashes`.

const HASH: usize = 16;
const unsorted = new Region();
const sorted = new Region();
const bucketStarts = new Region();
const bucketNext = new Region();

export function hashesFor(count: i32): usize {
  ensure(unsorted, <usize>count * HASH, 0);
  return unsorted.ptr;
}

export function sortedHashes(): usize {
  return sorted.ptr;
}

/** The bucket of the hash at `p`: its first `bits` bits (all in bucket 0 when `bits` is 0). */
function bucketOf(p: usize, bits: i32): u32 {
  return bits === 0 ? 0 : bswap<u32>(load<u32>(p)) >>> (32 - bits);
}

/** The byte order of the hashes at `a` and `b`: negative, 0 or positive. */
function compareHashes(a: usize, b: usize): i32 {
  const x = bswap<u64>(load<u64>(a));
  const y = bswap<u64>(load<u64>(b));
  if (x !== y) return x < y ? -1 : 1;
  const u = bswap<u64>(load<u64>(a, 8));
  const v = bswap<u64>(load<u64>(b, 8));
  return u === v ? 0 : u < v ? -1 : 1;
}

export function sortHashes(count: i32): i32 {
  let bits = 0;
  while (bits < 24 && 1 << bits < count) bits++;
  const buckets = 1 << bits;
  ensure(bucketStarts, <usize>(buckets + 1) * 4, 0);
  ensure(bucketNext, <usize>buckets * 4, 0);
  memory.fill(bucketStarts.ptr, 0, <usize>(buckets + 1) * 4);
  const starts = bucketStarts.ptr;
  const next = bucketNext.ptr;
  const from = unsorted.ptr;
  for (let n = 0; n < count; n++) {
    const at = starts + (<usize>bucketOf(from + <usize>n * HASH, bits) + 1) * 4;
    store<i32>(at, load<i32>(at) + 1);
  }
  for (let b = 1; b <= buckets; b++) {
    store<i32>(
      starts + <usize>b * 4,
      load<i32>(starts + <usize>b * 4) + load<i32>(starts + <usize>(b - 1) * 4),
    );
  }
  memory.copy(next, starts, <usize>buckets * 4);
  ensure(sorted, <usize>count * HASH, 0);
  const to = sorted.ptr;
  for (let n = 0; n < count; n++) {
    const hash = from + <usize>n * HASH;
    const at = next + <usize>bucketOf(hash, bits) * 4;
    const place = load<i32>(at);
    store<i32>(at, place + 1);
    v128.store(to + <usize>place * HASH, v128.load(hash));
  }
  // Each bucket's few, by insertion.
  for (let b = 0; b < buckets; b++) {
    const first = load<i32>(starts + <usize>b * 4);
    const end = load<i32>(starts + <usize>(b + 1) * 4);
    for (let n = first + 1; n < end; n++) {
      const hash = v128.load(to + <usize>n * HASH);
      // The hash being placed, where compareHashes reads it: the unsorted ones are all copied by now.
      v128.store(unsorted.ptr, hash);
      let j = n - 1;
      while (j >= first && compareHashes(to + <usize>j * HASH, unsorted.ptr) > 0) {
        v128.store(to + <usize>(j + 1) * HASH, v128.load(to + <usize>j * HASH));
        j--;
      }
      v128.store(to + <usize>(j + 1) * HASH, hash);
    }
  }
  // Each once: a hash equal to the one before it is left out.
  let length = 0;
  for (let n = 0; n < count; n++) {
    const hash = to + <usize>n * HASH;
    if (length > 0 && compareHashes(hash, to + <usize>(length - 1) * HASH) === 0) continue;
    if (n !== length) v128.store(to + <usize>length * HASH, v128.load(hash));
    length++;
  }
  return length;
}
