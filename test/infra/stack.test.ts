/**
 * Synthesises the real stack (every Lambda bundled by esbuild, cdk-nag's AwsSolutions pack as a
 * validation plugin) and checks what the deployment promises: no unacknowledged nag finding, encryption
 * and TLS everywhere, rotating keys, the workflow wired to every task function, and least privilege.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { App, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import {
  ALL_ORCHESTRATOR_TABLES,
  ENV,
  orchestratorResources,
  serviceOwnTables,
  STORE_NAMES,
  type StoreName,
} from '../../config/data-map';
import { createTableInput } from '../../local/bootstrap';
import {
  CONNECTOR_FUNCTIONS_ENV,
  STATE_MACHINES,
  TASK_FUNCTIONS,
} from '../../functions/lib/connectors/catalog';
import { OVERDUE_METRIC } from '../../functions/lib/requests/deadlines';
import { POWERTOOLS_ENVIRONMENT } from '../../functions/lib/runtime/service';
import { buildApp, type BuiltApp } from '../../infra/build-app';
import { CONTEXT_KEYS, DEFAULT_CONFIG, readDeploymentConfig } from '../../infra/config';
import { AUTHORIZED_ROUTES, PUBLIC_ROUTES } from '../../infra/constructs/api';
import { VAULT_SWEEP_ATTRIBUTES } from '../../infra/constructs/access';
import { LOG_JOB_VAULT_KEYS, VAULT_LEADING_KEYS } from '../../infra/constructs/connectors';
import type { DsrFunction } from '../../infra/constructs/task-function';
import { mapOrderedLimited } from '../../functions/lib/runtime/concurrency';
import { WORKFLOW_TASKS, type WorkflowName } from '../../infra/constructs/workflows';
import type { DsrStack } from '../../infra/stack';

type Json = Record<string, unknown>;
interface CfnResource {
  Type: string;
  Properties?: Json;
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
}

const ROOT = path.resolve(__dirname, '..', '..');
const CDK_CONTEXT = (JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as { context: Json })
  .context;

/**
 * The only actions that may have Resource "*": AWS offers no resource-level permissions for them.
 * X-Ray (tracing of functions and the state machine) and CloudWatch Logs log delivery (state machine logging).
 */
const UNSCOPABLE_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:DescribeLogGroups',
  'logs:DescribeResourcePolicies',
  'logs:GetLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:UpdateLogDelivery',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'xray:PutTelemetryRecords',
  'xray:PutTraceSegments',
].sort();

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

const TASK_COUNT = Object.keys(TASK_FUNCTIONS).length;
/**
 * The API, the background functions (callbacks, deadline monitor, sweep, watchdog, outcome notices) and
 * the identifier indexer.
 */
const OTHER_FUNCTIONS = 7;
const WORKFLOWS = Object.keys(WORKFLOW_TASKS) as WorkflowName[];

function synthApp(context: Json): { built: BuiltApp; template: Template; outdir: string } {
  const outdir = mkdtempSync(path.join(tmpdir(), 'dsr-cdk-'));
  const built = buildApp({ context: { ...CDK_CONTEXT, ...context }, outdir, analyticsReporting: false });
  // Synthesising the app runs the validation plugins: an unacknowledged cdk-nag finding throws here.
  const template = Template.fromStack(built.stack);
  return { built, template, outdir };
}

function logicalId(stack: Stack, construct: IConstruct): string {
  return stack.resolve(stack.getLogicalId(construct.node.defaultChild as CfnElement)) as string;
}

function resourcesOf(template: Template, type: string): [string, CfnResource][] {
  const all = (template.toJSON() as { Resources: Record<string, CfnResource> }).Resources;
  return Object.entries(all).filter(([, r]) => r.Type === type);
}

