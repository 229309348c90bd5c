/**
 * The retention vault: records a statute requires us to keep after an erasure, each stripped to its
 * rule's `keep` fields (`pickKept`) and stamped with its own expiry, in a table of their own
 * (dsr-retention-vault, encrypted with a key of its own) and used for nothing else. The sweep finds what
 * is due through the `byUntil` index (partition `kind` = 'vault', sorted by `until`) and destroys it.
 *
 * The same table holds the suppression list: after an account is erased, one item under the subject's
 * keyed hash (`SUPPRESSION#<subjectHash>`, kind 'suppression', no `until`, so the sweep's sparse index
 * never sees it) lets us recognise the subject as erased without keeping who they were. It lives here,
 * not in the platform's accounts table (whose shape is not ours) nor in the requests table (whose items
 * expire with the request's history): like vault items it is kept apart and restricted.
 *
 * The kept data itself is sealed before it leaves the writer (envelope encryption, crypto/envelope.ts):
 * a data key from the vault key shared by the writer's records of a store (vaultKeyContext), each
 * record bound to its own entry (vaultContext) by the seal's additional data. Writers may only ask for
 * data keys; only the vault's readers may unwrap them. The table's own encryption (a separate key, which
 * every caller of DynamoDB needs) protects the rest.
 *
 * Item layout:
 *   vault record  pk `VAULT#<store>#<category>#<recordId>`, sk `RECORD`, kind 'vault', until, store,
 *                 category, recordId, basis, sealed (the kept `data`, as JSON, sealed), storedAt
 *   suppression   pk `SUPPRESSION#<subjectHash>`, sk `SUPPRESSION`, kind 'suppression', subjectHash,
 *                 erasedAt, requestId
 */
import { createHash } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources } from '../../../config/data-map';
import type { StoreName, VaultRecord, VaultWriter } from '../connectors/contract';
import { BATCH_WRITE_SIZE as BATCH_SIZE, batchWriteAll, defaultSleep } from '../aws/dynamo-batch';
import { kmsClient } from '../aws/clients';
import {
  EnvelopeError,
  KmsDataKeys,
  LocalKeyStandIn,
  open,
  SharedKeySealer,
  type DataKeyIssuer,
  type DataKeyOpener,
  type EncryptionContext,
  type Sealed,
} from '../crypto/envelope';
import { ConfigError } from '../runtime/config';
import { ContractError, NotFoundError, classifyAwsError } from '../runtime/errors';

const VAULT_KIND = 'vault';
const SUPPRESSION_KIND = 'suppression';
const RECORD_SK = 'RECORD';
const SUPPRESSION_SK = 'SUPPRESSION';
const MAX_BATCHES_IN_FLIGHT = 8;

export interface VaultConfig {
  tableName: string;
  /**
   * Where a writer gets the data keys that seal kept data. Without it this client may list and destroy
   * (the sweep) but not add records.
   */
  keys?: DataKeyIssuer;
  /** The sweep's index; defaults to the data map's. */
  indexName?: string;
  /** Backoff between retries of unprocessed items (injectable so tests need not wait). */
  sleep?: (ms: number) => Promise<void>;
}

// A type (not an interface) so it is a valid DynamoDB key record.
export type VaultKey = { pk: string; sk: string };

/** What the sweep sees of a due item: its key and where it came from, never its data. */
export type DueVaultItem = VaultKey & {
  until: string;
  store: StoreName;
  category: string;
};

export interface Suppression {
  subjectHash: string;
  erasedAt: string;
  requestId: string;
}

export interface SuppressionWriter {
  /** Records the subject as erased. Idempotent: the first erasure's record is kept. */
  suppress(suppression: Suppression): Promise<void>;
}

export interface VaultSweeper {
  /** Vault items whose period has ended (`until <= now`), earliest first, at most `limit`. */
  listDue(now: Date, limit: number): Promise<DueVaultItem[]>;
  /** Destroys the items; destroying one twice is harmless. Returns how many were asked to go. */
  destroy(items: readonly VaultKey[]): Promise<number>;
}

export function vaultKey(store: string, category: string, recordId: string): VaultKey {
  return { pk: `VAULT#${store}#${category}#${recordId}`, sk: RECORD_SK };
}

export function suppressionKey(subjectHash: string): VaultKey {
  return { pk: `SUPPRESSION#${subjectHash}`, sk: SUPPRESSION_SK };
}

/** The encryption context keys of a vault record's data key (IAM conditions name them: infra/constructs/access.ts). */
export const VAULT_CONTEXT = {
  purpose: 'dsr:purpose',
  store: 'dsr:store',
  entry: 'dsr:entry',
} as const;
export const VAULT_PURPOSE = 'retention-vault';

