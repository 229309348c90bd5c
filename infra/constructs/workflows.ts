/**
 * The state machines, each deployed from the very ASL file the local stack runs
 * (functions/lib/connectors/catalog.ts STATE_MACHINES), its `${...}` placeholders substituted with the
 * task functions' ARNs. One construct for all: the export and the erasure differ only in their file, their
 * tasks and their name; the log index backfill invokes no connector and runs Distributed Maps (their
 * listing, results and child executions).
 */
import * as path from 'node:path';
import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StoreName } from '../../config/data-map';
import { STATE_MACHINES, TASK_FUNCTIONS } from '../../functions/lib/connectors/catalog';
import { alarmWhenAny } from './alarms';
import { flattenCfnReference } from './nag-findings';
import type { BucketRef } from './storage';
import type { TaskFunctionKey } from './task-functions';
import { DsrFunction, REPO_ROOT, type FunctionDefaults } from './task-function';

export type WorkflowName = keyof typeof STATE_MACHINES;

/** The task functions each ASL calls (the stack test checks these against the files' placeholders). */
export const WORKFLOW_TASKS = {
  export: ['requestStatus', 'resolveSubject', 'assembleExport', 'notify', 'transmitExport', 'cleanupStaging'],
  erasure: [
    'requestStatus',
    'resolveSubject',
    'planErasure',
    'certifyErasure',
    'notifyProcessors',
    'cleanupStaging',
  ],
  logIndexBackfill: ['indexLogs'],
  logErasure: ['eraseLogs'],
  restriction: ['requestStatus', 'resolveSubject', 'restrict', 'cleanupStaging'],
} as const satisfies Record<WorkflowName, readonly TaskFunctionKey[]>;
export const EXPORT_TASKS = WORKFLOW_TASKS.export;
export const ERASURE_TASKS = WORKFLOW_TASKS.erasure;

export type WorkflowTaskKey<W extends WorkflowName> = (typeof WORKFLOW_TASKS)[W][number];
/** One entry per placeholder of a workflow's ASL: a missing or extra task function is a type error. */
export type DefinitionSubstitutions<W extends WorkflowName> = Record<
  (typeof TASK_FUNCTIONS)[WorkflowTaskKey<W>]['substitution'],
  string
>;

export function definitionSubstitutions<W extends WorkflowName>(
  workflow: W,
  functions: Record<WorkflowTaskKey<W>, { functionArn: string }>,
): DefinitionSubstitutions<W> {
  const keys: readonly WorkflowTaskKey<W>[] = WORKFLOW_TASKS[workflow];
  const entries = keys.map((key) => [TASK_FUNCTIONS[key].substitution, functions[key].functionArn]);
  return Object.fromEntries(entries) as DefinitionSubstitutions<W>;
}

export interface DsrWorkflowProps<W extends WorkflowName> {
  workflow: W;
  comment: string;
  /** Every task function; the workflow uses (and may invoke) only those of WORKFLOW_TASKS[workflow]. */
  functions: Record<TaskFunctionKey, DsrFunction>;
  /** Invoked by name from the ASL's Map states (resolve-subject returns the names); none if absent. */
  connectors?: Record<StoreName, DsrFunction>;
  /** The Distributed Maps' S3 access: the listing they read their items from, where they write results. */
  distributedMaps?: DistributedMapAccess;
  logsKey: kms.IKey;
  alarmTopic: sns.ITopic;
  defaults: FunctionDefaults;
  /** What a failed execution means, for the alarm's description. */
  failureMeaning: string;
}

export interface DistributedMapAccess {
  /** ItemReader s3:listObjectsV2: the bucket and the prefixes it lists. */
  listing?: { ref: BucketRef; prefixes: readonly string[] };
  /**
   * ResultWriter: the bucket and the prefix results are written under. An ItemReader s3:getObject (an
   * item list a task staged) reads under the same prefix: the results grant covers it.
   */
  results: { ref: BucketRef; prefix: string };
}

