/**
 * One connector Lambda per store in STORE_NAMES (functions/connectors/<store>/handler.ts). Each may read
 * its own store only, and read and write the staging bucket under requests/.
 */
import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ENV, platformStores, STORE_NAMES, type StoreName } from '../../config/data-map';
import { connectorFolder } from '../../functions/catalog';
import { DDB, grantBucket, grantTable } from './access';
import type { PlatformStores } from './platform-stores';
import type { BucketRef } from './storage';
import { DsrFunction, type FunctionDefaults } from './task-function';

/** Staging keys live under requests/<requestId>/ (functions/shared/s3-objects.ts stagingKeys). */
export const STAGING_PREFIX = 'requests/';
export const STAGING_REASON =
  'Staging objects are keyed by request id (requests/<requestId>/...), known only at run time; ' +
  'access is limited to the requests/ prefix of the staging bucket.';

/** Media key prefixes up to the first per-subject placeholder: avatars/{userId}/ -> avatars/. */
export function mediaPrefixes(): string[] {
  const subject = platformStores.media.subjectPrefixes.map((p) => p.slice(0, p.indexOf('{')));
  return [...subject, platformStores.media.chatAttachmentsPrefix];
}

export function logsPrefixes(): string[] {
  return [platformStores.logs.accessPrefix, platformStores.logs.voiceSessionsPrefix];
}

export interface ConnectorsProps {
  stores: PlatformStores;
  staging: BucketRef;
  defaults: FunctionDefaults;
}

export class Connectors extends Construct {
  readonly functions: Record<StoreName, DsrFunction>;

  constructor(scope: Construct, id: string, props: ConnectorsProps) {
    super(scope, id);
    const { stores } = props;

    // Store-specific grants and environment; the exhaustive record makes a new store a compile error here.
    const storeAccess: Record<StoreName, (fn: DsrFunction) => Record<string, string>> = {
      accounts: (fn) => {
        grantTable(fn, stores.accounts, {
          table: ['dynamodb:GetItem', 'dynamodb:Query'],
          indexes: {
            names: stores.accounts.spec.indexes.map((i) => i.indexName),
            actions: ['dynamodb:Query'],
          },
        });
        return { [ENV.accountsTable]: stores.accounts.table.tableName };
      },
      payments: (fn) => {
        grantTable(fn, stores.payments, { table: ['dynamodb:Query'] });
        return { [ENV.paymentsTable]: stores.payments.table.tableName };
      },
      chat: (fn) => {
        // Rooms have no index on members: finding a subject's rooms reads the rooms table.
        grantTable(fn, stores.chatRooms, { table: DDB.read });
        grantTable(fn, stores.chatMessages, {
          table: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
          indexes: { names: ['bySender'], actions: ['dynamodb:Query'] },
        });
        return {
          [ENV.chatRoomsTable]: stores.chatRooms.table.tableName,
          [ENV.chatMessagesTable]: stores.chatMessages.table.tableName,
          // Only to name where attachments lie (assemble-export copies them); no access is granted.
          [ENV.mediaBucket]: stores.media.bucket.bucketName,
        };
      },
      media: (fn) => {
        grantBucket(fn, stores.media, {
          // GetObjectVersion: the bucket is versioned, and a listed version is read by its id.
          objects: ['s3:GetObject', 's3:GetObjectVersion'],
          objectPrefixes: mediaPrefixes(),
          list: ['s3:ListBucket', 's3:ListBucketVersions'],
          kms: 'read',
          reason:
            'Media keys embed user and file ids (avatars/{userId}/...), known only at run time; read access ' +
            'is limited to the data map prefixes of the media bucket.',
        });
        return { [ENV.mediaBucket]: stores.media.bucket.bucketName };
      },
      logs: (fn) => {
        grantBucket(fn, stores.logs, {
          objects: ['s3:GetObject'],
          objectPrefixes: logsPrefixes(),
          list: ['s3:ListBucket'],
          kms: 'read',
          reason:
            'Log objects are partitioned by day (access/dt=YYYY-MM-DD/...), known only at run time; read ' +
            'access is limited to the access/ and voice-sessions/ prefixes of the logs bucket.',
        });
        return { [ENV.logsBucket]: stores.logs.bucket.bucketName };
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
