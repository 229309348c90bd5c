/**
 * The functions no request waits on: the callback deliverer (the requests table's stream, and a sweep
 * every minute), the deadline monitor (every 15 minutes, with the OverdueRequests alarm) and the
 * retention sweep (hourly: destroys due vault records and resumes erasures whose hold or retention ended).
 */
import * as cdk from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV, orchestratorResources } from '../../config/data-map';
import { OVERDUE_METRIC } from '../../functions/lib/requests/deadlines';
import { CALLBACK_PENDING_KIND } from '../../functions/lib/requests/callback-outbox';
import { allTableIndexes, DDB, grantBucket, grantKey, grantTable, grantVaultSweep, KMS_SIGN } from './access';
import { STAGING_PREFIX, STAGING_REASON } from './connectors';
import { alarmWhenAny } from './alarms';
import type { OrchestratorState } from './orchestrator-state';
import { streamEventSource } from './stream-source';
import { KEY_ENV, SETTINGS_ENV } from './task-functions';
import { DsrFunction, type FunctionDefaults } from './task-function';

export interface BackgroundProps {
  state: OrchestratorState;
  exportStateMachine: sfn.StateMachine;
  erasureStateMachine: sfn.StateMachine;
  restrictionStateMachine: sfn.StateMachine;
  signingKey: kms.IKey;
  /** Encrypts the stream's on-failure queue (it holds batch metadata only: shard and sequence numbers). */
  observabilityKey: kms.IKey;
  alarmTopic: sns.ITopic;
  defaults: FunctionDefaults;
  /** Base URL callbacks name (OpenDSR results_url). */
  publicApiUrl: string;
  processorDomain: string;
  /** The From address of the person's outcome notices, and its verified SES identity. */
  notifySender: { fromAddress: string; sesIdentity: string };
}

/** Lambda's own event filter on the stream: only new outbox items invoke the deliverer. */
export const CALLBACK_STREAM_FILTER = {
  eventName: lambda.FilterRule.isEqual('INSERT'),
  dynamodb: { NewImage: { kind: { S: lambda.FilterRule.isEqual(CALLBACK_PENDING_KIND) } } },
};

export class Background extends Construct {
  readonly callbacks: DsrFunction;
  readonly callbackFailures: sqs.Queue;
  readonly callbackStream: lambda.EventSourceMapping;
  readonly deadlineMonitor: DsrFunction;
  readonly overdueAlarm: cloudwatch.Alarm;
  readonly sweep: DsrFunction;
  readonly watchdog: DsrFunction;
  readonly notices: DsrFunction;

  constructor(scope: Construct, id: string, props: BackgroundProps) {
    super(scope, id);
    const { state } = props;
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) =>
      alarmWhenAny(this, alarmId, props.alarmTopic, metric, description);
    const errorsAlarm = (fn: DsrFunction, alarmId: string, what: string) =>
      alarm(
        alarmId,
        fn.function.metricErrors({ period: Duration.minutes(15), statistic: 'Sum' }),
        `The ${what} failed; it runs again on its schedule, but repeated failures need attention.`,
      );

