/** Legal hold validation (strict schema, known stores/categories) and identifier keys. */
import { parsePlaceHold } from '../../functions/api/routes/holds';
import { placeHoldSchema } from '../../functions/api/schemas';
import { ApiError } from '../../functions/api/http';
import { identifierKeysOf, toHoldScope, type Hold } from '../../functions/lib/holds/holds';
import { EMPTY_IDENTIFIERS } from '../../functions/lib/identifiers/account-identifiers';
import { identifierOf } from '../../functions/api/subject-identifiers';

const valid = { subject: { email: 'a@example.com' }, caseReference: 'CASE-1', reason: 'Litigation' };

function codeOf(body: unknown): string | undefined {
  try {
    parsePlaceHold(body);
    return undefined;
  } catch (error) {
    return error instanceof ApiError ? error.code : 'THREW';
  }
}

test('a valid hold passes, with or without scope', () => {
  expect(parsePlaceHold(valid)).toEqual(valid);
  expect(
    codeOf({ ...valid, stores: ['chat', 'media'], categories: ['messages', 'avatars'] }),
  ).toBeUndefined();
});

test.each([
  [{ ...valid, extra: true }, 'UNKNOWN_FIELD'],
  [{ ...valid, subject: {} }, 'MISSING_IDENTIFIER'],
  [{ ...valid, subject: { userId: 'u', phone: '+821012345678' } }, 'MISSING_IDENTIFIER'],
  [{ subject: valid.subject, reason: 'x' }, 'MISSING_FIELD'],
  [{ ...valid, stores: ['chat', 'chat'] }, 'INVALID_FIELD'],
  [{ ...valid, stores: ['warehouse'] }, 'UNKNOWN_STORE'],
  [{ ...valid, categories: ['secrets'] }, 'UNKNOWN_CATEGORY'],
  [{ ...valid, stores: ['payments'], categories: ['messages'] }, 'UNKNOWN_CATEGORY'],
  [{ ...valid, reason: 'r'.repeat(1001) }, 'FIELD_TOO_LONG'],
  [{ ...valid, caseReference: 'bad\nline' }, 'INVALID_FIELD'],
  [[valid], 'INVALID_BODY'],
])('refused: %j -> %s', (body, code) => {
  expect(codeOf(body)).toBe(code);
});

test('the schema is strict and bounded everywhere', () => {
  expect(placeHoldSchema.additionalProperties).toBe(false);
  expect(placeHoldSchema.properties.caseReference.maxLength).toBeLessThanOrEqual(256);
  expect(placeHoldSchema.properties.stores.maxItems).toBeGreaterThan(0);
});

test('identifier keys cover every identifier, in the API canonical form', () => {
  expect(
    identifierKeysOf({
      userIds: ['u-1'],
      emails: ['A@Example.com'],
      phones: ['+821012345678'],
      deviceIds: ['dev-1'],
      externalAccounts: [{ provider: 'google', providerUserId: 'g-1' }],
    }),
  ).toEqual([
    'userId:u-1',
    'email:a@example.com',
    'phone:+821012345678',
    'deviceId:dev-1',
    'externalAccount:["google","g-1"]',
  ]);
});

test('an external account key cannot be confused with another split of the same characters', () => {
  const keys = (provider: string, providerUserId: string) =>
    identifierKeysOf({ ...EMPTY_IDENTIFIERS, externalAccounts: [{ provider, providerUserId }] });
  expect(keys('a:b', 'c')).not.toEqual(keys('a', 'b:c'));
  expect(keys('a","b', 'c')).not.toEqual(keys('a', 'b","c'));
  // The API names a subject with the same key the holds and the resolver derive from the account.
  expect(identifierOf({ externalAccount: { provider: 'a:b', providerUserId: 'c' } })).toBe(
    keys('a:b', 'c')[0],
  );
});

test('the planner sees a hold with its scope (none = everything)', () => {
  const hold: Hold = {
    holdId: 'hold_1',
    subjectHash: 'h',
    caseReference: 'C',
    reason: 'r',
    status: 'active',
    placedBy: 'legal',
    placedAt: '2026-11-23T00:00:00.000Z',
  };
  expect(toHoldScope(hold)).toEqual({ holdId: 'hold_1', caseReference: 'C' });
  expect(toHoldScope({ ...hold, stores: ['chat'], categories: ['messages'] })).toEqual({
    holdId: 'hold_1',
    caseReference: 'C',
    stores: ['chat'],
    categories: ['messages'],
  });
});
