/**
 * The platform's stores (shared/stores.md), created for a demo deployment or imported by name when the
 * deployment points at the platform's real tables and buckets. Shapes come from config/data-map.ts.
 */
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { platformStores, type TableSpec } from '../../config/data-map';
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