/** Every statement of every identity policy (standalone, managed, inline), with the roles it applies to. */
function identityStatements(template: Template): { roles: string[]; statement: Statement }[] {
  const out: { roles: string[]; statement: Statement }[] = [];
  const add = (roles: string[], doc: unknown) => {
    for (const statement of (doc as { Statement: Statement[] }).Statement) out.push({ roles, statement });
  };
  const attached = (props: Json | undefined) =>
    ((props?.Roles as { Ref: string }[] | undefined) ?? []).map((r) => r.Ref);
  for (const [, r] of resourcesOf(template, 'AWS::IAM::Policy'))
    add(attached(r.Properties), r.Properties?.PolicyDocument);
  for (const [, r] of resourcesOf(template, 'AWS::IAM::ManagedPolicy')) {
    add(attached(r.Properties), r.Properties?.PolicyDocument);
  }
  for (const [id, r] of resourcesOf(template, 'AWS::IAM::Role')) {
    for (const p of (r.Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ?? [])
      add([id], p.PolicyDocument);
  }
  return out;
}

/** The statements that apply to one role. */
function statementsOf(template: Template, roleId: string): Statement[] {
  return identityStatements(template)
    .filter(({ roles }) => roles.includes(roleId))
    .map(({ statement }) => statement);
}

/**
 * A stand-in for a CloudFormation value at run time: references become recognisable fake names and ARNs,
 * joins and splits are evaluated, so an environment holding JSON (CONNECTOR_FUNCTIONS) stays valid JSON.
 */
function fakeValue(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  const node = (value ?? {}) as Record<string, unknown>;
  if (node.Ref === 'AWS::Region') return 'eu-west-1';
  if (node.Ref === 'AWS::Partition') return 'aws';
  if (node.Ref === 'AWS::AccountId') return '111122223333';
  if (typeof node.Ref === 'string') return `ref-${node.Ref}`;
  const getAtt = node['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return `arn:aws:fake:eu-west-1:111122223333:${getAtt[0]}/${getAtt[1]}`;
  const join = node['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(fakeValue).join(join[0]);
  const select = node['Fn::Select'] as [number, unknown] | undefined;
  if (select) {
    const split = (select[1] as Record<string, [string, unknown]>)['Fn::Split'];
    if (split) return fakeValue(split[1]).split(split[0])[select[0]] ?? '';
  }
  throw new Error(`No fake for ${JSON.stringify(value)}`);
}

function refersTo(value: unknown, id: string): boolean {
  return JSON.stringify(value).includes(`"${id}"`);
}

describe('DsrStack (demo deployment: platform stores created)', () => {
  let built: BuiltApp;
  let stack: DsrStack;
  let template: Template;
  let outdir: string;

  beforeAll(() => {
    const started = Date.now();
    ({ built, template, outdir } = synthApp({}));
    stack = built.stack;
    console.log(`stack synth with esbuild bundling of every function: ${Date.now() - started} ms`);
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  describe('cdk-nag AwsSolutions', () => {
    it('reports no unacknowledged error or warning', () => {
      const report = built.nag.validateScope(built.app);
      const findings = report.violations.map(
        (v) =>
          `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      );
      expect(findings).toEqual([]);
    });

    it('is live: the same pack flags a bucket without logs or TLS', () => {
      const app = new App();
      const probe = new Stack(app, 'Probe');
      new s3.Bucket(probe, 'Bare');
      const rules = new AwsSolutionsChecks().validateScope(app).violations.map((v) => v.ruleName);
      expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
    });

    it('has no CDK error or warning annotations', () => {
      const annotations = Annotations.fromStack(stack);
      expect(annotations.findError('*', Match.anyValue())).toEqual([]);
      expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
    });

    it('acknowledges only the expected rules, each with a written reason', () => {
      const acknowledged: { rule: string; reason: string; path: string }[] = [];
      const visit = (c: IConstruct) => {
        for (const entry of c.node.metadata) {
          if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
          for (const [rule, reason] of Object.entries(entry.data as Record<string, string>)) {
            acknowledged.push({ rule: rule.replace(/^annotation::/i, ''), reason, path: c.node.path });
          }
        }
        c.node.children.forEach(visit);
      };
      visit(built.app);
      expect(acknowledged.length).toBeGreaterThan(0);
      for (const ack of acknowledged) {
        // Whole-rule acknowledgements only where a rule has no finding ids; IAM5 names the exact resource.
        // ... or the child executions of the log index backfill's own Distributed Maps.
        expect(ack.rule).toMatch(
          /^AwsSolutions-(L1|S1|SF1|SQS3|APIG4|IAM5\[Resource::(\*|<[A-Za-z0-9]+\.Arn>\/([a-z-]+\/)?\*(\/[a-z-]+\.json)?|arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<(LogIndexBackfill|LogErasure|Export|Erasure|Restriction)WorkflowStateMachine[A-Z0-9]+\.Name>:\*)\])$/,
        );
        expect(ack.reason.length).toBeGreaterThan(60);
      }
      // Resource::* is acknowledged only on the default policies holding CDK's own tracing and log-delivery
      // statements; every grant of ours lives in a separate policy that cdk-nag checks in full.
      for (const ack of acknowledged.filter((a) => a.rule === 'AwsSolutions-IAM5[Resource::*]')) {
        expect(ack.path).toMatch(/\/Role\/DefaultPolicy$/);
      }
    });
  });

  describe('storage', () => {
    it('encrypts every bucket with a KMS key, blocks public access and allows TLS only', () => {
      const buckets = resourcesOf(template, 'AWS::S3::Bucket');
      const policies = resourcesOf(template, 'AWS::S3::BucketPolicy').map(([, p]) => p.Properties ?? {});
      // access logs, staging, exports, vault, log index; the platform's media and logs
      expect(buckets.length).toBe(7);
      for (const [id, bucket] of buckets) {
        const props = bucket.Properties ?? {};
        expect(props.BucketEncryption).toEqual({
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: expect.anything() },
            },
          ],
        });
        expect(props.PublicAccessBlockConfiguration).toEqual({
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        });
        const policy = policies.find((p) => refersTo(p.Bucket, id));
        expect(policy).toBeDefined();
        const statements = (policy?.PolicyDocument as { Statement: Statement[] }).Statement;
        expect(statements).toContainEqual(
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        );
      }
    });

    it('sends every bucket but the access-log bucket to the access-log bucket', () => {
      const accessLogsId = logicalId(stack, stack.node.findChild('AccessLogsBucket'));
      for (const [id, bucket] of resourcesOf(template, 'AWS::S3::Bucket')) {
        if (id === accessLogsId) continue;
        expect(bucket.Properties?.LoggingConfiguration).toEqual({
          DestinationBucketName: { Ref: accessLogsId },
          LogFilePrefix: expect.any(String),
        });
      }
    });

    it('encrypts every table with a customer managed KMS key, with point-in-time recovery', () => {
      const tables = resourcesOf(template, 'AWS::DynamoDB::Table');
      // Five platform tables, the services' own (metalive-*); requests, vault, identifier and log index.
      expect(tables.length).toBe(9 + serviceOwnTables().length);
      for (const [, table] of tables) {
        expect(table.Properties?.SSESpecification).toEqual({
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: expect.anything(),
        });
        expect(table.Properties?.PointInTimeRecoverySpecification).toEqual({
          PointInTimeRecoveryEnabled: true,
        });
      }
    });

    it('creates the platform stores with the keys and indexes of shared/stores.md', () => {
      const accounts = template.toJSON().Resources[
        logicalId(stack, stack.stores.accounts.table)
      ] as CfnResource;
      expect(accounts.Properties?.KeySchema).toEqual([{ AttributeName: 'userId', KeyType: 'HASH' }]);
      expect((accounts.Properties?.GlobalSecondaryIndexes as Json[]).map((i) => i.IndexName)).toEqual([
        'byEmail',
        'byPhone',
      ]);
      const messages = template.toJSON().Resources[
        logicalId(stack, stack.stores.chatMessages.table)
      ] as CfnResource;
      expect(messages.Properties?.GlobalSecondaryIndexes).toEqual([
        expect.objectContaining({
          IndexName: 'bySender',
          KeySchema: [
            { AttributeName: 'senderId', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        }),
      ]);
      const media = template.toJSON().Resources[logicalId(stack, stack.stores.media.bucket)] as CfnResource;
      expect(media.Properties?.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    });

    it('gives the requests table its indexes, TTL and stream, and staging and exports their expiry', () => {
      const requests = template.toJSON().Resources[
        logicalId(stack, stack.state.requests.table)
      ] as CfnResource;
      expect(requests.Properties?.TimeToLiveSpecification).toEqual({
        AttributeName: 'expiresAt',
        Enabled: true,
      });
      expect(requests.Properties?.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
      expect((requests.Properties?.GlobalSecondaryIndexes as Json[]).map((i) => i.IndexName).sort()).toEqual([
        'byKind',
        'bySubject',
      ]);
      const expiry = (bucket: IConstruct) =>
        (
          (template.toJSON().Resources[logicalId(stack, bucket)] as CfnResource).Properties
            ?.LifecycleConfiguration as { Rules: Json[] }
        ).Rules.map((r) => r.ExpirationInDays).filter((d) => d !== undefined);
      expect(expiry(stack.state.staging.bucket)).toEqual([2]);
      // Download links live 7 days by default (functions/lib/downloads/download-links.ts): archives outlive them.
      // Archives after the export retention, certificates after the audit period: one rule per prefix.
      expect(expiry(stack.state.exports.bucket)).toEqual([30, 1095]);
      const exportRules = (
        (template.toJSON().Resources[logicalId(stack, stack.state.exports.bucket)] as CfnResource).Properties
          ?.LifecycleConfiguration as { Rules: Json[] }
      ).Rules.filter((r) => r.ExpirationInDays !== undefined);
      expect(exportRules.map((r) => [r.Prefix, r.ExpirationInDays])).toEqual([
        ['exports/', 30],
        ['certificates/', 1095],
      ]);
      const vault = template.toJSON().Resources[
        logicalId(stack, stack.state.vaultTable.table)
      ] as CfnResource;
      expect(vault.Properties?.GlobalSecondaryIndexes).toEqual([
        expect.objectContaining({
          IndexName: 'byUntil',
          KeySchema: [
            { AttributeName: 'kind', KeyType: 'HASH' },
            { AttributeName: 'until', KeyType: 'RANGE' },
          ],
        }),
      ]);
    });

    it('projects into the vault index only what the sweep reads, never the kept data', () => {
      const vault = template.toJSON().Resources[
        logicalId(stack, stack.state.vaultTable.table)
      ] as CfnResource;
      // Keys only: the sweep takes a record's store and category from its key.
      expect((vault.Properties?.GlobalSecondaryIndexes as Json[])[0]?.Projection).toEqual({
        ProjectionType: 'KEYS_ONLY',
      });
      // The local stack creates it the same way (local/bootstrap.ts).
      expect(
        createTableInput(orchestratorResources.vaultTable).GlobalSecondaryIndexes?.[0]?.Projection,
      ).toEqual({ ProjectionType: 'KEYS_ONLY' });
    });

    it('projects into the requests indexes keys and filters only, as the local stack does', () => {
      const requests = template.toJSON().Resources[
        logicalId(stack, stack.state.requests.table)
      ] as CfnResource;
      const projections = Object.fromEntries(
        (requests.Properties?.GlobalSecondaryIndexes as Json[]).map((i) => [i.IndexName, i.Projection]),
      );
      const local = Object.fromEntries(
        (createTableInput(orchestratorResources.requestsTable).GlobalSecondaryIndexes ?? []).map((i) => [
          i.IndexName,
          i.Projection,
        ]),
      );
      expect(projections).toEqual(local);
      for (const projection of Object.values(projections) as Json[]) {
        expect(projection.ProjectionType).toBe('INCLUDE');
        expect(projection.NonKeyAttributes).not.toContain('subject');
        expect(projection.NonKeyAttributes).not.toContain('callbackUrls');
      }
    });

    it('lets the notice deliverer read each pending notice from the table, the index holding no address', () => {
      const actions = statementsOf(template, logicalId(stack, stack.background.notices.role))
        .filter((st) => st.Effect !== 'Deny')
        .filter((st) => refersTo(st.Resource, logicalId(stack, stack.state.requests.table)))
        .flatMap((st) => asArray(st.Action))
        .sort();
      expect(actions).toEqual([
        'dynamodb:BatchGetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ]);
    });

    it('turns TTL on for exactly the tables the data map (and so the local reaper) gives a TTL attribute', () => {
      const refs = [
        stack.state.requests,
        stack.state.vaultTable,
        stack.state.identifierIndex,
        stack.state.logIndex.table,
      ];
      expect(refs.map((r) => r.spec.tableName).sort()).toEqual(
        ALL_ORCHESTRATOR_TABLES.map((t) => t.tableName).sort(),
      );
      for (const { spec, table } of refs) {
        const resource = template.toJSON().Resources[logicalId(stack, table)] as CfnResource;
        expect({ table: spec.tableName, ttl: resource.Properties?.TimeToLiveSpecification }).toEqual({
          table: spec.tableName,
          ttl: spec.ttlAttribute ? { AttributeName: spec.ttlAttribute, Enabled: true } : undefined,
        });
      }
      expect(refs.filter((r) => r.spec.ttlAttribute).map((r) => r.spec.tableName)).toEqual([
        'dsr-requests',
        'dsr-identifier-index',
      ]);
    });
  });

  describe('public routes', () => {
    it('gives each public route its own throttle, under the stage default', () => {
      const [[, stage]] = resourcesOf(template, 'AWS::ApiGatewayV2::Stage') as [[string, CfnResource]];
      const settings = stage.Properties?.RouteSettings as Record<string, Json>;
      const routes = resourcesOf(template, 'AWS::ApiGatewayV2::Route').map(([, r]) =>
        String(r.Properties?.RouteKey),
      );
      for (const route of PUBLIC_ROUTES) {
        const key = `GET ${route.path}`;
        expect(routes).toContain(key);
        expect(settings[key]).toEqual({
          ThrottlingRateLimit: expect.any(Number),
          ThrottlingBurstLimit: expect.any(Number),
        });
        expect(Number(settings[key]?.ThrottlingRateLimit)).toBeLessThan(50);
        expect(Number(settings[key]?.ThrottlingBurstLimit)).toBeLessThan(100);
      }
      expect(Object.keys(settings).sort()).toEqual(PUBLIC_ROUTES.map((r) => `GET ${r.path}`).sort());
    });
  });

  describe('keys', () => {
    it('rotates every symmetric key', () => {
      const keys = resourcesOf(template, 'AWS::KMS::Key');
      const symmetric = keys.filter(([, k]) => k.Properties?.KeySpec === undefined);
      expect(symmetric.length).toBe(5);
      for (const [, key] of symmetric) expect(key.Properties?.EnableKeyRotation).toBe(true);
    });

    it('signs with an ECC P-256 key and hashes subjects with an HMAC key', () => {
      const byId = (construct: IConstruct) =>
        template.toJSON().Resources[logicalId(stack, construct)] as CfnResource;
      expect(byId(stack.keys.signing).Properties).toMatchObject({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
      });
      for (const hmacKey of [stack.keys.subjectHash, stack.keys.downloadToken]) {
        expect(byId(hmacKey).Properties).toMatchObject({
          KeySpec: 'HMAC_256',
          KeyUsage: 'GENERATE_VERIFY_MAC',
        });
      }
    });

    it('lets the retaining connectors only add to the vault, the sweep list and destroy, the reader open', () => {
      const vaultKey = logicalId(stack, stack.keys.vault);
      const storageKey = logicalId(stack, stack.keys.vaultStorage);
      const vaultTable = logicalId(stack, stack.state.vaultTable.table);
      const vaultBucket = logicalId(stack, stack.state.vaultBucket.bucket);
      const roleOf = (fn: DsrFunction) => logicalId(stack, fn.role);
      const writers = Object.keys(VAULT_LEADING_KEYS) as StoreName[];
      expect(writers.sort()).toEqual(['accounts', 'chat', 'marketing', 'payments']);
      const allowed = new Map<string, string>([
        ...writers.map((store) => [roleOf(stack.connectors.functions[store]), `writer:${store}`] as const),
        [roleOf(stack.background.sweep), 'sweep'],
        // The log-erasure job keeps retained log lines.
        [roleOf(stack.tasks.functions.eraseLogs), 'writer:logs'],
        [logicalId(stack, stack.vaultReader.role), 'reader'],
      ]);
      // The table and bucket are under their own key, not the one that seals the kept data.
      const tableProps = (template.toJSON().Resources[vaultTable] as CfnResource).Properties;
      expect(JSON.stringify(tableProps?.SSESpecification)).toContain(storageKey);
      expect(JSON.stringify(tableProps?.SSESpecification)).not.toContain(vaultKey);
      const seen = new Set<string>();
      const decrypters = new Set<string>();
      for (const { roles, statement } of identityStatements(template)) {
        expect(refersTo(statement.Resource, vaultBucket)).toBe(false);
        const touchesTable = refersTo(statement.Resource, vaultTable);
        const touchesStorageKey = refersTo(statement.Resource, storageKey);
        const touchesKey = refersTo(statement.Resource, vaultKey);
        if (!touchesTable && !touchesKey && !touchesStorageKey) continue;
        expect(roles).toHaveLength(1);
        const who = allowed.get(roles[0] ?? '');
        expect({ roles, who }).toEqual({ roles, who: expect.any(String) });
        seen.add(who ?? '');
        const actions = asArray(statement.Action);
        if (touchesStorageKey) {
          // Only through DynamoDB, which needs it for every call of every caller of the table.
          expect(touchesKey).toBe(false);
          expect(actions.sort()).toEqual(
            who === 'reader'
              ? ['kms:Decrypt', 'kms:DescribeKey']
              : ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
          );
          expect(Object.keys(statement.Condition ?? {})).toEqual(['StringEquals']);
          expect(JSON.stringify(statement.Condition)).toMatch(
            /"kms:ViaService":\{"Fn::Join":\["",\["dynamodb\./,
          );
          continue;
        }
        if (touchesKey) {
          // The key that seals kept data: writers may only generate data keys bound to their own store...
          expect(touchesTable).toBe(false);
          if (actions.includes('kms:Decrypt')) decrypters.add(who ?? '');
          if (who?.startsWith('writer:')) {
            expect(actions).toEqual(['kms:GenerateDataKey']);
            expect(statement.Condition).toEqual({
              StringEquals: {
                'kms:EncryptionContext:dsr:purpose': 'retention-vault',
                'kms:EncryptionContext:dsr:store': who.slice('writer:'.length),
              },
              'ForAllValues:StringEquals': {
                'kms:EncryptionContextKeys': ['dsr:purpose', 'dsr:store', 'dsr:entry'],
              },
            });
          } else {
            // ...and only the reader may decrypt them, for vault records only. The sweep gets nothing.
            expect(who).toBe('reader');
            expect(actions).toEqual(['kms:Decrypt']);
            expect(statement.Condition).toEqual({
              StringEquals: { 'kms:EncryptionContext:dsr:purpose': 'retention-vault' },
            });
          }
          continue;
        }
        if (who?.startsWith('writer:')) {
          const store = who.slice('writer:'.length) as StoreName;
          const leadingKeys = store === 'logs' ? LOG_JOB_VAULT_KEYS : VAULT_LEADING_KEYS[store];
          // Writes only (no read, no single-item delete), under the store's own partition keys.
          for (const action of actions)
            expect(['dynamodb:PutItem', 'dynamodb:BatchWriteItem']).toContain(action);
          expect(statement.Condition).toEqual({
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': leadingKeys },
            // An overwriting put may not return what it replaced.
            StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
          });
          for (const pattern of leadingKeys ?? [])
            expect(pattern).toMatch(
              store === 'accounts' ? /^(VAULT#accounts#|SUPPRESSION#)\*$/ : `VAULT#${store}#*`,
            );
        } else if (who === 'reader') {
          // Reads vault records by key (never suppression records, never a scan).
          expect(actions).toEqual(['dynamodb:GetItem']);
          expect(statement.Condition).toEqual({
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['VAULT#*'] },
          });
        } else if (JSON.stringify(statement.Resource).includes('/index/byUntil')) {
          // The sweep lists due items through the index, seeing keys and dates, never the kept data.
          expect(actions).toEqual(['dynamodb:Query']);
          expect(statement.Condition).toEqual({
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...VAULT_SWEEP_ATTRIBUTES] },
            StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
          });
          expect(VAULT_SWEEP_ATTRIBUTES).not.toContain('sealed');
        } else {
          // ...and destroys them in batches, vault records only (suppression records stay).
          expect(actions).toEqual(['dynamodb:BatchWriteItem']);
          expect(statement.Condition).toEqual({
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['VAULT#*'] },
          });
        }
      }
      expect([...seen].sort()).toEqual([
        'reader',
        'sweep',
        'writer:accounts',
        'writer:chat',
        'writer:logs',
        'writer:marketing',
        'writer:payments',
      ]);
      // No connector, no function at all, may decrypt with the vault key: the reader role only.
      expect([...decrypters]).toEqual(['reader']);
      // The index the sweep reads holds keys only, never kept data.
      expect(
        ((tableProps?.GlobalSecondaryIndexes as Json[] | undefined) ?? []).map((i) => i.Projection),
      ).toEqual([{ ProjectionType: 'KEYS_ONLY' }]);
      // The reader is for people of this account (an assumed role), not for a service.
      const reader = template.toJSON().Resources[logicalId(stack, stack.vaultReader.role)] as CfnResource;
      expect(JSON.stringify(reader.Properties?.AssumeRolePolicyDocument)).toMatch(/:root/);
      // Only the accounts connector writes single items (its suppression record).
      const putters = identityStatements(template).filter(
        ({ statement }) =>
          refersTo(statement.Resource, vaultTable) && asArray(statement.Action).includes('dynamodb:PutItem'),
      );
      expect(putters.map(({ roles }) => allowed.get(roles[0] ?? ''))).toEqual(['writer:accounts']);
    });
  });

  describe('functions', () => {
    it('runs every function on nodejs22.x arm64 with its own encrypted log group with a retention', () => {
      const functions = resourcesOf(template, 'AWS::Lambda::Function');
      expect(functions.length).toBe(STORE_NAMES.length + TASK_COUNT + OTHER_FUNCTIONS);
      const logGroups = new Map(resourcesOf(template, 'AWS::Logs::LogGroup'));
      const used = new Set<string>();
      for (const [, fn] of functions) {
        expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'] });
        const ref = (fn.Properties?.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
        expect(used.has(ref)).toBe(false);
        used.add(ref);
        expect(logGroups.get(ref)?.Properties).toMatchObject({
          KmsKeyId: expect.anything(),
          RetentionInDays: 90,
        });
      }
    });

    const envOf = (construct: IConstruct) =>
      (
        (template.toJSON().Resources[logicalId(stack, construct)] as CfnResource).Properties?.Environment as {
          Variables: Json;
        }
      ).Variables;

    it('loads every bundled handler with exactly its environment: each requireEnv is satisfied', async () => {
      const run = promisify(execFile);
      const functions = resourcesOf(template, 'AWS::Lambda::Function');
      // A few at a time, each given long enough: 30-odd Node processes at once on a busy 2-core machine
      // time out without saying why.
      const results: { id: string; loaded: boolean; error: string }[] = [];
      const loads = mapOrderedLimited(
        functions,
        4,
        async ([id, fn]) => {
          const key = (fn.Properties?.Code as { S3Key: string }).S3Key;
          const bundle = path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.js');
          expect(existsSync(bundle)).toBe(true);
          const variables = (fn.Properties?.Environment as { Variables: Json }).Variables;
          const env = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, fakeValue(v)]));
          try {
            // A fresh process with nothing else set: module-level configuration fails fast on a gap.
            await run(process.execPath, ['-e', `require(${JSON.stringify(bundle)})`], {
              env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1', LOG_LEVEL: 'silent', ...env },
              timeout: 120_000,
            });
            return { id, loaded: true, error: '' };
          } catch (error) {
            const stderr = (error as { stderr?: string }).stderr ?? String(error);
            return { id, loaded: false, error: stderr.split('\n').find((l) => /Error/.test(l)) ?? stderr };
          }
        },
        async (result) => {
          results.push(result);
        },
      );
      // The check is live: the sweep's bundle without its vault table fails to load, naming it.
      const sweepId = logicalId(stack, stack.background.sweep.function);
      const sweep = functions.find(([id]) => id === sweepId)?.[1];
      const sweepKey = (sweep?.Properties?.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
      const withoutVault = run(
        process.execPath,
        ['-e', `require(${JSON.stringify(path.join(outdir, `asset.${sweepKey}`, 'index.js'))})`],
        {
          env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1', REQUESTS_TABLE: 'r' },
          timeout: 30_000,
        },
      );
      await expect(withoutVault).rejects.toMatchObject({ stderr: expect.stringContaining('VAULT_TABLE') });
      await loads;
      expect(results.filter((r) => !r.loaded)).toEqual([]);
      expect(results).toHaveLength(STORE_NAMES.length + TASK_COUNT + OTHER_FUNCTIONS);
    }, 900_000);

    it('passes each function the environment its handler requires', () => {
      expect(Object.keys(envOf(stack.api.function.function))).toEqual(
        expect.arrayContaining([
          ENV.requestsTable,
          ENV.accountsTable,
          'EXPORT_STATE_MACHINE_ARN',
          'ERASURE_STATE_MACHINE_ARN',
          'RESTRICTION_STATE_MACHINE_ARN',
          'SUBJECT_HASH_KMS_KEY_ID',
          'SIGNING_KMS_KEY_ID',
          'DOWNLOAD_TOKEN_KMS_KEY_ID',
          'PUBLIC_API_URL',
          'OPENDSR_PROCESSOR_DOMAIN',
          'DEFAULT_JURISDICTION',
          'APPI_DEADLINE_DAYS',
          'DEFAULT_DEADLINE_DAYS',
          ENV.exportsBucket,
        ]),
      );
      expect(envOf(stack.api.function.function)).toMatchObject({
        DEFAULT_JURISDICTION: 'KR',
        APPI_DEADLINE_DAYS: '14',
        DEFAULT_DEADLINE_DAYS: '30',
        ERASURE_STATE_MACHINE_ARN: { Ref: logicalId(stack, stack.erasureWorkflow.stateMachine) },
      });
      const fns = stack.tasks.functions;
      expect(Object.keys(envOf(fns.resolveSubject.function))).toEqual(
        expect.arrayContaining([
          ENV.accountsTable,
          ENV.requestsTable,
          ENV.stagingBucket,
          'SUBJECT_HASH_KMS_KEY_ID',
          CONNECTOR_FUNCTIONS_ENV,
        ]),
      );
      const connectorFunctions = JSON.stringify(envOf(fns.resolveSubject.function)[CONNECTOR_FUNCTIONS_ENV]);
      for (const store of STORE_NAMES) {
        expect(connectorFunctions).toContain(`\\"${store}\\":\\"`);
        expect(connectorFunctions).toContain(logicalId(stack, stack.connectors.functions[store].function));
      }
      const exactEnv: [DsrFunction, string[]][] = [
        [fns.requestStatus, [ENV.requestsTable]],
        [fns.assembleExport, [ENV.stagingBucket, ENV.exportsBucket, ENV.mediaBucket, 'SIGNING_KMS_KEY_ID']],
        [fns.cleanupStaging, [ENV.stagingBucket]],
        [fns.planErasure, [ENV.requestsTable, ENV.stagingBucket, 'SUBJECT_HASH_KMS_KEY_ID']],
        [fns.certifyErasure, [ENV.requestsTable, ENV.stagingBucket, ENV.exportsBucket, 'SIGNING_KMS_KEY_ID']],
        [
          fns.notifyProcessors,
          [ENV.requestsTable, ENV.stagingBucket, 'SIGNING_KMS_KEY_ID', 'PROCESSOR_WEBHOOKS'],
        ],
        [fns.restrict, [ENV.requestsTable, ENV.stagingBucket, 'SIGNING_KMS_KEY_ID', 'PROCESSOR_WEBHOOKS']],
        [
          fns.transmitExport,
          [ENV.requestsTable, 'DOWNLOAD_TOKEN_KMS_KEY_ID', 'SIGNING_KMS_KEY_ID', 'PUBLIC_API_URL'],
        ],
        [
          fns.notify,
          [
            ENV.requestsTable,
            ENV.stagingBucket,
            ENV.accountsTable,
            ENV.serviceStores,
            'DOWNLOAD_TOKEN_KMS_KEY_ID',
            'NOTIFY_FROM_ADDRESS',
            'PUBLIC_API_URL',
          ],
        ],
        [
          stack.background.callbacks,
          [ENV.requestsTable, 'SIGNING_KMS_KEY_ID', 'PUBLIC_API_URL', 'OPENDSR_PROCESSOR_DOMAIN'],
        ],
        [stack.background.deadlineMonitor, [ENV.requestsTable]],
        [stack.background.sweep, [ENV.requestsTable, ENV.vaultTable, 'ERASURE_STATE_MACHINE_ARN']],
      ];
      for (const [fn, names] of exactEnv) {
        expect({ fn: fn.node.path, env: Object.keys(envOf(fn.function)).sort() }).toEqual({
          fn: fn.node.path,
          env: ['NODE_OPTIONS', 'AUDIT_PERIOD_DAYS', ...Object.keys(POWERTOOLS_ENVIRONMENT), ...names].sort(),
        });
      }
      expect(envOf(fns.notifyProcessors.function).PROCESSOR_WEBHOOKS).toBe('{}');
      expect(envOf(fns.notify.function).NOTIFY_FROM_ADDRESS).toBe(CDK_CONTEXT['dsr:notifyFromAddress']);
      // Links name the same base URL as the API's own.
      expect(envOf(fns.notify.function).PUBLIC_API_URL).toEqual(
        envOf(stack.api.function.function).PUBLIC_API_URL,
      );
      // The table-backed connectors also get the services' own tables of their store (SERVICE_STORES).
      const storeEnv = {
        accounts: [ENV.accountsTable, ENV.serviceStores, ENV.vaultTable, 'VAULT_KMS_KEY_ID'],
        payments: [ENV.paymentsTable, ENV.serviceStores, ENV.vaultTable, 'VAULT_KMS_KEY_ID'],
        chat: [
          ENV.chatRoomsTable,
          ENV.chatMessagesTable,
          ENV.serviceStores,
          ENV.mediaBucket,
          'MEDIA_BUCKET_VERSIONED',
          ENV.vaultTable,
          'VAULT_KMS_KEY_ID',
        ],
        media: [ENV.mediaBucket, 'MEDIA_BUCKET_VERSIONED'],
        logs: [ENV.logsBucket, ENV.logIndexTable, ENV.logIndexBucket, 'SUBJECT_HASH_KMS_KEY_ID'],
        marketing: [ENV.marketingTable, ENV.serviceStores, ENV.vaultTable, 'VAULT_KMS_KEY_ID'],
      };
      for (const store of STORE_NAMES) {
        expect(Object.keys(envOf(stack.connectors.functions[store].function)).sort()).toEqual(
          [
            'NODE_OPTIONS',
            'AUDIT_PERIOD_DAYS',
            ...Object.keys(POWERTOOLS_ENVIRONMENT),
            ENV.stagingBucket,
            ...storeEnv[store],
          ].sort(),
        );
      }
      expect(envOf(stack.connectors.functions.media.function).MEDIA_BUCKET_VERSIONED).toBe('true');
      // Callbacks to private addresses are for the local stack's receivers only.
      for (const [, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
        const variables = (fn.Properties?.Environment as { Variables?: Json } | undefined)?.Variables ?? {};
        expect(variables).not.toHaveProperty('ALLOW_PRIVATE_CALLBACKS');
      }
    });

    it('names every function to Powertools and keeps responses and error messages out of its traces', () => {
      for (const [, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
        const variables = (fn.Properties?.Environment as { Variables?: Json } | undefined)?.Variables ?? {};
        expect(variables).toMatchObject({
          POWERTOOLS_SERVICE_NAME: 'dsr-orchestrator',
          POWERTOOLS_METRICS_NAMESPACE: OVERDUE_METRIC.namespace,
          POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
          POWERTOOLS_TRACER_CAPTURE_ERROR: 'false',
        });
      }
    });
  });

  describe.each(WORKFLOWS)('%s workflow', (workflow) => {
    const machineOf = () =>
      (template.toJSON().Resources as Record<string, CfnResource>)[
        logicalId(stack, stack[`${workflow}Workflow`].stateMachine)
      ];

    it('deploys the ASL file with every task function substituted', () => {
      const machine = machineOf();
      expect(machine?.Type).toBe('AWS::StepFunctions::StateMachine');
      const substitutions = machine?.Properties?.DefinitionSubstitutions as Json;
      const asl = readFileSync(path.join(ROOT, STATE_MACHINES[workflow].file), 'utf8');
      const placeholders = new Set([...asl.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
      expect([...placeholders].sort()).toEqual(Object.keys(substitutions).sort());
      for (const key of WORKFLOW_TASKS[workflow]) {
        const fnId = logicalId(stack, stack.tasks.functions[key].function);
        expect(substitutions[TASK_FUNCTIONS[key].substitution]).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
      }
      expect(machine?.Properties).toMatchObject({
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: { Level: 'ERROR', IncludeExecutionData: false },
      });
    });

    it('lets the state machine invoke exactly its task functions and, for requests, the connectors', () => {
      const roleId = logicalId(stack, stack[`${workflow}Workflow`].stateMachine.role);
      const invoke = statementsOf(template, roleId).filter((statement) =>
        asArray(statement.Action).includes('lambda:InvokeFunction'),
      );
      expect(invoke).toHaveLength(1);
      const expected = [
        ...WORKFLOW_TASKS[workflow].map((key) => stack.tasks.functions[key]),
        // The log index backfill and the log-erasure job read no store for a request: no connector.
        ...(workflow === 'logIndexBackfill' || workflow === 'logErasure'
          ? []
          : Object.values(stack.connectors.functions)),
      ].map((fn) => ({ 'Fn::GetAtt': [logicalId(stack, fn.function), 'Arn'] }));
      expect(asArray(invoke[0]?.Resource)).toHaveLength(expected.length);
      expect(asArray(invoke[0]?.Resource)).toEqual(expect.arrayContaining(expected));
    });

    it('logs to an encrypted group and alarms on failed executions through an encrypted TLS-only topic', () => {
      const machineLogs = template.toJSON().Resources[
        logicalId(stack, stack[`${workflow}Workflow`].logGroup)
      ] as CfnResource;
      expect(machineLogs.Properties?.KmsKeyId).toBeDefined();
      expect(machineLogs.Properties?.LogGroupName).toMatch(
        new RegExp(`^/aws/vendedlogs/states/.*-${workflow}$`),
      );
      const topicId = logicalId(stack, stack.alarms.topic);
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      const machineId = logicalId(stack, stack[`${workflow}Workflow`].stateMachine);
      for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: metric,
          Namespace: 'AWS/States',
          Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: machineId } }],
          AlarmActions: [{ Ref: topicId }],
        });
      }
    });
  });

  describe('background functions', () => {
    it('delivers callbacks from the requests stream (new outbox items only) and every minute', () => {
      const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping')
        .map(([, m]) => m.Properties)
        .filter((m) => refersTo(m?.FunctionName, logicalId(stack, stack.background.callbacks.function)));
      expect(mappings).toHaveLength(1);
      const queueId = logicalId(stack, stack.background.callbackFailures);
      expect(mappings[0]).toMatchObject({
        FunctionName: { Ref: logicalId(stack, stack.background.callbacks.function) },
        EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, stack.state.requests.table), 'StreamArn'] },
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 3,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
      });
      const filters = (mappings[0]?.FilterCriteria as { Filters: { Pattern: string }[] }).Filters;
      expect(filters.map((f) => JSON.parse(f.Pattern) as unknown)).toEqual([
        { eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['callback-pending'] } } } },
      ]);
      // The on-failure queue: encrypted with a customer managed key, TLS only, and watched.
      const queue = template.toJSON().Resources[queueId] as CfnResource;
      expect(queue.Properties?.KmsMasterKeyId).toEqual({
        'Fn::GetAtt': [logicalId(stack, stack.keys.observability), 'Arn'],
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      });
      // The deliverer may read the stream and send to its queue, nothing more of either.
      const roleId = logicalId(stack, stack.background.callbacks.role);
      const statements = statementsOf(template, roleId);
      const streamStatements = statements.filter(
        (st) =>
          refersTo(st.Resource, logicalId(stack, stack.state.requests.table)) &&
          JSON.stringify(st.Resource).includes('StreamArn'),
      );
      expect(streamStatements.flatMap((st) => asArray(st.Action)).sort()).toEqual([
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
      ]);
      expect(statements.filter((st) => refersTo(st.Resource, queueId)).map((st) => st.Action)).toEqual([
        'sqs:SendMessage',
      ]);
    });

    it('runs the deliverer every minute, the deadline monitor every 15 minutes and the sweep hourly', () => {
      const schedules = new Map<string, string>();
      for (const [, rule] of resourcesOf(template, 'AWS::Events::Rule')) {
        const targets = rule.Properties?.Targets as { Arn: unknown }[];
        expect(targets).toHaveLength(1);
        for (const fn of [
          stack.background.callbacks,
          stack.background.deadlineMonitor,
          stack.background.sweep,
          stack.background.watchdog,
          stack.background.notices,
        ]) {
          if (refersTo(targets[0]?.Arn, logicalId(stack, fn.function)))
            schedules.set(fn.node.id, rule.Properties?.ScheduleExpression as string);
        }
      }
      expect(Object.fromEntries(schedules)).toEqual({
        Callbacks: 'rate(1 minute)',
        DeadlineMonitor: 'rate(15 minutes)',
        Sweep: 'rate(1 hour)',
        Watchdog: 'rate(5 minutes)',
        Notices: 'rate(1 minute)',
      });
    });

    it('alarms on overdue requests: DsrOrchestrator/OverdueRequests, maximum over 15 minutes, at least 1', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'DsrOrchestrator',
        MetricName: 'OverdueRequests',
        Statistic: 'Maximum',
        Period: 900,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: logicalId(stack, stack.alarms.topic) }],
      });
    });
  });

  describe('log index', () => {
    const indexTableId = () => logicalId(stack, stack.state.logIndex.table.table);
    const indexBucketId = () => logicalId(stack, stack.state.logIndex.files.bucket);
    const actionsOn = (role: IConstruct, id: string) =>
      statementsOf(template, logicalId(stack, role))
        .filter((statement) => refersTo(statement.Resource, id))
        .flatMap((statement) => asArray(statement.Action))
        .sort();

    it('keeps the index in a bucket and a table of the orchestrator, under its key', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(stack, stack.keys.orchestrator), 'Arn'] },
        },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
      expect(Object.keys(template.toJSON().Resources)).toContain(indexTableId());
      const bucket = template.toJSON().Resources[indexBucketId()] as CfnResource;
      expect(bucket.Properties?.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          expect.objectContaining({
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [logicalId(stack, stack.keys.orchestrator), 'Arn'] },
            },
          }),
        ],
      });
      expect(bucket.Properties?.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    });

    it('lets the indexer read the logs and write the index, the logs connector read it, the log-erasure job carry it over', () => {
      const indexer = stack.tasks.functions.indexLogs;
      const logsBucketId = logicalId(stack, stack.stores.logs.bucket);
      expect(actionsOn(indexer.role, logsBucketId)).toEqual(['s3:GetObject', 's3:ListBucket']);
      // The table keeps only the watermarks; the files are the index.
      expect(actionsOn(indexer.role, indexTableId())).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
      const writesFiles = ['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject'];
      expect(actionsOn(indexer.role, indexBucketId())).toEqual(writesFiles);
      const connector = stack.connectors.functions.logs;
      expect(actionsOn(connector.role, indexTableId())).toEqual(['dynamodb:GetItem']);
      expect(actionsOn(connector.role, indexBucketId())).toEqual(['s3:GetObject', 's3:ListBucket']);
      const job = stack.tasks.functions.eraseLogs;
      expect(actionsOn(job.role, indexTableId())).toEqual(['dynamodb:GetItem']);
      expect(actionsOn(job.role, indexBucketId())).toEqual(writesFiles);
      expect(actionsOn(job.role, logicalId(stack, stack.stores.logs.bucket))).toEqual([
        's3:AbortMultipartUpload',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
      ]);
      // Nothing else may reach the index's files.
      const reaching = identityStatements(template)
        .filter(({ statement }) => refersTo(statement.Resource, indexBucketId()))
        .flatMap(({ roles }) => roles);
      expect([...new Set(reaching)].sort()).toEqual(
        [indexer, connector, job].map((fn) => logicalId(stack, fn.role)).sort(),
      );
      // All derive the index key from the subject-hash key; none can use any other MAC key.
      for (const fn of [indexer, connector, job]) {
        const macs = statementsOf(template, logicalId(stack, fn.role)).filter((st) =>
          asArray(st.Action).includes('kms:GenerateMac'),
        );
        expect(macs.map((st) => st.Resource)).toEqual([
          { 'Fn::GetAtt': [logicalId(stack, stack.keys.subjectHash), 'Arn'] },
        ]);
      }
    });

    it('indexes each new log object from its S3 event, and on schedules from the watermark and the whole listing', () => {
      const bucket = template.toJSON().Resources[logicalId(stack, stack.stores.logs.bucket)] as CfnResource;
      expect(bucket.Properties?.NotificationConfiguration).toEqual({
        EventBridgeConfiguration: { EventBridgeEnabled: true },
      });
      const indexerId = logicalId(stack, stack.tasks.functions.indexLogs.function);
      const rules = resourcesOf(template, 'AWS::Events::Rule')
        .map(([, rule]) => rule.Properties ?? {})
        .filter((rule) => refersTo(rule.Targets, indexerId));
      const byKind = (predicate: (rule: Json) => boolean) => rules.filter(predicate);
      expect(byKind((rule) => rule.EventPattern !== undefined).map((rule) => rule.EventPattern)).toEqual([
        {
          source: ['aws.s3'],
          'detail-type': ['Object Created'],
          detail: {
            bucket: { name: [{ Ref: logicalId(stack, stack.stores.logs.bucket) }] },
            object: { key: [{ prefix: 'access/' }, { prefix: 'voice-sessions/' }] },
          },
        },
      ]);
      const scheduled = byKind((rule) => rule.ScheduleExpression !== undefined).map((rule) => [
        rule.ScheduleExpression,
        JSON.parse(((rule.Targets as Json[])[0]?.Input as string | undefined) ?? 'null'),
      ]);
      expect(scheduled).toEqual([
        ['rate(15 minutes)', { action: 'advanceWatermarks' }],
        ['rate(1 day)', { action: 'advanceWatermarks', fromStart: true }],
      ]);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: indexerId } }],
      });
    });

    it('backfills with Distributed Maps over the bucket listing, results to staging, watermark last', () => {
      const asl = JSON.parse(readFileSync(path.join(ROOT, STATE_MACHINES.logIndexBackfill.file), 'utf8')) as {
        States: Record<string, Json>;
      };
      const maps = Object.values(asl.States).filter((state) => state.Type === 'Map');
      expect(maps).toHaveLength(2);
      for (const map of maps) {
        expect(map).toMatchObject({
          ItemReader: { Resource: 'arn:aws:states:::s3:listObjectsV2' },
          ItemBatcher: { MaxItemsPerBatch: expect.any(Number) },
          MaxConcurrency: expect.any(Number),
          ToleratedFailurePercentage: 0,
          ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED' } },
          ResultWriter: { Resource: 'arn:aws:states:::s3:putObject' },
        });
      }
      const role = stack.logIndexBackfillWorkflow.stateMachine.role;
      const statements = statementsOf(template, logicalId(stack, role));
      const list = statements.filter((st) => asArray(st.Action).includes('s3:ListBucket'));
      expect(list).toEqual([
        expect.objectContaining({
          Resource: { 'Fn::GetAtt': [logicalId(stack, stack.stores.logs.bucket), 'Arn'] },
          Condition: { StringLike: { 's3:prefix': ['access/*', 'voice-sessions/*'] } },
        }),
      ]);
      const writes = statements.filter((st) => asArray(st.Action).includes('s3:PutObject'));
      expect(writes).toHaveLength(1);
      expect(JSON.stringify(writes[0]?.Resource)).toContain('/log-index-backfill/*');
      expect(refersTo(writes[0]?.Resource, logicalId(stack, stack.state.staging.bucket))).toBe(true);
    });
  });

  describe('identifier index', () => {
    it('streams the accounts table with old and new images, and keys the index by hashes with a TTL', () => {
      const resourceOf = (construct: IConstruct) =>
        template.toJSON().Resources[logicalId(stack, construct)] as CfnResource;
      expect(resourceOf(stack.stores.accounts.table).Properties?.StreamSpecification).toEqual({
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      });
      expect(resourceOf(stack.state.identifierIndex.table).Properties).toMatchObject({
        KeySchema: [
          { AttributeName: 'identifierHash', KeyType: 'HASH' },
          { AttributeName: 'accountHash', KeyType: 'RANGE' },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
      });
    });

    it('feeds the accounts stream to the indexer, retrying from the failed record, with an alarmed on-failure queue', () => {
      const indexer = stack.identifierIndexer;
      const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping')
        .map(([, m]) => m.Properties)
        .filter((m) => refersTo(m?.FunctionName, logicalId(stack, indexer.indexer.function)));
      const queueId = logicalId(stack, indexer.failures);
      // The shared accounts table's stream, and the stream of every service's own accounts table.
      const own = stack.stores.serviceTables.filter((t) => t.resource === 'accountsTable');
      expect(own.length).toBeGreaterThan(0);
      expect(mappings).toEqual([
        expect.objectContaining({
          EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, stack.stores.accounts.table), 'StreamArn'] },
          StartingPosition: 'TRIM_HORIZON',
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
        }),
        ...own.map((t) =>
          expect.objectContaining({
            EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, t.ref.table), 'StreamArn'] },
            StartingPosition: 'TRIM_HORIZON',
            FunctionResponseTypes: ['ReportBatchItemFailures'],
            DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } } },
          }),
        ),
      ]);
      expect(mappings[0]?.FilterCriteria).toBeUndefined();
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
        AlarmActions: [{ Ref: logicalId(stack, stack.alarms.topic) }],
      });
    });

    it("grants each service's own table exactly what its shared table gets, to the same roles, and names it to them", () => {
      const grants = (table: IConstruct) => {
        const id = logicalId(stack, table);
        const byRole = new Map<string, string[]>();
        for (const { roles, statement } of identityStatements(template)) {
          if (!JSON.stringify(statement.Resource).includes(`"${id}"`)) continue;
          for (const role of roles)
            byRole.set(role, [...(byRole.get(role) ?? []), ...asArray(statement.Action)]);
        }
        return [...byRole]
          .map(([role, actions]) => `${role}: ${[...new Set(actions)].sort().join(',')}`)
          .sort();
      };
      expect(stack.stores.serviceTables.length).toBe(serviceOwnTables().length);
      for (const { resource, ref } of stack.stores.serviceTables) {
        const shared = stack.stores.tablesOf(resource)[0]!;
        const own = grants(ref.table);
        expect(own.length).toBeGreaterThan(0);
        expect({ resource, own }).toEqual({ resource, own: grants(shared.table) });
      }
      // Every function that may read a service's own accounts table is told its name.
      const ownAccounts = stack.stores.serviceTables.find((t) => t.resource === 'accountsTable')!;
      const named = [
        stack.tasks.functions.resolveSubject,
        stack.tasks.functions.notify,
        stack.identifierIndexer.indexer,
      ];
      for (const fn of named) {
        const resource = template.toJSON().Resources[logicalId(stack, fn.function)] as CfnResource;
        const env = (resource.Properties?.Environment as { Variables: Json }).Variables;
        expect(JSON.stringify(env[ENV.serviceStores])).toContain(logicalId(stack, ownAccounts.ref.table));
      }
    });

    it('lets the indexer write index entries, read the stream and scan accounts, and nothing more of them', () => {
      const indexer = stack.identifierIndexer.indexer;
      const statements = statementsOf(template, logicalId(stack, indexer.role));
      const on = (construct: IConstruct, attribute = 'Arn') =>
        statements
          .filter((st) =>
            JSON.stringify(st.Resource).includes(`"${logicalId(stack, construct)}","${attribute}"`),
          )
          .flatMap((st) => asArray(st.Action))
          .sort();
      expect(on(stack.state.identifierIndex.table)).toEqual(['dynamodb:UpdateItem']);
      expect(on(stack.stores.accounts.table)).toEqual(['dynamodb:Scan']);
      expect(on(stack.stores.accounts.table, 'StreamArn')).toEqual([
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
      ]);
      expect(on(stack.keys.subjectHash)).toEqual(['kms:GenerateMac']);
    });

    it('resolves subjects with no Scan: the indexer is the one role that may scan the accounts table', () => {
      const accountsId = logicalId(stack, stack.stores.accounts.table);
      const scanners = identityStatements(template)
        .filter(
          ({ statement }) =>
            asArray(statement.Action).includes('dynamodb:Scan') && refersTo(statement.Resource, accountsId),
        )
        .flatMap(({ roles }) => roles);
      expect(scanners).toEqual([logicalId(stack, stack.identifierIndexer.indexer.role)]);
      const resolver = statementsOf(template, logicalId(stack, stack.tasks.functions.resolveSubject.role));
      const indexId = logicalId(stack, stack.state.identifierIndex.table);
      const onAccountsOrIndex = resolver.filter(
        (st) => refersTo(st.Resource, accountsId) || refersTo(st.Resource, indexId),
      );
      expect(onAccountsOrIndex.flatMap((st) => asArray(st.Action))).not.toContain('dynamodb:Scan');
      expect(
        resolver.filter((st) => refersTo(st.Resource, indexId)).flatMap((st) => asArray(st.Action)),
      ).toEqual(['dynamodb:Query']);
    });
  });

  describe('least privilege', () => {
    describe('the audit trail is append-only in IAM', () => {
      const requestsId = () => logicalId(stack, stack.state.requests.table);
      const onRequestsTable = (statement: Statement) =>
        (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]).some(
          (r) => JSON.stringify(r) === JSON.stringify({ 'Fn::GetAtt': [requestsId(), 'Arn'] }),
        );
      const auditDeny = (statement: Statement) =>
        statement.Effect === 'Deny' &&
        onRequestsTable(statement) &&
        JSON.stringify(statement.Condition) ===
          JSON.stringify({ 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['AUDIT#*'] } });
      const allowed = (statements: Statement[], action: string) =>
        statements.some(
          (st) => st.Effect !== 'Deny' && onRequestsTable(st) && asArray(st.Action).includes(action),
        );
      const denied = (statements: Statement[], action: string) =>
        statements.some((st) => auditDeny(st) && asArray(st.Action).includes(action));
      const roles = () => [...new Set(identityStatements(template).flatMap(({ roles }) => roles))];

      it('lets only the audit writers (API, status changes, certification) add entries', () => {
        const writers = roles().filter((role) => {
          const statements = statementsOf(template, role);
          return allowed(statements, 'dynamodb:PutItem') && !denied(statements, 'dynamodb:PutItem');
        });
        expect(writers.sort()).toEqual(
          [
            logicalId(stack, stack.api.function.role),
            logicalId(stack, stack.tasks.functions.requestStatus.role),
            logicalId(stack, stack.tasks.functions.certifyErasure.role),
            // A restriction completes its request itself (RecordRestriction): an audited status change.
            logicalId(stack, stack.tasks.functions.restrict.role),
          ].sort(),
        );
        // Several other roles write the requests table, and are denied audit entries explicitly.
        const otherWriters = roles().filter(
          (role) => allowed(statementsOf(template, role), 'dynamodb:PutItem') && !writers.includes(role),
        );
        expect(otherWriters.length).toBeGreaterThan(3);
      });

      it('lets no role update, delete or batch-write an entry, nor touch one through PartiQL', () => {
        const changes = [
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:BatchWriteItem',
          'dynamodb:PartiQLUpdate',
          'dynamodb:PartiQLDelete',
          'dynamodb:PartiQLInsert',
        ];
        let checked = 0;
        for (const role of roles()) {
          const statements = statementsOf(template, role);
          for (const action of changes) {
            if (!allowed(statements, action)) continue;
            checked += 1;
            expect({ role, action, denied: denied(statements, action) }).toEqual({
              role,
              action,
              denied: true,
            });
          }
          // No PartiQL at all, so the item-level denies cannot be side-stepped.
          for (const st of statements) {
            if (st.Effect !== 'Deny')
              expect(asArray(st.Action).filter((a) => a.includes('PartiQL'))).toEqual([]);
          }
        }
        expect(checked).toBeGreaterThan(10);
      });
    });

    it('uses Resource "*" only for actions that cannot be scoped, and no wildcard actions', () => {
      const starActions = new Set<string>();
      for (const { statement } of identityStatements(template)) {
        const actions = asArray(statement.Action);
        for (const action of actions) expect(action).not.toContain('*');
        if (statement.Effect === 'Allow' && asArray(statement.Resource).includes('*')) {
          actions.forEach((a) => starActions.add(a));
        }
      }
      expect([...starActions].sort()).toEqual(UNSCOPABLE_ACTIONS);
    });

    it('keeps the Resource "*" statements alone in the default policies, where they are acknowledged', () => {
      // The log-erasure schedule's role (EventBridge's, CDK-made) holds only StartExecution on the job.
      const defaults = resourcesOf(template, 'AWS::IAM::Policy').filter(
        ([id]) => id.includes('RoleDefaultPolicy') && !id.includes('EventsRole'),
      );
      // One per function, one per state machine.
      expect(defaults.length).toBe(STORE_NAMES.length + TASK_COUNT + OTHER_FUNCTIONS + WORKFLOWS.length);
      for (const [, policy] of defaults) {
        for (const statement of (policy.Properties?.PolicyDocument as { Statement: Statement[] }).Statement) {
          expect(statement.Resource).toBe('*');
          for (const action of asArray(statement.Action)) expect(UNSCOPABLE_ACTIONS).toContain(action);
        }
      }
    });

    it('lets the API start the workflows and the log job, the sweep and the job resume erasures, the watchdog re-drive, and nobody else use Step Functions', () => {
      const machine = (w: WorkflowName) => ({ Ref: logicalId(stack, stack[`${w}Workflow`].stateMachine) });
      const statesOf = (fn: DsrFunction) =>
        statementsOf(template, logicalId(stack, fn.role)).filter((statement) =>
          asArray(statement.Action).some((a) => a.startsWith('states:')),
        );
      const apiStates = statesOf(stack.api.function);
      expect(asArray(apiStates[0]?.Resource)).toHaveLength(4);
      expect(apiStates).toEqual([
        expect.objectContaining({
          Action: 'states:StartExecution',
          Resource: expect.arrayContaining([
            machine('export'),
            machine('erasure'),
            machine('restriction'),
            machine('logErasure'),
          ]),
        }),
        // A log-erasure job's status: the executions of that state machine only.
        expect.objectContaining({ Action: 'states:DescribeExecution' }),
      ]);
      expect(JSON.stringify(apiStates[1]?.Resource)).toContain(
        `":execution:",{"Fn::GetAtt":["${logicalId(stack, stack.logErasureWorkflow.stateMachine)}","Name"]},":*"`,
      );
      expect(statesOf(stack.background.sweep)).toEqual([
        expect.objectContaining({ Action: 'states:StartExecution', Resource: machine('erasure') }),
      ]);
      // The watchdog: start either workflow, and describe their executions (by name), nothing else.
      const watchdogStates = statesOf(stack.background.watchdog);
      expect(watchdogStates).toEqual([
        expect.objectContaining({
          Action: 'states:StartExecution',
          Resource: expect.arrayContaining([machine('export'), machine('erasure'), machine('restriction')]),
        }),
        expect.objectContaining({ Action: 'states:DescribeExecution' }),
      ]);
      for (const w of ['export', 'erasure', 'restriction'] as const) {
        const id = logicalId(stack, stack[`${w}Workflow`].stateMachine);
        expect(JSON.stringify(watchdogStates[1]?.Resource)).toContain(
          `":execution:",{"Fn::GetAtt":["${id}","Name"]},":*"`,
        );
      }
      // ... and the log index backfill its own Distributed Maps' child executions, nothing else.
      const backfill = stack.logIndexBackfillWorkflow.stateMachine;
      const backfillRole = logicalId(stack, backfill.role);
      const machineId = logicalId(stack, backfill);
      const backfillStates = statementsOf(template, backfillRole).filter((statement) =>
        asArray(statement.Action).some((a) => a.startsWith('states:')),
      );
      expect(backfillStates).toEqual([
        expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: machineId } }),
        expect.objectContaining({ Action: ['states:DescribeExecution', 'states:StopExecution'] }),
      ]);
      expect(JSON.stringify(backfillStates[1]?.Resource)).toContain(
        `":execution:",{"Fn::GetAtt":["${machineId}","Name"]},":*"`,
      );
      // The log-erasure job: its state machine its own children, its Lambda resumes erasures, and the
      // schedule starts the job.
      const logJob = stack.logErasureWorkflow.stateMachine;
      const logJobRole = logicalId(stack, logJob.role);
      const logJobStates = statementsOf(template, logJobRole).filter((statement) =>
        asArray(statement.Action).some((a) => a.startsWith('states:')),
      );
      expect(logJobStates).toEqual([
        expect.objectContaining({
          Action: 'states:StartExecution',
          Resource: { Ref: logicalId(stack, logJob) },
        }),
        expect.objectContaining({ Action: ['states:DescribeExecution', 'states:StopExecution'] }),
      ]);
      expect(statesOf(stack.tasks.functions.eraseLogs)).toEqual([
        expect.objectContaining({ Action: 'states:StartExecution', Resource: machine('erasure') }),
      ]);
      const scheduleRoles = identityStatements(template)
        .filter(({ statement }) => asArray(statement.Action).includes('states:StartExecution'))
        .filter(
          ({ statement }) =>
            JSON.stringify(statement.Resource) === JSON.stringify({ Ref: logicalId(stack, logJob) }),
        )
        .flatMap(({ roles }) => roles)
        .filter((role) => role !== logJobRole);
      expect(scheduleRoles).toHaveLength(1);
      const starters = identityStatements(template)
        .filter(({ statement }) => asArray(statement.Action).some((a) => a.startsWith('states:')))
        .flatMap(({ roles }) => roles)
        .filter((role) => role !== backfillRole && role !== logJobRole);
      expect([...new Set(starters)].sort()).toEqual(
        [
          logicalId(stack, stack.api.function.role),
          logicalId(stack, stack.background.sweep.role),
          logicalId(stack, stack.background.watchdog.role),
          logicalId(stack, stack.tasks.functions.eraseLogs.role),
          ...scheduleRoles,
        ].sort(),
      );
    });

    it('keeps the two MAC keys apart: subject hashes where subjects are resolved, both for the API', () => {
      const macKeysOf = (role: IConstruct) =>
        statementsOf(template, logicalId(stack, role))
          .filter((st) => asArray(st.Action).includes('kms:GenerateMac'))
          .flatMap((st) => asArray(st.Resource));
      const arn = (key: IConstruct) => ({ 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] });
      for (const fn of [stack.tasks.functions.resolveSubject, stack.tasks.functions.planErasure]) {
        expect(macKeysOf(fn.role)).toEqual([arn(stack.keys.subjectHash)]);
      }
      expect(macKeysOf(stack.api.function.role)).toEqual(
        expect.arrayContaining([arn(stack.keys.subjectHash), arn(stack.keys.downloadToken)]),
      );
      expect(macKeysOf(stack.tasks.functions.notify.role)).toEqual([arn(stack.keys.downloadToken)]);
      // Signing: the functions that sign archives, certificates, callbacks and OpenDSR responses.
      const signers = identityStatements(template)
        .filter(({ statement }) => asArray(statement.Action).includes('kms:Sign'))
        .map(({ roles, statement }) => {
          expect(statement.Resource).toEqual(arn(stack.keys.signing));
          return roles[0];
        });
      expect(signers.sort()).toEqual(
        [
          stack.api.function,
          stack.tasks.functions.assembleExport,
          stack.tasks.functions.certifyErasure,
          stack.tasks.functions.notifyProcessors,
          // Restriction notices and transfer notices are signed as processor notices are.
          stack.tasks.functions.restrict,
          stack.tasks.functions.transmitExport,
          stack.background.callbacks,
        ]
          .map((fn) => logicalId(stack, fn.role))
          .sort(),
      );
    });

    it('gives each connector exactly the calls its code makes on its own store, and nothing elsewhere', () => {
      const versions = ['s3:ListBucketVersions'];
      const expected: Record<StoreName, Record<string, string[]>> = {
        accounts: {
          [logicalId(stack, stack.stores.accounts.table)]: [
            'dynamodb:DeleteItem',
            'dynamodb:GetItem',
            'dynamodb:UpdateItem',
          ],
        },
        payments: {
          [logicalId(stack, stack.stores.payments.table)]: [
            'dynamodb:BatchWriteItem',
            'dynamodb:Query',
            'dynamodb:UpdateItem',
          ],
        },
        chat: {
          [logicalId(stack, stack.stores.chatRooms.table)]: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          [logicalId(stack, stack.stores.chatMessages.table)]: [
            'dynamodb:DeleteItem',
            'dynamodb:GetItem',
            'dynamodb:Query',
            'dynamodb:Query',
            'dynamodb:UpdateItem',
          ],
          // Attachments only: deleted with their messages, every version.
          [logicalId(stack, stack.stores.media.bucket)]: ['s3:DeleteObjectVersion', ...versions],
        },
        media: {
          [logicalId(stack, stack.stores.media.bucket)]: [
            's3:DeleteObjectVersion',
            's3:ListBucket',
            ...versions,
          ],
        },
        logs: {
          [logicalId(stack, stack.stores.logs.bucket)]: ['s3:GetObject', 's3:ListBucket'],
        },
        marketing: {
          [logicalId(stack, stack.stores.marketing.table)]: ['dynamodb:BatchWriteItem', 'dynamodb:Query'],
        },
      };
      const storeIds = [...new Set(Object.values(expected).flatMap((byId) => Object.keys(byId)))];
      for (const store of STORE_NAMES) {
        const statements = statementsOf(template, logicalId(stack, stack.connectors.functions[store].role));
        const actual: Record<string, string[]> = {};
        for (const statement of statements) {
          for (const id of storeIds.filter((i) => refersTo(statement.Resource, i)))
            (actual[id] ??= []).push(...asArray(statement.Action));
        }
        for (const actions of Object.values(actual)) actions.sort();
        expect({ store, actual }).toEqual({ store, actual: expected[store] });
      }
      // The chat connector reaches the media bucket under chat-attachments/ only.
      const chatMedia = statementsOf(template, logicalId(stack, stack.connectors.functions.chat.role)).filter(
        (st) => refersTo(st.Resource, logicalId(stack, stack.stores.media.bucket)),
      );
      for (const statement of chatMedia) {
        const scope = JSON.stringify([statement.Resource, statement.Condition ?? null]);
        expect(scope).toContain('chat-attachments/');
        expect(scope).not.toMatch(/avatars|voice|uploads|behavior/);
      }
    });

    it('lets notify read only the recipient and send only from the configured address', () => {
      const statements = statementsOf(template, logicalId(stack, stack.tasks.functions.notify.role));
      const accounts = statements.filter((st) =>
        refersTo(st.Resource, logicalId(stack, stack.stores.accounts.table)),
      );
      expect(accounts).toEqual([
        expect.objectContaining({
          Action: 'dynamodb:GetItem',
          Condition: {
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['userId', 'email', 'locale', 'status'] },
            StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
          },
        }),
      ]);
      const staging = statements.filter((st) =>
        refersTo(st.Resource, logicalId(stack, stack.state.staging.bucket)),
      );
      expect(staging.map((st) => [st.Action, JSON.stringify(st.Resource)])).toEqual([
        ['s3:GetObject', expect.stringContaining('"/requests/*/subject.json"')],
      ]);
      const ses = statements.filter((st) => asArray(st.Action).some((a) => a.startsWith('ses:')));
      expect(ses).toEqual([
        expect.objectContaining({
          Action: ['ses:SendEmail', 'ses:SendRawEmail'],
          Condition: { StringEquals: { 'ses:FromAddress': CDK_CONTEXT['dsr:notifyFromAddress'] } },
        }),
      ]);
      expect(JSON.stringify(ses[0]?.Resource)).toContain(':identity/dsr.example');
      // Nobody else sends mail but the deliverer of the person's outcome notices, from the same address.
      const senders = identityStatements(template).filter(({ statement }) =>
        asArray(statement.Action).some((a) => a.startsWith('ses:')),
      );
      expect(senders).toHaveLength(2);
      for (const { statement } of senders) {
        expect(statement.Condition).toEqual({
          StringEquals: { 'ses:FromAddress': CDK_CONTEXT['dsr:notifyFromAddress'] },
        });
      }
    });

    it('lets the API read only what it serves: accounts by key and index, archives and certificates', () => {
      const statements = statementsOf(template, logicalId(stack, stack.api.function.role));
      const accountsId = logicalId(stack, stack.stores.accounts.table);
      const onAccounts = statements.filter((st) => refersTo(st.Resource, accountsId));
      expect(onAccounts.map((st) => st.Action)).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
      expect(JSON.stringify(onAccounts[1]?.Resource)).toMatch(/index\/byEmail.*index\/byPhone/);
      const exportsId = logicalId(stack, stack.state.exports.bucket);
      const objects = statements.find(
        (st) => refersTo(st.Resource, exportsId) && st.Action === 's3:GetObject',
      );
      const objectKeys = JSON.stringify(objects?.Resource);
      expect(objectKeys).toContain('"/exports/*"');
      expect(objectKeys).toContain('"/certificates/*"');
      expect(asArray(objects?.Resource)).toHaveLength(2);
      // No writes anywhere in the exports bucket: archives and certificates are written by the workflows.
      for (const st of statements.filter((s) => refersTo(s.Resource, exportsId)))
        expect(asArray(st.Action)).not.toContain('s3:PutObject');
    });
  });

  describe('API', () => {
    it('routes /v1 and /opendsr through the JWT authorizer and keeps only the listed GET routes public', () => {
      const routes = resourcesOf(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties ?? {});
      const byKey = Object.fromEntries(routes.map((r) => [r.RouteKey as string, r]));
      const publicKeys = PUBLIC_ROUTES.map((r) => `GET ${r.path}`);
      expect(Object.keys(byKey).sort()).toEqual(
        ['ANY /opendsr/{proxy+}', 'ANY /v1/{proxy+}', ...publicKeys].sort(),
      );
      expect(publicKeys).toEqual(
        expect.arrayContaining([
          'GET /.well-known/jwks.json',
          'GET /v1/downloads/{token}',
          'GET /v1/downloads/{token}/archive',
        ]),
      );
      for (const key of ['ANY /v1/{proxy+}', 'ANY /opendsr/{proxy+}']) {
        expect(byKey[key]).toMatchObject({
          AuthorizationType: 'JWT',
          AuthorizationScopes: ['dsr/support', 'dsr/legal', 'dsr/auditor'],
        });
      }
      for (const key of publicKeys) expect(byKey[key]?.AuthorizationType ?? 'NONE').toBe('NONE');
      template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        AuthorizerType: 'JWT',
        JwtConfiguration: { Audience: Match.anyValue(), Issuer: Match.anyValue() },
      });
    });

    it('throttles and access-logs the default stage without personal data', () => {
      const [[, stage]] = resourcesOf(template, 'AWS::ApiGatewayV2::Stage') as [[string, CfnResource]];
      expect(stage.Properties).toMatchObject({
        StageName: '$default',
        DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
        AccessLogSettings: { DestinationArn: expect.anything(), Format: expect.any(String) },
      });
      const format = (stage.Properties?.AccessLogSettings as { Format: string }).Format;
      expect(format).toContain('$context.requestId');
      expect(format).not.toMatch(/sourceIp|userAgent|\$context\.path/);
    });

    it('has one client-credentials app client per role, each with its own scope and every service', () => {
      const clients = resourcesOf(template, 'AWS::Cognito::UserPoolClient').map(
        ([, c]) => c.Properties ?? {},
      );
      expect(clients).toHaveLength(3);
      const scopes = clients.map((c) => {
        expect(c).toMatchObject({ AllowedOAuthFlows: ['client_credentials'], GenerateSecret: true });
        return c.AllowedOAuthScopes as unknown[];
      });
      // The role's scope and one per service (dsr/service:<id>): a token names the caller's services.
      expect(scopes.map((s) => s.length)).toEqual([6, 6, 6]);
      template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
        Identifier: 'dsr',
        Scopes: [
          Match.objectLike({ ScopeName: 'support' }),
          Match.objectLike({ ScopeName: 'legal' }),
          Match.objectLike({ ScopeName: 'auditor' }),
          Match.objectLike({ ScopeName: 'service:klub-outside' }),
          Match.objectLike({ ScopeName: 'service:prism-project' }),
          Match.objectLike({ ScopeName: 'service:cluster' }),
          Match.objectLike({ ScopeName: 'service:audiostock' }),
          Match.objectLike({ ScopeName: 'service:metalive' }),
        ],
      });
    });
  });
});