/**
 * A record's encryption context: the vault, its store (writers' grants are per store) and its entry.
 * The entry is named by a hash of its key, not the key itself: contexts are logged in plain text, and
 * a record id may be anything a store uses.
 */
export function vaultContext(key: VaultKey): EncryptionContext {
  return entryContext(
    storeOfKey(key),
    createHash('sha256').update(`${key.pk}\u0000${key.sk}`).digest('base64url'),
  );
}

/**
 * The context a data key shared by records of one store is issued under (SharedKeySealer): the vault,
 * the store, and the key's own random id as the entry (the IAM grants name the same three keys). Each
 * record stays bound to its own entry by the seal's additional data (vaultContext).
 */
export function vaultKeyContext(store: string, keyId: string): EncryptionContext {
  return entryContext(store, `key:${keyId}`);
}

const entryContext = (store: string, entry: string): EncryptionContext => ({
  [VAULT_CONTEXT.purpose]: VAULT_PURPOSE,
  [VAULT_CONTEXT.store]: store,
  [VAULT_CONTEXT.entry]: entry,
});

const storeOfKey = (key: VaultKey) => key.pk.split('#')[1] ?? '';

/** Env names of the vault key: a KMS key in AWS, a key file for the local stand-in. */
export const VAULT_KEY_ENV = { kmsKeyId: 'VAULT_KMS_KEY_ID', keyFile: 'VAULT_KEY_FILE' } as const;

/**
 * The vault key as a writer (data keys only) or a reader (unwrapping only) holds it. In AWS the role's
 * IAM grants decide; locally the stand-in is given the same grants.
 */
