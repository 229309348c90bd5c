/**
 * The one Lambda shape of the stack: a NodejsFunction bundled locally by esbuild, nodejs22.x on arm64,
 * its own role (no AWS managed policy) and its own KMS-encrypted log group with a retention.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { POWERTOOLS_ENVIRONMENT } from '../../functions/lib/runtime/service';
import { flattenCfnReference } from './nag-findings';
import { AUDIT_PERIOD_ENV } from '../../functions/lib/requests/request-table';

/** Repository root: entries are given relative to it, as in functions/lib/connectors/catalog.ts. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface FunctionDefaults {
  logsKey: kms.IKey;
  logRetention: logs.RetentionDays;
  tracing: boolean;
  /** How long finished requests are kept (functions/lib/requests/request-table.ts). */
  auditPeriodDays: number;
}

export interface DsrFunctionProps {
  /** Handler module relative to the repository root, e.g. functions/api/handler.ts. */
  entry: string;
  description: string;
  environment: Record<string, string>;
  defaults: FunctionDefaults;
  timeout?: Duration;
  memorySize?: number;
}

export class EntryMissingError extends Error {
  override name = 'EntryMissingError';
}

/** Fails before CDK would silently fall back to Docker bundling when esbuild is not installed. */
function assertLocalEsbuild(): void {
  try {
    require.resolve('esbuild');
  } catch {
    throw new Error('esbuild is not installed: run `npm ci` (synth bundles locally and never uses Docker)');
  }
}

export class DsrFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  /** Everything this function may do, apart from what CDK itself adds for tracing. */
  readonly access: iam.Policy;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DsrFunctionProps) {
    super(scope, id);
    const entry = path.join(REPO_ROOT, props.entry);
    if (!existsSync(entry)) throw new EntryMissingError(`Lambda entry ${props.entry} does not exist`);
    assertLocalEsbuild();

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.defaults.logRetention,
      encryptionKey: props.defaults.logsKey,
    });

    // Our own role instead of the default one: the default attaches the AWS managed
    // AWSLambdaBasicExecutionRole (logs:* on every log group); this one may write its own group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (least privilege)`,
    });
    // Our grants live in a policy of their own, apart from the role's default policy, where CDK puts the
    // X-Ray statement: the Resource "*" acknowledgement then covers that statement and nothing of ours.
    this.access = new iam.Policy(this, 'Access', {
      roles: [this.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [this.logGroup.logGroupArn],
        }),
      ],
    });

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry,
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      role: this.role,
      logGroup: this.logGroup,
      tracing: props.defaults.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...POWERTOOLS_ENVIRONMENT,
        [AUDIT_PERIOD_ENV]: String(props.defaults.auditPeriodDays),
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        target: 'node22',
        format: nodejs.OutputFormat.CJS,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The AWS SDK is bundled, not taken from the runtime: the code then runs against the exact SDK
        // versions of package-lock.json that the tests ran (lib-storage, presigner and lib-dynamodb
        // behaviour included), not whatever the managed runtime ships that month.
        externalModules: [],
        logLevel: nodejs.LogLevel.WARNING,
      },
    });

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: the runtime the handlers, their bundling target and the tests ' +
        'are written for; moving to a newer runtime is a reviewed change, not an automatic one.',
    });
    // The function must not run before it may write its logs and reach its resources.
    this.function.node.defaultChild?.node.addDependency(this.access);
    const tracingPolicy = this.role.node.tryFindChild('DefaultPolicy');
    if (tracingPolicy) {
      Validations.of(tracingPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray tracing only: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
          'permissions. test/infra/stack.test.ts asserts that no other action has Resource "*".',
      });
    }
  }

  get functionArn(): string {
    return this.function.functionArn;
  }

  get functionName(): string {
    return this.function.functionName;
  }

  allow(statement: iam.PolicyStatement): void {
    this.access.addStatements(statement);
  }

  /**
   * Acknowledges cdk-nag's IAM5 finding for one exact wildcard resource of this function's policy,
   * e.g. the objects under a bucket prefix whose keys are only known at run time.
   */
  acknowledgeWildcardResource(resource: string, reason: string): void {
    const flat = flattenCfnReference(Stack.of(this).resolve(resource));
    Validations.of(this.access).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
  }
}
