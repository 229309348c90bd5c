import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import fc from 'fast-check';
import {
  JWS_TYPES,
  base64url,
  derToJoseSignature,
  joseToDerSignature,
  jwkThumbprint,
  publicJwk,
  signCompact,
  signDetached,
  verifyCompact,
  verifyDetached,
  type JwsSigner,
} from '../../functions/lib/crypto/jws';

async function memorySigner(
  privateKey: KeyObject,
): Promise<JwsSigner & { jwk: Awaited<ReturnType<typeof publicJwk>> }> {
  const jwk = await publicJwk(privateKey);
  return {
    jwk,
    keyId: async () => jwk.kid,
    sign: async (data) => cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

const keyA = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const keyB = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
let signerA: Awaited<ReturnType<typeof memorySigner>>;
let signerB: Awaited<ReturnType<typeof memorySigner>>;
let jwksA: { keys: (typeof signerA.jwk)[] };
beforeAll(async () => {
  signerA = await memorySigner(keyA);
  signerB = await memorySigner(keyB);
  jwksA = { keys: [signerA.jwk] };
});

describe('RFC 7638 thumbprint', () => {
  it('hashes the required EC members in lexicographic order with no whitespace (RFC 7638 section 3.2)', async () => {
    const jwk = { y: 'def', x: 'abc', kty: 'EC' as const, crv: 'P-256' as const };
    const expected = createHash('sha256')
      .update('{"crv":"P-256","kty":"EC","x":"abc","y":"def"}')
      .digest('base64url');
    expect(await jwkThumbprint(jwk)).toBe(expected);
  });

  it('is the kid of publicJwk, and equal for the private and public halves', async () => {
    const jwk = await publicJwk(keyA);
    expect(jwk.kid).toBe(await jwkThumbprint(jwk));
    expect((await publicJwk(createPublicKey(keyA))).kid).toBe(jwk.kid);
    expect(jwk.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256' });
  });
});

describe('detached JWS', () => {
  const payload = Buffer.from('{"formatVersion":1,"files":[]}\n');

  it('has the form header..signature with an ES256 header naming the kid', async () => {
    const jws = await signDetached(payload, signerA, { typ: JWS_TYPES.manifest });
    const [header, middle, sig] = jws.split('.');
    expect(middle).toBe('');
    expect(JSON.parse(Buffer.from(header ?? '', 'base64url').toString())).toEqual({
      alg: 'ES256',
      kid: signerA.jwk.kid,
      typ: 'dsr-manifest+jws',
    });
    expect(Buffer.from(sig ?? '', 'base64url')).toHaveLength(64);
  });

  it('signs the standard signing input (b64 default), so a plain ECDSA check of it succeeds', async () => {
    const jws = await signDetached(payload, signerA, { typ: JWS_TYPES.manifest });
    const [header = '', , sig = ''] = jws.split('.');
    const input = Buffer.from(`${header}.${base64url(payload)}`);
    const ok = cryptoVerify(
      'sha256',
      input,
      { key: createPublicKey(keyA), dsaEncoding: 'ieee-p1363' },
      Buffer.from(sig, 'base64url'),
    );
    expect(ok).toBe(true);
  });

  it('verifies with the JWKS and with the PEM public key', async () => {
    const jws = await signDetached(payload, signerA, { typ: JWS_TYPES.manifest });
    expect(await verifyDetached(jws, payload, { jwks: jwksA }, { typ: JWS_TYPES.manifest })).toMatchObject({
      ok: true,
      kid: signerA.jwk.kid,
    });
    const pem = createPublicKey(keyA).export({ type: 'spki', format: 'pem' }).toString();
    expect((await verifyDetached(jws, payload, { publicKey: pem }, { typ: JWS_TYPES.manifest })).ok).toBe(
      true,
    );
  });

  it('fails when one byte of the payload changes', async () => {
    const jws = await signDetached(payload, signerA, { typ: JWS_TYPES.manifest });
    const altered = Buffer.from(payload);
    altered[5] = (altered[5] ?? 0) ^ 1;
    expect(await verifyDetached(jws, altered, { jwks: jwksA }, { typ: JWS_TYPES.manifest })).toMatchObject({
      ok: false,
      reason: 'The signature does not match',
    });
  });

  it('fails with another key, and names an unknown kid', async () => {
    const jws = await signDetached(payload, signerB, { typ: JWS_TYPES.manifest });
    const result = await verifyDetached(jws, payload, { jwks: jwksA }, { typ: JWS_TYPES.manifest });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(signerB.jwk.kid);
    const pemA = createPublicKey(keyA).export({ type: 'spki', format: 'pem' }).toString();
    expect((await verifyDetached(jws, payload, { publicKey: pemA }, { typ: JWS_TYPES.manifest })).ok).toBe(
      false,
    );
  });

  it('refuses alg none, HS256, crit and b64=false headers even with a valid-looking signature', async () => {
    const good = await signDetached(payload, signerA, { typ: JWS_TYPES.manifest });
    const sig = good.split('.')[2];
    for (const header of [
      { alg: 'none', kid: signerA.jwk.kid },
      { alg: 'HS256', kid: signerA.jwk.kid },
      { alg: 'ES256', kid: signerA.jwk.kid, crit: ['b64'], b64: false },
      { alg: 'ES256', kid: signerA.jwk.kid, b64: false },
      { alg: 'ES256' },
    ]) {
      const forged = `${base64url(JSON.stringify(header))}..${sig}`;
      expect((await verifyDetached(forged, payload, { jwks: jwksA }, { typ: JWS_TYPES.manifest })).ok).toBe(
        false,
      );
    }
  });

  it('refuses malformed tokens without throwing', async () => {
    for (const token of [
      '',
      'a.b',
      'a..b..c',
      '!!!..abc',
      `${base64url('[1]')}..AAAA`,
      `${base64url('{')}..AAAA`,
    ]) {
      expect((await verifyDetached(token, payload, { jwks: jwksA }, { typ: JWS_TYPES.manifest })).ok).toBe(
        false,
      );
    }
  });

  it('refuses an attached payload where a detached one is expected', async () => {
    const compact = await signCompact(payload, signerA, { typ: JWS_TYPES.certificate });
    expect((await verifyDetached(compact, payload, { jwks: jwksA }, { typ: JWS_TYPES.manifest })).ok).toBe(
      false,
    );
  });
});

describe('typ: each signed kind is checked as itself', () => {
  const payload = Buffer.from('{"requestId":"req_1","status":"completed"}');

  it('refuses a valid signature over another kind, before any key is used', async () => {
    const notice = await signDetached(payload, signerA, { typ: JWS_TYPES.processorNotice });
    expect(await verifyDetached(notice, payload, { jwks: jwksA }, { typ: JWS_TYPES.callback })).toEqual({
      ok: false,
      reason: 'JWS typ must be dsr-callback+jws',
    });
    expect(
      (await verifyDetached(notice, payload, { jwks: jwksA }, { typ: JWS_TYPES.processorNotice })).ok,
    ).toBe(true);
    const certificate = await signCompact(payload, signerA, { typ: JWS_TYPES.certificate });
    const [h, , s] = certificate.split('.');
    expect(
      (await verifyDetached(`${h}..${s}`, payload, { jwks: jwksA }, { typ: JWS_TYPES.manifest })).ok,
    ).toBe(false);
  });

  it('refuses a signature with no typ unless the verifier accepts legacy untyped ones', async () => {
    const header = base64url(JSON.stringify({ alg: 'ES256', kid: signerA.jwk.kid }));
    const signature = base64url(await signerA.sign(Buffer.from(`${header}.${base64url(payload)}`)));
    const untyped = `${header}..${signature}`;
    expect((await verifyDetached(untyped, payload, { jwks: jwksA }, { typ: JWS_TYPES.callback })).ok).toBe(
      false,
    );
    expect(
      (
        await verifyDetached(
          untyped,
          payload,
          { jwks: jwksA },
          { typ: JWS_TYPES.manifest, acceptUntyped: true },
        )
      ).ok,
    ).toBe(true);
  });
});

describe('compact JWS', () => {
  it('round-trips the payload and rejects a swapped payload', async () => {
    const payload = Buffer.from(JSON.stringify({ certificate: 1 }));
    const jws = await signCompact(payload, signerA, { typ: JWS_TYPES.certificate });
    const result = await verifyCompact(jws, { jwks: jwksA }, { typ: JWS_TYPES.certificate });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.payload.equals(payload)).toBe(true);
    const [h, , s] = jws.split('.');
    expect(
      (
        await verifyCompact(
          `${h}.${base64url('{"certificate":2}')}.${s}`,
          { jwks: jwksA },
          { typ: JWS_TYPES.certificate },
        )
      ).ok,
    ).toBe(false);
  });
});

describe('DER <-> JOSE signature conversion', () => {
  it('round-trips any r and s, including leading zeros and high bits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (raw) => {
        // Zero r or s is not a valid ECDSA value but the encoding must still round-trip.
        const der = joseToDerSignature(raw);
        expect(derToJoseSignature(der).equals(Buffer.from(raw))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('converts real DER signatures from node (as KMS returns them) to signatures JOSE verifiers accept', () => {
    for (let i = 0; i < 50; i++) {
      const data = Buffer.from(`message ${i}`);
      const der = cryptoSign('sha256', data, keyA); // DER by default
      const raw = derToJoseSignature(der);
      expect(raw).toHaveLength(64);
      expect(
        cryptoVerify('sha256', data, { key: createPublicKey(keyA), dsaEncoding: 'ieee-p1363' }, raw),
      ).toBe(true);
      expect(joseToDerSignature(raw).equals(der)).toBe(true);
    }
  });

  it('rejects malformed DER', () => {
    expect(() => derToJoseSignature(Buffer.from([0x31, 0x00]))).toThrow();
    expect(() => derToJoseSignature(Buffer.from([0x30, 0x03, 0x02, 0x01]))).toThrow();
    expect(() =>
      derToJoseSignature(Buffer.concat([cryptoSign('sha256', Buffer.from('x'), keyA), Buffer.from([0])])),
    ).toThrow();
  });
});