export function vaultKeysFromEnv(use: 'write', env?: NodeJS.ProcessEnv): DataKeyIssuer;
export function vaultKeysFromEnv(use: 'read', env?: NodeJS.ProcessEnv): DataKeyOpener;
export function vaultKeysFromEnv(
  use: 'write' | 'read',
  env: NodeJS.ProcessEnv = process.env,
): DataKeyIssuer | DataKeyOpener {
  const kmsKeyId = env[VAULT_KEY_ENV.kmsKeyId];
  if (kmsKeyId) return new KmsDataKeys(kmsClient(), kmsKeyId);
  const keyFile = env[VAULT_KEY_ENV.keyFile];
  if (keyFile)
    return LocalKeyStandIn.fromFile(keyFile, [use === 'write' ? 'kms:GenerateDataKey' : 'kms:Decrypt']);
  throw new ConfigError(
    `Missing required environment variable ${VAULT_KEY_ENV.kmsKeyId} (or ${VAULT_KEY_ENV.keyFile} locally)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Keep paths

interface PathSegment {
  key: string;
  /** `a[]`: every element of list `a`; `a[subject]`: the subject's own element only. */
  each?: 'all' | 'subject';
}

const SEGMENT = /^([^[\]]+)(?:\[(subject)?\])?$/;

function parsePath(path: string): PathSegment[] {
  return path.split('.').map((part) => {
    const m = SEGMENT.exec(part);
    if (!m?.[1]) throw new ContractError(`Invalid keep path segment '${part}'`);
    return m[2]
      ? { key: m[1], each: 'subject' }
      : part.endsWith('[]')
        ? { key: m[1], each: 'all' }
        : { key: m[1] };
  });
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Set);
}

function asArray(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...(value as Set<unknown>)];
  return undefined;
}

/** The value at `segments` under `value`, shaped like its source, or undefined when there is none. */
function pickPath(
  value: unknown,
  segments: readonly PathSegment[],
  isSubject: (el: unknown) => boolean,
): unknown {
  const [seg, ...rest] = segments;
  if (!seg) return structuredClone(value);
  if (!isPlain(value) || !Object.hasOwn(value, seg.key)) return undefined;
  const child = value[seg.key];
  if (!seg.each) {
    const picked = pickPath(child, rest, isSubject);
    return picked === undefined ? undefined : { [seg.key]: picked };
  }
  const list = asArray(child);
  if (!list) return undefined;
  // Holes (undefined) keep positions aligned while several paths merge into one list.
  const picked = list.map((el) =>
    seg.each === 'subject' && !isSubject(el) ? undefined : pickPath(el, rest, isSubject),
  );
  return picked.some((p) => p !== undefined) ? { [seg.key]: picked } : undefined;
}

function merge(a: unknown, b: unknown): unknown {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (Array.isArray(a) && Array.isArray(b)) {
    return Array.from({ length: Math.max(a.length, b.length) }, (_, i) => merge(a[i], b[i]));
  }
  if (isPlain(a) && isPlain(b)) {
    const out: Plain = { ...a };
    for (const [key, value] of Object.entries(b)) out[key] = merge(out[key], value);
    return out;
  }
  return b;
}

/** Drops the holes: an element of which nothing is kept is not kept at all. */
function compact(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map(compact);
  if (isPlain(value)) {
    const out: Plain = {};
    for (const [key, entry] of Object.entries(value)) out[key] = compact(entry);
    return out;
  }
  return value;
}

export interface PickOptions {
  /** Which list element is the subject's own (for `a[subject].b`); without it such paths keep nothing. */
  isSubjectElement?: (element: unknown) => boolean;
}

/**
 * The record reduced to the `keep` paths (RetentionRule.keep): dot paths (`item.sku`), `a[].b` for
 * field `b` of every element of list `a`, `a[subject].b` for the subject's own element only. Paths
 * that are absent are skipped; list elements of which nothing is kept are dropped; everything else is
 * left behind. The result shares nothing with the input.
 */
export function pickKept(record: Plain, keep: readonly string[], options: PickOptions = {}): Plain {
  const isSubject = options.isSubjectElement ?? (() => false);
  let out: unknown = {};
  for (const path of keep) out = merge(out, pickPath(record, parsePath(path), isSubject));
  return compact(out) as Plain;
}

// ---------------------------------------------------------------------------------------------
// The vault table

interface PendingPut {
  key: string;
  item: Record<string, unknown>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The vault over DynamoDB. `put` is safe to call many times concurrently: puts made in the same tick
 * are written together with BatchWriteItem (25 a call, a few calls in flight), and each put resolves
 * only once its item is stored, so a caller may remove the live record after awaiting it.
 */
export class DynamoVault implements VaultWriter, VaultSweeper, SuppressionWriter {
  private readonly indexName: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private queue: PendingPut[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** One data key for many records of a store (a container's lifetime, within the sealer's limits). */
  private readonly sealer: SharedKeySealer | undefined;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly config: VaultConfig,
  ) {
    this.indexName = config.indexName ?? orchestratorResources.vaultTable.indexes[0].indexName;
    this.sleep = config.sleep ?? defaultSleep;
    this.sealer = config.keys && new SharedKeySealer(config.keys);
  }

  async put(record: VaultRecord): Promise<void> {
    if (!this.sealer) throw new ContractError('This vault client may not add records');
    const item = await toVaultItem(record, new Date(), this.sealer);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ key: String(item.pk), item, resolve, reject });
      this.pump(false);
    });
  }

  /** Sends full batches now; a partial batch waits one tick for more puts to join it. */
  private pump(partial: boolean): void {
    while (this.inFlight < MAX_BATCHES_IN_FLIGHT && this.queue.length >= (partial ? 1 : BATCH_SIZE)) {
      this.send(this.take());
    }
    if (this.queue.length > 0 && !this.scheduled && this.inFlight < MAX_BATCHES_IN_FLIGHT) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump(true);
      });
    }
  }

  /** Up to 25 puts with distinct keys, in order (a repeated key waits for the next batch). */
  private take(): PendingPut[] {
    const batch: PendingPut[] = [];
    const keys = new Set<string>();
    while (batch.length < BATCH_SIZE) {
      const next = this.queue[0];
      if (!next || keys.has(next.key)) break;
      keys.add(next.key);
      batch.push(next);
      this.queue.shift();
    }
    return batch;
  }

  private send(batch: PendingPut[]): void {
    this.inFlight++;
    batchWriteAll(
      this.doc,
      this.config.tableName,
      batch.map((p) => ({ PutRequest: { Item: p.item } })),
      this.sleep,
    )
      .then(
        () => batch.forEach((p) => p.resolve()),
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      )
      .finally(() => {
        this.inFlight--;
        this.pump(true);
      });
  }

  async listDue(now: Date, limit: number): Promise<DueVaultItem[]> {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new ContractError('listDue needs a positive limit');
    const due: DueVaultItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      let page;
      try {
        page = await this.doc.send(
          new QueryCommand({
            TableName: this.config.tableName,
            IndexName: this.indexName,
            KeyConditionExpression: '#kind = :kind AND #until <= :now',
            ExpressionAttributeNames: { '#kind': 'kind', '#until': 'until', '#pk': 'pk', '#sk': 'sk' },
            ExpressionAttributeValues: { ':kind': VAULT_KIND, ':now': now.toISOString() },
            // The index projects keys only; store and category are read from the key.
            ProjectionExpression: '#pk, #sk, #until',
            Limit: limit - due.length,
            ExclusiveStartKey: startKey,
          }),
        );
      } catch (error) {
        throw classifyAwsError(error);
      }
      for (const item of page.Items ?? []) {
        const [, store, category] = String(item.pk).split('#');
        due.push({
          pk: String(item.pk),
          sk: String(item.sk),
          until: String(item.until),
          store: store as StoreName,
          category: category ?? '',
        });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && due.length < limit);
    return due;
  }

  async destroy(items: readonly VaultKey[]): Promise<number> {
    const keys = new Map<string, VaultKey>();
    for (const { pk, sk } of items) {
      if (!pk.startsWith('VAULT#')) throw new ContractError('destroy takes vault records only');
      keys.set(`${pk}\u0000${sk}`, { pk, sk });
    }
    await batchWriteAll(
      this.doc,
      this.config.tableName,
      [...keys.values()].map((Key) => ({ DeleteRequest: { Key } })),
      this.sleep,
    );
    return keys.size;
  }

  async suppress(suppression: Suppression): Promise<void> {
    if (!suppression.subjectHash) throw new ContractError('A suppression needs the subject hash');
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.config.tableName,
          Item: { ...suppressionKey(suppression.subjectHash), kind: SUPPRESSION_KIND, ...suppression },
          // The first erasure's record stands; a re-run or a later erasure changes nothing.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return;
      throw classifyAwsError(error);
    }
  }

  async isSuppressed(subjectHash: string): Promise<boolean> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.config.tableName,
        Key: suppressionKey(subjectHash),
        ConsistentRead: true,
      }),
    );
    return out.Item !== undefined;
  }
}

/** The stored item of a vault record, its data sealed; refuses a record it cannot date or key. */
export async function toVaultItem(
  record: VaultRecord,
  storedAt: Date,
  sealer: SharedKeySealer,
): Promise<Record<string, unknown>> {
  if (!record.recordId) throw new ContractError('A vault record needs a recordId');
  if (!record.store || !record.category)
    throw new ContractError('A vault record needs its store and category');
  if (record.store.includes('#') || record.category.includes('#'))
    throw new ContractError('A vault store or category has no #');
  const until = new Date(record.until);
  if (Number.isNaN(until.getTime())) throw new ContractError('A vault record needs a valid until');
  const key = vaultKey(record.store, record.category, record.recordId);
  let sealed: Sealed;
  try {
    // A set (a DynamoDB string set kept whole) is kept as a list.
    const json = JSON.stringify(record.data, (_, v: unknown) =>
      v instanceof Set ? [...(v as Set<unknown>)] : v,
    );
    sealed = await sealer.seal(
      record.store,
      (keyId) => vaultKeyContext(record.store, keyId),
      vaultContext(key),
      Buffer.from(json, 'utf8'),
    );
  } catch (error) {
    throw classifyAwsError(error);
  }
  return {
    ...key,
    kind: VAULT_KIND,
    // Normalised, so the index sorts every item by the same 24-character ISO form.
    until: until.toISOString(),
    store: record.store,
    category: record.category,
    recordId: record.recordId,
    basis: record.basis,
    sealed,
    storedAt: storedAt.toISOString(),
  };
}

/** A kept record as its reader sees it: the stored provenance and the data, opened. */
export type KeptRecord = VaultRecord & { storedAt: string };

/**
 * Reads kept records back (legal disclosure, an authority's request): only a holder of the vault key's
 * Decrypt grant can open them. Every record opens under its own entry's context only (the seal's
 * additional data; a record sealed with a data key of its own, format 1, its key's context too).
 */
export class VaultReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly config: { tableName: string; keys: DataKeyOpener },
  ) {}

  /** The kept record, or NotFoundError. */
  async read(store: string, category: string, recordId: string): Promise<KeptRecord> {
    const key = vaultKey(store, category, recordId);
    let item: Record<string, unknown> | undefined;
    try {
      ({ Item: item } = await this.doc.send(
        new GetCommand({ TableName: this.config.tableName, Key: key, ConsistentRead: true }),
      ));
    } catch (error) {
      throw classifyAwsError(error);
    }
    if (!item || item.kind !== VAULT_KIND) throw new NotFoundError('No such vault record');
    return this.openItem(item);
  }

  /** Opens a stored vault item (as GetItem or Scan returns it). */
  async openItem(item: Record<string, unknown>): Promise<KeptRecord> {
    const key = { pk: String(item.pk), sk: String(item.sk) };
    if (typeof item.sealed !== 'object' || item.sealed === null)
      throw new EnvelopeError('The vault record holds no sealed data');
    const data = await open(this.config.keys, vaultContext(key), item.sealed as Sealed, (keyId) =>
      vaultKeyContext(storeOfKey(key), keyId),
    );
    return {
      store: item.store as StoreName,
      category: String(item.category),
      recordId: String(item.recordId),
      until: String(item.until),
      basis: String(item.basis),
      data: JSON.parse(data.toString('utf8')) as VaultRecord['data'],
      storedAt: String(item.storedAt),
    };
  }
}
