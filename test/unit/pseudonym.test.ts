import { ContractError } from '../../functions/lib/runtime/errors';
import { looksLikePersonKey, People, pseudonymFor } from '../../functions/lib/crypto/pseudonym';

const SALT_A = 'salt-a-0123456789abcdef';
const SALT_B = 'salt-b-0123456789abcdef';

describe('pseudonymFor', () => {
  it('is stable for the same person within one request (same salt)', () => {
    expect(pseudonymFor(SALT_A, 'user-bob')).toBe(pseudonymFor(SALT_A, 'user-bob'));
    expect(pseudonymFor(SALT_A, 'user-bob')).toMatch(/^person-[0-9a-f]{12}$/);
  });

  it('differs between people, and for the same person between requests (different salt)', () => {
    expect(pseudonymFor(SALT_A, 'user-bob')).not.toBe(pseudonymFor(SALT_A, 'user-carol'));
    expect(pseudonymFor(SALT_A, 'user-bob')).not.toBe(pseudonymFor(SALT_B, 'user-bob'));
  });

  it('does not contain the user id', () => {
    expect(pseudonymFor(SALT_A, 'user-bob')).not.toContain('bob');
  });

  it('refuses a missing or short salt, which would make pseudonyms reversible', () => {
    expect(() => pseudonymFor('', 'user-bob')).toThrow(ContractError);
    expect(() => pseudonymFor('short', 'user-bob')).toThrow(ContractError);
  });
});

describe('looksLikePersonKey', () => {
  it.each([
    'userId',
    'senderId',
    'reportedBy',
    'created_by',
    'members',
    'participants',
    'mentions',
    'hostUserId',
    'ownerId',
    'authorIds',
    'user',
  ])('%s names a person', (key) => expect(looksLikePersonKey(key)).toBe(true));
  it.each([
    'messageId',
    'roomId',
    'worldId',
    'deviceId',
    'sessionId',
    'body',
    'status',
    'standby',
    'userAgent',
    'kind',
  ])('%s does not', (key) => expect(looksLikePersonKey(key)).toBe(false));
});

describe('People', () => {
  const people = () => new People(['user-alice', 'user-alice-2'], (id) => pseudonymFor(SALT_A, id));

  it('keeps the subject, pseudonymises everyone else', () => {
    const p = people();
    expect(p.ref('user-alice-2')).toBe('user-alice-2');
    expect(p.ref('user-bob')).toBe(pseudonymFor(SALT_A, 'user-bob'));
    expect(p.ref(undefined)).toBeNull();
    expect(p.other('user-alice')).toBeNull();
    expect(p.other('user-bob')).toBe(pseudonymFor(SALT_A, 'user-bob'));
    expect(p.isSubject('user-alice')).toBe(true);
    expect(p.isSubject('user-bob')).toBe(false);
  });

  it('scrubs unknown nested values: person keys anywhere, and ids of people it has seen', () => {
    const p = people();
    p.learn(['user-carol', 'user-alice']);
    const out = p.scrub({
      reactions: [
        { userId: 'user-bob', emoji: '👍' },
        { userId: 'user-alice', emoji: '❤️' },
      ],
      replyTo: { messageId: 'm-9', senderId: 'user-dave' },
      note: 'user-carol',
      watchers: new Set(['user-carol']),
      count: 3,
    });
    const json = JSON.stringify(out);
    for (const other of ['user-bob', 'user-carol', 'user-dave']) expect(json).not.toContain(other);
    expect(out).toEqual({
      reactions: [
        { userId: pseudonymFor(SALT_A, 'user-bob'), emoji: '👍' },
        { userId: 'user-alice', emoji: '❤️' },
      ],
      replyTo: { messageId: 'm-9', senderId: pseudonymFor(SALT_A, 'user-dave') },
      note: pseudonymFor(SALT_A, 'user-carol'),
      watchers: [pseudonymFor(SALT_A, 'user-carol')],
      count: 3,
    });
  });

  it('scrubs a top-level value under a person key', () => {
    expect(people().scrub(['user-bob', 'user-alice'], true)).toEqual([
      pseudonymFor(SALT_A, 'user-bob'),
      'user-alice',
    ]);
  });
});