describe('DsrStack (platform stores imported by name)', () => {
  const existing = {
    accountsTable: {
      name: 'prod-accounts',
      kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/accounts-key',
      streamArn: 'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-accounts/stream/2026-01-01T00:00:00.000',
    },
    mediaBucket: { name: 'prod-media' },
  };
  let built: BuiltApp;
  let template: Template;
  let stack: DsrStack;
  let outdir: string;

  beforeAll(() => {
    ({ built, template, outdir } = synthApp({
      [CONTEXT_KEYS.platformStores]: 'import',
      [CONTEXT_KEYS.existing]: JSON.stringify(existing),
      [CONTEXT_KEYS.exportRetentionDays]: '7',
      // Bundling is proven by the demo stack above; this one only checks the wiring.
      'aws:cdk:bundling-stacks': [],
    }));
    stack = built.stack;
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('passes cdk-nag, with each imported bucket prefix acknowledged by its exact ARN', () => {
    expect(built.nag.validateScope(built.app).violations).toEqual([]);
  });

  it('creates only the orchestrator tables and buckets, and no platform key', () => {
    // requests, vault, identifier index, log index
    expect(resourcesOf(template, 'AWS::DynamoDB::Table')).toHaveLength(4);
    // access logs, staging, exports, vault, log index
    expect(resourcesOf(template, 'AWS::S3::Bucket')).toHaveLength(5);
    expect(stack.keys.platform).toBeUndefined();
  });

  it('points connectors at the named resources and grants the use of their key through DynamoDB', () => {
    const accounts = stack.connectors.functions.accounts;
    const env = (
      (template.toJSON().Resources[logicalId(stack, accounts.function)] as CfnResource).Properties
        ?.Environment as {
        Variables: Json;
      }
    ).Variables;
    expect(env[ENV.accountsTable]).toBe('prod-accounts');
    const mediaEnv = (
      (
        template.toJSON().Resources[
          logicalId(stack, stack.connectors.functions.media.function)
        ] as CfnResource
      ).Properties?.Environment as { Variables: Json }
    ).Variables;
    expect(mediaEnv[ENV.mediaBucket]).toBe('prod-media');
    const roleId = logicalId(stack, accounts.role);
    const statements = statementsOf(template, roleId);
    expect(statements).toContainEqual(
      expect.objectContaining({
        // The connector erases (writes), so DynamoDB needs the key both ways.
        Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        // Merged by CDK with the vault key, which the connector uses the same way.
        Resource: expect.arrayContaining([existing.accountsTable.kmsKeyArn]),
        Condition: { StringEquals: { 'kms:ViaService': expect.anything() } },
      }),
    );
    // The API reads the same table for a request's default jurisdiction: by key and index only.
    const apiEnv = (
      (template.toJSON().Resources[logicalId(stack, stack.api.function.function)] as CfnResource).Properties
        ?.Environment as { Variables: Json }
    ).Variables;
    expect(apiEnv[ENV.accountsTable]).toBe('prod-accounts');
    const paymentsEnv = (
      (
        template.toJSON().Resources[
          logicalId(stack, stack.connectors.functions.payments.function)
        ] as CfnResource
      ).Properties?.Environment as { Variables: Json }
    ).Variables;
    expect(paymentsEnv[ENV.paymentsTable]).toBe('platform-payments');
  });

  it('leaves an imported logs bucket as it is, and keeps its log index current by schedule alone', () => {
    const bucketNotifications = resourcesOf(template, 'AWS::S3::Bucket').filter(
      ([, bucket]) => bucket.Properties?.NotificationConfiguration !== undefined,
    );
    expect(bucketNotifications).toEqual([]);
    const indexerId = logicalId(stack, stack.tasks.functions.indexLogs.function);
    const rules = resourcesOf(template, 'AWS::Events::Rule').filter(([, rule]) =>
      refersTo(rule.Properties?.Targets, indexerId),
    );
    expect(rules.map(([, rule]) => rule.Properties?.ScheduleExpression)).toEqual([
      'rate(15 minutes)',
      'rate(1 day)',
    ]);
    expect(stack.logIndexUpdates.objectCreated).toBeUndefined();
  });

  it('reads the imported accounts table through the stream ARN it was given', () => {
    const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping')
      .map(([, m]) => m.Properties)
      .filter((m) => refersTo(m?.FunctionName, logicalId(stack, stack.identifierIndexer.indexer.function)));
    expect(mappings.map((m) => m?.EventSourceArn)).toEqual([existing.accountsTable.streamArn]);
  });

  it('uses the configured export retention', () => {
    const exportsBucket = template.toJSON().Resources[
      logicalId(stack, stack.state.exports.bucket)
    ] as CfnResource;
    expect(exportsBucket.Properties?.LifecycleConfiguration).toEqual({
      Rules: expect.arrayContaining([expect.objectContaining({ ExpirationInDays: 7 })]),
    });
  });
});

describe('gateway routes against the API route table', () => {
  /** A concrete path for a gateway route path: each {param} becomes a sample segment. */
  const sample = (path: string) => path.replace(/\{[^}]+\}/g, 'sample-token-1');

  it('makes public exactly the routes the API serves without a token', () => {
    // Loaded here, not at the top: the API's route modules compile their JSON schemas when loaded, and a
    // failure there belongs to this test only.
    const { ROUTES, isPublicPath } =
      jest.requireActual<typeof import('../../functions/api/core')>('../../functions/api/core');
    const gatewayPublic = PUBLIC_ROUTES.map((r) => sample(r.path));
    for (const path of gatewayPublic)
      expect({ path, public: isPublicPath(path) }).toEqual({ path, public: true });
    for (const route of ROUTES.filter((r) => r.access === 'public')) {
      const reachable = gatewayPublic.some((path) => route.method === 'GET' && route.pattern.test(path));
      expect({ route: route.pattern.source, reachable }).toEqual({
        route: route.pattern.source,
        reachable: true,
      });
    }
    const authorizedPrefixes = AUTHORIZED_ROUTES.map((p) => p.replace('{proxy+}', ''));
    for (const route of ROUTES.filter((r) => r.access !== 'public')) {
      const underAuthorizer = authorizedPrefixes.some((prefix) =>
        route.pattern.source.startsWith(`^${prefix.replace(/\//g, '\\/')}`),
      );
      expect({ route: route.pattern.source, underAuthorizer }).toEqual({
        route: route.pattern.source,
        underAuthorizer: true,
      });
    }
  });
});

describe('readDeploymentConfig', () => {
  const raw = (context: Json) => ({ tryGetContext: (key: string) => context[key] });
  /** Every deployment names its sender; the other settings have defaults. */
  const reader = (context: Json) =>
    raw({ [CONTEXT_KEYS.notifyFromAddress]: 'privacy@mail.example.com', ...context });

  it('requires the sender of download emails, and checks its SES identity', () => {
    expect(() => readDeploymentConfig(raw({}))).toThrow(CONTEXT_KEYS.notifyFromAddress);
    expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.notifyFromAddress]: 'privacy' }))).toThrow(
      CONTEXT_KEYS.notifyFromAddress,
    );
    expect(readDeploymentConfig(reader({}))).toMatchObject({
      notifyFromAddress: 'privacy@mail.example.com',
      sesIdentity: 'mail.example.com',
    });
    for (const identity of ['example.com', 'privacy@mail.example.com']) {
      expect(readDeploymentConfig(reader({ [CONTEXT_KEYS.sesIdentity]: identity })).sesIdentity).toBe(
        identity,
      );
    }
    expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.sesIdentity]: 'other.example' }))).toThrow(
      CONTEXT_KEYS.sesIdentity,
    );
  });

  it('defaults to a demo deployment that creates the platform stores', () => {
    expect(readDeploymentConfig(reader({}))).toMatchObject({
      platformStores: 'create',
      existing: {},
      exportRetentionDays: 30,
      tracing: true,
    });
  });

  it('binds API clients to services: one client per role and every service unless dsr:apiClients names them', () => {
    const all = ['klub-outside', 'prism-project', 'cluster', 'audiostock', 'metalive'];
    expect(readDeploymentConfig(reader({})).apiClients).toEqual({
      support: { role: 'support', services: all },
      legal: { role: 'legal', services: all },
      auditor: { role: 'auditor', services: all },
    });
    const named = {
      'cluster-support': { role: 'support', services: ['cluster'] },
      'sony-legal': { role: 'legal', services: ['audiostock', 'metalive'] },
    };
    expect(
      readDeploymentConfig(reader({ [CONTEXT_KEYS.apiClients]: JSON.stringify(named) })).apiClients,
    ).toEqual(named);
    for (const bad of [
      { x: { role: 'support', services: ['nowhere'] } },
      { x: { role: 'admin', services: ['cluster'] } },
      { x: { role: 'support', services: [] } },
      { 'Bad Name': { role: 'support', services: ['cluster'] } },
      {},
    ]) {
      expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.apiClients]: bad }))).toThrow(
        CONTEXT_KEYS.apiClients,
      );
    }
  });

  it('names the context key of a bad value', () => {
    expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.platformStores]: 'reuse' }))).toThrow(
      CONTEXT_KEYS.platformStores,
    );
    expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.exportRetentionDays]: '0' }))).toThrow(
      CONTEXT_KEYS.exportRetentionDays,
    );
    expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.logRetentionDays]: 45 }))).toThrow(
      CONTEXT_KEYS.logRetentionDays,
    );
    expect(() =>
      readDeploymentConfig(
        reader({ [CONTEXT_KEYS.platformStores]: 'import', [CONTEXT_KEYS.existing]: '{"ordersTable":{}}' }),
      ),
    ).toThrow('unknown resource ordersTable');
    expect(() =>
      readDeploymentConfig(reader({ [CONTEXT_KEYS.existing]: { mediaBucket: { name: 'x' } } })),
    ).toThrow(CONTEXT_KEYS.platformStores);
    expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.publicApiUrl]: 'http://dsr.example' }))).toThrow(
      CONTEXT_KEYS.publicApiUrl,
    );
    expect(() =>
      readDeploymentConfig(reader({ [CONTEXT_KEYS.processorWebhooks]: '{"crm":"http://crm.example/dsr"}' })),
    ).toThrow(`${CONTEXT_KEYS.processorWebhooks}.crm`);
    expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.processorWebhooks]: '["x"]' }))).toThrow(
      CONTEXT_KEYS.processorWebhooks,
    );
    expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.defaultJurisdiction]: 'korea' }))).toThrow(
      CONTEXT_KEYS.defaultJurisdiction,
    );
    expect(() =>
      readDeploymentConfig(reader({ [CONTEXT_KEYS.processorDomain]: 'https://x.example' })),
    ).toThrow(CONTEXT_KEYS.processorDomain);
    expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.appiDeadlineDays]: '-1' }))).toThrow(
      CONTEXT_KEYS.appiDeadlineDays,
    );
  });

  it('requires the accounts stream of an imported accounts table, and reads a stream ARN for it only', () => {
    const importing = (existing: Json) =>
      reader({ [CONTEXT_KEYS.platformStores]: 'import', [CONTEXT_KEYS.existing]: JSON.stringify(existing) });
    const streamArn =
      'arn:aws:dynamodb:eu-west-1:111122223333:table/prod-accounts/stream/2026-01-01T00:00:00.000';
    expect(() => readDeploymentConfig(importing({ accountsTable: { name: 'prod-accounts' } }))).toThrow(
      `${CONTEXT_KEYS.existing}.accountsTable.streamArn`,
    );
    expect(() => readDeploymentConfig(importing({ accountsTable: { streamArn: 'prod-accounts' } }))).toThrow(
      `${CONTEXT_KEYS.existing}.accountsTable.streamArn`,
    );
    expect(() =>
      readDeploymentConfig(importing({ accountsTable: { streamArn }, paymentsTable: { streamArn } })),
    ).toThrow(`${CONTEXT_KEYS.existing}.paymentsTable.streamArn`);
    expect(readDeploymentConfig(importing({ accountsTable: { streamArn } })).existing).toEqual({
      accountsTable: { streamArn },
    });
  });

  it('reads the request settings and processor webhooks, from cdk.json values or -c strings', () => {
    const config = readDeploymentConfig(
      reader({
        [CONTEXT_KEYS.processorWebhooks]:
          '{"crm":"https://crm.example/dsr","mail":"https://mail.example/hook"}',
        [CONTEXT_KEYS.defaultJurisdiction]: 'US-CA',
        [CONTEXT_KEYS.processorDomain]: 'dsr.example.com',
        [CONTEXT_KEYS.appiDeadlineDays]: '10',
        [CONTEXT_KEYS.defaultDeadlineDays]: 45,
      }),
    );
    expect(config).toMatchObject({
      processorWebhooks: { crm: 'https://crm.example/dsr', mail: 'https://mail.example/hook' },
      defaultJurisdiction: 'US-CA',
      processorDomain: 'dsr.example.com',
      deadlines: { appiDays: 10, defaultDays: 45 },
    });
    expect(
      readDeploymentConfig(reader({ [CONTEXT_KEYS.processorWebhooks]: { crm: 'https://crm.example/dsr' } }))
        .processorWebhooks,
    ).toEqual({ crm: 'https://crm.example/dsr' });
  });

  it('defaults the request settings to the defaults of the API', () => {
    const { DEFAULT_REQUEST_SETTINGS } = jest.requireActual<
      typeof import('../../functions/api/request-settings')
    >('../../functions/api/request-settings');
    expect(DEFAULT_CONFIG.defaultJurisdiction).toBe(DEFAULT_REQUEST_SETTINGS.defaultJurisdiction);
    expect(DEFAULT_CONFIG.deadlines).toEqual(DEFAULT_REQUEST_SETTINGS.deadlines);
    expect(readDeploymentConfig(reader({})).processorWebhooks).toEqual({});
  });
});

