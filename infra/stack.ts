/**
 * The orchestrator's stack: keys, the platform stores (created or imported), the orchestrator's own
 * state, one connector per store, the export workflow and the request API. See docs/deploy.md.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DsrDeploymentConfig } from './config';
import { AlarmTopic } from './constructs/alarms';
import { API_ROLES, DsrApi, roleScope } from './constructs/api';
import { Connectors } from './constructs/connectors';
import { ExportWorkflow } from './constructs/export-workflow';
import { DsrKeys } from './constructs/keys';
import { OrchestratorState } from './constructs/orchestrator-state';
import { PlatformStores } from './constructs/platform-stores';
import { accessLogsBucket } from './constructs/storage';
import type { FunctionDefaults } from './constructs/task-function';

export interface DsrStackProps extends StackProps {
  config: DsrDeploymentConfig;
}

export class DsrStack extends Stack {
  readonly keys: DsrKeys;
  readonly stores: PlatformStores;
  readonly state: OrchestratorState;
  readonly connectors: Connectors;
  readonly exportWorkflow: ExportWorkflow;
  readonly api: DsrApi;
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
    };

    this.stores = new PlatformStores(this, 'PlatformStores', { config, key: this.keys.platform, accessLogs });
    this.state = new OrchestratorState(this, 'OrchestratorState', {
      key: this.keys.orchestrator,
      vaultKey: this.keys.vault,
      accessLogs,
      exportRetentionDays: config.exportRetentionDays,
    });
    this.alarms = new AlarmTopic(this, 'Alarms', { key: this.keys.observability, email: config.alarmEmail });

    this.connectors = new Connectors(this, 'Connectors', {
      stores: this.stores,
      staging: this.state.staging,
      defaults,
    });
    this.exportWorkflow = new ExportWorkflow(this, 'ExportWorkflow', {
      stores: this.stores,
      state: this.state,
      connectors: this.connectors.functions,
      signingKey: this.keys.signing,
      subjectHashKey: this.keys.subjectHash,
      logsKey: this.keys.observability,
      alarmTopic: this.alarms.topic,
      defaults,
    });
    this.api = new DsrApi(this, 'Api', {
      state: this.state,
      exportStateMachine: this.exportWorkflow.stateMachine,
      signingKey: this.keys.signing,
      subjectHashKey: this.keys.subjectHash,
      downloadTokenKey: this.keys.downloadToken,
      logsKey: this.keys.observability,
      defaults,
      throttle: config.apiThrottle,
      cognitoDomainPrefix: config.cognitoDomainPrefix,
      publicApiUrl: config.publicApiUrl,
    });

    // Stack-level outputs keep their plain names (docs/deploy.md, "Tokens for each role").
    new CfnOutput(this, 'ApiUrl', { value: this.api.stage.url });
    new CfnOutput(this, 'TokenUrl', { value: this.api.tokenUrl });
    new CfnOutput(this, 'UserPoolId', { value: this.api.userPool.userPoolId });
    for (const role of API_ROLES) {
      new CfnOutput(this, `${role.charAt(0).toUpperCase()}${role.slice(1)}ClientId`, {
        value: this.api.clients[role].userPoolClientId,
        description: `App client of the ${role} role (scope ${roleScope(role)})`,
      });
    }
    new CfnOutput(this, 'ExportStateMachineArn', { value: this.exportWorkflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'SigningKeyArn', { value: this.keys.signing.keyArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }
}
