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
import { ContractError } from '../runtime/errors';
import { copyHash, HASH_BYTES, objectFileOf } from './index-files';
import { IdTable, type DistinctIds, type IdTables } from './subject-ids';

/** What the subject-hash key MACs to derive the index key; a new label is a new index (rebuild it). */
export const LOG_INDEX_KEY_LABEL = 'dsr-log-index-key:v1';
/** SHA-256's block: HMAC pads its key to this. */
const BLOCK_BYTES = 64;
const HASH_CHARACTERS = 22;
/**
 * Hashes kept per container and kind: about 100 bytes each. Past it the cache starts again, between
 * objects (when no object being read refers to it).
 */
const CACHED_HASHES = 500_000;
/** Longer ids (rare) are hashed from a string. */
const INNER_ID_BYTES = 256;

type Kind = 'user' | 'device';

/** What a container keeps of one kind of id: its hashes by the id as a string, and by its bytes. */
interface KindCache {
  kind: Kind;
  byString: Map<string, string>;
  /** The ids objects are read into (the collector interns each in it as it meets it). */
  table: IdTable;
  /** The hash of each entry of `table` as the index files hold it (16 bytes), end to end... */
  macs: Buffer;
  /** ...for the entries before this one. */
  hashed: number;
  /** The padded inner key, the kind and a NUL, with room for an id's bytes after them. */
  inner: Buffer;
}

export class LogIndexHasher {
  private readonly users: KindCache;
  private readonly devices: KindCache;
  /** HMAC's inner padded key, as text (all ASCII: see the constructor). */
  private readonly innerPad: string;
  /** HMAC's outer padded key, with room for the inner hash after it. */
  private readonly outer = Buffer.alloc(BLOCK_BYTES + 32);
  /** The HMAC key itself (for the test that checks this is HMAC-SHA-256). */
  readonly key: Buffer;
  /** The tables an object's ids are read into for objectFile (SubjectIdCollector). */
  readonly tables: IdTables;
  /** Objects being read into the tables (beginObject, endObject). */
  private reading = 0;

  /**
   * HMAC-SHA-256 written out with Node's one-shot hash, at half the cost of createHmac per id: the key's
   * bytes are cut to 7 bits (224 bits of the 256 derived remain), so both padded keys are ASCII and the
   * inner hash of an id given as a string runs on one string; an id given as bytes is copied after the
   * padded key in a buffer kept for it. `cachedHashes` bounds each cache (a test sets it low).
   */
  constructor(
    keyMaterial: Buffer,
    private readonly cachedHashes = CACHED_HASHES,
  ) {
    this.key = Buffer.from(keyMaterial.subarray(0, BLOCK_BYTES).map((byte) => byte & 0x7f));
    const padded = Buffer.alloc(BLOCK_BYTES);
    this.key.copy(padded);
    const innerPad = Buffer.from(padded.map((byte) => byte ^ 0x36));
    this.innerPad = innerPad.toString('latin1');
    Buffer.from(padded.map((byte) => byte ^ 0x5c)).copy(this.outer);
    const cache = (kind: Kind): KindCache => {
      const inner = Buffer.alloc(BLOCK_BYTES + kind.length + 1 + INNER_ID_BYTES);
      innerPad.copy(inner);
      inner.write(`${kind}\u0000`, BLOCK_BYTES, 'latin1');
      const macs = Buffer.allocUnsafe(1024 * HASH_BYTES);
      return { kind, byString: new Map(), table: new IdTable(), macs, hashed: 0, inner };
    };
    this.users = cache('user');
    this.devices = cache('device');
    this.tables = { users: this.users.table, devices: this.devices.table };
  }

  /**
   * Before an object is read into `tables`: the caches start again here when full and no other object is
   * being read (their entries must stay what they were until each object's file is made). Pair with
   * endObject, in a finally.
   */
  beginObject(): IdTables {
    if (this.reading === 0) {
      for (const cache of [this.users, this.devices]) {
        if (cache.table.bytes.count < this.cachedHashes) continue;
        cache.table.clear();
        cache.hashed = 0;
      }
    }
    this.reading += 1;
    return this.tables;
  }

  endObject(): void {
    this.reading -= 1;
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
   * ids, sorted, each once (a collision of HMACs aside). Its ids must have been read into `tables`
   * (between beginObject and endObject). Ids read as bytes are hashed once per container, by their
   * entry, and written as bytes: no string per id, no decoding.
   */
  objectFile(subjects: { userIds: DistinctIds; deviceIds: DistinctIds }): Buffer {
    const kinds = [
      [subjects.userIds, this.users],
      [subjects.deviceIds, this.devices],
    ] as const;
    const count = kinds.reduce((n, [ids]) => n + ids.count + ids.strings.size, 0);
    const raw = Buffer.allocUnsafe(count * HASH_BYTES);
    let at = 0;
    for (const [ids, cache] of kinds) {
      if (ids.table !== cache.table)
        throw new ContractError('An object was read into tables of another hasher');
      this.hashNew(cache);
      for (let n = 0; n < ids.count; n++, at += HASH_BYTES)
        copyHash(cache.macs, ids.entry(n) * HASH_BYTES, raw, at);
      // Byte strings and strings of one id can meet (an escaped line, invalid UTF-8): the file holds each
      // once.
      for (const id of ids.strings) at += raw.write(this.cached(cache, id), at, HASH_BYTES, 'base64url');
    }
    return objectFileOf(raw.subarray(0, at));
  }

  private cached(cache: KindCache, id: string): string {
    let mac = cache.byString.get(id);
    if (mac === undefined) {
      const inner = hash('sha256', `${this.innerPad}${cache.kind}\u0000${id}`, 'buffer');
      mac = this.outerHash(inner).toString('base64url').slice(0, HASH_CHARACTERS);
      if (cache.byString.size >= this.cachedHashes) cache.byString.clear();
      cache.byString.set(id, mac);
    }
    return mac;
  }

  /** Hashes the entries of the cache's table met since the last call (entries are numbered in order). */
  private hashNew(cache: KindCache): void {
    const { bytes } = cache.table;
    if (bytes.count * HASH_BYTES > cache.macs.length) {
      const bigger = Buffer.allocUnsafe(Math.max(cache.macs.length * 2, bytes.count * HASH_BYTES));
      cache.macs.copy(bigger, 0, 0, cache.hashed * HASH_BYTES);
      cache.macs = bigger;
    }
    const arena = bytes.arena;
    for (; cache.hashed < bytes.count; cache.hashed++) {
      const [start, end] = [bytes.start(cache.hashed), bytes.end(cache.hashed)];
      let ascii = end - start <= INNER_ID_BYTES;
      for (let i = start; ascii && i < end; i++) ascii = (arena[i] ?? 0) < 0x80;
      const at = cache.hashed * HASH_BYTES;
      if (ascii) {
        // The id's bytes are its UTF-8 (ASCII): hashed where they are copied, without a string.
        const from = cache.inner.length - INNER_ID_BYTES;
        for (let i = start; i < end; i++) cache.inner[from + i - start] = arena[i] ?? 0;
        const inner = hash('sha256', cache.inner.subarray(0, from + end - start), 'buffer');
        copyHash(this.outerHash(inner), 0, cache.macs, at);
      } else {
        cache.macs.write(this.cached(cache, arena.toString('utf8', start, end)), at, 'base64url');
      }
    }
  }

  /** HMAC's outer hash over the inner one: the whole digest (the index keeps its first 132 or 128 bits). */
  private outerHash(inner: Buffer): Buffer {
    this.outer.set(inner, BLOCK_BYTES);
    return hash('sha256', this.outer, 'buffer');
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
