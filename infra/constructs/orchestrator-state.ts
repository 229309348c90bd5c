/**
 * The orchestrator's own state, apart from the platform's stores: the requests table, the staging
 * bucket (transient collection output), the exports bucket (signed archives and erasure certificates), and
 * the retention vault, its kept data sealed under a key of its own (the table under another): the
 * connectors that retain records may only add to it, only the sweep may list (keys and dates, never the
 * kept data) and destroy, and only the vault reader may open what is kept. And the
 * identifier index (device ids and linked accounts -> accounts, by keyed hash), whose unlinked entries
 * expire by TTL, and the subject index of the logs (keyed hashes only, rebuildable from the logs).
 */
import { Duration } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  orchestratorBucketExpiry,
  orchestratorResources,
  type ExpiryRule,
  type RetentionPeriods,
} from '../../config/data-map';
import { secureBucket, secureTable, type BucketRef, type TableRef } from './storage';

export { ARCHIVES_PREFIX, CERTIFICATES_PREFIX, STAGING_EXPIRY_DAYS } from '../../config/data-map';
/**
 * The callback deliverer reacts to new outbox items through the requests table's stream; its event filter
 * matches on the new item's `kind`, which needs the new image (the function itself reads only the key).
 */
export const REQUESTS_STREAM_VIEW = dynamodb.StreamViewType.NEW_IMAGE;

/** The vault table and the key its kept data is sealed with (not the table's own key). */
export interface VaultRef extends TableRef {
  readonly sealingKey: kms.IKey;
}

export interface OrchestratorStateProps {
  key: kms.IKey;
  /** Seals the kept data of vault records (envelope encryption). */
  vaultKey: kms.IKey;
  /** The vault table and bucket at rest. */
  vaultStorageKey: kms.IKey;
  accessLogs: s3.IBucket;
  exportRetentionDays: number;
  auditPeriodDays: number;
}

/** The bucket's expiry rules (the ones the local stack's reaper applies too), and aborted uploads' clean-up. */
function lifecycleRules(rules: readonly ExpiryRule[] | undefined): s3.LifecycleRule[] {
  return [
    ...(rules ?? []).map((rule) => ({
      id: rule.id,
      ...(rule.prefix ? { prefix: rule.prefix } : {}),
      expiration: Duration.days(rule.days),
    })),
    { id: 'abort-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
  ];
}

/** The subject index of the logs (functions/lib/logs/index-store.ts): its files, and its watermarks' table. */
export interface LogIndexRef {
  table: TableRef;
  files: BucketRef;
}

export class OrchestratorState extends Construct {
  readonly requests: TableRef;
  readonly staging: BucketRef;
  readonly exports: BucketRef;
  readonly vaultTable: VaultRef;
  readonly vaultBucket: BucketRef;
  readonly identifierIndex: TableRef;
  readonly logIndex: LogIndexRef;

  constructor(scope: Construct, id: string, props: OrchestratorStateProps) {
    super(scope, id);
    const { key, vaultKey, vaultStorageKey, accessLogs } = props;
    const periods: RetentionPeriods = props;
    const expiry = orchestratorBucketExpiry(periods);

    this.requests = secureTable(this, 'RequestsTable', orchestratorResources.requestsTable, key, {
      deletionProtection: true,
      stream: REQUESTS_STREAM_VIEW,
    });

    this.staging = secureBucket(this, 'StagingBucket', {
      key,
      accessLogs,
      lifecycleRules: lifecycleRules(expiry[orchestratorResources.stagingBucket]),
    });

    this.exports = secureBucket(this, 'ExportsBucket', {
      key,
      accessLogs,
      lifecycleRules: lifecycleRules(expiry[orchestratorResources.exportsBucket]),
    });

    // Unversioned on purpose: a destroyed vault item must not survive as an old object version.
    this.vaultTable = {
      ...secureTable(this, 'VaultTable', orchestratorResources.vaultTable, vaultStorageKey, {
        deletionProtection: true,
      }),
      sealingKey: vaultKey,
    };
    this.vaultBucket = secureBucket(this, 'VaultBucket', { key: vaultStorageKey, accessLogs });

    this.identifierIndex = secureTable(
      this,
      'IdentifierIndexTable',
      orchestratorResources.identifierIndexTable,
      key,
      { deletionProtection: true },
    );
    this.logIndex = {
      table: secureTable(this, 'LogIndexTable', orchestratorResources.logIndexTable, key, {
        deletionProtection: true,
      }),
      // Derived data only (keyed hashes): rebuilt by the backfill if lost, so no versioning is needed.
      files: secureBucket(this, 'LogIndexBucket', { key, accessLogs }),
    };
  }
}
