/** The byte-string set of the log indexer (functions/lib/logs/byte-strings.ts): one entry per distinct byte string. */
import fc from 'fast-check';
import { ByteStrings } from '../../functions/lib/logs/byte-strings';

const entryBytes = (set: ByteStrings, entry: number) =>
  set.arena.subarray(set.start(entry), set.end(entry)).toString('latin1');

describe('ByteStrings', () => {
  it('numbers each distinct byte string once, in the order first met, wherever its bytes lie', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 1500 }),
        fc.nat(7),
        (strings, offset) => {
          const set = new ByteStrings();
          const first = new Map<string, number>();
          for (const bytes of strings) {
            // Each lookup from a buffer of its own, at an offset: only the bytes count.
            const buf = Buffer.concat([Buffer.alloc(offset, 0x41), bytes, Buffer.from('tail')]);
            const key = Buffer.from(bytes).toString('latin1');
            const expected = first.get(key) ?? first.size;
            first.set(key, expected);
            if (set.intern(buf, offset, offset + bytes.length) !== expected) return false;
          }
          expect(set.count).toBe(first.size);
          for (const [key, entry] of first) expect(entryBytes(set, entry)).toBe(key);
          return true;
        },
      ),
      { numRuns: 25 },
    );
  });

  it('tells apart byte strings of one hash, and of one hash and length', () => {
    const set = new ByteStrings();
    const buf = Buffer.from('u-1 u-2 u-10');
    // The same (forced) hash for all three: only the bytes and lengths can tell them apart.
    expect(set.intern(buf, 0, 3, 7)).toBe(0);
    expect(set.intern(buf, 4, 7, 7)).toBe(1);
    expect(set.intern(buf, 8, 12, 7)).toBe(2);
    expect(set.intern(Buffer.from('u-2'), 0, 3, 7)).toBe(1);
    expect(set.count).toBe(3);
    // Longer than a slot holds of them: told apart by the bytes past those, in the arena.
    const long = Buffer.from('user-0000000000000001 user-0000000000000002');
    expect(set.intern(long, 0, 21, 7)).toBe(3);
    expect(set.intern(long, 22, 43, 7)).toBe(4);
    expect(set.intern(Buffer.from('user-0000000000000001'), 0, 21, 7)).toBe(3);
    expect(entryBytes(set, 4)).toBe('user-0000000000000002');
  });

  it('grows past its first table and arena', () => {
    const set = new ByteStrings();
    const ids = Array.from({ length: 20_000 }, (_, i) => Buffer.from(`device-${i}-${'x'.repeat(i % 9)}`));
    const numbers = () => ids.map((id) => set.intern(id, 0, id.length));
    expect(numbers()).toEqual(ids.map((_, i) => i));
    expect(numbers()).toEqual(ids.map((_, i) => i));
    expect(entryBytes(set, 12_345)).toBe(ids[12_345]?.toString('latin1'));
    expect(set.intern(Buffer.from('é'), 0, 2)).toBe(20_000);
  });
});
