/**
 * One connector Lambda per store in STORE_NAMES (functions/connectors/<store>/handler.ts). Each may reach
 * its own store only, with exactly the calls its collect, inventory and erase code makes; read and write
 * the staging bucket under requests/; and, where its store retains records under a statute (accounts,
 * payments, chat, marketing), add them to the retention vault without being able to read it.
 */
import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  ENV,
  platformStores,
  STORE_NAMES,
  type ServiceOwnResource,
  type StoreName,
} from '../../config/data-map';
import { connectorFolder } from '../../functions/lib/connectors/catalog';
import { SUBJECT_HASH_KEY_ENV } from '../../functions/lib/crypto/subject-hash';
import { grantBucket, grantKey, grantTable, grantVaultAppend, vaultWriterEnv } from './access';
import type { LogIndexRef, VaultRef } from './orchestrator-state';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { PlatformStores } from './platform-stores';
import type { BucketRef } from './storage';
import { DsrFunction, type FunctionDefaults } from './task-function';

/** Staging keys live under requests/<requestId>/ (functions/lib/aws/s3-objects.ts stagingKeys). */
export const STAGING_PREFIX = 'requests/';
export const STAGING_REASON =
  'Staging objects are keyed by request id (requests/<requestId>/...), known only at run time; ' +
  'access is limited to the requests/ prefix of the staging bucket.';

/**
 * functions/lib/connectors/media-objects.ts MEDIA_BUCKET_VERSIONED_ENV: erase deletes every version where
 * true.
 */
export const MEDIA_BUCKET_VERSIONED_ENV = 'MEDIA_BUCKET_VERSIONED';

/** Per-subject media key prefixes up to the first placeholder: avatars/{userId}/ -> avatars/. */
export function mediaSubjectPrefixes(): string[] {
  return platformStores.media.subjectPrefixes.map((p) => p.slice(0, p.indexOf('{')));
}

/** Every media prefix an export may copy from: the subject's own and the chat attachments. */
export function mediaPrefixes(): string[] {
  return [...mediaSubjectPrefixes(), platformStores.media.chatAttachmentsPrefix];
}

export function logsPrefixes(): string[] {
  return [platformStores.logs.accessPrefix, platformStores.logs.voiceSessionsPrefix];
}

export const LOGS_PREFIX_REASON =
  'Log objects are partitioned by day (access/dt=YYYY-MM-DD/...), known only at run time; access ' +
  'is limited to the access/ and voice-sessions/ prefixes of the logs bucket.';

/** Reads the day objects (listing included), never writes them: the logs connector and the indexer. */
export function grantLogsRead(fn: DsrFunction, logs: BucketRef): void {
  grantBucket(fn, logs, {
    objects: ['s3:GetObject'],
    objectPrefixes: logsPrefixes(),
    list: ['s3:ListBucket'],
    kms: 'read',
    reason: LOGS_PREFIX_REASON,
  });
}

/**
 * Access to the log index and its environment. `read`: the logs connector (watermark, day and object
 * files); `write`: the indexer, which also moves the watermark, and the log-erasure job, which carries
 * object files over to the versions it writes and merges day files again. Both writers delete the files
 * of versions gone.
 */
export function grantLogIndex(fn: DsrFunction, index: LogIndexRef, access: 'read' | 'write' | 'index'): void {
  grantTable(fn, index.table, {
    table: access === 'index' ? ['dynamodb:GetItem', 'dynamodb:PutItem'] : ['dynamodb:GetItem'],
  });
  grantBucket(fn, index.files, {
    objects: access === 'read' ? ['s3:GetObject'] : ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
    objectPrefixes: [''],
    list: ['s3:ListBucket'],
    kms: access === 'read' ? 'read' : 'write',
    reason:
      'The log index bucket holds only index files, named after the log objects they index (known only at ' +
      'run time); the bucket holds nothing else.',
  });
}

/** What a function reaching the log index is told: its table and bucket, and the logs bucket it follows. */
export function logIndexEnv(index: LogIndexRef, logs: BucketRef): Record<string, string> {
  return {
    [ENV.logIndexTable]: index.table.table.tableName,
    [ENV.logIndexBucket]: index.files.bucket.bucketName,
    [ENV.logsBucket]: logs.bucket.bucketName,
  };
}

