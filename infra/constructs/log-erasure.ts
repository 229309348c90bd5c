/**
 * When the batched log-erasure job runs (docs/erasure.md "Batched log erasure"): an EventBridge rule on
 * the configured schedule (`dsr:logErasureSchedule`, default once a day) starts the log-erasure state
 * machine. Support can also start it through the API (POST /v1/log-erasure-jobs). The state machine's
 * failed and timed-out executions alarm like the other workflows' (DsrWorkflow).
 */
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface LogErasureScheduleProps {
  stateMachine: sfn.IStateMachine;
  /** EventBridge schedule expression: rate(...) or cron(...). */
  expression: string;
}

export class LogErasureSchedule extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: LogErasureScheduleProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'RunLogErasureJob', {
      description: 'Starts the batched log-erasure job: every erasure whose log lines wait for it',
      schedule: events.Schedule.expression(props.expression),
      // A start refused (a job still running holds the lock and fails fast) waits for the next one.
      targets: [new targets.SfnStateMachine(props.stateMachine, { retryAttempts: 0 })],
    });
  }
}
