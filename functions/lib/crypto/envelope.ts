/**
 * Envelope encryption: an AES-256 data key issued and wrapped by a key-encryption key (a KMS symmetric
 * key in AWS), the payload sealed with AES-256-GCM here, and only the wrapped data key stored beside it.
 * Whoever may ask for data keys (kms:GenerateDataKey) can seal; only whoever may unwrap them
 * (kms:Decrypt) can open. The payload's encryption context is the GCM additional data, so a sealed
 * payload moved to another entry opens nowhere. `seal` issues a data key per payload under that context
 * (KMS then refuses to unwrap it under any other); `SharedKeySealer` issues one for many payloads under a
 * context naming the key, so IAM conditions can still name its purpose and store. Encryption contexts are
 * logged in plain text (CloudTrail): they must hold no personal data.
 *
 * On the local stack there is no KMS: `LocalKeyStandIn` plays the key and the caller's grants (a writer
 * gets GenerateDataKey only, as its IAM role does in AWS), with a random key file under `.local/keys/`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { AppError } from '../runtime/errors';

export type EncryptionContext = Readonly<Record<string, string>>;

export interface DataKey {
  plaintext: Buffer;
  /** The data key wrapped by the key-encryption key: what is stored. */
  encrypted: Buffer;
}

/** What a writer holds: new data keys, never the means to unwrap one. */
export interface DataKeyIssuer {
  generateDataKey(context: EncryptionContext): Promise<DataKey>;
}

/** What a reader holds: unwrapping a stored data key under the context it was issued with. */
export interface DataKeyOpener {
  decryptDataKey(encrypted: Buffer, context: EncryptionContext): Promise<Buffer>;
}

/**
 * A payload sealed under one data key (stored as DynamoDB binary attributes). Version 1: a data key of
 * its own, issued under the payload's context. Version 2 (SharedKeySealer): a data key shared by several
 * payloads, issued under a context naming `keyId`; the payload's own context is its GCM additional data.
 */
export interface Sealed {
  /** Format version. */
  v: 1 | 2;
  alg: 'A256GCM';
  /** Version 2: the shared data key's id, which its key context names. */
  keyId?: string;
  dataKey: Uint8Array;
  iv: Uint8Array;
  tag: Uint8Array;
  ciphertext: Uint8Array;
}

/** A sealed payload that does not open: wrong context, wrong key, or altered bytes. No details. */
export class EnvelopeError extends AppError {
  override name = 'EnvelopeError';
  constructor(message: string) {
    super(message, 'ENVELOPE');
  }
}

/** KMS's own refusal when the caller lacks the grant (the local stand-in throws the same name). */
export class AccessDeniedError extends AppError {
  override name = 'AccessDeniedException';
  constructor(message: string) {
    super(message, 'ACCESS_DENIED');
  }
}

/** One canonical string of the context (sorted keys), the GCM additional data. */
function contextAad(context: EncryptionContext): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), ciphertext };
}

function gcmOpen(
  key: Buffer,
  parts: { iv: Uint8Array; tag: Uint8Array; ciphertext: Uint8Array },
  aad: Buffer,
) {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, parts.iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(Buffer.from(parts.tag));
    return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
  } catch {
    throw new EnvelopeError('The sealed payload does not open under this key and context');
  }
}

/**
 * Seals one payload under a data key of its own, issued under the payload's context (format 1). The
 * vault seals with SharedKeySealer since; what it sealed before opens as ever.
 */
export async function seal(
  issuer: DataKeyIssuer,
  context: EncryptionContext,
  plaintext: Buffer,
): Promise<Sealed> {
  const key = await issuer.generateDataKey(context);
  try {
    const { iv, tag, ciphertext } = gcmSeal(key.plaintext, plaintext, contextAad(context));
    return { v: 1, alg: 'A256GCM', dataKey: key.encrypted, iv, tag, ciphertext };
  } finally {
    key.plaintext.fill(0);
  }
}

/**
 * Opens a sealed payload under its own context. A version 2 payload's data key is unwrapped under
 * `keyContext(keyId)`, the context it was issued with (SharedKeySealer).
 */
export async function open(
  opener: DataKeyOpener,
  context: EncryptionContext,
  sealed: Sealed,
  keyContext?: (keyId: string) => EncryptionContext,
): Promise<Buffer> {
  if (sealed.alg !== 'A256GCM') throw new EnvelopeError('Unknown sealed format');
  let unwrapUnder: EncryptionContext;
  if (sealed.v === 1) unwrapUnder = context;
  else if (sealed.v === 2 && typeof sealed.keyId === 'string' && keyContext)
    unwrapUnder = keyContext(sealed.keyId);
  else throw new EnvelopeError('Unknown sealed format');
  const key = await opener.decryptDataKey(Buffer.from(sealed.dataKey), unwrapUnder);
  try {
    return gcmOpen(key, sealed, contextAad(context));
  } finally {
    key.fill(0);
  }
}

interface SharedKey {
  keyId: string;
  key: Promise<DataKey>;
  uses: number;
  issuedAt: number;
}

/**
 * Seals many payloads under few data keys (version 2): one GenerateDataKey per `maxUses` payloads or
 * `maxAgeMs`, per group (a vault writer's store), instead of one per payload: a log job that keeps
 * thousands of lines in the vault would otherwise make as many KMS calls, against KMS's request quota
 * and at its price. Each data key is issued under `keyContext(keyId)` for a random id of its own; each
 * payload is bound to its own context by the GCM additional data (and a random IV), so a payload moved to
 * another entry still opens nowhere. A key past its limits is zeroed once no seal can use it any more.
 */
