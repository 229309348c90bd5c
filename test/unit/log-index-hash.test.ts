/** The log index's keyed hash (functions/lib/logs/index-hash.ts) is AES-256-CMAC, keyed apart from subject hashes. */
import { createCipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { LocalSubjectHasher } from '../../functions/lib/crypto/subject-hash';
import { LOG_INDEX_KEY_LABEL, LogIndexHasher, lazyIndexHasher } from '../../functions/lib/logs/index-hash';
import { encodeObjectFile, objectFileCount } from '../../functions/lib/logs/index-files';
import type { LogIdReader } from '../../functions/lib/logs/log-ids';
import { SubjectIdCollector, type LogKind } from '../../functions/lib/logs/subject-ids';

/**
 * AES-256-CMAC as RFC 4493 writes it, on Node's AES-CBC: the reference the batched one
 * (lib/crypto/cmac.ts) is checked against.
 */
function referenceCmac(key: Buffer, text: string): string {
  const aes = (mode: string, data: Buffer) => {
    const cipher = createCipheriv(`aes-256-${mode}`, key, mode === 'cbc' ? Buffer.alloc(16) : null);
    cipher.setAutoPadding(false);
    return Buffer.concat([cipher.update(data), cipher.final()]);
  };
  const double = (block: Buffer) => {
    const shifted = (BigInt(`0x${block.toString('hex')}`) << 1n) & ((1n << 128n) - 1n);
    const value = block[0]! & 0x80 ? shifted ^ 0x87n : shifted;
    return Buffer.from(value.toString(16).padStart(32, '0'), 'hex');
  };
  const k1 = double(aes('ecb', Buffer.alloc(16)));
  const k2 = double(k1);
  const message = Buffer.from(text, 'utf8');
  const whole = message.length > 0 && message.length % 16 === 0;
  const padded = whole
    ? Buffer.from(message)
    : Buffer.concat([message, Buffer.from([0x80]), Buffer.alloc(15 - (message.length % 16))]);
  const last = padded.length - 16;
  for (let i = 0; i < 16; i++) padded[last + i]! ^= (whole ? k1 : k2)[i]!;
  return aes('cbc', padded).subarray(last).toString('base64url');
}

test('is AES-256-CMAC of the kind and the id under the index key, 22 base64url characters', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.string({ unit: 'grapheme' }),
      (keyBytes, id) => {
        const key = Buffer.from(keyBytes);
        const hasher = new LogIndexHasher(key);
        expect(hasher.user(id)).toBe(referenceCmac(key, `user\u0000${id}`));
        expect(hasher.device(id)).toBe(referenceCmac(key, `device\u0000${id}`));
        expect(hasher.user(id)).toMatch(/^[A-Za-z0-9_-]{22}$/);
      },
    ),
    { numRuns: 200 },
  );
});

test('refuses a key shorter than AES-256 takes', () => {
  expect(() => new LogIndexHasher(randomBytes(16))).toThrow(/32 bytes/);
});

test('names a user and a device of the same id apart, and gives the same hash every time', () => {
  const hasher = new LogIndexHasher(randomBytes(32));
  expect(hasher.user('x-1')).not.toBe(hasher.device('x-1'));
  expect(hasher.user('x-1')).toBe(hasher.user('x-1'));
  expect(new LogIndexHasher(randomBytes(32)).user('x-1')).not.toBe(hasher.user('x-1'));
});

test('derives its key from the subject-hash key, once, and apart from the subject hashes', async () => {
  const subjectKey = randomBytes(32);
  const subjectHasher = new LocalSubjectHasher(subjectKey);
  const spy = jest.spyOn(subjectHasher, 'hash');
  const hasher = lazyIndexHasher(() => subjectHasher);
  const [a, b] = await Promise.all([hasher(), hasher()]);
  expect(a).toBe(b);
  expect(spy).toHaveBeenCalledTimes(1);
  expect(spy).toHaveBeenCalledWith(LOG_INDEX_KEY_LABEL);
  const again = await LogIndexHasher.derive(new LocalSubjectHasher(subjectKey));
  expect(again.user('u-1')).toBe(a.user('u-1'));
  // Not the subject hash of the same id, nor anything the subject-hash key gives directly.
  expect(a.user('u-1')).not.toBe((await subjectHasher.hash('user\u0000u-1')).slice(0, 22));
});