describe('readDeploymentConfig: the log index', () => {
  const reader = (context: Json) => ({
    tryGetContext: (key: string) =>
      ({ [CONTEXT_KEYS.notifyFromAddress]: 'privacy@mail.example.com', ...context })[key],
  });

  it('indexes from S3 events where the stack creates the logs bucket, by schedule alone for an imported one', () => {
    expect(readDeploymentConfig(reader({})).logIndex).toEqual({
      scheduleMinutes: 15,
      openDays: 2,
      bucketEvents: true,
    });
    const imported = {
      [CONTEXT_KEYS.platformStores]: 'import',
      [CONTEXT_KEYS.existing]: JSON.stringify({
        accountsTable: { streamArn: 'arn:aws:dynamodb:eu-west-1:111122223333:table/a/stream/2026' },
      }),
    };
    expect(readDeploymentConfig(reader(imported)).logIndex.bucketEvents).toBe(false);
    expect(
      readDeploymentConfig(reader({ ...imported, [CONTEXT_KEYS.logsBucketEvents]: 'true' })).logIndex,
    ).toMatchObject({ bucketEvents: true });
    expect(
      readDeploymentConfig(
        reader({ [CONTEXT_KEYS.logIndexMinutes]: '5', [CONTEXT_KEYS.logIndexOpenDays]: 3 }),
      ).logIndex,
    ).toMatchObject({ scheduleMinutes: 5, openDays: 3 });
    expect(() => readDeploymentConfig(reader({ [CONTEXT_KEYS.logIndexOpenDays]: '0' }))).toThrow(
      CONTEXT_KEYS.logIndexOpenDays,
    );
  });
});
