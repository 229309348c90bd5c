/**
 * Least-privilege grants written out action by action (CDK's grantRead/grantWrite hand out wildcard
 * actions such as s3:GetObject* and s3:List*). Every resource is an exact ARN except object keys under
 * a prefix, which are only known at run time; each of those is acknowledged with its reason.
 */
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { ENV, orchestratorResources } from '../../config/data-map';
import { VAULT_CONTEXT, VAULT_KEY_ENV, VAULT_PURPOSE } from '../../functions/lib/erasure/vault';
import type { VaultRef } from './orchestrator-state';
import type { BucketRef, TableRef } from './storage';
import type { DsrFunction } from './task-function';

export const DDB = {
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan'],
  write: [
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:ConditionCheckItem',
  ],
  indexRead: ['dynamodb:Query', 'dynamodb:Scan'],
} as const;

/**
 * Every signer (functions/lib/crypto/signing.ts) reads the public key first: it pins the key and checks
 * each signature.
 */
export const KMS_SIGN = ['kms:Sign', 'kms:GetPublicKey'] as const;

/** S3 SSE-KMS: reading decrypts; writing generates data keys, and multipart uploads also decrypt them. */
const KMS_READ = ['kms:Decrypt'];
const KMS_WRITE = ['kms:Decrypt', 'kms:GenerateDataKey'];
/** DynamoDB: what CDK's own table grants give, without their wildcard actions. */
const KMS_TABLE_READ = ['kms:Decrypt', 'kms:DescribeKey'];
const KMS_TABLE_WRITE = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'];

function viaService(service: 'dynamodb' | 's3' | 'sqs', fn: DsrFunction) {
  return { StringEquals: { 'kms:ViaService': `${service}.${Stack.of(fn).region}.amazonaws.com` } };
}

export interface TableGrant {
  /** Actions on the table itself. */
  table: readonly string[];
  /** Actions on the named indexes (exact index ARNs, never `index/*`). */
  indexes?: { names: readonly string[]; actions: readonly string[] };
  /**
   * Requests table only: the function records audit entries (request opened, status changed, hold
   * placed). Every other writer of the table is denied adding them.
   */
  auditWriter?: boolean;
}

/** The audit trail's partitions in the requests table (functions/lib/audit/audit-log.ts). */
export const AUDIT_LEADING_KEYS = ['AUDIT#*'] as const;
/** What would change or remove an audit entry: denied to every role, whatever else it may do. */
export const AUDIT_CHANGE_ACTIONS = [
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  // A batch can name deletes, which IAM cannot tell apart from puts: audit entries are never batched.
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
] as const;

/**
 * Append-only at the IAM level: explicit denies (which no allow can override) on the audit partitions
 * of the requests table. Nobody may update or delete an entry; only the audit writers may add one (and
 * only with PutItem: an insert through PartiQL is denied too).
 */
function guardAuditTrail(fn: DsrFunction, ref: TableRef, writer: boolean): void {
  fn.allow(
    new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      actions: [...AUDIT_CHANGE_ACTIONS, 'dynamodb:PartiQLInsert', ...(writer ? [] : ['dynamodb:PutItem'])],
      resources: [ref.table.tableArn],
      conditions: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': [...AUDIT_LEADING_KEYS] } },
    }),
  );
}

/** The table's KMS key, used only through DynamoDB (a table without its own key needs nothing). */
function grantTableKey(fn: DsrFunction, ref: TableRef, actions: readonly string[]): void {
  if (!ref.key) return;
  fn.allow(
    new iam.PolicyStatement({
      actions: [...actions],
      resources: [ref.key.keyArn],
      conditions: viaService('dynamodb', fn),
    }),
  );
}

export function grantTable(fn: DsrFunction, ref: TableRef, grant: TableGrant): void {
  const tableArn = ref.table.tableArn;
  // An empty `table` grants only the indexes (a function that only queries an index).
  if (grant.table.length > 0)
    fn.allow(new iam.PolicyStatement({ actions: [...grant.table], resources: [tableArn] }));
  if (grant.indexes && grant.indexes.names.length > 0) {
    fn.allow(
      new iam.PolicyStatement({
        actions: [...grant.indexes.actions],
        resources: grant.indexes.names.map((name) => `${tableArn}/index/${name}`),
      }),
    );
  }
  const writes = grant.table.some((a) => (DDB.write as readonly string[]).includes(a));
  grantTableKey(fn, ref, writes ? KMS_TABLE_WRITE : KMS_TABLE_READ);
  if (writes && ref.spec.tableName === orchestratorResources.requestsTable.tableName) {
    guardAuditTrail(fn, ref, grant.auditWriter === true);
  }
}

