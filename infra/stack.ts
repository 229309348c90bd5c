/**
 * The orchestrator's stack: keys, the platform stores (created or imported), the orchestrator's own
 * state, one connector per store, the task functions, the export and erasure workflows, the subject index
 * of the logs (its backfill workflow, events and schedules), the request API and the background functions
 * (callbacks, deadline monitor, retention sweep, identifier indexer). See docs/deploy.md.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DsrDeploymentConfig } from './config';
import { AlarmTopic } from './constructs/alarms';
import { DsrApi, roleScope } from './constructs/api';
import { Background } from './constructs/background';
import { Connectors, logsPrefixes } from './constructs/connectors';
import { BACKFILL_RESULTS_PREFIX } from '../functions/index-logs/core';
import { IdentifierIndexer } from './constructs/identifier-indexer';
import { DsrKeys } from './constructs/keys';
import { LogIndexUpdates } from './constructs/log-index';
import { LogErasureSchedule } from './constructs/log-erasure';
import { LOG_ERASURE_JOBS_PREFIX } from '../functions/erase-logs/core';
import { VaultReaderRole } from './constructs/vault-reader';
import { OrchestratorState } from './constructs/orchestrator-state';
import { PlatformStores } from './constructs/platform-stores';
import { accessLogsBucket } from './constructs/storage';
import type { FunctionDefaults } from './constructs/task-function';
import { TaskFunctions } from './constructs/task-functions';
import { DsrWorkflow } from './constructs/workflows';

export interface DsrStackProps extends StackProps {
  config: DsrDeploymentConfig;
}

export class DsrStack extends Stack {
  readonly keys: DsrKeys;
  readonly stores: PlatformStores;
  readonly state: OrchestratorState;
  readonly vaultReader: VaultReaderRole;
  readonly connectors: Connectors;
  readonly tasks: TaskFunctions;
  readonly exportWorkflow: DsrWorkflow<'export'>;
  readonly erasureWorkflow: DsrWorkflow<'erasure'>;
  readonly restrictionWorkflow: DsrWorkflow<'restriction'>;
  readonly logIndexBackfillWorkflow: DsrWorkflow<'logIndexBackfill'>;
  readonly logIndexUpdates: LogIndexUpdates;
  readonly logErasureWorkflow: DsrWorkflow<'logErasure'>;
  readonly logErasureSchedule: LogErasureSchedule;
  readonly api: DsrApi;
  readonly background: Background;
  readonly identifierIndexer: IdentifierIndexer;
  readonly alarms: AlarmTopic;

  constructor(scope: Construct, id: string, props: DsrStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.keys = new DsrKeys(this, 'Keys', { createPlatformKey: config.platformStores === 'create' });
    const accessLogs = accessLogsBucket(
      this,
      'AccessLogsBucket',
      this.keys.observability,
      config.logRetention,
    );
    const defaults: FunctionDefaults = {
      logsKey: this.keys.observability,
      logRetention: config.logRetention,
      tracing: config.tracing,
      auditPeriodDays: config.auditPeriodDays,
    };

    this.stores = new PlatformStores(this, 'PlatformStores', { config, key: this.keys.platform, accessLogs });
    this.state = new OrchestratorState(this, 'OrchestratorState', {
      key: this.keys.orchestrator,
      vaultKey: this.keys.vault,
      vaultStorageKey: this.keys.vaultStorage,
      accessLogs,
      exportRetentionDays: config.exportRetentionDays,
      auditPeriodDays: config.auditPeriodDays,
    });
    this.vaultReader = new VaultReaderRole(this, 'VaultReader', { vault: this.state.vaultTable });
    this.alarms = new AlarmTopic(this, 'Alarms', { key: this.keys.observability, email: config.alarmEmail });

    this.connectors = new Connectors(this, 'Connectors', {
      stores: this.stores,
      staging: this.state.staging,
      vault: this.state.vaultTable,
      logIndex: this.state.logIndex,
      subjectHashKey: this.keys.subjectHash,
      defaults,
    });
    this.tasks = new TaskFunctions(this, 'Tasks', {
      stores: this.stores,
      state: this.state,
      connectors: this.connectors.functions,
      signingKey: this.keys.signing,
      subjectHashKey: this.keys.subjectHash,
      downloadTokenKey: this.keys.downloadToken,
      processorWebhooks: config.processorWebhooks,
      notifySender: { fromAddress: config.notifyFromAddress, sesIdentity: config.sesIdentity },
      logIndexOpenDays: config.logIndex.openDays,
      defaults,
    });
    const workflow = {
      functions: this.tasks.functions,
      logsKey: this.keys.observability,
      alarmTopic: this.alarms.topic,
      defaults,
    };
    this.exportWorkflow = new DsrWorkflow(this, 'ExportWorkflow', {
      ...workflow,
      connectors: this.connectors.functions,
      workflow: 'export',
      comment: 'DSR export',
      failureMeaning: 'the request is marked failed and needs attention before its legal deadline.',
    });
    this.erasureWorkflow = new DsrWorkflow(this, 'ErasureWorkflow', {
      ...workflow,
      connectors: this.connectors.functions,
      workflow: 'erasure',
      comment: 'DSR erasure',
      failureMeaning:
        'the request is marked failed with what was erased so far (the run is idempotent and can be resumed); ' +
        'it needs attention before its legal deadline.',
    });
    // Restriction of use (lib/restrictions/): consents through the accounts connector, recipients told.
    this.restrictionWorkflow = new DsrWorkflow(this, 'RestrictionWorkflow', {
      ...workflow,
      connectors: this.connectors.functions,
      workflow: 'restriction',
      comment: 'DSR restriction of use',
      failureMeaning:
        'the request is marked failed; consents may be set and some recipients told (each step is ' +
        'idempotent); it needs attention before its legal deadline.',
    });
    // The subject index of the logs (docs/log-index.md): backfill, S3 events and schedules.
    this.logIndexBackfillWorkflow = new DsrWorkflow(this, 'LogIndexBackfillWorkflow', {
      ...workflow,
      workflow: 'logIndexBackfill',
      comment: 'DSR log index backfill',
      failureMeaning:
        'some log objects are not indexed yet; requests still read them (slower, never incomplete). The ' +
        'backfill can be started again and skips what is done.',
      distributedMaps: {
        listing: { ref: this.stores.logs, prefixes: logsPrefixes() },
        results: { ref: this.state.staging, prefix: BACKFILL_RESULTS_PREFIX },
      },
    });
    this.logIndexUpdates = new LogIndexUpdates(this, 'LogIndexUpdates', {
      config: config.logIndex,
      stores: this.stores,
      indexer: this.tasks.functions.indexLogs,
      alarmTopic: this.alarms.topic,
    });
    // The batched log-erasure job (docs/erasure.md): its state machine, the schedule, the erasures it resumes.
    this.logErasureWorkflow = new DsrWorkflow(this, 'LogErasureWorkflow', {
      ...workflow,
      workflow: 'logErasure',
      comment: 'DSR batched log erasure',
      failureMeaning:
        'the erasures waiting for their log lines stay queued and uncertified; the next run does them ' +
        '(objects already done are left unchanged). Repeated failures need attention before the legal deadlines.',
      distributedMaps: { results: { ref: this.state.staging, prefix: LOG_ERASURE_JOBS_PREFIX } },
    });
    this.tasks.allowResumingErasures(this.erasureWorkflow.stateMachine);
    this.logErasureSchedule = new LogErasureSchedule(this, 'LogErasureSchedule', {
      stateMachine: this.logErasureWorkflow.stateMachine,
      expression: config.logErasureSchedule,
    });
    this.api = new DsrApi(this, 'Api', {
      state: this.state,
      accounts: this.stores.tablesOf('accountsTable'),
      serviceStores: this.stores.serviceStoresEnv(this, ['accountsTable']),
      exportStateMachine: this.exportWorkflow.stateMachine,
      erasureStateMachine: this.erasureWorkflow.stateMachine,
      restrictionStateMachine: this.restrictionWorkflow.stateMachine,
      logErasureStateMachine: this.logErasureWorkflow.stateMachine,
      signingKey: this.keys.signing,
      subjectHashKey: this.keys.subjectHash,
      downloadTokenKey: this.keys.downloadToken,
      logsKey: this.keys.observability,
      defaults,
      throttle: config.apiThrottle,
      cognitoDomainPrefix: config.cognitoDomainPrefix,
      apiClients: config.apiClients,
      publicApiUrl: config.publicApiUrl,
      processorDomain: config.processorDomain,
      defaultJurisdiction: config.defaultJurisdiction,
      deadlines: config.deadlines,
    });
    this.tasks.setPublicApiUrl(this.api.publicApiUrl);
    this.background = new Background(this, 'Background', {
      state: this.state,
      exportStateMachine: this.exportWorkflow.stateMachine,
      erasureStateMachine: this.erasureWorkflow.stateMachine,
      restrictionStateMachine: this.restrictionWorkflow.stateMachine,
      signingKey: this.keys.signing,
      observabilityKey: this.keys.observability,
      alarmTopic: this.alarms.topic,
      defaults,
      publicApiUrl: this.api.publicApiUrl,
      processorDomain: this.api.processorDomain,
      notifySender: { fromAddress: config.notifyFromAddress, sesIdentity: config.sesIdentity },
    });
    this.identifierIndexer = new IdentifierIndexer(this, 'IdentifierIndexer', {
      accounts: this.stores.accounts,
      serviceAccounts: this.stores.serviceTables.filter((t) => t.resource === 'accountsTable'),
      serviceStores: this.stores.serviceStoresEnv(this, ['accountsTable']),
      index: this.state.identifierIndex,
      subjectHashKey: this.keys.subjectHash,
      observabilityKey: this.keys.observability,
      alarmTopic: this.alarms.topic,
      defaults,
    });

    // Stack-level outputs keep their plain names (docs/deploy.md, "Tokens for each role").
    new CfnOutput(this, 'ApiUrl', { value: this.api.stage.url });
    new CfnOutput(this, 'TokenUrl', { value: this.api.tokenUrl });
    new CfnOutput(this, 'UserPoolId', { value: this.api.userPool.userPoolId });
    for (const [name, { role, services }] of Object.entries(config.apiClients)) {
      const client = this.api.clients[name];
      if (!client) continue;
      const pascal = name.replace(/(?:^|-)([a-z0-9])/g, (_, c: string) => c.toUpperCase());
      new CfnOutput(this, `${pascal}ClientId`, {
        value: client.userPoolClientId,
        description: `App client ${name}: role ${role} (scope ${roleScope(role)}), services ${services.join(', ')}`,
      });
    }
    new CfnOutput(this, 'ExportStateMachineArn', { value: this.exportWorkflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ErasureStateMachineArn', {
      value: this.erasureWorkflow.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'RestrictionStateMachineArn', {
      value: this.restrictionWorkflow.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'LogIndexBackfillStateMachineArn', {
      value: this.logIndexBackfillWorkflow.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'LogErasureStateMachineArn', {
      value: this.logErasureWorkflow.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'SigningKeyArn', { value: this.keys.signing.keyArn });
    new CfnOutput(this, 'IdentifierIndexerFunctionName', {
      value: this.identifierIndexer.indexer.functionName,
      description: 'Invoke with {"backfill":{"segment":i,"totalSegments":n}} to index existing accounts',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }
}
