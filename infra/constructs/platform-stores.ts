/**
 * The platform's stores (shared/stores.md), created for a demo deployment or imported by name when the
 * deployment points at the platform's real tables and buckets. Shapes come from config/data-map.ts.
 */
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { Stack } from 'aws-cdk-lib';
import {
  ENV,
  platformStores,
  serviceOwnTables,
  type ServiceOwnResource,
  type TableSpec,
} from '../../config/data-map';
import type { DsrDeploymentConfig, ExistingResource, PlatformResourceId } from '../config';
import { secureBucket, secureTable, type BucketRef, type TableRef } from './storage';

export interface PlatformStoresProps {
  config: Pick<DsrDeploymentConfig, 'platformStores' | 'existing'>;
  /** Required when creating: encrypts the demo stores. */
  key?: kms.IKey;
  accessLogs: s3.IBucket;
}

export class PlatformStores extends Construct {
  readonly accounts: TableRef;
  readonly payments: TableRef;
  readonly chatRooms: TableRef;
  readonly chatMessages: TableRef;
  readonly media: BucketRef;
  readonly logs: BucketRef;
  readonly marketing: TableRef;
  readonly imported: boolean;
  /**
   * The tables services keep as their own (config/data-map.ts serviceStores), shaped as the shared ones:
   * created with them for a demo, imported by their data-map names otherwise.
   */
  readonly serviceTables: { service: string; resource: ServiceOwnResource; ref: TableRef }[] = [];

  constructor(scope: Construct, id: string, props: PlatformStoresProps) {
    super(scope, id);
    this.imported = props.config.platformStores === 'import';
    const existing = props.config.existing;

    if (this.imported) {
      const table = (resourceId: PlatformResourceId, spec: TableSpec) =>
        this.importTable(resourceId, spec, existing[resourceId]);
      const bucket = (resourceId: PlatformResourceId, defaultName: string) =>
        this.importBucket(resourceId, defaultName, existing[resourceId]);
      this.accounts = table('accountsTable', platformStores.accounts.table);
      this.payments = table('paymentsTable', platformStores.payments.table);
      this.chatRooms = table('chatRoomsTable', platformStores.chat.roomsTable);
      this.chatMessages = table('chatMessagesTable', platformStores.chat.messagesTable);
      this.media = bucket('mediaBucket', platformStores.media.bucketName);
      this.logs = bucket('logsBucket', platformStores.logs.bucketName);
      this.marketing = table('marketingTable', platformStores.marketing.table);
      for (const own of serviceOwnTables()) {
        const imported = dynamodb.Table.fromTableAttributes(this, pascalId(own.service, own.resource), {
          tableName: own.spec.tableName,
          globalIndexes: own.spec.indexes.map((i) => i.indexName),
        });
        this.serviceTables.push({ ...own, ref: { table: imported, spec: own.spec } });
      }
      return;
    }

    const key = props.key;
    if (!key) throw new Error('PlatformStores needs a KMS key to create the demo stores');
    // Physical names are left to CloudFormation (bucket names are global); functions get them via env.
    this.accounts = secureTable(this, 'AccountsTable', platformStores.accounts.table, key);
    this.payments = secureTable(this, 'PaymentsTable', platformStores.payments.table, key);
    this.chatRooms = secureTable(this, 'ChatRoomsTable', platformStores.chat.roomsTable, key);
    this.chatMessages = secureTable(this, 'ChatMessagesTable', platformStores.chat.messagesTable, key);
    this.media = secureBucket(this, 'MediaBucket', {
      key,
      accessLogs: props.accessLogs,
      versioned: platformStores.media.versioned,
    });
    this.logs = secureBucket(this, 'LogsBucket', { key, accessLogs: props.accessLogs });
    this.marketing = secureTable(this, 'MarketingEventsTable', platformStores.marketing.table, key);
    for (const own of serviceOwnTables()) {
      const ref = secureTable(this, pascalId(own.service, own.resource), own.spec, key);
      this.serviceTables.push({ ...own, ref });
    }
  }

  /** The tables of a store: the shared one, then every service's own. */
  tablesOf(resource: ServiceOwnResource): TableRef[] {
    const shared: Record<ServiceOwnResource, TableRef> = {
      accountsTable: this.accounts,
      paymentsTable: this.payments,
      chatRoomsTable: this.chatRooms,
      chatMessagesTable: this.chatMessages,
      marketingTable: this.marketing,
    };
    return [shared[resource], ...this.serviceTables.filter((t) => t.resource === resource).map((t) => t.ref)];
  }

  /**
   * The value of SERVICE_STORES for a function using these stores: each service's own tables (of these
   * resources only) under the shared tables' variable names.
   */
  serviceStoresEnv(scope: Construct, resources: readonly ServiceOwnResource[]): string {
    const out: Record<string, Record<string, string>> = {};
    for (const { service, resource, ref } of this.serviceTables) {
      if (!resources.includes(resource)) continue;
      (out[service] ??= {})[ENV[resource]] = ref.table.tableName;
    }
    return Stack.of(scope).toJsonString(out);
  }

  private importKey(resourceId: PlatformResourceId, existing?: ExistingResource): kms.IKey | undefined {
    return existing?.kmsKeyArn ? kms.Key.fromKeyArn(this, `${resourceId}Key`, existing.kmsKeyArn) : undefined;
  }

  private importTable(
    resourceId: PlatformResourceId,
    spec: TableSpec,
    existing?: ExistingResource,
  ): TableRef {
    const key = this.importKey(resourceId, existing);
    const table = dynamodb.Table.fromTableAttributes(this, resourceId, {
      tableName: existing?.name ?? spec.tableName,
      encryptionKey: key,
      globalIndexes: spec.indexes.map((i) => i.indexName),
      tableStreamArn: existing?.streamArn,
    });
    return { table, spec: { ...spec, tableName: table.tableName }, key };
  }

  private importBucket(
    resourceId: PlatformResourceId,
    defaultName: string,
    existing?: ExistingResource,
  ): BucketRef {
    const key = this.importKey(resourceId, existing);
    const bucket = s3.Bucket.fromBucketAttributes(this, resourceId, {
      bucketName: existing?.name ?? defaultName,
      encryptionKey: key,
    });
    return { bucket, key };
  }
}

/** `metalive` + `accountsTable` -> `MetaliveAccountsTable`. */
function pascalId(service: string, resource: string): string {
  const word = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);
  return [...service.split('-'), resource].map(word).join('');
}
