/** The log index's keyed hash (functions/lib/logs/index-hash.ts) is HMAC-SHA-256, keyed apart from subject hashes. */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { LocalSubjectHasher } from '../../functions/lib/crypto/subject-hash';
import { LOG_INDEX_KEY_LABEL, LogIndexHasher, lazyIndexHasher } from '../../functions/lib/logs/index-hash';

const hmac = (key: Buffer, message: string) =>
  createHmac('sha256', key).update(message, 'utf8').digest('base64url').slice(0, 22);

test('is HMAC-SHA-256 of the kind and the id under the index key, 22 base64url characters', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.string({ unit: 'grapheme' }),
      (key, id) => {
        const hasher = new LogIndexHasher(Buffer.from(key));
        expect(hasher.key.every((byte) => byte < 0x80)).toBe(true);
        expect(hasher.user(id)).toBe(hmac(hasher.key, `user\u0000${id}`));
        expect(hasher.device(id)).toBe(hmac(hasher.key, `device\u0000${id}`));
        expect(hasher.user(id)).toMatch(/^[A-Za-z0-9_-]{22}$/);
      },
    ),
    { numRuns: 200 },
  );
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