    // --- Callback delivery (functions/callbacks/handler.ts)
    this.callbacks = new DsrFunction(this, 'Callbacks', {
      entry: 'functions/callbacks/handler.ts',
      description: 'DSR callback delivery',
      environment: {
        [ENV.requestsTable]: state.requests.table.tableName,
        [KEY_ENV.signingKey]: props.signingKey.keyArn,
        [KEY_ENV.publicApiUrl]: props.publicApiUrl,
        [SETTINGS_ENV.processorDomain]: props.processorDomain,
        // ALLOW_PRIVATE_CALLBACKS is never set here: callbacks to private addresses are refused in AWS.
      },
      defaults: props.defaults,
      // Longer than one delivery round (10 s per callback), shorter than the 120 s lease it holds.
      timeout: Duration.seconds(90),
    });
    // Outbox items, leases and delivery results live on the request's items; the sweep lists byKind.
    grantTable(this.callbacks, state.requests, {
      table: [...DDB.read, ...DDB.write],
      indexes: { names: allTableIndexes(state.requests), actions: DDB.indexRead },
    });
    grantKey(this.callbacks, props.signingKey, KMS_SIGN);
    ({ queue: this.callbackFailures, mapping: this.callbackStream } = streamEventSource(this, {
      fn: this.callbacks,
      table: state.requests,
      ids: {
        queue: 'CallbackStreamFailures',
        mapping: 'RequestsStream',
        alarm: 'CallbackStreamFailuresAlarm',
      },
      queueKey: props.observabilityKey,
      queueReason:
        'This queue is itself the on-failure destination of the requests stream: it receives the metadata ' +
        'of batches the deliverer gave up on, and its alarm tells an operator; it needs no queue of its own.',
      alarmTopic: props.alarmTopic,
      alarmDescription:
        'The callback deliverer gave up on a batch of the requests stream; the minute sweep retries pending ' +
        'callbacks, but the failure needs a look (the queue holds the batch position, not its data).',
      mapping: {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        // One bad record must not hold up the shard: halve the batch until it is alone, a few tries only
        // (the minute sweep delivers whatever the stream gave up on).
        bisectBatchOnError: true,
        retryAttempts: 3,
        maxRecordAge: Duration.hours(1),
        filters: [lambda.FilterCriteria.filter(CALLBACK_STREAM_FILTER)],
      },
    }));
    new events.Rule(this, 'CallbacksEveryMinute', {
      description: 'Retries failed callbacks and delivers any the stream missed',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.callbacks.function, { retryAttempts: 0 })],
    });
    errorsAlarm(this.callbacks, 'CallbacksErrorsAlarm', 'callback deliverer');

    // --- Deadline monitor (functions/deadline-monitor/handler.ts)
    this.deadlineMonitor = new DsrFunction(this, 'DeadlineMonitor', {
      entry: 'functions/deadline-monitor/handler.ts',
      description: 'DSR deadline monitor',
      environment: { [ENV.requestsTable]: state.requests.table.tableName },
      defaults: props.defaults,
      timeout: Duration.minutes(2),
    });
    // It counts the open-request locks through byKind, and reads nothing else.
    grantTable(this.deadlineMonitor, state.requests, {
      table: [],
      indexes: { names: ['byKind'], actions: ['dynamodb:Query'] },
    });
    new events.Rule(this, 'DeadlineMonitorEvery15Minutes', {
      description: 'Counts open requests past their legal deadline (metric DsrOrchestrator/OverdueRequests)',
      schedule: events.Schedule.rate(Duration.minutes(15)),
      targets: [new targets.LambdaFunction(this.deadlineMonitor.function)],
    });
    // The monitor writes the metric as Embedded Metric Format to its own log group (no PutMetricData).
    this.overdueAlarm = alarm(
      'OverdueRequestsAlarm',
      new cloudwatch.Metric({
        namespace: OVERDUE_METRIC.namespace,
        metricName: OVERDUE_METRIC.name,
        period: Duration.minutes(15),
        statistic: 'Maximum',
      }),
      'At least one open request is past its legal deadline: answer it now (GET /v1/requests?overdue=true).',
    );
    errorsAlarm(this.deadlineMonitor, 'DeadlineMonitorErrorsAlarm', 'deadline monitor');

    // --- Retention sweep (functions/sweep/handler.ts)
    this.sweep = new DsrFunction(this, 'Sweep', {
      entry: 'functions/sweep/handler.ts',
      description: 'DSR retention sweep',
      environment: {
        [ENV.requestsTable]: state.requests.table.tableName,
        [ENV.vaultTable]: state.vaultTable.table.tableName,
        [KEY_ENV.erasureStateMachine]: props.erasureStateMachine.stateMachineArn,
      },
      defaults: props.defaults,
      timeout: Duration.minutes(15),
    });
    grantVaultSweep(this.sweep, state.vaultTable, orchestratorResources.vaultTable.indexes[0].indexName);
    // Holds, the erasure schedule (erasure-pending items) and events on the resumed requests.
    grantTable(this.sweep, state.requests, {
      table: [...DDB.read, ...DDB.write],
      indexes: { names: allTableIndexes(state.requests), actions: DDB.indexRead },
    });
    this.sweep.allow(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [props.erasureStateMachine.stateMachineArn],
      }),
    );
    new events.Rule(this, 'SweepHourly', {
      description: 'Destroys vault records whose retention ended and resumes erasures that may now go on',
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.LambdaFunction(this.sweep.function)],
    });
    errorsAlarm(this.sweep, 'SweepErrorsAlarm', 'retention sweep');

    // --- Watchdog (functions/watchdog/handler.ts): re-drives lost workflows, removes settled staging.
    this.watchdog = new DsrFunction(this, 'Watchdog', {
      entry: 'functions/watchdog/handler.ts',
      description: 'DSR watchdog: re-drives requests whose workflow was lost',
      environment: {
        [ENV.requestsTable]: state.requests.table.tableName,
        [ENV.stagingBucket]: state.staging.bucket.bucketName,
        [KEY_ENV.exportStateMachine]: props.exportStateMachine.stateMachineArn,
        [KEY_ENV.erasureStateMachine]: props.erasureStateMachine.stateMachineArn,
        [KEY_ENV.restrictionStateMachine]: props.restrictionStateMachine.stateMachineArn,
      },
      defaults: props.defaults,
      timeout: Duration.minutes(4),
    });
    // Open-request locks through byKind; requests read; a failure recorded (request, outbox, audit,
    // event, lock) in one transaction.
    grantTable(this.watchdog, state.requests, {
      table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      indexes: { names: ['byKind'], actions: ['dynamodb:Query'] },
    });
    grantBucket(this.watchdog, state.staging, {
      objects: ['s3:DeleteObject'],
      objectPrefixes: [STAGING_PREFIX],
      list: ['s3:ListBucket'],
      listPrefixes: [STAGING_PREFIX],
      kms: 'none',
      reason: STAGING_REASON,
    });
    const machines = [props.exportStateMachine, props.erasureStateMachine, props.restrictionStateMachine];
    this.watchdog.allow(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: machines.map((m) => m.stateMachineArn),
      }),
    );
    // An execution's ARN is its state machine's with `execution` and the execution's name after it.
    const executions = machines.map((m) =>
      cdk.Stack.of(this).formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${m.stateMachineName}:*`,
        arnFormat: cdk.ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
    this.watchdog.allow(
      new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: executions }),
    );
    for (const resource of executions)
      this.watchdog.acknowledgeWildcardResource(
        resource,
        'The executions of a request are named after its request id, which is known only at run time.',
      );
    new events.Rule(this, 'WatchdogEvery5Minutes', {
      description: 'Re-drives requests whose workflow never started or ended outside the failure path',
      schedule: events.Schedule.rate(Duration.minutes(5)),
      targets: [new targets.LambdaFunction(this.watchdog.function)],
    });
    errorsAlarm(this.watchdog, 'WatchdogErrorsAlarm', 'watchdog');

    // --- Outcome notices to the person (functions/deliver-notices/handler.ts)
    this.notices = new DsrFunction(this, 'Notices', {
      entry: 'functions/deliver-notices/handler.ts',
      description: "DSR outcome notices: sends the person's notices from the requests table's outbox",
      environment: {
        [ENV.requestsTable]: state.requests.table.tableName,
        [SETTINGS_ENV.notifyFromAddress]: props.notifySender.fromAddress,
      },
      defaults: props.defaults,
      timeout: Duration.minutes(2),
    });
    // Pending notices are listed byKind (keys only: the index holds no address) and read from the table;
    // each is marked sent together with its event.
    grantTable(this.notices, state.requests, {
      table: ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem'],
      indexes: { names: ['byKind'], actions: ['dynamodb:Query'] },
    });
    this.notices.allow(
      new iam.PolicyStatement({
        actions: ['ses:SendEmail', 'ses:SendRawEmail'],
        resources: [
          cdk.Stack.of(this).formatArn({
            service: 'ses',
            resource: 'identity',
            resourceName: props.notifySender.sesIdentity,
          }),
        ],
        conditions: { StringEquals: { 'ses:FromAddress': props.notifySender.fromAddress } },
      }),
    );
    new events.Rule(this, 'NoticesEveryMinute', {
      description: "Sends the person's outcome notices written with each status change",
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.notices.function, { retryAttempts: 0 })],
    });
    errorsAlarm(this.notices, 'NoticesErrorsAlarm', 'outcome-notice deliverer');
  }
}
