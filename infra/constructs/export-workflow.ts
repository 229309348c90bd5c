/**
 * The export workflow: the task Lambdas of functions/catalog.ts TASK_FUNCTIONS, and the state machine
 * deployed from the very ASL file the local stack runs (statemachines/export.asl.json), its `${...}`
 * placeholders substituted with those functions' ARNs.
 */
import * as path from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV, type StoreName } from '../../config/data-map';
import { CONNECTOR_FUNCTIONS_ENV, STATE_MACHINES, TASK_FUNCTIONS } from '../../functions/catalog';
import { allTableIndexes, DDB, grantBucket, grantKey, grantTable } from './access';
import { mediaPrefixes, pascal, STAGING_PREFIX, STAGING_REASON } from './connectors';
import type { OrchestratorState } from './orchestrator-state';
import type { PlatformStores } from './platform-stores';
import { DsrFunction, REPO_ROOT, type FunctionDefaults } from './task-function';

export type TaskFunctionKey = keyof typeof TASK_FUNCTIONS;

/** The task functions the export ASL calls (the stack test checks this against the file's placeholders). */
export const EXPORT_TASKS = [
  'requestStatus',
  'resolveSubject',
  'assembleExport',
  'cleanupStaging',
] as const satisfies readonly TaskFunctionKey[];
export type ExportTaskKey = (typeof EXPORT_TASKS)[number];
export type ExportSubstitution = (typeof TASK_FUNCTIONS)[ExportTaskKey]['substitution'];
/** One entry per placeholder of the export ASL: a missing or extra task function is a type error. */
export type ExportDefinitionSubstitutions = Record<ExportSubstitution, string>;

/** Env names the shared code reads (functions/shared/subject-hash.ts, signing.ts, download-links.ts, api/handler.ts). */
export const KEY_ENV = {
  subjectHashKey: 'SUBJECT_HASH_KMS_KEY_ID',
  signingKey: 'SIGNING_KMS_KEY_ID',
  exportStateMachine: 'EXPORT_STATE_MACHINE_ARN',
  downloadTokenKey: 'DOWNLOAD_TOKEN_KMS_KEY_ID',
  publicApiUrl: 'PUBLIC_API_URL',
} as const;

export function exportDefinitionSubstitutions(
  functions: Record<ExportTaskKey, { functionArn: string }>,
): ExportDefinitionSubstitutions {
  const entries = EXPORT_TASKS.map((key) => [TASK_FUNCTIONS[key].substitution, functions[key].functionArn]);
  return Object.fromEntries(entries) as ExportDefinitionSubstitutions;
}

export interface ExportWorkflowProps {
  stores: PlatformStores;
  state: OrchestratorState;
  connectors: Record<StoreName, DsrFunction>;
  signingKey: kms.IKey;
  subjectHashKey: kms.IKey;
  logsKey: kms.IKey;
  alarmTopic: sns.ITopic;
  defaults: FunctionDefaults;
}

interface TaskSettings {
  environment: Record<string, string>;
  memorySize?: number;
  timeout?: Duration;
  grant: (fn: DsrFunction) => void;
}

