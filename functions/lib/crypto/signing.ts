/**
 * Signing keys behind one interface. In AWS the private key never leaves KMS (an asymmetric
 * ECC_NIST_P256 key; we send it a SHA-256 digest, since KMS signs at most 4096 bytes of message);
 * locally it is a P-256 key in a directory. Either way the public keys are published as a JWKS whose
 * `kid`s are RFC 7638 thumbprints, so a signature names the exact key that made it, and keys that
 * were rotated out stay in the JWKS for old archives to verify.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { kmsClient } from '../aws/clients';
import { ConfigError } from '../runtime/config';
import { errorFields, log } from '../runtime/logger';
import {
  derToJoseSignature,
  publicJwk,
  SigningError,
  type EcPublicJwk,
  type Jwks,
  type JwsSigner,
} from './jws';

export type { EcPublicJwk as JWK, Jwks };

export interface ArchiveSigner extends JwsSigner {
  /** Thumbprint of the key `sign` uses. */
  keyId(): Promise<string>;
  /** ES256 over `data` (SHA-256 inside): the JOSE signature, raw r||s, 64 bytes. */
  sign(data: Buffer): Promise<Buffer>;
  /** Every public key a signature of ours may need: the current one first, then retired ones. */
  publicJwks(): Promise<Jwks>;
}

const SIGNING_ENV = {
  kmsKeyId: 'SIGNING_KMS_KEY_ID',
  kmsPreviousKeyIds: 'SIGNING_KMS_PREVIOUS_KEY_IDS',
  keyDir: 'SIGNING_KEY_DIR',
} as const;

function signLocally(privateKey: KeyObject, data: Buffer): Buffer {
  return cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
}

interface LocalKey {
  kid: string;
  privateKey: KeyObject;
}

const CURRENT_FILE = 'current';
const privateFile = (kid: string) => `${kid}.private.pem`;
const publicFile = (kid: string) => `${kid}.public.pem`;
const PUBLIC_SUFFIX = '.public.pem';

function isErrno(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | undefined)?.code === code;
}