export class SharedKeySealer {
  private readonly current = new Map<string, SharedKey>();

  constructor(
    private readonly issuer: DataKeyIssuer,
    private readonly limits: { maxUses: number; maxAgeMs: number } = { maxUses: 10_000, maxAgeMs: 300_000 },
    private readonly now: () => number = Date.now,
  ) {}

  async seal(
    group: string,
    keyContext: (keyId: string) => EncryptionContext,
    context: EncryptionContext,
    plaintext: Buffer,
  ): Promise<Sealed> {
    for (;;) {
      let shared = this.current.get(group);
      if (!shared || this.spent(shared)) {
        if (shared) void this.retire(group, shared);
        shared = this.issue(group, keyContext);
      }
      const key = await shared.key;
      // Replaced or spent while this seal waited for it: take the current one.
      if (this.current.get(group) !== shared || this.spent(shared)) continue;
      shared.uses += 1;
      const { iv, tag, ciphertext } = gcmSeal(key.plaintext, plaintext, contextAad(context));
      return { v: 2, alg: 'A256GCM', keyId: shared.keyId, dataKey: key.encrypted, iv, tag, ciphertext };
    }
  }

  private spent(shared: SharedKey): boolean {
    return shared.uses >= this.limits.maxUses || this.now() - shared.issuedAt >= this.limits.maxAgeMs;
  }

  private issue(group: string, keyContext: (keyId: string) => EncryptionContext): SharedKey {
    const keyId = randomBytes(16).toString('base64url');
    const shared: SharedKey = {
      keyId,
      key: this.issuer.generateDataKey(keyContext(keyId)),
      uses: 0,
      issuedAt: this.now(),
    };
    this.current.set(group, shared);
    // A refused key is forgotten, so the next seal asks again (its own callers see the error).
    shared.key.catch(() => {
      if (this.current.get(group) === shared) this.current.delete(group);
    });
    return shared;
  }

  /** Out of use: the seals that still wait for it find it replaced and do not use it. */
  private retire(group: string, shared: SharedKey): Promise<void> {
    if (this.current.get(group) === shared) this.current.delete(group);
    return shared.key.then(
      (key) => void key.plaintext.fill(0),
      () => undefined,
    );
  }
}

/** A KMS symmetric key: GenerateDataKey (AES_256) and Decrypt, each with the encryption context. */
export class KmsDataKeys implements DataKeyIssuer, DataKeyOpener {
  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
  ) {}

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const out = await this.kms.send(
      new GenerateDataKeyCommand({
        KeyId: this.keyId,
        KeySpec: 'AES_256',
        EncryptionContext: { ...context },
      }),
    );
    if (!out.Plaintext || !out.CiphertextBlob) throw new EnvelopeError('KMS returned no data key');
    return { plaintext: Buffer.from(out.Plaintext), encrypted: Buffer.from(out.CiphertextBlob) };
  }

  async decryptDataKey(encrypted: Buffer, context: EncryptionContext): Promise<Buffer> {
    const out = await this.kms.send(
      // The key is named: a blob wrapped by any other key is refused, not unwrapped with it.
      new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: encrypted, EncryptionContext: { ...context } }),
    );
    if (!out.Plaintext) throw new EnvelopeError('KMS returned no plaintext');
    return Buffer.from(out.Plaintext);
  }
}

export type KeyGrant = 'kms:GenerateDataKey' | 'kms:Decrypt';

/**
 * The local stand-in for a KMS symmetric key as one caller sees it: the key (a 32-byte file) and that
 * caller's grants. A data key is wrapped with AES-256-GCM under the key with the context as additional
 * data, so unwrapping under another context fails as KMS's does (InvalidCiphertextException).
 */
export class LocalKeyStandIn implements DataKeyIssuer, DataKeyOpener {
  constructor(
    private readonly key: Buffer,
    private readonly grants: ReadonlySet<KeyGrant>,
  ) {
    if (key.length !== 32) throw new EnvelopeError('A local key is 32 bytes');
  }

  /** Reads the key file, creating it (0600) on first use. */
  static fromFile(path: string, grants: readonly KeyGrant[]): LocalKeyStandIn {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      try {
        writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
      } catch (error) {
        // Another process of the stack created it first: use theirs.
        if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
      }
    }
    return new LocalKeyStandIn(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64'), new Set(grants));
  }

  private require(grant: KeyGrant): void {
    if (!this.grants.has(grant)) throw new AccessDeniedError(`Not authorized to perform ${grant} on the key`);
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    this.require('kms:GenerateDataKey');
    const plaintext = randomBytes(32);
    const { iv, tag, ciphertext } = gcmSeal(this.key, plaintext, contextAad(context));
    return { plaintext, encrypted: Buffer.concat([iv, tag, ciphertext]) };
  }

  async decryptDataKey(encrypted: Buffer, context: EncryptionContext): Promise<Buffer> {
    this.require('kms:Decrypt');
    try {
      return gcmOpen(
        this.key,
        {
          iv: encrypted.subarray(0, 12),
          tag: encrypted.subarray(12, 28),
          ciphertext: encrypted.subarray(28),
        },
        contextAad(context),
      );
    } catch {
      throw Object.assign(new EnvelopeError('The data key does not unwrap under this context'), {
        name: 'InvalidCiphertextException',
      });
    }
  }
}
