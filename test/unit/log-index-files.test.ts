/**
 * The log index's file layouts (functions/lib/logs/index-files.ts): an object file holds each hash once,
 * sorted; a day file, read as a request reads it (header, then only the slot of each hash), names exactly
 * the objects whose files hold the hash, whatever the day's size and slotting.
 */
import fc from 'fast-check';
import {
  DAY_FILE_FIRST_READ_BYTES,
  dayFileLayout,
  dayFileObjects,
  decodeDayFile,
  encodeDayFile,
  encodeObjectFile,
  hashBytes,
  LogIndexFileCorrupt,
  namesInDayFile,
  objectFileCount,
  objectFileHas,
  objectFileOf,
  objectFileWithout,
} from '../../functions/lib/logs/index-files';
import { LogIndexHasher } from '../../functions/lib/logs/index-hash';

const hasher = new LogIndexHasher(Buffer.alloc(32, 3));
const etagOf = (i: number) => i.toString(16).padStart(32, '0');
const user = (n: number) => hasher.user(`u-${n}`);

/** What a request finds for `hashes` in a day file, and the bytes and reads it took. */
async function namedInDay(file: Buffer, ...hashes: Buffer[]) {
  let bytes = 0;
  let reads = 0;
  const names = await namesInDayFile(async (from, to) => {
    reads += 1;
    const range = file.subarray(from, to);
    bytes += range.length;
    return range;
  }, hashes);
  return { names, bytes, reads };
}

test('an object file from raw hashes in any order: sorted by their bytes, each once (property)', () => {
  fc.assert(
    fc.property(
      // Few distinct leading bytes at times, so buckets hold several hashes and equal ones meet.
      fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { maxLength: 300 }),
      fc.integer({ min: 0, max: 255 }),
      fc.boolean(),
      (hashes, lead, crowd) => {
        const all = crowd ? hashes.map((h) => Uint8Array.from([lead, lead, ...h.subarray(2)])) : hashes;
        const withRepeats = [...all, ...all.filter((_, i) => i % 3 === 0)];
        const file = objectFileOf(Buffer.concat(withRepeats));
        const expected = [...new Set(all.map((h) => Buffer.from(h).toString('hex')))].sort();
        const got = Array.from({ length: objectFileCount(file) }, (_, i) =>
          file.subarray(i * 16, i * 16 + 16).toString('hex'),
        );
        expect(got).toEqual(expected);
      },
    ),
    { numRuns: 300 },
  );
});

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

test('a day file names, for any hash, exactly the objects holding it (random days, small to slotted)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 3_000 }), { maxLength: 400 }), { maxLength: 12 }),
      fc.array(fc.integer({ min: 0, max: 3_100 }), { minLength: 1, maxLength: 30 }),
      async (objects, asked) => {
        const day = objects.map((users, i) => ({
          key: `access/dt=2026-10-30/part-${String(i).padStart(5, '0')}.jsonl.gz`,
          etag: etagOf(i),
          file: encodeObjectFile(users.map(user)),
        }));
        const file = encodeDayFile(day);
        // Taken apart again, each object's hashes are its object file's, at the version it was merged at.
        expect(decodeDayFile(file)).toEqual(day);
        for (const n of asked) {
          const expected = day.filter((_, i) => objects[i]!.includes(n)).map((o) => o.key);
          expect((await namedInDay(file, hashBytes(user(n)))).names).toEqual(expected);
        }
        // Several hashes at once: the union, each key once, in key order.
        const union = day.filter((_, i) => asked.some((n) => objects[i]!.includes(n))).map((o) => o.key);
        expect((await namedInDay(file, ...asked.map((n) => hashBytes(user(n))))).names).toEqual(union);
      },
    ),
    { numRuns: 60 },
  );
});

test('a large day is slotted: a hash is found with a few small reads, however large the day', async () => {
  const day = Array.from({ length: 40 }, (_, i) => ({
    key: `access/dt=2026-10-30/part-${i}.jsonl.gz`,
    etag: etagOf(i),
    file: encodeObjectFile(Array.from({ length: 5_000 }, (_, j) => user(i * 5_000 + j))),
  }));
  const file = encodeDayFile(day);
  const layout = dayFileLayout(file);
  expect(layout.count).toBe(200_000);
  // The entries lie past the first read: the slot's are read on their own, then the key list.
  expect(layout.entriesAt).toBeLessThan(DAY_FILE_FIRST_READ_BYTES);
  const found = await namedInDay(file, hashBytes(user(123_456)));
  expect(found.names).toEqual([day[24]!.key]);
  expect(found.reads).toBe(2);
  expect(found.bytes).toBeLessThan(DAY_FILE_FIRST_READ_BYTES + 8 * 1024);
  expect(file.length).toBeGreaterThan(3 * 1024 * 1024);
  const missing = await namedInDay(file, hashBytes(hasher.user('nobody')));
  expect(missing.names).toEqual([]);
  expect(missing.reads).toBeLessThanOrEqual(3);
});

test('a small day file is read whole in one GET', async () => {
  const day = Array.from({ length: 4 }, (_, i) => ({
    key: `access/dt=2026-10-30/part-${i}.jsonl.gz`,
    etag: etagOf(i),
    file: encodeObjectFile(Array.from({ length: 500 }, (_, j) => user(i * 500 + j))),
  }));
  const file = encodeDayFile(day);
  expect(file.length).toBeLessThan(DAY_FILE_FIRST_READ_BYTES);
  const found = await namedInDay(file, hashBytes(user(1_234)), hashBytes(user(7)));
  expect(found.names).toEqual([day[0]!.key, day[2]!.key]);
  expect(found.reads).toBe(1);
});

test('a file that is not a day file is refused by name', () => {
  expect(() => dayFileLayout(Buffer.from('not a day file at all'))).toThrow(LogIndexFileCorrupt);
  const file = encodeDayFile([
    { key: 'access/dt=2026-10-30/a.jsonl.gz', etag: etagOf(1), file: encodeObjectFile([user(1)]) },
  ]);
  // Cut short, or naming an object its key list does not have.
  expect(() => decodeDayFile(file.subarray(0, file.length - 1))).toThrow(LogIndexFileCorrupt);
  const wrongNumber = Buffer.from(file);
  wrongNumber.writeUInt32BE(7, wrongNumber.length - 4);
  expect(() => decodeDayFile(wrongNumber)).toThrow(LogIndexFileCorrupt);
});

test('a day file of the first layout (keys without versions) is still read', async () => {
  const objects = [0, 1].map((i) => ({
    key: `access/dt=2026-10-30/part-${i}.jsonl.gz`,
    etag: etagOf(i),
    file: encodeObjectFile([user(i), user(9)]),
  }));
  const current = encodeDayFile(objects);
  const layout = dayFileLayout(current);
  const keys = Buffer.from(JSON.stringify(objects.map((o) => o.key)));
  const header = Buffer.from(current.subarray(0, layout.keysAt));
  header.write('DSRLIX01', 0, 'latin1');
  header.writeUInt32BE(keys.length, 16);
  const first = Buffer.concat([header, keys, current.subarray(layout.entriesAt)]);
  expect((await namedInDay(first, hashBytes(user(9)))).names).toEqual(objects.map((o) => o.key));
  expect(dayFileObjects(keys)).toEqual(objects.map(({ key }) => ({ key })));
  // Decoded, it gives the hashes but no versions: a merge never takes an object from it.
  expect(decodeDayFile(first).map((o) => o.etag)).toEqual([undefined, undefined]);
});
