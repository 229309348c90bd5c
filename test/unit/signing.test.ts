import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient, type SignCommandInput } from '@aws-sdk/client-kms';
import { ConfigError } from '../../functions/lib/runtime/config';
import { JWS_TYPES, jwkThumbprint, signDetached, verifyDetached } from '../../functions/lib/crypto/jws';
import { KmsSigner, LocalSigner, localPublicJwks, signerFromEnv } from '../../functions/lib/crypto/signing';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'signing-test-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('LocalSigner', () => {
  it('creates a P-256 key on first use, private key mode 0600, kid = RFC 7638 thumbprint', async () => {
    const dir = join(await tempDir(), 'keys', 'signing');
    const signer = new LocalSigner(dir);
    const kid = await signer.keyId();
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(['current', `${kid}.private.pem`, `${kid}.public.pem`].sort());
    expect((await stat(join(dir, `${kid}.private.pem`))).mode & 0o777).toBe(0o600);
    const jwk = createPublicKey(await readFile(join(dir, `${kid}.public.pem`), 'utf8')).export({
      format: 'jwk',
    });
    expect(jwk.crv).toBe('P-256');
    expect(kid).toBe(await jwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x ?? '', y: jwk.y ?? '' }));
  });

  it('signs (64-byte JOSE signatures) so that the JWKS verifies, and a second instance reuses the key', async () => {
    const dir = await tempDir();
    const first = new LocalSigner(dir);
    const payload = Buffer.from('manifest bytes');
    const jws = await signDetached(payload, first, { typ: JWS_TYPES.manifest });
    expect(await first.sign(Buffer.from('x'))).toHaveLength(64);
    const second = new LocalSigner(dir);
    expect(await second.keyId()).toBe(await first.keyId());
    expect(
      (await verifyDetached(jws, payload, { jwks: await second.publicJwks() }, { typ: JWS_TYPES.manifest }))
        .ok,
    ).toBe(true);
  });

  it('agrees on one key when two processes create it at the same moment', async () => {
    const dir = await tempDir();
    const signers = Array.from({ length: 4 }, () => new LocalSigner(dir));
    const kids = await Promise.all(signers.map((s) => s.keyId()));
    expect(new Set(kids).size).toBe(1);
    expect((await localPublicJwks(dir)).keys.map((k) => k.kid)).toEqual([kids[0]]);
  });

  it('rotates: new current key, old private key gone, old public key still verifies old signatures', async () => {
    const dir = await tempDir();
    const signer = new LocalSigner(dir);
    const payload = Buffer.from('old archive manifest');
    const oldJws = await signDetached(payload, signer, { typ: JWS_TYPES.manifest });
    const oldKid = await signer.keyId();

    const newKid = await signer.rotate();
    expect(newKid).not.toBe(oldKid);
    expect(await signer.keyId()).toBe(newKid);
    expect(await new LocalSigner(dir).keyId()).toBe(newKid);
    const files = await readdir(dir);
    expect(files).not.toContain(`${oldKid}.private.pem`);
    expect(files).toContain(`${oldKid}.public.pem`);

    const jwks = await signer.publicJwks();
    expect(jwks.keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
    expect((await verifyDetached(oldJws, payload, { jwks }, { typ: JWS_TYPES.manifest })).ok).toBe(true);
    const newJws = await signDetached(payload, signer, { typ: JWS_TYPES.manifest });
    expect(JSON.parse(Buffer.from(newJws.split('.')[0] ?? '', 'base64url').toString()).kid).toBe(newKid);
    expect((await verifyDetached(newJws, payload, { jwks }, { typ: JWS_TYPES.manifest })).ok).toBe(true);
  });

  it('refuses a key file that does not match its key id', async () => {
    const dir = await tempDir();
    const kid = await new LocalSigner(dir).keyId();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    await writeFile(join(dir, `${kid}.private.pem`), other.export({ format: 'pem', type: 'pkcs8' }));
    await expect(new LocalSigner(dir).keyId()).rejects.toBeInstanceOf(ConfigError);
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** A KMSClient whose transport is replaced: it answers like KMS, signing with a local key via openssl. */
function fakeKms(privateKey: KeyObject, keyArn: string, calls: SignCommandInput[]): KMSClient {
  const client = new KMSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  client.middlewareStack.add(
    (_next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      if (context.commandName === 'GetPublicKeyCommand') {
        return {
          output: {
            $metadata: {},
            KeyId: keyArn,
            KeySpec: 'ECC_NIST_P256',
            KeyUsage: 'SIGN_VERIFY',
            SigningAlgorithms: ['ECDSA_SHA_256'],
            PublicKey: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }),
          },
          response: {},
        };
      }
      if (context.commandName === 'SignCommand') {
        const sign = input as unknown as SignCommandInput;
        calls.push(sign);
        // Like KMS: with MessageType DIGEST the message must be a 32-byte SHA-256 digest, signed as is.
        if (sign.MessageType !== 'DIGEST') throw new Error('test KMS: MessageType must be DIGEST');
        if (sign.SigningAlgorithm !== 'ECDSA_SHA_256') throw new Error('test KMS: wrong algorithm');
        if (sign.KeyId !== keyArn) throw new Error('test KMS: sign with the resolved key ARN');
        const digest = Buffer.from(sign.Message ?? new Uint8Array());
        if (digest.length !== 32) throw new Error('test KMS: a digest is 32 bytes');
        const dir = await tempDir();
        await writeFile(join(dir, 'key.pem'), pem);
        // openssl pkeyutl signs the digest without hashing it again, and returns DER, as KMS does.
        const der = execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', join(dir, 'key.pem')], {
          input: digest,
        });
        return {
          output: {
            $metadata: {},
            KeyId: keyArn,
            Signature: new Uint8Array(der),
            SigningAlgorithm: 'ECDSA_SHA_256',
          },
          response: {},
        };
      }
      throw new Error(`test KMS: unexpected ${context.commandName}`);
    },
    { step: 'initialize', name: 'fakeKms' },
  );
  return client;
}

