/**
 * The keyed hash that names a subject in the log index: HMAC-SHA-256 of the identifier under a key of the
 * index's own, cut to 132 bits (22 base64url characters). An index of 10 million lines a day hashes every
 * distinct id of every object it reads, so the hash is computed in the function itself, never by a KMS
 * call per id, and kept for the ids the same container meets again (most users appear in many objects).
 * The key is derived once per cold start from the subject-hash key (one GenerateMac in AWS, the local key
 * file on the local stack): the same trust boundary as every other subject hash, no stored secret, and
 * apart from the subject hashes themselves (docs/log-index.md, "Hashing").
 */
import { hash } from 'node:crypto';
import type { SubjectHasher } from '../crypto/subject-hash';

/** What the subject-hash key MACs to derive the index key; a new label is a new index (rebuild it). */
export const LOG_INDEX_KEY_LABEL = 'dsr-log-index-key:v1';
/** SHA-256's block: HMAC pads its key to this. */
const BLOCK_BYTES = 64;
const HASH_CHARACTERS = 22;
/** Hashes kept per container and kind: about 100 bytes each. Past it the cache starts again. */
const CACHED_HASHES = 500_000;

export class LogIndexHasher {
  /** Per kind, keyed by the id itself: a lookup builds no string. */
  private readonly users = new Map<string, string>();
  private readonly devices = new Map<string, string>();
  /** HMAC's inner padded key, as text (all ASCII: see the constructor). */
  private readonly innerPad: string;
  private readonly outerPad: Buffer;
  /** The HMAC key itself (for the test that checks this is HMAC-SHA-256). */
  readonly key: Buffer;

  /**
   * HMAC-SHA-256 written out with Node's one-shot hash, at half the cost of createHmac per id: the key's
   * bytes are cut to 7 bits (224 bits of the 256 derived remain), so both padded keys are ASCII and the
   * inner hash runs on one string, without copying the identifier into a buffer.
   */
  constructor(keyMaterial: Buffer) {
    this.key = Buffer.from(keyMaterial.subarray(0, BLOCK_BYTES).map((byte) => byte & 0x7f));
    const padded = Buffer.alloc(BLOCK_BYTES);
    this.key.copy(padded);
    this.innerPad = Buffer.from(padded.map((byte) => byte ^ 0x36)).toString('latin1');
    this.outerPad = Buffer.from(padded.map((byte) => byte ^ 0x5c));
  }

  /** The index key, derived from the subject-hash key. */
  static async derive(subjectHasher: SubjectHasher): Promise<LogIndexHasher> {
    return new LogIndexHasher(Buffer.from(await subjectHasher.hash(LOG_INDEX_KEY_LABEL), 'base64url'));
  }

  user(userId: string): string {
    return this.cached(this.users, 'user', userId);
  }

  device(deviceId: string): string {
    return this.cached(this.devices, 'device', deviceId);
  }

  private cached(cache: Map<string, string>, kind: string, id: string): string {
    let mac = cache.get(id);
    if (mac === undefined) {
      const inner = hash('sha256', `${this.innerPad}${kind}\u0000${id}`, 'buffer');
      mac = hash('sha256', Buffer.concat([this.outerPad, inner]), 'base64url').slice(0, HASH_CHARACTERS);
      if (cache.size >= CACHED_HASHES) cache.clear();
      cache.set(id, mac);
    }
    return mac;
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
