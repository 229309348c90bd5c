import { randomBytes } from 'node:crypto';
import { LOCAL_AUDIENCE, checkToken, mintToken, signToken, verifyToken } from '../../local/auth';

const key = randomBytes(32);

test('a minted token verifies and carries the role and its services as scopes (all five by default)', () => {
  const claims = verifyToken(key, mintToken(key, 'legal'));
  expect(claims?.scope).toBe(
    'dsr/legal dsr/service:klub-outside dsr/service:prism-project dsr/service:cluster dsr/service:audiostock dsr/service:metalive',
  );
  const bound = verifyToken(key, mintToken(key, 'support', { services: ['cluster', 'metalive'] }));
  expect(bound?.scope).toBe('dsr/support dsr/service:cluster dsr/service:metalive');
  expect(bound?.client_id).toBe('local-support-cluster-metalive-client');
  expect(() => mintToken(key, 'support', { services: ['nowhere'] })).toThrow(/Unknown service nowhere/);
});

test('a service scope that is not a service id makes the token invalid; an unserved id is let through', () => {
  const now = Math.floor(Date.now() / 1000);
  const claims = (scope: string) => ({
    iss: 'urn:dsr:local-issuer',
    aud: LOCAL_AUDIENCE,
    exp: now + 60,
    scope,
  });
  expect(checkToken(key, signToken(key, claims('dsr/support dsr/service:Bad Id')))).toEqual({
    valid: false,
    fault: 'invalid',
  });
  expect(checkToken(key, signToken(key, claims('dsr/support dsr/service:elsewhere')))).toMatchObject({
    valid: true,
  });
});

test('expired, wrong-audience, wrong-issuer, tampered and foreign-key tokens are refused', () => {
  const now = Date.now();
  expect(verifyToken(key, mintToken(key, 'support', { ttlSeconds: -10 }))).toBeUndefined();
  expect(verifyToken(key, mintToken(key, 'support', { audience: 'someone-else' }))).toBeUndefined();
  expect(verifyToken(key, mintToken(key, 'support', { issuer: 'urn:evil' }))).toBeUndefined();
  expect(verifyToken(randomBytes(32), mintToken(key, 'support'))).toBeUndefined();
  const [h, , s] = mintToken(key, 'support').split('.');
  const forged = Buffer.from(
    JSON.stringify({ scope: 'dsr/legal', aud: LOCAL_AUDIENCE, exp: now / 1000 + 60 }),
  ).toString('base64url');
  expect(verifyToken(key, `${h}.${forged}.${s}`)).toBeUndefined();
  expect(verifyToken(key, 'not-a-token')).toBeUndefined();
  const none = signToken(key, { aud: LOCAL_AUDIENCE }).replace(
    /^[^.]+/,
    Buffer.from('{"alg":"none"}').toString('base64url'),
  );
  expect(verifyToken(key, none)).toBeUndefined();
});

test('checkToken says why: expired only for a token that is otherwise ours', () => {
  const expired = mintToken(key, 'support', { ttlSeconds: -10 });
  expect(checkToken(key, expired)).toEqual({ valid: false, fault: 'expired' });
  // Expired and signed with another key: invalid, nothing said about its expiry.
  expect(checkToken(randomBytes(32), expired)).toEqual({ valid: false, fault: 'invalid' });
  const expiredElsewhere = mintToken(key, 'support', { ttlSeconds: -10, audience: 'someone-else' });
  expect(checkToken(key, expiredElsewhere)).toEqual({ valid: false, fault: 'invalid' });
  expect(checkToken(key, 'not-a-token')).toEqual({ valid: false, fault: 'invalid' });
  expect(checkToken(key, mintToken(key, 'auditor'))).toMatchObject({ valid: true });
});
