/**
 * Keyed hashes that name subjects in our own records (requests, manifests, certificates, audit):
 * recognisable to us, meaningless to anyone without the key. In AWS the key is a KMS HMAC key
 * (GenerateMac); on the local stack, a random key file under .local/.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { GenerateMacCommand, type KMSClient } from '@aws-sdk/client-kms';
import { kmsClient } from '../aws/clients';
import { ConfigError } from '../runtime/config';

export interface SubjectHasher {
  hash(value: string): Promise<string>;
}

export class LocalSubjectHasher implements SubjectHasher {
  constructor(private readonly key: Buffer) {}

  async hash(value: string): Promise<string> {
    return createHmac('sha256', this.key).update(value, 'utf8').digest('base64url');
  }

  /** Reads the key file, creating it (0600) on first use. */
  static fromFile(path: string): LocalSubjectHasher {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600 });
    }
    return new LocalSubjectHasher(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64'));
  }
}

class KmsSubjectHasher implements SubjectHasher {
  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
  ) {}

  async hash(value: string): Promise<string> {
    const out = await this.kms.send(
      new GenerateMacCommand({
        KeyId: this.keyId,
        MacAlgorithm: 'HMAC_SHA_256',
        Message: Buffer.from(value, 'utf8'),
      }),
    );
    if (!out.Mac) throw new Error('KMS returned no MAC');
    return Buffer.from(out.Mac).toString('base64url');
  }
}

/**
 * Hashes each distinct value once: a batch of work (a stream batch, a backfill page) hashes the same
 * account's identifiers many times, and in AWS each hash is a KMS call. A failed hash is not kept.
 */
export function memoizedHasher(hasher: SubjectHasher): SubjectHasher {
  const hashes = new Map<string, Promise<string>>();
  return {
    hash(value: string): Promise<string> {
      let hash = hashes.get(value);
      if (!hash) {
        hash = hasher.hash(value);
        hashes.set(value, hash);
        hash.catch(() => hashes.delete(value));
      }
      return hash;
    },
  };
}

/** A keyed hasher from the environment: a KMS HMAC key in AWS, or a local key file. */
export function keyedHasherFromEnv(
  kmsKeyVariable: string,
  keyFileVariable: string,
  env: NodeJS.ProcessEnv = process.env,
): SubjectHasher {
  const kmsKeyId = env[kmsKeyVariable];
  if (kmsKeyId) return new KmsSubjectHasher(kmsClient(), kmsKeyId);
  const keyFile = env[keyFileVariable];
  if (keyFile) return LocalSubjectHasher.fromFile(keyFile);
  throw new ConfigError(
    `Missing required environment variable ${kmsKeyVariable} (or ${keyFileVariable} locally)`,
  );
}

/** The variables naming the subject-hash key: a KMS HMAC key in AWS, a key file on the local stack. */
export const SUBJECT_HASH_KEY_ENV = {
  kmsKeyId: 'SUBJECT_HASH_KMS_KEY_ID',
  keyFile: 'SUBJECT_HASH_KEY_FILE',
} as const;

export function subjectHasherFromEnv(env: NodeJS.ProcessEnv = process.env): SubjectHasher {
  return keyedHasherFromEnv(SUBJECT_HASH_KEY_ENV.kmsKeyId, SUBJECT_HASH_KEY_ENV.keyFile, env);
}

/** The canonical string hashed for an identifier: kind-prefixed and normalised, so equal ids hash equal. */
export function identifierKey(kind: string, value: string): string {
  const normalised = kind === 'email' ? value.trim().toLowerCase() : value.trim();
  return `${kind}:${normalised}`;
}

/**
 * The canonical string of a linked external account: its two parts as a JSON array, not joined with
 * `:`, so provider `a:b` with id `c` and provider `a` with id `b:c` are different accounts.
 */
export function externalAccountKey(account: { provider: string; providerUserId: string }): string {
  const parts = [account.provider.trim(), account.providerUserId.trim()];
  return identifierKey('externalAccount', JSON.stringify(parts));
}
