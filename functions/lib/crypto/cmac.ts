/**
 * AES-CMAC (NIST SP 800-38B, RFC 4493), computed for many messages at once: one AES call per round of
 * blocks over all of them, not a native call (or two) per message. The log indexer hashes every id it
 * has not met, tens of thousands an object, and a call into Node's crypto costs about 2 µs whatever
 * the message's length, far more than the AES work itself (docs/log-index.md, "Hashing"). Node's crypto
 * has no CMAC of its own; this one is built on its AES (ECB over blocks this module chains, as CBC-MAC
 * does) and checked against the standard's test vectors.
 */
import { createCipheriv, type Cipheriv } from 'node:crypto';
import { wordsOf } from '../runtime/words';

export const CMAC_BYTES = 16;
const BLOCK = 16;
const WORDS = BLOCK / 4;
/** The constant of the subkeys' doubling in GF(2^128) (SP 800-38B, R_128). */
const R = 0x87;

/** `block` times x in GF(2^128): a left shift, the constant added when the top bit falls out. */
function doubled(block: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = (((block[i] ?? 0) << 1) | ((block[i + 1] ?? 0) >> 7)) & 0xff;
  if ((block[0] ?? 0) & 0x80) out[BLOCK - 1] = (out[BLOCK - 1] ?? 0) ^ R;
  return out;
}

/**
 * Messages to MAC at once, each `prefix` followed by `data[start..end)`: `ranges` holds the start and
 * end of message `i` at `2i` and `2i + 1`.
 */
export interface CmacBatch {
  prefix: Uint8Array;
  data: Uint8Array;
  ranges: Int32Array;
  count: number;
}

export class Cmac {
  private readonly cipher: Cipheriv;
  /** The subkeys, as words: K1 for a message whose last block is whole, K2 for one padded. */
  private readonly k1: Int32Array;
  private readonly k2: Int32Array;

  /** `key`: 16, 24 or 32 bytes (AES-128, -192, -256). */
  constructor(key: Buffer) {
    if (![16, 24, 32].includes(key.length)) throw new RangeError('An AES key is 16, 24 or 32 bytes');
    // ECB over single blocks is the block cipher itself: the chaining is done here.
    this.cipher = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
    this.cipher.setAutoPadding(false);
    const k1 = doubled(this.encrypt(Buffer.alloc(BLOCK)));
    this.k1 = wordsOf(k1);
    this.k2 = wordsOf(doubled(k1));
  }

  /** The MAC of one message. */
  mac(message: Uint8Array): Buffer {
    const out = Buffer.alloc(CMAC_BYTES);
    this.macAll(
      { prefix: new Uint8Array(0), data: message, ranges: Int32Array.of(0, message.length), count: 1 },
      out,
    );
    return out;
  }

  /** The MAC of each message of `batch`, written to `out` at `16i` (from `at`). */
  macAll(batch: CmacBatch, out: Buffer, at = 0): void {
    const { prefix, data, ranges, count } = batch;
    const blocks = new Int32Array(count);
    let rounds = 0;
    for (let i = 0; i < count; i++) {
      const length = prefix.length + (ranges[2 * i + 1] ?? 0) - (ranges[2 * i] ?? 0);
      blocks[i] = Math.max(1, Math.ceil(length / BLOCK));
      rounds = Math.max(rounds, blocks[i] ?? 0);
    }
    // Each message's chaining value (CBC-MAC's), zero before its first block. XORs go four bytes at a time.
    const chained = new Int32Array(count * WORDS);
    const order = new Int32Array(count);
    for (let round = 0; round < rounds; round++) {
      let active = 0;
      for (let i = 0; i < count; i++) if ((blocks[i] ?? 0) > round) order[active++] = i;
      const input = Buffer.alloc(active * BLOCK);
      const inputWords = wordsOf(input);
      for (let k = 0; k < active; k++) {
        const i = order[k] ?? 0;
        const start = ranges[2 * i] ?? 0;
        const length = prefix.length + (ranges[2 * i + 1] ?? 0) - start;
        const base = k * BLOCK;
        // The block's bytes of the message: the prefix's, the data's, then the padding (10*).
        const from = round * BLOCK;
        const end = Math.min(BLOCK, length - from);
        let b = 0;
        for (; b < end && from + b < prefix.length; b++) input[base + b] = prefix[from + b] ?? 0;
        for (; b < end; b++) input[base + b] = data[start + from + b - prefix.length] ?? 0;
        if (b < BLOCK) input[base + b] = 0x80;
        // Chained with the block before (none before the first), the last one with its subkey.
        const last = round === (blocks[i] ?? 0) - 1;
        const subkey = length > 0 && length % BLOCK === 0 ? this.k1 : this.k2;
        for (let w = 0; w < WORDS; w++) {
          const word = (inputWords[k * WORDS + w] ?? 0) ^ (chained[i * WORDS + w] ?? 0);
          inputWords[k * WORDS + w] = last ? word ^ (subkey[w] ?? 0) : word;
        }
      }
      const output = this.encrypt(input);
      const outputWords = wordsOf(output);
      for (let k = 0; k < active; k++) {
        const i = order[k] ?? 0;
        // A block is short: loops cost less than a call into C++ (Buffer#copy).
        if (round === (blocks[i] ?? 0) - 1) {
          const to = at + i * CMAC_BYTES;
          for (let b = 0; b < BLOCK; b++) out[to + b] = output[k * BLOCK + b] ?? 0;
        } else for (let w = 0; w < WORDS; w++) chained[i * WORDS + w] = outputWords[k * WORDS + w] ?? 0;
      }
    }
  }

  /** Blocks through the cipher, each on its own (ECB: no state carried between calls). */
  private encrypt(blocks: Buffer): Buffer {
    return this.cipher.update(blocks);
  }
}
