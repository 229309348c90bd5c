/**
 * The keyed hash that names a subject in the log index: AES-256-CMAC of the kind and the identifier
 * under a key of the index's own, 128 bits (22 base64url characters). An index of 10 million lines a day
 * hashes every distinct id of every object it reads, so the hash is computed in the function itself,
 * never by a KMS call per id, all of an object's ids in one batch. The key is derived once per cold
 * start from the subject-hash key (one GenerateMac in AWS, the local key file on the local stack): the
 * same trust boundary as every other subject hash, no stored secret, and apart from the subject hashes
 * themselves (docs/log-index.md, "Hashing").
 */
import type { SubjectHasher } from '../crypto/subject-hash';
import { Cmac } from '../crypto/cmac';
import { HASH_BYTES, objectFileOf } from './index-files';
import { LogIdReaders, type LogIdReader } from './log-ids';
import type { DistinctIds } from './subject-ids';

/**
 * The index's hash, by name: a new hash or key is a new version, and a new index, kept apart from the
 * old one (under this name, index-store.ts) and built again by the backfill. v1 was HMAC-SHA-256.
 */
export const LOG_INDEX_VERSION = 'v2';
/** What the subject-hash key MACs to derive the index key. */
export const LOG_INDEX_KEY_LABEL = `dsr-log-index-key:${LOG_INDEX_VERSION}`;
/** AES-256's key. */
const KEY_BYTES = 32;
/** Ids hashed from strings kept per container and kind (the request path's, and escaped lines'). */
const CACHED_HASHES = 500_000;

type Kind = 'user' | 'device';

/** What a container keeps of one kind of id. */
interface KindCache {
  /** What a message of this kind starts with: the kind and a NUL, so a user and a device hash apart. */
  prefix: Buffer;
  byString: Map<string, string>;
}

export class LogIndexHasher {
  private readonly users: KindCache;
  private readonly devices: KindCache;
  private readonly cmac: Cmac;
  /** The readers objects are read with, one per object being read at once (beginObject, endObject). */
  private readonly readers = new LogIdReaders();

  /**
   * `keyMaterial`: its first 32 bytes are the AES key. `cachedHashes` bounds each cache of string ids (a
   * test sets it low).
   */
  constructor(
    keyMaterial: Buffer,
    private readonly cachedHashes = CACHED_HASHES,
  ) {
    if (keyMaterial.length < KEY_BYTES) throw new RangeError('The log index key is shorter than 32 bytes');
    this.cmac = new Cmac(keyMaterial.subarray(0, KEY_BYTES));
    const cache = (kind: Kind): KindCache => ({
      prefix: Buffer.from(`${kind}\u0000`, 'latin1'),
      byString: new Map(),
    });
    this.users = cache('user');
    this.devices = cache('device');
  }

  /** A reader for an object's ids (SubjectIdCollector), until endObject gives it back. */
  beginObject(): LogIdReader {
    return this.readers.take();
  }

  /** After the object file of the object read with `reader`. */
  endObject(reader: LogIdReader): void {
    this.readers.give(reader);
  }

  /** The index key, derived from the subject-hash key. */
  static async derive(subjectHasher: SubjectHasher): Promise<LogIndexHasher> {
    return new LogIndexHasher(Buffer.from(await subjectHasher.hash(LOG_INDEX_KEY_LABEL), 'base64url'));
  }

  user(userId: string): string {
    return this.cached(this.users, userId);
  }

  device(deviceId: string): string {
    return this.cached(this.devices, deviceId);
  }

  /**
   * The object file of an object's distinct ids (index-files.ts): the hashes of its users' and devices'
   * ids, sorted, each once (a collision aside). The ids read as bytes are hashed in one batch per kind,
   * from their bytes (no string per id): the bytes of an ASCII id are its UTF-8, as the connector reads
   * it; any other (rare) is hashed again from its string, as the connector decodes it.
   */
  objectFile(subjects: { userIds: DistinctIds; deviceIds: DistinctIds }): Buffer {
    const kinds = [
      [subjects.userIds, this.users],
      [subjects.deviceIds, this.devices],
    ] as const;
    const count = kinds.reduce((n, [ids]) => n + ids.bytes().count + ids.strings.size, 0);
    const raw = Buffer.alloc(count * HASH_BYTES);
    let at = 0;
    for (const [ids, cache] of kinds) {
      ids.macs(cache.prefix, this.cmac).copy(raw, at);
      // (After the MACs: making them can grow the reader's memory, which ends the views before it.)
      const { count: byteIds, arena, ends, others } = ids.bytes();
      for (const n of others) {
        const id = arena.toString('utf8', n === 0 ? 0 : ends[n - 1], ends[n]);
        raw.write(this.cached(cache, id), at + n * HASH_BYTES, HASH_BYTES, 'base64url');
      }
      at += byteIds * HASH_BYTES;
      // Byte strings and strings of one id can meet (an escaped line, invalid UTF-8): the file holds each
      // once.
      for (const id of ids.strings) at += raw.write(this.cached(cache, id), at, HASH_BYTES, 'base64url');
    }
    return objectFileOf(raw.subarray(0, at));
  }

  private cached(cache: KindCache, id: string): string {
    let mac = cache.byString.get(id);
    if (mac === undefined) {
      mac = this.cmac.mac(Buffer.concat([cache.prefix, Buffer.from(id, 'utf8')])).toString('base64url');
      if (cache.byString.size >= this.cachedHashes) cache.byString.clear();
      cache.byString.set(id, mac);
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
