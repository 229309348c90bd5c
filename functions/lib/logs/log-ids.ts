/**
 * The log indexer's reader of subject ids in WebAssembly (wasm/log-ids.ts): one instance reads one object
 * at a time, its ids kept as bytes in the instance's memory, each distinct one once per object, and MACs
 * them and sorts their hashes for the object file; in JavaScript the same work cost more CPU than the
 * gunzip pass before it (docs/log-index.md, "The reader in WebAssembly"). The module is compiled once
 * per container; instances are reused from object to object (LogIdReaders), so their memory, grown to
 * the largest object, stays.
 */
import { LOG_IDS_WASM } from './log-ids-wasm';

export type IdKind = 'user' | 'device';
/** An AES block, and a MAC. */
const BLOCK = 16;
const KIND_NUMBER: Record<IdKind, number> = { user: 0, device: 1 };

/** What wasm/log-ids.ts exports (addresses are byte offsets in `memory`). */
interface LogIdsExports {
  memory: WebAssembly.Memory;
  beginObject(): void;
  inputFor(size: number, keep: number): number;
  scan(size: number, carried: number, access: number, last: number): number;
  escapesFound(): number;
  escapeList(): number;
  lines(): number;
  count(kind: number): number;
  arena(kind: number): number;
  ends(kind: number): number;
  otherCount(kind: number): number;
  others(kind: number): number;
  macArea(): number;
  macList(): number;
  blockArea(): number;
  macBegin(kind: number, prefixLength: number): number;
  macRound(kind: number, prefixLength: number, round: number): number;
  macAbsorb(kind: number, prefixLength: number, round: number, active: number): void;
  hashesFor(count: number): number;
  sortHashes(count: number): number;
  sortedHashes(): number;
}

/** What the reader needs of a CMAC (lib/crypto/cmac.ts): its subkeys and its block cipher. */
export interface BlockMac {
  readonly subkeys: { k1: Buffer; k2: Buffer };
  encryptBlocks(blocks: Uint8Array): Buffer;
}

let compiled: WebAssembly.Module | undefined;

/** A module instance: the module is compiled on first use, once. */
function instantiate(): LogIdsExports {
  compiled ??= new WebAssembly.Module(Buffer.from(LOG_IDS_WASM, 'base64'));
  const instance = new WebAssembly.Instance(compiled, {
    env: {
      // AssemblyScript's abort: only an out-of-memory reaches it (the module asserts nothing else).
      abort: () => {
        throw new RangeError('The log id reader ran out of memory');
      },
    },
  });
  return instance.exports as unknown as LogIdsExports;
}

/** The distinct ids of one kind the reader holds for its object, as bytes in its memory. */
export interface IdBytes {
  count: number;
  /** Every id end to end: id `n` is `arena.subarray(n === 0 ? 0 : ends[n - 1], ends[n])`. */
  arena: Buffer;
  ends: Int32Array;
  /** The ids with a byte over 0x7f: their bytes may not be what the connector decodes. */
  others: Int32Array;
}

/** Reads the lines of one object after another (beginObject between them). */
export class LogIdReader {
  private readonly wasm = instantiate();

  /** Forgets the last object's ids. */
  beginObject(): void {
    this.wasm.beginObject();
  }

  /**
   * Reads the complete lines of `carried` bytes left from before (at the input's start) and `chunk`
   * after them (all of them when `last`), calls `escaped` with each line holding a backslash, and
   * returns how many bytes are left over (an unfinished line, kept at the input's start).
   */
  read(
    carried: number,
    chunk: Buffer,
    access: boolean,
    last: boolean,
    escaped: (line: Buffer) => void,
  ): number {
    const size = carried + chunk.length;
    const input = this.wasm.inputFor(size, carried);
    new Uint8Array(this.wasm.memory.buffer, input + carried, chunk.length).set(chunk);
    const used = this.wasm.scan(size, carried, access ? 1 : 0, last ? 1 : 0);
    const found = this.wasm.escapesFound();
    if (found > 0) {
      const list = new Int32Array(this.wasm.memory.buffer, this.wasm.escapeList(), 2 * found);
      const memory = Buffer.from(this.wasm.memory.buffer);
      for (let n = 0; n < found; n++)
        escaped(memory.subarray(input + list[2 * n]!, input + list[2 * n + 1]!));
    }
    new Uint8Array(this.wasm.memory.buffer).copyWithin(input, input + used, input + size);
    return size - used;
  }