/** The vault's partition keys each retaining connector may write (functions/lib/erasure/vault.ts vaultKey). */
export const VAULT_LEADING_KEYS: Partial<Record<StoreName, string[]>> = {
  // Retained marketing consents, and the suppression record every account erasure leaves.
  accounts: ['VAULT#accounts#*', 'SUPPRESSION#*'],
  payments: ['VAULT#payments#*'],
  chat: ['VAULT#chat#*'],
  marketing: ['VAULT#marketing#*'],
};

/** The vault records the log-erasure job (functions/erase-logs) adds: retained log lines. */
export const LOG_JOB_VAULT_KEYS = ['VAULT#logs#*'];

export interface ConnectorsProps {
  stores: PlatformStores;
  staging: BucketRef;
  vault: VaultRef;
  /** The subject index of the logs, through which the logs connector finds the objects to read. */
  logIndex: LogIndexRef;
  /** The index's hashes are keyed with a key derived from the subject-hash key. */
  subjectHashKey: kms.IKey;
  defaults: FunctionDefaults;
}

export class Connectors extends Construct {
  readonly functions: Record<StoreName, DsrFunction>;

  constructor(scope: Construct, id: string, props: ConnectorsProps) {
    super(scope, id);
    const { stores, vault } = props;
    const versioned = platformStores.media.versioned;
    // Versioned, erasure deletes each version and delete marker by id (DeleteObjectVersion) after
    // listing them (ListBucketVersions); unversioned, plain keys (DeleteObject).
    const mediaErase = versioned
      ? { list: 's3:ListBucketVersions' as const, remove: 's3:DeleteObjectVersion' }
      : { list: 's3:ListBucket' as const, remove: 's3:DeleteObject' };
    const vaultEnv = vaultWriterEnv(vault);
    // The services' own tables of a store (config/data-map.ts serviceStores): each connector gets the
    // same grants on them as on the shared table, and their names under SERVICE_STORES.
    const ownStores = (resources: ServiceOwnResource[]) => ({
      [ENV.serviceStores]: stores.serviceStoresEnv(this, resources),
    });

    // Store-specific grants and environment; the exhaustive record makes a new store a compile error here.
    const storeAccess: Record<StoreName, (fn: DsrFunction) => Record<string, string>> = {
      accounts: (fn) => {
        // Items are read by user id only (collect, inventory, erase); erase removes attributes or the item.
        for (const table of stores.tablesOf('accountsTable'))
          grantTable(fn, table, {
            table: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
          });
        // Retained consents are batched (BatchWriteItem); the suppression record is one conditional PutItem.
        grantVaultAppend(fn, vault, {
          actions: ['dynamodb:PutItem', 'dynamodb:BatchWriteItem'],
          leadingKeys: VAULT_LEADING_KEYS.accounts ?? [],
          store: 'accounts',
        });
        return {
          [ENV.accountsTable]: stores.accounts.table.tableName,
          ...ownStores(['accountsTable']),
          ...vaultEnv,
        };
      },
      payments: (fn) => {
        // Whole items go in batches (BatchWriteItem); an item half under a hold loses attributes (UpdateItem).
        for (const table of stores.tablesOf('paymentsTable'))
          grantTable(fn, table, {
            table: ['dynamodb:Query', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem'],
          });
        grantVaultAppend(fn, vault, {
          actions: ['dynamodb:BatchWriteItem'],
          leadingKeys: VAULT_LEADING_KEYS.payments ?? [],
          store: 'payments',
        });
        return {
          [ENV.paymentsTable]: stores.payments.table.tableName,
          ...ownStores(['paymentsTable']),
          ...vaultEnv,
        };
      },
      chat: (fn) => {
        // Rooms are read by id (found through the subject's messages, never a Scan); erase leaves the
        // room and removes the subject from its members.
        for (const table of stores.tablesOf('chatRoomsTable'))
          grantTable(fn, table, { table: ['dynamodb:GetItem', 'dynamodb:UpdateItem'] });
        for (const table of stores.tablesOf('chatMessagesTable'))
          grantTable(fn, table, {
            table: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
            indexes: { names: ['bySender'], actions: ['dynamodb:Query'] },
          });
        grantVaultAppend(fn, vault, {
          actions: ['dynamodb:BatchWriteItem'],
          leadingKeys: VAULT_LEADING_KEYS.chat ?? [],
          store: 'chat',
        });
        // The erased messages' attachments (chat-attachments/{roomId}/{messageId}/) go with them; the
        // connector never reads them (assemble-export copies them into archives).
        grantBucket(fn, stores.media, {
          objects: [mediaErase.remove],
          objectPrefixes: [platformStores.media.chatAttachmentsPrefix],
          list: [mediaErase.list],
          kms: 'none',
          reason:
            'Attachment keys embed room and message ids (chat-attachments/{roomId}/{messageId}/...), known ' +
            'only at run time; erase access is limited to the chat-attachments/ prefix of the media bucket.',
        });
        return {
          [ENV.chatRoomsTable]: stores.chatRooms.table.tableName,
          [ENV.chatMessagesTable]: stores.chatMessages.table.tableName,
          ...ownStores(['chatRoomsTable', 'chatMessagesTable']),
          [ENV.mediaBucket]: stores.media.bucket.bucketName,
          [MEDIA_BUCKET_VERSIONED_ENV]: String(versioned),
          ...vaultEnv,
        };
      },
      media: (fn) => {
        // Collect and inventory only list (assemble-export copies the files); erase deletes. No object
        // is ever read here, so no decrypt either.
        grantBucket(fn, stores.media, {
          objects: [mediaErase.remove],
          objectPrefixes: mediaSubjectPrefixes(),
          list: versioned ? ['s3:ListBucket', 's3:ListBucketVersions'] : ['s3:ListBucket'],
          kms: 'none',
          reason:
            'Media keys embed user ids (avatars/{userId}/...), known only at run time; access is limited to ' +
            "the data map's per-subject prefixes of the media bucket.",
        });
        return {
          [ENV.mediaBucket]: stores.media.bucket.bucketName,
          [MEDIA_BUCKET_VERSIONED_ENV]: String(versioned),
        };
      },
      logs: (fn) => {
        // Reads shared day objects only: the batched log-erasure job (erase-logs) rewrites them.
        grantLogsRead(fn, stores.logs);
        // The objects to read come from the log index: the watermark, the day files of the days before
        // it and the object files after it.
        grantLogIndex(fn, props.logIndex, 'read');
        grantKey(fn, props.subjectHashKey, ['kms:GenerateMac']);
        return {
          ...logIndexEnv(props.logIndex, stores.logs),
          [SUBJECT_HASH_KEY_ENV.kmsKeyId]: props.subjectHashKey.keyArn,
        };
      },
      marketing: (fn) => {
        // Events are read by user id (Query) and go whole, in batches (BatchWriteItem): never updated.
        for (const table of stores.tablesOf('marketingTable'))
          grantTable(fn, table, { table: ['dynamodb:Query', 'dynamodb:BatchWriteItem'] });
        // Advertising records kept under a statute (KR: 6 months).
        grantVaultAppend(fn, vault, {
          actions: ['dynamodb:BatchWriteItem'],
          leadingKeys: VAULT_LEADING_KEYS.marketing ?? [],
          store: 'marketing',
        });
        return {
          [ENV.marketingTable]: stores.marketing.table.tableName,
          ...ownStores(['marketingTable']),
          ...vaultEnv,
        };
      },
    };

    const functions = {} as Record<StoreName, DsrFunction>;
    for (const store of STORE_NAMES) {
      const fn = new DsrFunction(this, pascal(store), {
        entry: `functions/${connectorFolder(store)}/handler.ts`,
        description: `DSR connector: ${store}`,
        environment: { [ENV.stagingBucket]: props.staging.bucket.bucketName },
        defaults: props.defaults,
        memorySize: 1024,
        timeout: Duration.minutes(15),
      });
      for (const [name, value] of Object.entries(storeAccess[store](fn)))
        fn.function.addEnvironment(name, value);
      grantBucket(fn, props.staging, {
        objects: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
        objectPrefixes: [STAGING_PREFIX],
        kms: 'write',
        reason: STAGING_REASON,
      });
      functions[store] = fn;
    }
    this.functions = functions;
  }
}

export function pascal(name: string): string {
  return name
    .split(/[-_/]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
