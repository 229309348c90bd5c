/**
 * The identifier indexer (functions/index-identifiers): keeps the identifier index current from the
 * accounts table's stream, the platform's table created here for a demo or imported with its stream ARN
 * (`dsr:existing.accountsTable.streamArn`). A failed record is reported back (ReportBatchItemFailures)
 * and retried from there; a batch given up on lands, as metadata, on an on-failure queue that alarms. An
 * operator runs the backfill by invoking the function (docs/deploy.md): its one Scan of the accounts table.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../config/data-map';
import { grantKey, grantQueueSend, grantStreamRead, grantTable } from './access';
import { alarmWhenAny } from './alarms';
import type { TableRef } from './storage';
import { KEY_ENV } from './task-functions';
import { DsrFunction, type FunctionDefaults } from './task-function';

export interface IdentifierIndexerProps {
  /** The platform's accounts table, with its stream. */
  accounts: TableRef;
  /** The orchestrator's identifier index table. */
  index: TableRef;
  subjectHashKey: kms.IKey;
  /** Encrypts the on-failure queue (it holds batch metadata only: shard and sequence numbers). */
  observabilityKey: kms.IKey;
  alarmTopic: sns.ITopic;
  defaults: FunctionDefaults;
}

export class IdentifierIndexer extends Construct {
  readonly indexer: DsrFunction;
  readonly failures: sqs.Queue;
  readonly stream: lambda.EventSourceMapping;

  constructor(scope: Construct, id: string, props: IdentifierIndexerProps) {
    super(scope, id);
    const streamArn = props.accounts.table.tableStreamArn;
    if (!streamArn) throw new Error('The accounts table has no stream for the identifier indexer');

    this.indexer = new DsrFunction(this, 'Indexer', {
      entry: 'functions/index-identifiers/handler.ts',
      description: 'DSR identifier indexer',
      environment: {
        [ENV.accountsTable]: props.accounts.table.tableName,
        [ENV.identifierIndexTable]: props.index.table.tableName,
        [KEY_ENV.subjectHashKey]: props.subjectHashKey.keyArn,
      },
      defaults: props.defaults,
      // A backfill segment runs as long as Lambda allows; a stream batch takes seconds.
      timeout: Duration.minutes(15),
    });
    // Conditional writes of index entries, and nothing else: resolution reads the index, not the indexer.
    grantTable(this.indexer, props.index, { table: ['dynamodb:UpdateItem'] });
    // The backfill's Scan; the stream itself is read by the event source mapping with this role.
    grantTable(this.indexer, props.accounts, { table: ['dynamodb:Scan'] });
    grantStreamRead(this.indexer, props.accounts);
    grantKey(this.indexer, props.subjectHashKey, ['kms:GenerateMac']);

    this.failures = new sqs.Queue(this, 'AccountsStreamFailures', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.observabilityKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the on-failure destination of the accounts stream: it receives the metadata ' +
        'of batches the indexer gave up on, and its alarm tells an operator to run the backfill.',
    });
    grantQueueSend(this.indexer, this.failures);
    const failures = this.failures;
    this.stream = new lambda.EventSourceMapping(this, 'AccountsStream', {
      target: this.indexer.function,
      eventSourceArn: streamArn,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(1),
      // The handler names the first record it could not apply; the batch is retried from there.
      reportBatchItemFailures: true,
      retryAttempts: 10,
      // Our own destination binding: CDK's SqsDlq would grant in the role's default policy, with
      // wildcard KMS actions; grantQueueSend above grants exactly what sending needs.
      onFailure: { bind: () => ({ destination: failures.queueArn }) },
    });
    // The mapping is validated against the role when created: the grants must exist first.
    this.stream.node.addDependency(this.indexer.access);

    alarmWhenAny(
      this,
      'AccountsStreamFailuresAlarm',
      props.alarmTopic,
      this.failures.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      'The identifier indexer gave up on a batch of the accounts stream: resolution by device id or linked ' +
        'account may miss changes until the backfill runs (docs/deploy.md, "Identifier index").',
    );
    alarmWhenAny(
      this,
      'IndexerErrorsAlarm',
      props.alarmTopic,
      this.indexer.function.metricErrors({ period: Duration.minutes(15), statistic: 'Sum' }),
      'The identifier indexer failed; the stream retries it, but repeated failures need attention.',
    );
  }
}
