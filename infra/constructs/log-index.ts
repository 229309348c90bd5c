/**
 * What keeps the subject index of the logs current (docs/log-index.md): each new log object indexed from
 * its S3 "Object Created" event through EventBridge, where the bucket sends them (the stack turns that on
 * for a logs bucket it creates); a schedule that indexes whatever is after the watermark and moves it; and
 * a daily run over the whole listing, which also finds what an event missed. The backfill for logs that
 * predate the index is a state machine of its own (statemachines/log-index-backfill.asl.json, DsrWorkflow).
 */
import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { DsrDeploymentConfig } from '../config';
import { alarmWhenAny } from './alarms';
import { logsPrefixes } from './connectors';
import type { PlatformStores } from './platform-stores';
import type { DsrFunction } from './task-function';

export interface LogIndexUpdatesProps {
  config: DsrDeploymentConfig['logIndex'];
  stores: PlatformStores;
  /** The indexer (functions/index-logs). */
  indexer: DsrFunction;
  alarmTopic: sns.ITopic;
}

export class LogIndexUpdates extends Construct {
  /** Absent where the logs bucket sends no events to EventBridge (the schedule alone keeps the index). */
  readonly objectCreated?: events.Rule;
  readonly schedule: events.Rule;
  readonly dailyFullListing: events.Rule;
  readonly errorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: LogIndexUpdatesProps) {
    super(scope, id);
    const { indexer, stores } = props;
    const bucket = stores.logs.bucket;

    if (props.config.bucketEvents) {
      // A bucket the stack creates sends its events to EventBridge by a property of its own (no custom
      // resource); an imported bucket's owner turns that on (dsr:logsBucketEvents says they did).
      if (!stores.imported) {
        (bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
          eventBridgeConfiguration: { eventBridgeEnabled: true },
        };
      }
      this.objectCreated = new events.Rule(this, 'LogObjectCreated', {
        description: 'Indexes each new log object for the subject index of the logs',
        eventPattern: {
          source: ['aws.s3'],
          detailType: ['Object Created'],
          detail: {
            bucket: { name: [bucket.bucketName] },
            object: { key: logsPrefixes().map((prefix) => ({ prefix })) },
          },
        },
        // A delivery that keeps failing is left to the daily full listing.
        targets: [
          new targets.LambdaFunction(indexer.function, { retryAttempts: 4, maxEventAge: Duration.hours(6) }),
        ],
      });
    }
    this.schedule = new events.Rule(this, 'AdvanceWatermarks', {
      description: 'Indexes log objects after the watermark and moves it over closed partitions',
      schedule: events.Schedule.rate(Duration.minutes(props.config.scheduleMinutes)),
      targets: [
        new targets.LambdaFunction(indexer.function, {
          event: events.RuleTargetInput.fromObject({ action: 'advanceWatermarks' }),
          retryAttempts: 0,
        }),
      ],
    });
    this.dailyFullListing = new events.Rule(this, 'IndexWholeListingDaily', {
      description: 'Indexes any log object not indexed at its ETag, the whole listing (what an event missed)',
      schedule: events.Schedule.rate(Duration.days(1)),
      targets: [
        new targets.LambdaFunction(indexer.function, {
          event: events.RuleTargetInput.fromObject({ action: 'advanceWatermarks', fromStart: true }),
          retryAttempts: 0,
        }),
      ],
    });
    this.errorsAlarm = alarmWhenAny(
      this,
      'IndexerErrorsAlarm',
      props.alarmTopic,
      indexer.function.metricErrors({ period: Duration.minutes(15), statistic: 'Sum' }),
      'The log indexer failed: log objects it could not index are read by every request until it succeeds ' +
        '(correct, but slower); repeated failures need attention.',
    );
  }
}
