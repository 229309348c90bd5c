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
import { orchestratorResources } from '../../config/data-map';
import { INDEX_TTL_ATTRIBUTE } from '../../functions/lib/identifiers/identifier-index';
import { REQUESTS_TTL_ATTRIBUTE } from '../../functions/lib/requests/request-table';
import { secureBucket, secureTable, type BucketRef, type TableRef } from './storage';

/** Requests carry their own expiry (kept for the audit period, then removed by DynamoDB TTL). */
export { REQUESTS_TTL_ATTRIBUTE };
/** Export archives (functions/assemble-export/core.ts archiveKey) and certificates (certificateKey). */
export const ARCHIVES_PREFIX = 'exports/';
export const CERTIFICATES_PREFIX = 'certificates/';
/** Staging is deleted by each workflow; the lifecycle rule is only the backstop for a failed clean-up. */
export const STAGING_EXPIRY_DAYS = 2;
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

export class OrchestratorState extends Construct {
  readonly requests: TableRef;
  readonly staging: BucketRef;
  readonly exports: BucketRef;
  readonly vaultTable: VaultRef;
  readonly vaultBucket: BucketRef;
  readonly identifierIndex: TableRef;
  readonly logIndex: TableRef;

  constructor(scope: Construct, id: string, props: OrchestratorStateProps) {
    super(scope, id);
    const { key, vaultKey, vaultStorageKey, accessLogs } = props;

    this.requests = secureTable(this, 'RequestsTable', orchestratorResources.requestsTable, key, {
      timeToLiveAttribute: REQUESTS_TTL_ATTRIBUTE,
      deletionProtection: true,
      stream: REQUESTS_STREAM_VIEW,
    });

    this.staging = secureBucket(this, 'StagingBucket', {
      key,
      accessLogs,
      lifecycleRules: [
        { id: 'staging-backstop', expiration: Duration.days(STAGING_EXPIRY_DAYS) },
        { id: 'abort-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });

    this.exports = secureBucket(this, 'ExportsBucket', {
      key,
      accessLogs,
      // Archives go after the export retention; certificates are the erasure's proof and stay for the
      // audit period. One rule per prefix: a rule without one would expire certificates with archives.
      lifecycleRules: [
        {
          id: 'expire-archives',
          prefix: ARCHIVES_PREFIX,
          expiration: Duration.days(props.exportRetentionDays),
        },
        {
          id: 'expire-certificates',
          prefix: CERTIFICATES_PREFIX,
          expiration: Duration.days(props.auditPeriodDays),
        },
        { id: 'abort-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
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
      { timeToLiveAttribute: INDEX_TTL_ATTRIBUTE, deletionProtection: true },
    );
    this.logIndex = secureTable(this, 'LogIndexTable', orchestratorResources.logIndexTable, key, {
      deletionProtection: true,
    });
  }
}