  /** Non-empty lines read since beginObject. */
  get lines(): number {
    return this.wasm.lines();
  }

  /** The ids of `kind` read since beginObject: views valid until the reader reads or MACs again. */
  ids(kind: IdKind): IdBytes {
    const { wasm } = this;
    const number = KIND_NUMBER[kind];
    const count = wasm.count(number);
    const ends = new Int32Array(wasm.memory.buffer, wasm.ends(number), count);
    const arena = Buffer.from(wasm.memory.buffer, wasm.arena(number), count === 0 ? 0 : ends[count - 1]);
    const others = new Int32Array(wasm.memory.buffer, wasm.others(number), wasm.otherCount(number));
    return { count, arena, ends, others };
  }

  /**
   * The AES-CMAC of `prefix` and each id of `kind` (16 bytes each, in the ids' order), all at once: the
   * blocks are laid out and chained in the module, one cipher call per round of blocks (a call into
   * Node's crypto costs about 2 µs, the AES of a block about 11 ns). A view valid until the reader reads
   * or MACs again.
   */
  macs(kind: IdKind, prefix: Buffer, mac: BlockMac): Buffer {
    const { wasm } = this;
    const number = KIND_NUMBER[kind];
    if (prefix.length > BLOCK) throw new RangeError('A MAC prefix is at most one block');
    const keys = Buffer.from(wasm.memory.buffer, wasm.macArea(), 3 * BLOCK);
    keys.fill(0, 0, BLOCK);
    prefix.copy(keys, 0);
    mac.subkeys.k1.copy(keys, BLOCK);
    mac.subkeys.k2.copy(keys, 2 * BLOCK);
    const rounds = wasm.macBegin(number, prefix.length);
    for (let round = 0; round < rounds; round++) {
      const active = wasm.macRound(number, prefix.length, round);
      const blocks = new Uint8Array(wasm.memory.buffer, wasm.blockArea(), active * BLOCK);
      blocks.set(mac.encryptBlocks(blocks));
      wasm.macAbsorb(number, prefix.length, round, active);
    }
    return Buffer.from(wasm.memory.buffer, wasm.macList(), wasm.count(number) * BLOCK);
  }
}

/**
 * An object file's body (index-files.ts) from 16-byte hashes laid end to end in any order: sorted in byte
 * order, each once. An object names tens of thousands of subjects, so they are placed by their first bits
 * (a counting sort: the hashes are uniform, about one a bucket), then each bucket's few sorted in place,
 * in the module (`sortHashes`), by an instance kept for it.
 */
let sorter: LogIdsExports | undefined;

export function sortedHashes(raw: Uint8Array): Buffer {
  sorter ??= instantiate();
  const count = Math.floor(raw.length / BLOCK);
  const at = sorter.hashesFor(count);
  new Uint8Array(sorter.memory.buffer, at, count * BLOCK).set(raw.subarray(0, count * BLOCK));
  const kept = sorter.sortHashes(count);
  return Buffer.from(new Uint8Array(sorter.memory.buffer, sorter.sortedHashes(), kept * BLOCK));
}

/**
 * Readers to lend, one per object being read at once; each returned when its object is done (its next
 * SubjectIdCollector forgets its ids).
 */
export class LogIdReaders {
  private readonly free: LogIdReader[] = [];

  take(): LogIdReader {
    return this.free.pop() ?? new LogIdReader();
  }

  give(reader: LogIdReader): void {
    this.free.push(reader);
  }
}
