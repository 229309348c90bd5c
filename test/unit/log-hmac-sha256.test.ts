/** The JS HMAC-SHA-256 of the log indexer (functions/lib/logs/hmac-sha256.ts) is node:crypto's HMAC. */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { HmacSha256 } from '../../functions/lib/logs/hmac-sha256';

test('gives what createHmac gives, for any key, message length (across block boundaries) and cut', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 8 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.nat(5),
      fc.integer({ min: 1, max: 43 }),
      (key, prefix, message, offset, characters) => {
        const bytes = Buffer.concat([Buffer.alloc(offset, 0xee), message, Buffer.from([1, 2])]);
        const hmac = new HmacSha256(key);
        const expected = createHmac('sha256', key).update(prefix).update(message).digest('base64url');
        expect(hmac.base64url(prefix, bytes, offset, offset + message.length, characters)).toBe(
          expected.slice(0, characters),
        );
        // Again with the same instance: no state is left from one message to the next.
        expect(hmac.base64url(prefix, bytes, offset, offset + message.length, 43)).toBe(expected);
      },
    ),
    { numRuns: 500 },
  );
  // Every length around the one- and two-block limits (55 and 119 bytes of message).
  const key = Buffer.from('k');
  const hmac = new HmacSha256(key);
  for (let length = 0; length <= 130; length++) {
    const message = Buffer.alloc(length, 0x61);
    expect(hmac.base64url(Buffer.alloc(0), message, 0, length, 43)).toBe(
      createHmac('sha256', key).update(message).digest('base64url'),
    );
  }
  expect(() => new HmacSha256(Buffer.alloc(65))).toThrow(RangeError);
});
