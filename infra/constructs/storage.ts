/**
 * The storage shapes every table and bucket of the stack share: KMS (customer managed) encryption,
 * point-in-time recovery, public access blocked, TLS-only bucket policies and server access logs.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { TableSpec } from '../../config/data-map';

/** A table with what the orchestrator needs to grant access to it. */
export interface TableRef {
  readonly table: dynamodb.ITable;
  readonly spec: TableSpec;
  /** Customer managed key encrypting it, if any. */
  readonly key?: kms.IKey;
}

/** A bucket with the key encrypting it, if a customer managed one. */
export interface BucketRef {
  readonly bucket: s3.IBucket;
  readonly key?: kms.IKey;
}

export interface SecureTableOptions {
  deletionProtection?: boolean;
  /**
   * A DynamoDB stream (encrypted with the table's key) for a function to react to writes; by default
   * the one the data map names for the table, if any.
   */
  stream?: dynamodb.StreamViewType;
}

const S = dynamodb.AttributeType.STRING;

/** Every key attribute in the data map is a string (ids, `<time>#<id>` sort keys, hashes). */
export function secureTable(
  scope: Construct,
  id: string,
  spec: TableSpec,
  key: kms.IKey,
  options: SecureTableOptions = {},
): TableRef {
  const table = new dynamodb.Table(scope, id, {
    partitionKey: { name: spec.partitionKey, type: S },
    sortKey: spec.sortKey ? { name: spec.sortKey, type: S } : undefined,
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: key,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: spec.ttlAttribute,
    deletionProtection: options.deletionProtection,
    stream: options.stream ?? (spec.stream ? dynamodb.StreamViewType[spec.stream] : undefined),
  });
  for (const index of spec.indexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: { name: index.partitionKey, type: S },
      sortKey: index.sortKey ? { name: index.sortKey, type: S } : undefined,
      projectionType: dynamodb.ProjectionType[index.projection ?? 'ALL'],
      nonKeyAttributes: index.projection === 'INCLUDE' ? [...(index.nonKeyAttributes ?? [])] : undefined,
    });
  }
  return { table, spec, key };
}

export interface SecureBucketOptions {
  key: kms.IKey;
  accessLogs: s3.IBucket;
  versioned?: boolean;
  lifecycleRules?: s3.LifecycleRule[];
}

const BASE_BUCKET_PROPS = {
  encryption: s3.BucketEncryption.KMS,
  // One data key per bucket and period instead of a KMS call per object.
  bucketKeyEnabled: true,
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  enforceSSL: true,
  minimumTLSVersion: 1.2,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
} satisfies s3.BucketProps;

export function secureBucket(scope: Construct, id: string, options: SecureBucketOptions): BucketRef {
  const bucket = new s3.Bucket(scope, id, {
    ...BASE_BUCKET_PROPS,
    encryptionKey: options.key,
    serverAccessLogsBucket: options.accessLogs,
    serverAccessLogsPrefix: `${id}/`,
    versioned: options.versioned,
    lifecycleRules: options.lifecycleRules,
  });
  return { bucket, key: options.key };
}

/**
 * The destination of every bucket's server access logs. S3 access logs name requesters' IP addresses
 * (presigned downloads come from end users), so they expire with the log retention.
 */
export function accessLogsBucket(
  scope: Construct,
  id: string,
  key: kms.IKey,
  retentionDays: number,
): s3.Bucket {
  const bucket = new s3.Bucket(scope, id, {
    ...BASE_BUCKET_PROPS,
    encryptionKey: key,
    lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(retentionDays) }],
  });
  Validations.of(bucket).acknowledge({
    id: 'AwsSolutions-S1',
    reason:
      'This bucket is the server access log destination of every other bucket; logging it into itself ' +
      'would log its own log deliveries without end.',
  });
  return bucket;
}
