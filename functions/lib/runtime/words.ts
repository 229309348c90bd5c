/**
 * A buffer's bytes as 32-bit words, for code that moves and XORs binary data (hashes, cipher blocks)
 * four bytes at a time: in place when the buffer starts on a word, else a copy. The words are in the
 * machine's byte order: compare them for equality, or byte-swap them to compare them in byte order.
 */
export function wordsOf(buf: Buffer): Int32Array {
  const aligned = buf.byteOffset % 4 === 0 ? buf : Buffer.from(buf);
  return new Int32Array(aligned.buffer, aligned.byteOffset, Math.floor(buf.length / 4));
}
