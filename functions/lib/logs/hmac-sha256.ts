/**
 * HMAC-SHA-256 under one fixed key, for many short messages given as bytes: the states after the padded
 * inner and outer keys are computed once, so a message of up to 55 bytes costs two SHA-256 blocks, run
 * here in JS. The log indexer hashes tens of thousands of ids an object, and Node's one-shot hash costs
 * about a microsecond a call in setting up and crossing into C++, about what the block itself costs here.
 * (The unit tests check it against node:crypto's HMAC.)
 */

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const BLOCK = 64;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** One SHA-256 compression of the 16 words `w[0..15]` into `state` (`w` is 64 words of scratch). */
function compress(state: Int32Array, w: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15] as number;
    const y = w[i - 2] as number;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (s1 + (w[i - 7] as number) + s0 + (w[i - 16] as number)) | 0;
  }
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let e = state[4] as number;
  let f = state[5] as number;
  let g = state[6] as number;
  let h = state[7] as number;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + (K[i] as number) + (w[i] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = ((state[0] as number) + a) | 0;
  state[1] = ((state[1] as number) + b) | 0;
  state[2] = ((state[2] as number) + c) | 0;
  state[3] = ((state[3] as number) + d) | 0;
  state[4] = ((state[4] as number) + e) | 0;
  state[5] = ((state[5] as number) + f) | 0;
  state[6] = ((state[6] as number) + g) | 0;
  state[7] = ((state[7] as number) + h) | 0;
}

export class HmacSha256 {
  /** The states after the padded inner and outer keys. */
  private readonly innerStart = new Int32Array(8);
  private readonly outerStart = new Int32Array(8);
  private readonly state = new Int32Array(8);
  private readonly w = new Int32Array(64);
  /** The message's blocks, padded (grown for a long message). */
  private padded = new Uint8Array(BLOCK);

  /** `key` of at most 64 bytes (HMAC's rule for longer keys is not needed here). */
  constructor(key: Uint8Array) {
    if (key.length > BLOCK) throw new RangeError('HMAC key longer than a block');
    for (const [start, xor] of [
      [this.innerStart, 0x36],
      [this.outerStart, 0x5c],
    ] as const) {
      for (let i = 0; i < 16; i++) {
        let word = 0;
        for (let j = 0; j < 4; j++) word = (word << 8) | ((key[4 * i + j] ?? 0) ^ xor);
        this.w[i] = word;
      }
      start.set(IV);
      compress(start, this.w);
    }
  }

  /**
   * The first `characters` (at most 43) base64url characters of the HMAC of `prefix` followed by
   * `bytes[start..end)`.
   */
  base64url(prefix: Uint8Array, bytes: Uint8Array, start: number, end: number, characters: number): string {
    const length = prefix.length + end - start;
    // The message, 0x80, zeros, and the bit length of key block and message in the last 8 bytes.
    const blocks = Math.ceil((length + 9) / BLOCK);
    if (this.padded.length < blocks * BLOCK) this.padded = new Uint8Array(blocks * BLOCK);
    const padded = this.padded;
    padded.fill(0, 0, blocks * BLOCK);
    padded.set(prefix);
    for (let i = start; i < end; i++) padded[prefix.length + i - start] = bytes[i] as number;
    padded[length] = 0x80;
    const bits = (BLOCK + length) * 8;
    const last = blocks * BLOCK;
    padded[last - 4] = bits >>> 24;
    padded[last - 3] = bits >>> 16;
    padded[last - 2] = bits >>> 8;
    padded[last - 1] = bits;
    const { state, w } = this;
    state.set(this.innerStart);
    for (let b = 0; b < blocks; b++) {
      for (let i = 0; i < 16; i++) {
        const p = b * BLOCK + 4 * i;
        w[i] =
          ((padded[p] as number) << 24) |
          ((padded[p + 1] as number) << 16) |
          ((padded[p + 2] as number) << 8) |
          (padded[p + 3] as number);
      }
      compress(state, w);
    }
    // The outer message is the inner hash: 32 bytes, then padding to 96 bytes (768 bits) in all.
    w.set(state);
    w[8] = 0x80000000 | 0;
    w.fill(0, 9, 15);
    w[15] = 768;
    state.set(this.outerStart);
    compress(state, w);
    return encode(state, characters);
  }
}

const codes: number[] = [];

/** Base64url of the big-endian bytes of `state`, cut to `characters` (one flat string, not a concatenation). */
function encode(state: Int32Array, characters: number): string {
  codes.length = 0;
  let bits = 0;
  let held = 0;
  for (let n = 0; codes.length < characters; n++) {
    held = (held << 8) | (n < 32 ? ((state[n >>> 2] as number) >>> (24 - 8 * (n & 3))) & 0xff : 0);
    bits += 8;
    while (bits >= 6 && codes.length < characters) {
      bits -= 6;
      codes.push(BASE64URL.charCodeAt((held >>> bits) & 63));
    }
    held &= (1 << bits) - 1;
  }
  return String.fromCharCode(...codes);
}
