/**
 * The identifier indexer (functions/index-identifiers): keeps the identifier index current from the
 * accounts table's stream, the platform's table created here for a demo or imported with its stream ARN
 * (`dsr:existing.accountsTable.streamArn`). A failed record is reported back (ReportBatchItemFailures)
 * and retried from there; a batch given up on lands, as metadata, on an on-failure queue that alarms. An
 * operator runs the backfill by invoking the function (docs/deploy.md): its one Scan of the accounts table.
 */
import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../config/data-map';
import { grantKey, grantTable } from './access';
import { alarmWhenAny } from './alarms';
import { streamEventSource } from './stream-source';
import type { TableRef } from './storage';
import { KEY_ENV } from './task-functions';
import { DsrFunction, type FunctionDefaults } from './task-function';

export interface IdentifierIndexerProps {
  /** The platform's accounts table, with its stream. */
  accounts: TableRef;
  /** The services' own accounts tables (config/data-map.ts serviceStores), each with its stream when it has one. */
  serviceAccounts: readonly { service: string; ref: TableRef }[];
  /** SERVICE_STORES: the indexer learns which table is whose (an unmarked account is its table owner's). */
  serviceStores: string;
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
    this.indexer = new DsrFunction(this, 'Indexer', {
      entry: 'functions/index-identifiers/handler.ts',
      description: 'DSR identifier indexer',
      environment: {
        [ENV.accountsTable]: props.accounts.table.tableName,
        [ENV.serviceStores]: props.serviceStores,
        [ENV.identifierIndexTable]: props.index.table.tableName,
        [KEY_ENV.subjectHashKey]: props.subjectHashKey.keyArn,
      },
      defaults: props.defaults,
      // A backfill segment runs as long as Lambda allows; a stream batch takes seconds.
      timeout: Duration.minutes(15),
    });
    // Conditional writes of index entries, and nothing else: resolution reads the index, not the indexer.
    grantTable(this.indexer, props.index, { table: ['dynamodb:UpdateItem'] });
    // The backfill's Scan; the stream is read by the event source mapping, with this role.
    for (const table of [props.accounts, ...props.serviceAccounts.map((t) => t.ref)])
      grantTable(this.indexer, table, { table: ['dynamodb:Scan'] });
    grantKey(this.indexer, props.subjectHashKey, ['kms:GenerateMac']);

    const follow = (table: TableRef, prefix: string) =>
      streamEventSource(this, {
        fn: this.indexer,
        table,
        ids: {
          queue: `${prefix}AccountsStreamFailures`,
          mapping: `${prefix}AccountsStream`,
          alarm: `${prefix}AccountsStreamFailuresAlarm`,
        },
        queueKey: props.observabilityKey,
        queueReason:
          'This queue is itself the on-failure destination of the accounts stream: it receives the metadata ' +
          'of batches the indexer gave up on, and its alarm tells an operator to run the backfill.',
        alarmTopic: props.alarmTopic,
        alarmDescription:
          'The identifier indexer gave up on a batch of the accounts stream: resolution by device id or linked ' +
          'account may miss changes until the backfill runs (docs/deploy.md, "Identifier index").',
        mapping: {
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          batchSize: 100,
          maxBatchingWindow: Duration.seconds(1),
          // The handler names the first record it could not apply; the batch is retried from there.
          reportBatchItemFailures: true,
          retryAttempts: 10,
        },
      });
    ({ queue: this.failures, mapping: this.stream } = follow(props.accounts, ''));
    // Each service's own accounts table is followed the same way. An imported one without a stream ARN
    // cannot be: its devices and linked accounts are indexed by the backfill only (docs/services.md).
    for (const { service, ref } of props.serviceAccounts) {
      if (ref.table.tableStreamArn)
        follow(
          ref,
          service
            .split('-')
            .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
            .join(''),
        );
    }
    alarmWhenAny(
      this,
      'IndexerErrorsAlarm',
      props.alarmTopic,
      this.indexer.function.metricErrors({ period: Duration.minutes(15), statistic: 'Sum' }),
      'The identifier indexer failed; the stream retries it, but repeated failures need attention.',
    );
  }
}
