/**
 * AES-CMAC (NIST SP 800-38B, RFC 4493) on Node's AES: Node's crypto has no CMAC of its own, so this one
 * chains the blocks itself (as CBC-MAC does) over AES-ECB, and is checked against the standard's test
 * vectors. Its block cipher and subkeys are open to the log indexer, which MACs an object's ids many at
 * a time (one AES call per round of blocks over all of them: a call into Node's crypto costs about 2 µs
 * whatever the message's length, far more than the AES work itself; docs/log-index.md, "Hashing").
 */
import { createCipheriv, type Cipheriv } from 'node:crypto';

const BLOCK = 16;
/** The constant of the subkeys' doubling in GF(2^128) (SP 800-38B, R_128). */
const R = 0x87;

/** `block` times x in GF(2^128): a left shift, the constant added when the top bit falls out. */
function doubled(block: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = (((block[i] ?? 0) << 1) | ((block[i + 1] ?? 0) >> 7)) & 0xff;
  if ((block[0] ?? 0) & 0x80) out[BLOCK - 1] = (out[BLOCK - 1] ?? 0) ^ R;
  return out;
}

export class Cmac {
  private readonly cipher: Cipheriv;
  /** K1 for a message whose last block is whole, K2 for one padded (SP 800-38B). */
  readonly subkeys: { k1: Buffer; k2: Buffer };

  /** `key`: 16, 24 or 32 bytes (AES-128, -192, -256). */
  constructor(key: Buffer) {
    if (![16, 24, 32].includes(key.length)) throw new RangeError('An AES key is 16, 24 or 32 bytes');
    // ECB over single blocks is the block cipher itself: the chaining is done by the caller.
    this.cipher = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
    this.cipher.setAutoPadding(false);
    const k1 = doubled(this.encryptBlocks(Buffer.alloc(BLOCK)));
    this.subkeys = { k1, k2: doubled(k1) };
  }

  /**
   * The MAC of one message. (The log indexer MACs an object's ids in one batch: functions/lib/logs/
   * log-ids.ts lays their blocks out and chains them as this does, and calls encryptBlocks.)
   */
  mac(message: Uint8Array): Buffer {
    const blocks = Math.max(1, Math.ceil(message.length / BLOCK));
    const whole = message.length > 0 && message.length % BLOCK === 0;
    const last = Buffer.alloc(BLOCK);
    const tail = message.subarray((blocks - 1) * BLOCK);
    last.set(tail);
    if (!whole) last[tail.length] = 0x80;
    const subkey = whole ? this.subkeys.k1 : this.subkeys.k2;
    let chained: Buffer = Buffer.alloc(BLOCK);
    for (let n = 0; n < blocks; n++) {
      const block =
        n === blocks - 1 ? xor(last, subkey) : Buffer.from(message.subarray(n * BLOCK, (n + 1) * BLOCK));
      chained = this.encryptBlocks(xor(block, chained));
    }
    return chained;
  }

  /** Blocks through the cipher, each on its own (ECB: no state carried between calls). */
  encryptBlocks(blocks: Uint8Array): Buffer {
    return this.cipher.update(blocks);
  }
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}
