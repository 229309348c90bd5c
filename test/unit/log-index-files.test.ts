/**
 * The log index's file layouts (functions/lib/logs/index-files.ts): an object file holds each hash once,
 * sorted; a day file, read as a request reads it (header, then only the slot of each hash), names exactly
 * the objects whose files hold the hash, whatever the day's size and slotting.
 */
import fc from 'fast-check';
import {
  dayFileHeaderBytes,
  encodeDayFile,
  encodeObjectFile,
  hashBytes,
  LogIndexFileCorrupt,
  objectFileCount,
  objectFileHas,
  objectFileWithout,
  objectNumbersIn,
  parseDayFileHeader,
  slotRange,
} from '../../functions/lib/logs/index-files';
import { LogIndexHasher } from '../../functions/lib/logs/index-hash';

const hasher = new LogIndexHasher(Buffer.alloc(32, 3));
const user = (n: number) => hasher.user(`u-${n}`);

/** What a request finds for `hash` in a day file, reading it as LogIndexStore.namedInDay does. */
function namedInDay(file: Buffer, hash: Buffer): string[] {
  const header = parseDayFileHeader(file.subarray(0, dayFileHeaderBytes(file)));
  const range = slotRange(header, hash);
  return objectNumbersIn(file.subarray(range.from, range.to), hash).map((n) => header.keys[n]!);
}

test('an object file holds each hash once, sorted, and finds exactly those', () => {
  const file = encodeObjectFile([user(3), user(1), user(2), user(1)]);
  expect(objectFileCount(file)).toBe(3);
  const hashes = [0, 1, 2].map((i) => file.subarray(i * 16, i * 16 + 16));
  expect([...hashes].sort(Buffer.compare)).toEqual(hashes);
  for (const n of [1, 2, 3]) expect(objectFileHas(file, hashBytes(user(n)))).toBe(true);
  expect(objectFileHas(file, hashBytes(user(4)))).toBe(false);
  const without = objectFileWithout(file, [hashBytes(user(2))]);
  expect(objectFileCount(without)).toBe(2);
  expect(objectFileHas(without, hashBytes(user(2)))).toBe(false);
  expect(objectFileHas(without, hashBytes(user(3)))).toBe(true);
  expect(objectFileCount(encodeObjectFile([]))).toBe(0);
});

test('a day file names, for any hash, exactly the objects holding it (random days, small to slotted)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 3_000 }), { maxLength: 400 }), { maxLength: 12 }),
      fc.array(fc.integer({ min: 0, max: 3_100 }), { minLength: 1, maxLength: 30 }),
      (objects, asked) => {
        const day = objects.map((users, i) => ({
          key: `access/dt=2026-10-30/part-${String(i).padStart(5, '0')}.jsonl.gz`,
          file: encodeObjectFile(users.map(user)),
        }));
        const file = encodeDayFile(day);
        for (const n of asked) {
          const expected = day.filter((_, i) => objects[i]!.includes(n)).map((o) => o.key);
          expect(namedInDay(file, hashBytes(user(n)))).toEqual(expected);
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('a large day is slotted: a hash is found by reading a small part of the file', () => {
  const day = Array.from({ length: 20 }, (_, i) => ({
    key: `access/dt=2026-10-30/part-${i}.jsonl.gz`,
    file: encodeObjectFile(Array.from({ length: 2_000 }, (_, j) => user(i * 2_000 + j))),
  }));
  const file = encodeDayFile(day);
  const header = parseDayFileHeader(file.subarray(0, dayFileHeaderBytes(file)));
  expect(header.count).toBe(40_000);
  const range = slotRange(header, hashBytes(user(12_345)));
  expect(range.to - range.from).toBeLessThan(4 * 1024);
  expect(namedInDay(file, hashBytes(user(12_345)))).toEqual([day[6]!.key]);
});

test('a file that is not a day file is refused by name', () => {
  expect(() => dayFileHeaderBytes(Buffer.from('not a day file at all'))).toThrow(LogIndexFileCorrupt);
});