export class DsrWorkflow<W extends WorkflowName> extends Construct {
  readonly functions: Record<WorkflowTaskKey<W>, DsrFunction>;
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: DsrWorkflowProps<W>) {
    super(scope, id);
    const keys: readonly WorkflowTaskKey<W>[] = WORKFLOW_TASKS[props.workflow];
    this.functions = Object.fromEntries(keys.map((key) => [key, props.functions[key]])) as Record<
      WorkflowTaskKey<W>,
      DsrFunction
    >;

    this.logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      // The vendedlogs prefix keeps Step Functions' log delivery off the account's resource policy size limit.
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${props.workflow}`,
      retention: props.defaults.logRetention,
      encryptionKey: props.logsKey,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: props.comment,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(path.join(REPO_ROOT, STATE_MACHINES[props.workflow].file)),
      definitionSubstitutions: definitionSubstitutions(props.workflow, this.functions),
      // Execution data must not reach logs: payloads name requests, and a failure's cause could echo input.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
      tracingEnabled: true,
      timeout: Duration.hours(6),
    });
    // The ASL's Map states invoke connectors by the names resolve-subject returns: the role may invoke
    // exactly this workflow's task functions and the connectors, nothing else. A policy of its own keeps
    // it apart from the role's default policy, where CDK puts the log-delivery and X-Ray statements.
    const invoke = new iam.Policy(this, 'InvokeTaskFunctions', {
      roles: [this.stateMachine.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [
            ...Object.values<DsrFunction>(this.functions),
            ...Object.values(props.connectors ?? {}),
          ].map((fn) => fn.functionArn),
        }),
      ],
    });
    // On the state machine resource only: its construct also holds the role the policy depends on.
    this.stateMachine.node.defaultChild?.node.addDependency(invoke);
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason:
        'Logging level ERROR with includeExecutionData false by design: failures are logged without ' +
        'execution data, which must never reach logs; per-state events of every execution stay in the ' +
        'execution history.',
    });
    const generatedPolicy = this.stateMachine.role.node.tryFindChild('DefaultPolicy');
    if (!generatedPolicy)
      throw new Error('Expected CDK to put the log delivery and X-Ray grants in the default policy');
    Validations.of(generatedPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only the actions that support no resource-level permissions: CloudWatch Logs log delivery ' +
        '(logs:*LogDelivery*, logs:PutResourcePolicy, logs:DescribeResourcePolicies, logs:DescribeLogGroups) ' +
        'and X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords, xray:GetSampling*). The stack test ' +
        'asserts that no other action has Resource "*".',
    });

    if (props.distributedMaps) this.allowDistributedMaps(props.distributedMaps);

    const period = Duration.minutes(5);
    this.alarmOn(
      props.alarmTopic,
      'ExecutionsFailedAlarm',
      this.stateMachine.metricFailed({ period, statistic: 'Sum' }),
      `An ${props.workflow} execution failed: ${props.failureMeaning}`,
    );
    this.alarmOn(
      props.alarmTopic,
      'ExecutionsTimedOutAlarm',
      this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
      `An ${props.workflow} execution timed out: the request never reached a final status.`,
    );
  }

  /**
   * What a Distributed Map needs of the state machine's role: to start (and describe, stop) its child
   * executions, to list the items' bucket under the given prefixes, and to write results under one prefix.
   * A policy of its own that the state machine does not depend on: it names the state machine itself.
   */
  private allowDistributedMaps(access: DistributedMapAccess): void {
    const stack = Stack.of(this);
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const results = access.results.ref.bucket.arnForObjects(`${access.results.prefix}*`);
    const statements = [
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [this.stateMachine.stateMachineArn],
      }),
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [executions],
      }),
      ...(access.listing
        ? [
            new iam.PolicyStatement({
              actions: ['s3:ListBucket'],
              resources: [access.listing.ref.bucket.bucketArn],
              conditions: { StringLike: { 's3:prefix': access.listing.prefixes.map((p) => `${p}*`) } },
            }),
          ]
        : []),
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        resources: [results],
      }),
    ];
    const resultsKey = access.results.ref.key;
    if (resultsKey) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [resultsKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
        }),
      );
    }
    const policy = new iam.Policy(this, 'DistributedMapAccess', {
      roles: [this.stateMachine.role],
      statements,
    });
    for (const [resource, reason] of [
      [
        executions,
        "The Distributed Map's child executions are named by Step Functions at run time; access is " +
          'limited to the executions of this state machine.',
      ],
      [
        results,
        'Map Run result files are named by Step Functions at run time; write access is limited to the ' +
          'results prefix of the staging bucket.',
      ],
    ] as const) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(resource))}]`,
        reason,
      });
    }
  }

  private alarmOn(topic: sns.ITopic, id: string, metric: cloudwatch.IMetric, description: string): void {
    this.alarms.push(alarmWhenAny(this, id, topic, metric, description));
  }
}
