/**
 * Every KMS key of the deployment, one per trust boundary: whoever can decrypt one set of data cannot
 * thereby decrypt another. Symmetric keys rotate yearly; KMS rotates neither asymmetric nor HMAC keys.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface DsrKeysProps {
  /** Only a deployment that creates the platform stores needs a key for them. */
  createPlatformKey: boolean;
}

export class DsrKeys extends Construct {
  /** Platform stores created by a demo deployment (every store of the data map). */
  readonly platform?: kms.Key;
  /** The orchestrator's working state: requests table, staging and exports buckets. */
  readonly orchestrator: kms.Key;
  /**
   * Seals the retention vault's kept data (envelope encryption, functions/lib/crypto/envelope.ts): its
   * writers may only generate data keys bound to their store, only the vault reader may decrypt them.
   */
  readonly vault: kms.Key;
  /**
   * The vault table and bucket at rest. DynamoDB needs it for every call of every caller of the table,
   * writers included, so it is not the key that keeps the kept data from them.
   */
  readonly vaultStorage: kms.Key;
  /** Operational data: log groups, S3 server access logs, the alarm topic. */
  readonly observability: kms.Key;
  /** ECC P-256 key that signs archive manifests and erasure certificates. */
  readonly signing: kms.Key;
  /** HMAC key for subject keyed hashes. */
  readonly subjectHash: kms.Key;
  /** HMAC key for download-link tokens: apart from subject hashes, so neither MAC can stand in for the other. */
  readonly downloadToken: kms.Key;

  constructor(scope: Construct, id: string, props: DsrKeysProps) {
    super(scope, id);
    const symmetric = (keyId: string, description: string) =>
      new kms.Key(this, keyId, {
        description,
        enableKeyRotation: true,
        rotationPeriod: Duration.days(365),
        pendingWindow: Duration.days(30),
      });

    if (props.createPlatformKey) {
      this.platform = symmetric('PlatformKey', 'DSR demo platform stores (tables and buckets)');
    }
    this.orchestrator = symmetric('OrchestratorKey', 'DSR orchestrator state: requests, staging, exports');
    this.vault = symmetric(
      'VaultKey',
      'DSR retention vault: seals kept records (data keys bound to each record)',
    );
    this.vaultStorage = symmetric('VaultStorageKey', 'DSR retention vault table and bucket at rest');
    this.observability = symmetric('ObservabilityKey', 'DSR log groups, S3 access logs and alarm topic');

    this.signing = new kms.Key(this, 'SigningKey', {
      description: 'DSR archive and certificate signatures (ECDSA P-256)',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      pendingWindow: Duration.days(30),
    });
    this.subjectHash = new kms.Key(this, 'SubjectHashKey', {
      description: 'DSR subject keyed hashes (HMAC-SHA-256)',
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      pendingWindow: Duration.days(30),
    });
    this.downloadToken = new kms.Key(this, 'DownloadTokenKey', {
      description: 'DSR download-link token MACs (HMAC-SHA-256)',
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      pendingWindow: Duration.days(30),
    });

    this.allowCloudWatchLogs(this.observability);
  }

  /**
   * CloudWatch Logs encrypts with the key itself, so the key policy (not IAM) must let the regional
   * service use it, and only for this account's log groups.
   */
  private allowCloudWatchLogs(key: kms.Key): void {
    const stack = Stack.of(this);
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchLogsOfThisAccount',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
  }
}
