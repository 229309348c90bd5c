/**
 * The log indexer's reader in WebAssembly (functions/lib/logs/log-ids.ts, wasm/log-ids.ts): its MACs,
 * its memory as objects and lines grow, and the committed binary against its source. (Which ids it takes
 * from which lines: test/unit/log-subject-ids.test.ts.)
 */
import fc from 'fast-check';
import { Cmac } from '../../functions/lib/crypto/cmac';
import { LOG_IDS_WASM } from '../../functions/lib/logs/log-ids-wasm';
import { LogIdReader } from '../../functions/lib/logs/log-ids';
import { MAX_INDEXED_LINE_BYTES, SubjectIdCollector } from '../../functions/lib/logs/subject-ids';
import { compileLogIds } from '../../scripts/build-wasm';

/** The ids of `reader`'s kind, in its order, as bytes. */
function idsOf(reader: LogIdReader, kind: 'user' | 'device'): Buffer[] {
  const { count, arena, ends } = reader.ids(kind);
  return Array.from({ length: count }, (_, n) =>
    Buffer.from(arena.subarray(n === 0 ? 0 : ends[n - 1], ends[n])),
  );
}

/** Pushes `text` through a collector on `reader` in chunks of `chunk` bytes. */
function read(reader: LogIdReader, text: Buffer, chunk: number) {
  const collector = new SubjectIdCollector('access', reader);
  for (let at = 0; at < text.length; at += chunk) collector.push(text.subarray(at, at + chunk));
  return collector.end();
}

// Bytes an id can hold as a byte string (no quote, backslash or newline: those lines are parsed).
const idByte = fc.integer({ min: 0, max: 255 }).filter((b) => b !== 0x22 && b !== 0x5c && b !== 0x0a);

it("MACs each id as Cmac.mac does the prefix and the id's bytes, whatever their lengths", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ maxLength: 16 }),
      fc.array(fc.array(idByte, { maxLength: 70 }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 64 }),
      (key, prefix, ids, chunk) => {
        const cmac = new Cmac(Buffer.from(key));
        const reader = new LogIdReader();
        // Signed-out lines: every device id is taken, the empty one included.
        const text = Buffer.concat(
          ids.map((id) =>
            Buffer.concat([Buffer.from('{"userId":null,"deviceId":"'), Buffer.from(id), Buffer.from('"}\n')]),
          ),
        );
        read(reader, text, chunk);
        const macs = Buffer.from(reader.macs('device', Buffer.from(prefix), cmac));
        const taken = idsOf(reader, 'device');
        expect(taken.map((id) => id.toString('hex')).sort()).toEqual(
          [...new Set(ids.map((id) => Buffer.from(id).toString('hex')))].sort(),
        );
        taken.forEach((id, n) => {
          expect(macs.subarray(16 * n, 16 * (n + 1))).toEqual(cmac.mac(Buffer.concat([prefix, id])));
        });
      },
    ),
    { numRuns: 100 },
  );
});

it('refuses a MAC prefix longer than a block', () => {
  expect(() => new LogIdReader().macs('user', Buffer.alloc(17), new Cmac(Buffer.alloc(32)))).toThrow(
    /one block/,
  );
});

it('keeps one object at a time, its memory growing with the ids and lines it meets', () => {
  const reader = new LogIdReader();
  const many = Buffer.from(
    Array.from({ length: 30_000 }, (_, i) => `{"userId":"user-${i}-${'x'.repeat(i % 40)}"}\n`).join(''),
  );
  read(reader, many, 4_096);
  const ids = idsOf(reader, 'user');
  expect(ids).toHaveLength(30_000);
  expect(ids[29_999]?.toString()).toBe(`user-29999-${'x'.repeat(29_999 % 40)}`);
  // The next object: only its own ids.
  read(reader, Buffer.from('{"userId":"u-next"}\n{"userId":"user-1-x"}\n'), 5);
  expect(idsOf(reader, 'user').map(String)).toEqual(['u-next', 'user-1-x']);
});

it('reads a line longer than any chunk, and skips one longer than the limit', () => {
  const reader = new LogIdReader();
  const long = `{"pad":"${'p'.repeat(3_000_000)}","userId":"u-long"}\n`;
  // Over the limit by more than a chunk: the unfinished line passes it before its newline comes.
  const over = `{"userId":"u-over","pad":"${'p'.repeat(MAX_INDEXED_LINE_BYTES + 512 * 1024)}"}\n`;
  const text = Buffer.from(`{"userId":"u-1"}\n${long}${over}{"userId":"u-2"}\n`);
  const subjects = read(reader, text, 256 * 1024);
  expect([...subjects.userIds].sort()).toEqual(['u-1', 'u-2', 'u-long']);
  expect(subjects.oversized).toBe(1);
  expect(subjects.lines).toBe(3);
});

it('is the binary its source compiles to (npm run build:wasm)', () => {
  expect(compileLogIds().toString('base64')).toBe(LOG_IDS_WASM);
}, 60_000);