export function allTableIndexes(ref: TableRef): string[] {
  return ref.spec.indexes.map((i) => i.indexName);
}

export interface BucketGrant {
  /** Object-level actions (s3:GetObject, s3:PutObject, ...). */
  objects?: readonly string[];
  /** Key prefixes the object actions are limited to; `''` means the whole bucket. */
  objectPrefixes: readonly string[];
  /** Narrows the keys further: `<prefix>*<suffix>`, e.g. `requests/*` + `/subject.json`. */
  objectSuffix?: string;
  /** Bucket-level list actions, limited by an s3:prefix condition to `listPrefixes`. */
  list?: readonly ('s3:ListBucket' | 's3:ListBucketVersions')[];
  listPrefixes?: readonly string[];
  /** What the function does with the objects' data: reading needs decrypt, writing data keys. */
  kms: 'read' | 'write' | 'none';
  /** Why the object keys cannot be named at deploy time. */
  reason: string;
}

export function grantBucket(fn: DsrFunction, ref: BucketRef, grant: BucketGrant): void {
  const { bucket } = ref;
  if (grant.objects && grant.objects.length > 0) {
    const suffix = grant.objectSuffix ?? '';
    const resources = grant.objectPrefixes.map((prefix) => bucket.arnForObjects(`${prefix}*${suffix}`));
    fn.allow(new iam.PolicyStatement({ actions: [...grant.objects], resources }));
    for (const resource of resources) fn.acknowledgeWildcardResource(resource, grant.reason);
  }
  if (grant.list && grant.list.length > 0) {
    const prefixes = grant.listPrefixes ?? grant.objectPrefixes;
    fn.allow(
      new iam.PolicyStatement({
        actions: [...grant.list],
        resources: [bucket.bucketArn],
        // Listing is limited to the same prefixes; a prefix-less listing of the bucket is denied.
        conditions: prefixes.includes('')
          ? undefined
          : { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } },
      }),
    );
  }
  if (ref.key && grant.kms !== 'none') {
    fn.allow(
      new iam.PolicyStatement({
        actions: grant.kms === 'write' ? KMS_WRITE : KMS_READ,
        resources: [ref.key.keyArn],
        conditions: viaService('s3', fn),
      }),
    );
  }
}

/**
 * Reading named attributes of items by key (GetItem with a ProjectionExpression), nothing else of them:
 * `dynamodb:Attributes` must list the key attributes too.
 */
export function grantGetAttributes(fn: DsrFunction, ref: TableRef, attributes: readonly string[]): void {
  fn.allow(
    new iam.PolicyStatement({
      actions: ['dynamodb:GetItem'],
      resources: [ref.table.tableArn],
      conditions: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...attributes] },
        StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
      },
    }),
  );
  grantTableKey(fn, ref, KMS_TABLE_READ);
}

export function grantKey(fn: DsrFunction, key: kms.IKey, actions: readonly string[]): void {
  fn.allow(new iam.PolicyStatement({ actions: [...actions], resources: [key.keyArn] }));
}

/**
 * Adds records to the retention vault, and nothing else: no read, no delete of single items (a
 * BatchWriteItem can name deletes, which IAM cannot tell apart from puts), and only under the partition
 * key prefixes given (`VAULT#<store>#*`, `SUPPRESSION#*`), so a connector cannot touch another store's
 * records. The table's own key is granted through DynamoDB only: DynamoDB decrypts the table key with the
 * caller's permission on every call, writes included, and serves nothing the table grants do not allow.
 * The kept data is sealed under the vault key, of which the writer may only generate data keys, bound by
 * their encryption context to the vault and its own store: it can seal, never open.
 */