(hasOpenssl ? describe : describe.skip)('KmsSigner (KMS client with a fake transport)', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const arn = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

  it('signs the SHA-256 digest with MessageType DIGEST and produces a JWS that verifies with its JWKS', async () => {
    const calls: SignCommandInput[] = [];
    const signer = new KmsSigner(fakeKms(key, arn, calls), 'alias/dsr-archive-signing');
    const manifest = Buffer.from(JSON.stringify({ formatVersion: 1, big: 'x'.repeat(10_000) }));
    const jws = await signDetached(manifest, signer, { typ: JWS_TYPES.manifest });

    expect(calls).toHaveLength(1);
    const [header = ''] = jws.split('.');
    const signingInput = `${header}.${manifest.toString('base64url')}`;
    // Far over KMS's 4096-byte message limit: only the digest was sent.
    expect(signingInput.length).toBeGreaterThan(4096);
    expect(
      Buffer.from(calls[0]?.Message ?? []).equals(createHash('sha256').update(signingInput).digest()),
    ).toBe(true);

    const jwks = await signer.publicJwks();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]?.kid).toBe(await signer.keyId());
    expect(await verifyDetached(jws, manifest, { jwks }, { typ: JWS_TYPES.manifest })).toMatchObject({
      ok: true,
      kid: jwks.keys[0]?.kid,
    });
  });

  it('lists previous keys in the JWKS, so archives signed before a rotation still verify', async () => {
    const oldKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const oldArn = arn.replace('1234abcd', '9999abcd');
    const payload = Buffer.from('signed last year');
    const oldJws = await signDetached(payload, new KmsSigner(fakeKms(oldKey, oldArn, []), oldArn), {
      typ: JWS_TYPES.manifest,
    });

    const client = fakeKms(key, arn, []);
    // The same fake answers GetPublicKey for the old key id too.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { KeyId?: string };
        if (context.commandName === 'GetPublicKeyCommand' && input.KeyId === oldArn) {
          return {
            output: {
              $metadata: {},
              KeyId: oldArn,
              KeySpec: 'ECC_NIST_P256',
              KeyUsage: 'SIGN_VERIFY',
              PublicKey: createPublicKey(oldKey).export({ format: 'der', type: 'spki' }),
            },
            response: {},
          };
        }
        return next(args);
      },
      { step: 'initialize', name: 'oldKey', priority: 'high' },
    );
    const gone = arn.replace('1234abcd', 'deadbeef');
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (
          context.commandName === 'GetPublicKeyCommand' &&
          (args.input as { KeyId?: string }).KeyId === gone
        ) {
          throw Object.assign(new Error('Key not found'), { name: 'NotFoundException' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'goneKey', priority: 'high' },
    );
    const signer = new KmsSigner(client, arn, [oldArn, gone]);
    const jwks = await signer.publicJwks();
    // The unreadable retired key is left out; the JWKS still serves the others.
    expect(jwks.keys).toHaveLength(2);
    expect(jwks.keys[0]?.kid).toBe(await signer.keyId());
    expect((await verifyDetached(oldJws, payload, { jwks }, { typ: JWS_TYPES.manifest })).ok).toBe(true);
  });

  it('refuses a KMS key that is not an ECC_NIST_P256 signing key', async () => {
    const client = new KMSClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    client.middlewareStack.add(
      () => async () => ({
        output: {
          $metadata: {},
          KeyId: arn,
          KeySpec: 'RSA_2048',
          KeyUsage: 'SIGN_VERIFY',
          PublicKey: new Uint8Array([1]),
        },
        response: {},
      }),
      { step: 'initialize' },
    );
    await expect(new KmsSigner(client, arn).keyId()).rejects.toBeInstanceOf(ConfigError);
  });

  it('never returns a signature that does not verify under the key it claims', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const client = fakeKms(other, arn, []);
    // GetPublicKey reports `key`, but Sign uses `other`: a mismatch must be caught.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetPublicKeyCommand') {
          return {
            output: {
              $metadata: {},
              KeyId: arn,
              KeySpec: 'ECC_NIST_P256',
              KeyUsage: 'SIGN_VERIFY',
              PublicKey: createPublicKey(key).export({ format: 'der', type: 'spki' }),
            },
            response: {},
          };
        }
        return next(args);
      },
      { step: 'initialize', name: 'mismatch', priority: 'high' },
    );
    await expect(new KmsSigner(client, arn).sign(Buffer.from('x'))).rejects.toThrow(/does not verify/);
  });
});

describe('signerFromEnv', () => {
  it('uses KMS when SIGNING_KMS_KEY_ID is set, even if a key directory is also set', () => {
    const kms = new KMSClient({ region: 'eu-west-1' });
    expect(signerFromEnv({ SIGNING_KMS_KEY_ID: 'alias/x', SIGNING_KEY_DIR: '/tmp/x' }, kms)).toBeInstanceOf(
      KmsSigner,
    );
  });

  it('uses the local directory when only SIGNING_KEY_DIR is set', () => {
    expect(signerFromEnv({ SIGNING_KEY_DIR: '/tmp/x' })).toBeInstanceOf(LocalSigner);
  });

  it('throws a ConfigError naming both variables when neither is set', () => {
    expect(() => signerFromEnv({})).toThrow(ConfigError);
    expect(() => signerFromEnv({})).toThrow(/SIGNING_KMS_KEY_ID.*SIGNING_KEY_DIR/);
  });
});