describe("an object's hashes, from the ids' bytes", () => {
  /** The ids of `text`, pushed in chunks of `chunk` bytes, read by `reader` (a new one if none). */
  const collect = (text: Buffer, kind: LogKind = 'access', chunk = 7, reader?: LogIdReader) => {
    const collector = new SubjectIdCollector(kind, reader);
    for (let i = 0; i < text.length; i += chunk) collector.push(text.subarray(i, i + chunk));
    return collector.end();
  };
  /** The object file `hasher` makes of `text`, read with a reader it lends, as the indexer reads an object. */
  const fileOf = (hasher: LogIndexHasher, text: Buffer, kind: LogKind = 'access', chunk = 7) => {
    const reader = hasher.beginObject();
    try {
      return hasher.objectFile(collect(text, kind, chunk, reader));
    } finally {
      hasher.endObject(reader);
    }
  };
  /** What hashing every id as a string (the connector's reading) gives, each once. */
  const expected = (hasher: LogIndexHasher, subjects: ReturnType<typeof collect>) =>
    [...new Set([...subjects.userIds].map((id) => hasher.user(id)))].concat(
      ...new Set([...subjects.deviceIds].map((id) => hasher.device(id))),
    );
  const expectedFile = (key: Buffer, text: Buffer, kind: LogKind = 'access') =>
    encodeObjectFile(expected(new LogIndexHasher(key), collect(text, kind, 4_096)));

  const lines = Buffer.concat([
    Buffer.from(
      [
        '{"userId":"u-1","deviceId":"d-1"}',
        '{"userId":"u-1"}',
        '{"userId":null,"deviceId":"d-2"}',
        '{"userId":"ユーザー","deviceId":"d-3"}',
        // The same id raw and escaped: one hash.
        '{"userId":"u-2"}',
        '{"userId":"u\\u002d2"}',
        '{"userId":null,"deviceId":"d\\u002d2"}',
        '{"userId":"x-1","deviceId":"x-1"}',
        '{"deviceId":"x-1"}',
        '',
      ].join('\r\n'),
    ),
    // Two invalid UTF-8 ids that both read as U+FFFD: one id, one hash.
    Buffer.from('{"userId":"\xff"}\n{"userId":"\xfe"}\n', 'latin1'),
  ]);

  it('are the hashes of the ids as strings, each once, sorted (the object file)', () => {
    const key = randomBytes(32);
    const hasher = new LogIndexHasher(key);
    const subjects = collect(lines);
    const file = fileOf(hasher, lines);
    const hashes = expected(new LogIndexHasher(key), subjects);
    expect(new Set(hashes).size).toBe(hashes.length);
    expect(objectFileCount(file)).toBe(hashes.length);
    expect(file).toEqual(encodeObjectFile(hashes));
    expect([...subjects.userIds].sort()).toEqual(['u-1', 'u-2', 'x-1', 'ユーザー', '\ufffd'].sort());
    expect([...subjects.deviceIds].sort()).toEqual(['d-2', 'x-1']);
    // A second object with some of the same ids and new ones (the reader lent again).
    const more = Buffer.from('{"userId":"u-1"}\n{"userId":"u-3"}\n{"deviceId":"d-2"}\n');
    expect(fileOf(hasher, more, 'access', 3)).toEqual(
      encodeObjectFile([hasher.user('u-1'), hasher.user('u-3'), hasher.device('d-2')]),
    );
  });

  it('are the same for thousands of ids, whatever the chunks (the reader grows past its first size)', () => {
    const key = randomBytes(32);
    const hasher = new LogIndexHasher(key);
    const text = Buffer.from(
      Array.from({ length: 5_000 }, (_, i) => `{"userId":"u-${i}"}\n{"deviceId":"d-${i % 2_500}"}`).join(
        '\n',
      ),
    );
    const file = fileOf(hasher, text, 'access', 4_096);
    expect(objectFileCount(file)).toBe(7_500);
    // As hex: Jest compares a Buffer byte by byte, slowly, at this size.
    const hex = file.toString('hex');
    expect(hex).toBe(expectedFile(key, text).toString('hex'));
    expect(fileOf(hasher, text, 'access', 1_000).toString('hex')).toBe(hex);
  });

  it('stay the same from object to object, the reader lent again forgetting the last one', () => {
    const key = randomBytes(32);
    const hasher = new LogIndexHasher(key, 3);
    const text = Buffer.from(
      Array.from({ length: 20 }, (_, i) => `{"userId":"u-${i % 10}"}\n{"deviceId":"d-${i}"}`).join('\n'),
    );
    const first = fileOf(hasher, text);
    expect(objectFileCount(first)).toBe(30);
    expect(first).toEqual(expectedFile(key, text));
    // The same reader, lent again (a cache of strings of 3, over its size): the same file.
    expect(fileOf(hasher, text, 'access', 100)).toEqual(first);
    const other = Buffer.from('{"userId":"u-other"}\n{"deviceId":"d-3"}\n');
    expect(fileOf(hasher, other)).toEqual(expectedFile(key, other));
  });

  it('of objects read at once, interleaved: each its own', () => {
    const key = randomBytes(32);
    const hasher = new LogIndexHasher(key, 3);
    fileOf(hasher, lines);
    const a = Buffer.from(
      Array.from({ length: 40 }, (_, i) => `{"userId":"u-${i % 13}"}\n{"deviceId":"d-${i % 7}"}`).join('\n'),
    );
    const b = Buffer.from(
      Array.from({ length: 40 }, (_, i) => `{"userId":"u-${(i % 11) + 5}"}\n{"deviceId":"d-${i % 5}"}`).join(
        '\n',
      ),
    );
    const readerA = hasher.beginObject();
    const collectorA = new SubjectIdCollector('access', readerA);
    const readerB = hasher.beginObject();
    const collectorB = new SubjectIdCollector('access', readerB);
    expect(readerB).not.toBe(readerA);
    // Interleaved, as the indexer's concurrent reads are.
    for (let i = 0; i < Math.max(a.length, b.length); i += 5) {
      collectorA.push(a.subarray(i, i + 5));
      collectorB.push(b.subarray(i, i + 5));
    }
    const fileA = hasher.objectFile(collectorA.end());
    hasher.endObject(readerA);
    // A third object begun now (with A's reader, lent again) must not touch B's ids.
    const fileC = fileOf(hasher, lines);
    const fileB = hasher.objectFile(collectorB.end());
    hasher.endObject(readerB);
    expect(fileA).toEqual(expectedFile(key, a));
    expect(fileB).toEqual(expectedFile(key, b));
    expect(fileC).toEqual(expectedFile(key, lines));
  });

  it('hash voice-session participants as users', () => {
    const hasher = new LogIndexHasher(randomBytes(32));
    const text = Buffer.from(
      `${JSON.stringify({ participants: [{ userId: 'u-1' }, { userId: 'u-"2"' }], deviceId: 'd-1' })}\n`,
    );
    expect(fileOf(hasher, text, 'voice-sessions')).toEqual(
      encodeObjectFile([hasher.user('u-1'), hasher.user('u-"2"')]),
    );
  });
});
