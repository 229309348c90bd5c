/**
 * The keyed hash that names a subject in the log index: HMAC-SHA-256 of the identifier under a key of the
 * index's own, cut to 128 bits. An index of 10 million lines a day hashes every distinct id of every
 * object it reads, so the hash is computed in the function itself, never by a KMS call per id. The key
 * is derived once per cold start from the subject-hash key (one GenerateMac in AWS, the local key file on
 * the local stack): the same trust boundary as every other subject hash, no stored secret, and apart from
 * the subject hashes themselves (docs/log-index.md, "Hashing").
 */
import { createHmac } from 'node:crypto';
import type { SubjectHasher } from '../crypto/subject-hash';

/** What the subject-hash key MACs to derive the index key; a new label is a new index (rebuild it). */
export const LOG_INDEX_KEY_LABEL = 'dsr-log-index-key:v1';
const HASH_BYTES = 16;

export class LogIndexHasher {
  constructor(private readonly key: Buffer) {}

  /** The index key, derived from the subject-hash key. */
  static async derive(subjectHasher: SubjectHasher): Promise<LogIndexHasher> {
    return new LogIndexHasher(Buffer.from(await subjectHasher.hash(LOG_INDEX_KEY_LABEL), 'base64url'));
  }

  user(userId: string): string {
    return this.hash('user', userId);
  }

  device(deviceId: string): string {
    return this.hash('device', deviceId);
  }

  private hash(kind: string, id: string): string {
    return createHmac('sha256', this.key)
      .update(`${kind}\u0000${id}`, 'utf8')
      .digest()
      .subarray(0, HASH_BYTES)
      .toString('base64url');
  }
}

/** Derives the hasher on first use and keeps it for the life of the container. */
export function lazyIndexHasher(subjectHasher: () => SubjectHasher): () => Promise<LogIndexHasher> {
  let derived: Promise<LogIndexHasher> | undefined;
  return () => {
    derived ??= LogIndexHasher.derive(subjectHasher()).catch((error: unknown) => {
      derived = undefined;
      throw error;
    });
    return derived;
  };
}
