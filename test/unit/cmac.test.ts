/** AES-CMAC computed for many messages at once (functions/lib/crypto/cmac.ts). */
import { Cmac } from '../../functions/lib/crypto/cmac';

const hex = (text: string) => Buffer.from(text.replace(/\s/g, ''), 'hex');
/** The messages of RFC 4493 and NIST SP 800-38B's examples: the first 0, 16, 40 and 64 bytes of this. */
const message = hex(`6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51
                     30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710`);

it.each([
  // RFC 4493, section 4 (AES-128).
  ['2b7e1516 28aed2a6 abf71588 09cf4f3c', 0, 'bb1d6929 e9593728 7fa37d12 9b756746'],
  ['2b7e1516 28aed2a6 abf71588 09cf4f3c', 16, '070a16b4 6b4d4144 f79bdd9d d04a287c'],
  ['2b7e1516 28aed2a6 abf71588 09cf4f3c', 40, 'dfa66747 de9ae630 30ca3261 1497c827'],
  ['2b7e1516 28aed2a6 abf71588 09cf4f3c', 64, '51f0bebf 7e3b9d92 fc497417 79363cfe'],
  // SP 800-38B, appendix D.3 (AES-256): the log index's.
  [
    '603deb10 15ca71be 2b73aef0 857d7781 1f352c07 3b6108d7 2d9810a3 0914dff4',
    0,
    '028962f6 1b7bf89e fc6b551f 4667d983',
  ],
  [
    '603deb10 15ca71be 2b73aef0 857d7781 1f352c07 3b6108d7 2d9810a3 0914dff4',
    16,
    '28a7023f 452e8f82 bd4bf28d 8c37c35c',
  ],
  [
    '603deb10 15ca71be 2b73aef0 857d7781 1f352c07 3b6108d7 2d9810a3 0914dff4',
    40,
    'aaf3d8f1 de5640c2 32f5b169 b9c911e6',
  ],
  [
    '603deb10 15ca71be 2b73aef0 857d7781 1f352c07 3b6108d7 2d9810a3 0914dff4',
    64,
    'e1992190 549f6ed5 696a2c05 6c315410',
  ],
])('gives the standard example MAC (key %s, %i bytes)', (key, length, mac) => {
  expect(new Cmac(hex(key)).mac(message.subarray(0, length)).toString('hex')).toBe(mac.replace(/\s/g, ''));
});

it('refuses a key of a length AES does not take', () => {
  expect(() => new Cmac(Buffer.alloc(20))).toThrow(/16, 24 or 32 bytes/);
});