/** The public keys in a local key directory, current first; read-only (creates nothing). */
export async function localPublicJwks(dir: string): Promise<Jwks> {
  let current: string | undefined;
  try {
    current = (await readFile(join(dir, CURRENT_FILE), 'utf8')).trim();
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  const names = (await readdir(dir)).filter((name) => name.endsWith(PUBLIC_SUFFIX)).sort();
  const keys: EcPublicJwk[] = [];
  for (const name of names)
    keys.push(await publicJwk(createPublicKey(await readFile(join(dir, name), 'utf8'))));
  keys.sort((a, b) => Number(b.kid === current) - Number(a.kid === current));
  return { keys };
}

/**
 * P-256 keys in a directory (local stack): `<kid>.private.pem` (0600), `<kid>.public.pem`, and a file
 * `current` naming the key in use. The first use creates a key; `rotate()` makes a new current key and
 * deletes the old private key, keeping its public key so archives it signed still verify.
 * An instance pins its key on first use, so `keyId()` and `sign()` always agree.
 */
export class LocalSigner implements ArchiveSigner {
  private pinned: Promise<LocalKey> | undefined;

  constructor(private readonly dir: string) {}

  async keyId(): Promise<string> {
    return (await this.key()).kid;
  }

  async sign(data: Buffer): Promise<Buffer> {
    return signLocally((await this.key()).privateKey, data);
  }

  /** Creates the first key if there is none yet, so the published JWKS is never empty. */
  async publicJwks(): Promise<Jwks> {
    await this.key();
    return localPublicJwks(this.dir);
  }

  /** Makes a new key the current one. Returns its kid. */
  async rotate(): Promise<string> {
    const previous = await this.readCurrent();
    const created = await this.writeNewKey();
    const temp = join(this.dir, `${CURRENT_FILE}.${created.kid}.tmp`);
    await writeFile(temp, created.kid, { mode: 0o600 });
    await rename(temp, join(this.dir, CURRENT_FILE));
    if (previous && previous.kid !== created.kid)
      await rm(join(this.dir, privateFile(previous.kid)), { force: true });
    this.pinned = Promise.resolve(created);
    return created.kid;
  }

  private key(): Promise<LocalKey> {
    this.pinned ??= this.loadOrCreate().catch((error: unknown) => {
      this.pinned = undefined;
      throw error;
    });
    return this.pinned;
  }

  private async readCurrent(): Promise<LocalKey | undefined> {
    let kid: string;
    try {
      kid = (await readFile(join(this.dir, CURRENT_FILE), 'utf8')).trim();
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
    if (!/^[A-Za-z0-9_-]{43}$/.test(kid))
      throw new ConfigError(`The signing key directory has a malformed current key id`);
    const pem = await readFile(join(this.dir, privateFile(kid)), 'utf8');
    const privateKey = await createPrivateKeyChecked(pem, kid);
    return { kid, privateKey };
  }

  private async writeNewKey(): Promise<LocalKey> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { kid } = await publicJwk(publicKey);
    await writeFile(join(this.dir, privateFile(kid)), privateKey.export({ format: 'pem', type: 'pkcs8' }), {
      mode: 0o600,
      flag: 'wx',
    });
    await writeFile(join(this.dir, publicFile(kid)), publicKey.export({ format: 'pem', type: 'spki' }), {
      mode: 0o644,
      flag: 'wx',
    });
    return { kid, privateKey };
  }

  private async loadOrCreate(): Promise<LocalKey> {
    const existing = await this.readCurrent();
    if (existing) return existing;
    const created = await this.writeNewKey();
    try {
      // 'wx': if another process created a key at the same moment, its key wins and ours is dropped.
      await writeFile(join(this.dir, CURRENT_FILE), created.kid, { mode: 0o600, flag: 'wx' });
      return created;
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
      await rm(join(this.dir, privateFile(created.kid)), { force: true });
      await rm(join(this.dir, publicFile(created.kid)), { force: true });
      const winner = await this.readCurrent();
      if (!winner) throw new SigningError('The signing key directory lost its current key');
      return winner;
    }
  }
}

async function createPrivateKeyChecked(pem: string, kid: string): Promise<KeyObject> {
  const key = createPrivateKey(pem);
  if ((await publicJwk(key)).kid !== kid)
    throw new ConfigError('A signing key file does not match its key id');
  return key;
}

interface KmsKey {
  /** The key's ARN: we sign with it, never with an alias that could be re-pointed mid-request. */
  arn: string;
  jwk: EcPublicJwk;
  publicKey: KeyObject;
}

/**
 * An asymmetric KMS key (KeySpec ECC_NIST_P256, KeyUsage SIGN_VERIFY). `SIGNING_KMS_KEY_ID` may be a
 * key id, ARN or alias; it is resolved once to the key's ARN and pinned for this instance. The kid is
 * the RFC 7638 thumbprint of the key's public key (not its ARN, which would leak the account id).
 */
export class KmsSigner implements ArchiveSigner {
  private pinned: Promise<KmsKey> | undefined;

  constructor(
    private readonly kms: KMSClient,
    private readonly keyRef: string,
    private readonly previousKeyRefs: readonly string[] = [],
  ) {}

  async keyId(): Promise<string> {
    return (await this.current()).jwk.kid;
  }

  async sign(data: Buffer): Promise<Buffer> {
    const key = await this.current();
    const digest = createHash('sha256').update(data).digest();
    const out = await this.kms.send(
      new SignCommand({
        KeyId: key.arn,
        Message: digest,
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    if (!out.Signature) throw new SigningError('KMS returned no signature');
    const raw = derToJoseSignature(out.Signature);
    // A signature that does not verify under the key we publish must never leave this function.
    if (!verify('sha256', data, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, raw)) {
      throw new SigningError('The KMS signature does not verify with the key it claims');
    }
    return raw;
  }

  async publicJwks(): Promise<Jwks> {
    const keys: EcPublicJwk[] = [(await this.current()).jwk];
    for (const [position, ref] of this.previousKeyRefs.entries()) {
      try {
        const { jwk } = await this.fetch(ref);
        if (!keys.some((k) => k.kid === jwk.kid)) keys.push(jwk);
      } catch (error) {
        // One unreadable retired key must not take the whole JWKS down; it is logged and left out.
        log.warn('previous signing key unavailable', { position, ...errorFields(error) });
      }
    }
    return { keys };
  }

  private current(): Promise<KmsKey> {
    this.pinned ??= this.fetch(this.keyRef).catch((error: unknown) => {
      this.pinned = undefined;
      throw error;
    });
    return this.pinned;
  }

  private async fetch(ref: string): Promise<KmsKey> {
    const out = await this.kms.send(new GetPublicKeyCommand({ KeyId: ref }));
    if (!out.PublicKey || !out.KeyId) throw new SigningError('KMS returned no public key');
    if (out.KeySpec !== 'ECC_NIST_P256' || out.KeyUsage !== 'SIGN_VERIFY') {
      throw new ConfigError(`${SIGNING_ENV.kmsKeyId} must name an ECC_NIST_P256 SIGN_VERIFY key`);
    }
    if (out.SigningAlgorithms && !out.SigningAlgorithms.includes('ECDSA_SHA_256')) {
      throw new ConfigError(`${SIGNING_ENV.kmsKeyId} must support ECDSA_SHA_256`);
    }
    const publicKey = createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' });
    return { arn: out.KeyId, jwk: await publicJwk(publicKey), publicKey };
  }
}

/**
 * KMS when SIGNING_KMS_KEY_ID is set (AWS), else a local key directory when SIGNING_KEY_DIR is set
 * (local stack), else a ConfigError naming both.
 */
export function signerFromEnv(env: NodeJS.ProcessEnv = process.env, kms?: KMSClient): ArchiveSigner {
  const kmsKeyId = env[SIGNING_ENV.kmsKeyId];
  if (kmsKeyId) {
    const previous = (env[SIGNING_ENV.kmsPreviousKeyIds] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    return new KmsSigner(kms ?? kmsClient(), kmsKeyId, previous);
  }
  const dir = env[SIGNING_ENV.keyDir];
  if (dir) return new LocalSigner(dir);
  throw new ConfigError(
    `No signing key configured: set ${SIGNING_ENV.kmsKeyId} (a KMS key, in AWS) or ${SIGNING_ENV.keyDir} (a local key directory)`,
  );
}