export function grantVaultAppend(
  fn: DsrFunction,
  vault: VaultRef,
  grant: {
    actions: readonly ('dynamodb:PutItem' | 'dynamodb:BatchWriteItem')[];
    leadingKeys: string[];
    /** The store whose records it seals (the `dsr:store` of their encryption context). */
    store: string;
  },
): void {
  fn.allow(
    new iam.PolicyStatement({
      actions: [...grant.actions],
      resources: [vault.table.tableArn],
      conditions: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': grant.leadingKeys },
        // A put that overwrites may not hand back what it replaced (ReturnValues ALL_OLD reads the vault).
        StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
      },
    }),
  );
  grantTableKey(fn, vault, KMS_TABLE_WRITE);
  fn.allow(
    new iam.PolicyStatement({
      actions: ['kms:GenerateDataKey'],
      resources: [vault.sealingKey.keyArn],
      conditions: {
        StringEquals: {
          [`kms:EncryptionContext:${VAULT_CONTEXT.purpose}`]: VAULT_PURPOSE,
          [`kms:EncryptionContext:${VAULT_CONTEXT.store}`]: grant.store,
        },
        // No context keys besides the vault's own (each present: the StringEquals above, the entry's hash).
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': Object.values(VAULT_CONTEXT) },
      },
    }),
  );
}

/** The environment a vault writer needs: the table and the key that seals kept data. */
export function vaultWriterEnv(vault: VaultRef): Record<string, string> {
  return {
    [ENV.vaultTable]: vault.table.tableName,
    [VAULT_KEY_ENV.kmsKeyId]: vault.sealingKey.keyArn,
  };
}

/**
 * Reads kept records back and opens them (functions/lib/erasure/vault.ts VaultReader): GetItem on vault
 * records, the table key through DynamoDB, and Decrypt on the vault key for vault contexts only.
 */
export function vaultReadStatements(vault: VaultRef): iam.PolicyStatement[] {
  const statements = [
    new iam.PolicyStatement({
      actions: ['dynamodb:GetItem'],
      resources: [vault.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['VAULT#*'] } },
    }),
    new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [vault.sealingKey.keyArn],
      conditions: { StringEquals: { [`kms:EncryptionContext:${VAULT_CONTEXT.purpose}`]: VAULT_PURPOSE } },
    }),
  ];
  if (vault.key) {
    statements.push(
      new iam.PolicyStatement({
        actions: [...KMS_TABLE_READ],
        resources: [vault.key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(vault.table).region}.amazonaws.com` },
        },
      }),
    );
  }
  return statements;
}

/** What the sweep may read of a due vault item through the index (keys only): keys and expiry, never data. */
export const VAULT_SWEEP_ATTRIBUTES = ['pk', 'sk', 'kind', 'until'] as const;

/**
 * The sweep: lists due items through `indexName` (projecting only VAULT_SWEEP_ATTRIBUTES) and destroys
 * them with BatchWriteItem, vault records only (`VAULT#*`, never a suppression record). Destroying needs
 * no key to the kept data: the sweep gets the table key through DynamoDB and nothing of the vault key.
 */
export function grantVaultSweep(fn: DsrFunction, vault: VaultRef, indexName: string): void {
  fn.allow(
    new iam.PolicyStatement({
      actions: ['dynamodb:Query'],
      resources: [`${vault.table.tableArn}/index/${indexName}`],
      conditions: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...VAULT_SWEEP_ATTRIBUTES] },
        StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
      },
    }),
  );
  fn.allow(
    new iam.PolicyStatement({
      actions: ['dynamodb:BatchWriteItem'],
      resources: [vault.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['VAULT#*'] } },
    }),
  );
  grantTableKey(fn, vault, KMS_TABLE_WRITE);
}

/**
 * Reading a table's stream, as a Lambda event source mapping does with the function's role. The stream is
 * encrypted with the table's key; stream reads go through the DynamoDB Streams endpoint, so the decrypt
 * grant carries no kms:ViaService condition (the function is given no object or item data it could use
 * it on besides what its own grants already read).
 */
export function grantStreamRead(fn: DsrFunction, ref: TableRef): void {
  const streamArn = ref.table.tableStreamArn;
  if (!streamArn) throw new Error('The table has no stream');
  fn.allow(
    new iam.PolicyStatement({
      actions: [
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
      ],
      resources: [streamArn],
    }),
  );
  if (ref.key) {
    fn.allow(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [ref.key.keyArn] }));
  }
}

/** Sending to an SQS queue encrypted with a customer managed key (e.g. an event source's on-failure queue). */
export function grantQueueSend(fn: DsrFunction, queue: sqs.IQueue): void {
  fn.allow(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
  if (queue.encryptionMasterKey) {
    fn.allow(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [queue.encryptionMasterKey.keyArn],
        conditions: viaService('sqs', fn),
      }),
    );
  }
}