export class ExportWorkflow extends Construct {
  readonly functions: Record<ExportTaskKey, DsrFunction>;
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ExportWorkflowProps) {
    super(scope, id);
    const { stores, state } = props;
    const connectorNames = Object.fromEntries(
      Object.entries(props.connectors).map(([store, fn]) => [store, fn.functionName]),
    );

    const tasks: Record<ExportTaskKey, TaskSettings> = {
      requestStatus: {
        environment: { [ENV.requestsTable]: state.requests.table.tableName },
        grant: (fn) =>
          grantTable(fn, state.requests, {
            table: [...DDB.read, ...DDB.write],
            indexes: { names: allTableIndexes(state.requests), actions: DDB.indexRead },
          }),
      },
      resolveSubject: {
        environment: {
          [ENV.accountsTable]: stores.accounts.table.tableName,
          [ENV.requestsTable]: state.requests.table.tableName,
          [ENV.stagingBucket]: state.staging.bucket.bucketName,
          [KEY_ENV.subjectHashKey]: props.subjectHashKey.keyArn,
          [CONNECTOR_FUNCTIONS_ENV]: Stack.of(this).toJsonString(connectorNames),
        },
        timeout: Duration.minutes(2),
        grant: (fn) => {
          // Resolution by device id or linked account has no index: those identifiers need a Scan.
          grantTable(fn, stores.accounts, {
            table: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'],
            indexes: { names: allTableIndexes(stores.accounts), actions: ['dynamodb:Query'] },
          });
          grantTable(fn, state.requests, {
            table: DDB.read,
            indexes: { names: allTableIndexes(state.requests), actions: DDB.indexRead },
          });
          grantBucket(fn, state.staging, {
            objects: ['s3:PutObject'],
            objectPrefixes: [STAGING_PREFIX],
            kms: 'write',
            reason: STAGING_REASON,
          });
          grantKey(fn, props.subjectHashKey, ['kms:GenerateMac']);
        },
      },
      assembleExport: {
        environment: {
          [ENV.stagingBucket]: state.staging.bucket.bucketName,
          [ENV.exportsBucket]: state.exports.bucket.bucketName,
          [ENV.mediaBucket]: stores.media.bucket.bucketName,
          [KEY_ENV.signingKey]: props.signingKey.keyArn,
        },
        memorySize: 1024,
        timeout: Duration.minutes(15),
        grant: (fn) => {
          grantBucket(fn, state.staging, {
            objects: ['s3:GetObject', 's3:DeleteObject'],
            objectPrefixes: [STAGING_PREFIX],
            list: ['s3:ListBucket'],
            kms: 'read',
            reason: STAGING_REASON,
          });
          grantBucket(fn, stores.media, {
            objects: ['s3:GetObject', 's3:GetObjectVersion'],
            objectPrefixes: mediaPrefixes(),
            kms: 'read',
            reason:
              'Original media files are copied into the archive from keys staged by the connectors, known ' +
              'only at run time; read access is limited to the data map prefixes of the media bucket.',
          });
          grantBucket(fn, state.exports, {
            objects: ['s3:PutObject', 's3:AbortMultipartUpload'],
            objectPrefixes: [''],
            kms: 'write',
            reason:
              'Archive keys are per request, known only at run time; the exports bucket holds nothing but archives.',
          });
          grantKey(fn, props.signingKey, ['kms:Sign', 'kms:GetPublicKey']);
        },
      },
      cleanupStaging: {
        environment: { [ENV.stagingBucket]: state.staging.bucket.bucketName },
        timeout: Duration.minutes(5),
        grant: (fn) =>
          grantBucket(fn, state.staging, {
            objects: ['s3:DeleteObject'],
            objectPrefixes: [STAGING_PREFIX],
            list: ['s3:ListBucket'],
            kms: 'none',
            reason: STAGING_REASON,
          }),
      },
    };

    const functions = {} as Record<ExportTaskKey, DsrFunction>;
    for (const key of EXPORT_TASKS) {
      const spec = TASK_FUNCTIONS[key];
      const settings = tasks[key];
      const fn = new DsrFunction(this, pascal(spec.folder), {
        entry: `functions/${spec.folder}/handler.ts`,
        description: `DSR task: ${spec.folder}`,
        environment: settings.environment,
        defaults: props.defaults,
        memorySize: settings.memorySize,
        timeout: settings.timeout ?? Duration.minutes(1),
      });
      settings.grant(fn);
      functions[key] = fn;
    }
    this.functions = functions;

    this.logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      // The vendedlogs prefix keeps Step Functions' log delivery off the account's resource policy size limit.
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-export`,
      retention: props.defaults.logRetention,
      encryptionKey: props.logsKey,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'DSR export',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(path.join(REPO_ROOT, STATE_MACHINES.export.file)),
      definitionSubstitutions: exportDefinitionSubstitutions(functions),
      // Execution data must not reach logs: payloads name requests, and a failure's cause could echo input.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
      tracingEnabled: true,
      timeout: Duration.hours(6),
    });
    // The ASL's Map state invokes connectors by the names resolve-subject returns: the role may invoke
    // exactly the task functions and the connectors, nothing else. A policy of its own keeps it apart
    // from the role's default policy, where CDK puts the log-delivery and X-Ray statements.
    const invoke = new iam.Policy(this, 'InvokeTaskFunctions', {
      roles: [this.stateMachine.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [...Object.values(functions), ...Object.values(props.connectors)].map(
            (fn) => fn.functionArn,
          ),
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

    const alarmOn = (alarmId: string, metric: cloudwatch.Metric, description: string) => {
      const alarm = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      alarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
      return alarm;
    };
    const period = Duration.minutes(5);
    alarmOn(
      'ExecutionsFailedAlarm',
      this.stateMachine.metricFailed({ period, statistic: 'Sum' }),
      'An export execution failed: the request is marked failed and needs attention before its legal deadline.',
    );
    alarmOn(
      'ExecutionsTimedOutAlarm',
      this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
      'An export execution timed out: the request never reached a final status.',
    );
  }
}
