/**
 * The keyed hash that names a subject in the log index: AES-256-CMAC of the kind and the identifier
 * under a key of the index's own, 128 bits (22 base64url characters). An index of 10 million lines a day
 * hashes every distinct id of every object it reads, so the hash is computed in the function itself,
 * never by a KMS call per id, and kept for the ids the same container meets again (most users appear in
 * many objects). The key is derived once per cold start from the subject-hash key (one GenerateMac in
 * AWS, the local key file on the local stack): the same trust boundary as every other subject hash, no
 * stored secret, and apart from the subject hashes themselves (docs/log-index.md, "Hashing").
 */
import type { SubjectHasher } from '../crypto/subject-hash';
import { Cmac } from '../crypto/cmac';
import { ContractError } from '../runtime/errors';
import { wordsOf } from '../runtime/words';
import { HASH_BYTES, objectFileOf } from './index-files';
import { IdTable, type DistinctIds, type IdTables } from './subject-ids';

/**
 * The index's hash, by name: a new hash or key is a new version, and a new index, kept apart from the
 * old one (under this name, index-store.ts) and built again by the backfill. v1 was HMAC-SHA-256.
 */
export const LOG_INDEX_VERSION = 'v2';
/** What the subject-hash key MACs to derive the index key. */
export const LOG_INDEX_KEY_LABEL = `dsr-log-index-key:${LOG_INDEX_VERSION}`;
/** AES-256's key. */
const KEY_BYTES = 32;
/**
 * Ids kept per container and kind, with their hashes: 100 to 150 bytes each (a 32-byte slot of a table
 * at most half full, the id's bytes, its hash), so both kinds take at most about 150 MB of the indexer's
 * 2 GB. Past it the cache starts again, between objects (when no object being read refers to it).
 */
const CACHED_HASHES = 500_000;

/** 32-bit words of a hash. */
const HASH_WORDS = HASH_BYTES / 4;

type Kind = 'user' | 'device';

/** A cache's hashes, as bytes and as words (the same memory). */
const macsOf = (macs: Buffer) => ({ macs, macWords: wordsOf(macs) });

/** What a container keeps of one kind of id: its hashes by the id as a string, and by its bytes. */
interface KindCache {
  /** What a message of this kind starts with: the kind and a NUL, so a user and a device hash apart. */
  prefix: Buffer;
  byString: Map<string, string>;
  /** The ids objects are read into (the collector interns each in it as it meets it). */
  table: IdTable;
  /** The hash of each entry of `table` as the index files hold it (16 bytes), end to end... */
  macs: Buffer;
  /** ...the same as words (four a hash)... */
  macWords: Int32Array;
  /** ...for the entries before this one. */
  hashed: number;
}

export class LogIndexHasher {
  private readonly users: KindCache;
  private readonly devices: KindCache;
  private readonly cmac: Cmac;
  /** The tables an object's ids are read into for objectFile (SubjectIdCollector). */
  readonly tables: IdTables;
  /** Objects being read into the tables (beginObject, endObject). */
  private reading = 0;

  /**
   * `keyMaterial`: its first 32 bytes are the AES key. `cachedHashes` bounds each cache (a test sets it
   * low).
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
      table: new IdTable(),
      ...macsOf(Buffer.alloc(1024 * HASH_BYTES)),
      hashed: 0,
    });
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
   * ids, sorted, each once (a collision aside). Its ids must have been read into `tables` (between
   * beginObject and endObject). Ids read as bytes are hashed once per container, by their entry, and
   * written as bytes: no string per id, no decoding.
   */
  objectFile(subjects: { userIds: DistinctIds; deviceIds: DistinctIds }): Buffer {
    const kinds = [
      [subjects.userIds, this.users],
      [subjects.deviceIds, this.devices],
    ] as const;
    const count = kinds.reduce((n, [ids]) => n + ids.count + ids.strings.size, 0);
    const raw = Buffer.from(new ArrayBuffer(count * HASH_BYTES));
    const rawWords = wordsOf(raw);
    let at = 0;
    for (const [ids, cache] of kinds) {
      if (ids.table !== cache.table)
        throw new ContractError('An object was read into tables of another hasher');
      this.hashNew(cache);
      const { macWords } = cache;
      for (let n = 0; n < ids.count; n++, at += HASH_BYTES) {
        const from = ids.entry(n) * HASH_WORDS;
        const to = at / 4;
        for (let i = 0; i < HASH_WORDS; i++) rawWords[to + i] = macWords[from + i] ?? 0;
      }
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

  /**
   * Hashes the entries of the cache's table met since the last call (entries are numbered in order), all
   * in one batch: the bytes of an ASCII id are its UTF-8, as the connector reads it. Any other id (rare)
   * is hashed again from its string, as the connector decodes it.
   */
  private hashNew(cache: KindCache): void {
    const { bytes } = cache.table;
    const count = bytes.count - cache.hashed;
    if (count === 0) return;
    if (bytes.count * HASH_BYTES > cache.macs.length) {
      const bigger = Buffer.alloc(Math.max(cache.macs.length * 2, bytes.count * HASH_BYTES));
      cache.macs.copy(bigger, 0, 0, cache.hashed * HASH_BYTES);
      Object.assign(cache, macsOf(bigger));
    }
    const arena = bytes.arena;
    const ranges = new Int32Array(2 * count);
    const other: number[] = [];
    for (let n = 0; n < count; n++) {
      const start = bytes.start(cache.hashed + n);
      const end = bytes.end(cache.hashed + n);
      ranges[2 * n] = start;
      ranges[2 * n + 1] = end;
      for (let i = start; i < end; i++) {
        if ((arena[i] ?? 0) < 0x80) continue;
        other.push(n);
        break;
      }
    }
    this.cmac.macAll(
      { prefix: cache.prefix, data: arena, ranges, count },
      cache.macs,
      cache.hashed * HASH_BYTES,
    );
    for (const n of other) {
      const id = arena.toString('utf8', ranges[2 * n], ranges[2 * n + 1]);
      cache.macs.write(this.cached(cache, id), (cache.hashed + n) * HASH_BYTES, 'base64url');
    }
    cache.hashed = bytes.count;
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
