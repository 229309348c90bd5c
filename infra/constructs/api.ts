/**
 * The request API: an HTTP API in front of functions/api/handler.ts. Support systems, legal staff and
 * auditors call it with Cognito client-credentials tokens: each app client has one role's scope and one
 * `service:<id>` scope per service it is bound to (the handler reads both from the token's scopes, so
 * the binding needs no custom claim nor token trigger);
 * the JWKS, the OpenAPI and OpenDSR discovery documents and the download links are public (a download
 * token is itself the credential).
 */
import { ArnFormat, Duration, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../config/data-map';
import { PUBLIC_ROUTE_THROTTLES } from '../../config/throttles';
import { SERVICE_SCOPE_PREFIX, SCOPE_PREFIX } from '../../functions/api/auth';
import { serviceIds } from '../../functions/lib/services/profiles';
import type { ApiClientConfig } from '../config';
import { allTableIndexes, DDB, grantBucket, grantKey, grantTable, KMS_SIGN } from './access';
import type { OrchestratorState } from './orchestrator-state';
import type { TableRef } from './storage';
import { ARCHIVES_PREFIX, CERTIFICATES_PREFIX, KEY_ENV, SETTINGS_ENV } from './task-functions';
import { DsrFunction, type FunctionDefaults } from './task-function';

export const API_ROLES = ['support', 'legal', 'auditor'] as const;
export type ApiRole = (typeof API_ROLES)[number];
export const RESOURCE_SERVER_ID = 'dsr';
export const roleScope = (role: ApiRole): string => `${RESOURCE_SERVER_ID}/${role}`;
/** The resource server's scope name that binds a client to a service (`dsr/service:<id>` in tokens). */
const serviceScopeName = (service: string): string =>
  `${SERVICE_SCOPE_PREFIX.slice(SCOPE_PREFIX.length)}${service}`;

const ROLE_DESCRIPTIONS: Record<ApiRole, string> = {
  support: 'Support systems: open, follow and cancel requests',
  legal: 'Legal staff: place and release legal holds',
  auditor: 'Auditors: read requests, certificates and the audit trail',
};

/** Everything else the API serves needs a token from one of the role clients (the handler checks the role). */
export const AUTHORIZED_ROUTES = ['/v1/{proxy+}', '/opendsr/{proxy+}'] as const;

/**
 * Public GET routes, each with the reason it carries no authorizer (cdk-nag APIG4). They mirror the
 * routes marked `access: 'public'` in functions/api (the stack test cross-checks the two lists).
 */
export const PUBLIC_ROUTES: { path: string; reason: string }[] = [
  {
    path: '/.well-known/jwks.json',
    reason:
      'The JWKS publishes the archive-signing public key so anyone can verify an archive: public by design.',
  },
  {
    path: '/v1/downloads/{token}',
    reason:
      'End users open their download link without an account: the revocable, expiring download token in ' +
      'the path is the credential, checked by the handler, and opens one archive only.',
  },
  {
    path: '/v1/downloads/{token}/archive',
    reason:
      'Redirects to a short-lived presigned URL of one archive after the handler checks the download token; ' +
      'the token is the credential.',
  },
  {
    path: '/v1/transfers/{token}',
    reason:
      'Another controller fetches a transmitted archive (GDPR Art. 20(2)) without an account: the single-use, ' +
      'expiring transfer token in the path is the credential, checked by the handler, and opens one archive once.',
  },
  {
    path: '/v1/openapi.json',
    reason:
      'The OpenAPI document describes the public contract of the API for its integrators; it holds no data.',
  },
  {
    path: '/opendsr/v1/discovery',
    reason:
      'OpenDSR discovery is public by that protocol: it lists supported identities and request types and ' +
      'where the signing keys are; it holds no data.',
  },
];

/**
 * One JSON line per request, without personal data: no source IP, user agent or raw path (a download
 * path carries its token, a credential). The caller is named by its app client id, a system, not a person.
 */
export const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  clientId: '$context.authorizer.claims.client_id',
});

export interface DsrApiProps {
  state: OrchestratorState;
  /**
   * Every service's accounts table (the shared one first, then the services' own) and their
   * SERVICE_STORES value: a request's default jurisdiction is its account's country, at its service.
   */
  accounts: TableRef[];
  serviceStores: string;
  exportStateMachine: sfn.IStateMachine;
  erasureStateMachine: sfn.IStateMachine;
  restrictionStateMachine: sfn.IStateMachine;
  /** The batched log-erasure job: support starts it and reads its status (POST/GET /v1/log-erasure-jobs). */
  logErasureStateMachine: sfn.StateMachine;
  signingKey: kms.IKey;
  subjectHashKey: kms.IKey;
  downloadTokenKey: kms.IKey;
  logsKey: kms.IKey;
  defaults: FunctionDefaults;
  throttle: { rateLimit: number; burstLimit: number };
  cognitoDomainPrefix?: string;
  /** The app clients by name: a role and the services it is bound to (config.ts, dsr:apiClients). */
  apiClients: Record<string, ApiClientConfig>;
  /** Base of the download links handed to users; defaults to the HTTP API's own endpoint. */
  publicApiUrl?: string;
  /** X-OpenDSR-Processor-Domain; defaults to the host of the public API URL. */
  processorDomain?: string;
  defaultJurisdiction: string;
  deadlines: { appiDays: number; defaultDays: number };
}

export class DsrApi extends Construct {
  readonly function: DsrFunction;
  readonly userPool: cognito.UserPool;
  /** The app clients by name (dsr:apiClients; by default one per role, named after it). */
  readonly clients: Record<string, cognito.UserPoolClient>;
  readonly httpApi: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly accessLogs: logs.LogGroup;
  /** Cognito's OAuth 2.0 token endpoint (client credentials grant). */
  readonly tokenUrl: string;
  /** The base URL links and OpenDSR results name (a custom domain, or the HTTP API endpoint). */
  readonly publicApiUrl: string;
  /** The domain OpenDSR responses and callbacks name. */
  readonly processorDomain: string;

  constructor(scope: Construct, id: string, props: DsrApiProps) {
    super(scope, id);
    const { state } = props;
    const shared = props.accounts[0];
    if (!shared) throw new Error('DsrApi needs the shared accounts table');

    this.function = new DsrFunction(this, 'Handler', {
      entry: 'functions/api/handler.ts',
      description: 'DSR request API',
      environment: {
        [ENV.requestsTable]: state.requests.table.tableName,
        [ENV.accountsTable]: shared.table.tableName,
        [ENV.serviceStores]: props.serviceStores,
        [KEY_ENV.exportStateMachine]: props.exportStateMachine.stateMachineArn,
        // Its presence is what makes the API accept erasure requests (functions/api/handler.ts).
        [KEY_ENV.erasureStateMachine]: props.erasureStateMachine.stateMachineArn,
        [KEY_ENV.restrictionStateMachine]: props.restrictionStateMachine.stateMachineArn,
        [KEY_ENV.logErasureStateMachine]: props.logErasureStateMachine.stateMachineArn,
        [KEY_ENV.subjectHashKey]: props.subjectHashKey.keyArn,
        [KEY_ENV.signingKey]: props.signingKey.keyArn,
        [KEY_ENV.downloadTokenKey]: props.downloadTokenKey.keyArn,
        [ENV.exportsBucket]: state.exports.bucket.bucketName,
        [SETTINGS_ENV.defaultJurisdiction]: props.defaultJurisdiction,
        [SETTINGS_ENV.appiDeadlineDays]: String(props.deadlines.appiDays),
        [SETTINGS_ENV.defaultDeadlineDays]: String(props.deadlines.defaultDays),
      },
      defaults: props.defaults,
      // API Gateway gives up on an integration after 30 s.
      timeout: Duration.seconds(29),
    });
    const fn = this.function;
    grantTable(fn, state.requests, {
      table: [...DDB.read, ...DDB.write],
      indexes: { names: allTableIndexes(state.requests), actions: DDB.indexRead },
      auditWriter: true,
    });
    // Only the indexed lookups of the account's country (functions/api/accounts.ts): never a Scan.
    for (const accounts of props.accounts)
      grantTable(fn, accounts, {
        table: ['dynamodb:GetItem'],
        indexes: { names: allTableIndexes(accounts), actions: ['dynamodb:Query'] },
      });
    fn.allow(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [
          props.exportStateMachine.stateMachineArn,
          props.erasureStateMachine.stateMachineArn,
          props.restrictionStateMachine.stateMachineArn,
          props.logErasureStateMachine.stateMachineArn,
        ],
      }),
    );
    // A log-erasure job's status: the executions of that state machine only (named at run time).
    const logJobs = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${props.logErasureStateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    fn.allow(new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [logJobs] }));
    fn.acknowledgeWildcardResource(
      logJobs,
      'Log-erasure job ids are execution names chosen at run time; access is limited to describing the ' +
        'executions of the log-erasure state machine.',
    );
    grantKey(fn, props.subjectHashKey, ['kms:GenerateMac']);
    // The JWKS, and signed OpenDSR responses.
    grantKey(fn, props.signingKey, KMS_SIGN);
    grantKey(fn, props.downloadTokenKey, ['kms:GenerateMac']);
    grantBucket(fn, state.exports, {
      objects: ['s3:GetObject'],
      objectPrefixes: [ARCHIVES_PREFIX, CERTIFICATES_PREFIX],
      // Without ListBucket, S3 answers a HeadObject of an archive its lifecycle removed with 403, not 404,
      // and the download page would fail instead of saying the link expired. S3 checks ListBucket on the
      // bucket itself for that, so it cannot be limited by an s3:prefix condition; the keys it could list
      // name request ids only.
      list: ['s3:ListBucket'],
      listPrefixes: [''],
      kms: 'read',
      reason:
        'Download links presign one archive (exports/<requestId>/...) and certificates are read by request ' +
        '(certificates/<requestId>/...), keys known only at run time; limited to those two prefixes.',
    });

    this.userPool = this.createUserPool();
    const scopes = Object.fromEntries(
      API_ROLES.map((role) => [
        role,
        new cognito.ResourceServerScope({ scopeName: role, scopeDescription: ROLE_DESCRIPTIONS[role] }),
      ]),
    ) as Record<ApiRole, cognito.ResourceServerScope>;
    const serviceScopes = Object.fromEntries(
      serviceIds().map((service) => [
        service,
        new cognito.ResourceServerScope({
          scopeName: serviceScopeName(service),
          scopeDescription: `Requests, holds, certificates and audit entries of ${service}`,
        }),
      ]),
    );
    const resourceServer = this.userPool.addResourceServer('ResourceServer', {
      identifier: RESOURCE_SERVER_ID,
      userPoolResourceServerName: 'DSR orchestrator API',
      scopes: [...Object.values(scopes), ...Object.values(serviceScopes)],
    });
    const clients: Record<string, cognito.UserPoolClient> = {};
    for (const [name, { role, services }] of Object.entries(props.apiClients)) {
      const bound = services.map((service) => {
        const scope = serviceScopes[service];
        if (!scope) throw new Error(`API client ${name}: unknown service ${service}`);
        return cognito.OAuthScope.resourceServer(resourceServer, scope);
      });
      // Machine-to-machine: client credentials only, one role's scope and its services' per client.
      clients[name] = this.userPool.addClient(`${name}Client`, {
        userPoolClientName: `dsr-${name}`,
        generateSecret: true,
        authFlows: {},
        oAuth: {
          flows: { clientCredentials: true },
          scopes: [cognito.OAuthScope.resourceServer(resourceServer, scopes[role]), ...bound],
        },
        accessTokenValidity: Duration.minutes(60),
        enableTokenRevocation: true,
        preventUserExistenceErrors: true,
        supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      });
    }
    this.clients = clients;
    const domain = this.userPool.addDomain('Domain', {
      cognitoDomain: { domainPrefix: props.cognitoDomainPrefix ?? `dsr-${Stack.of(this).account}` },
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.defaults.logRetention,
      encryptionKey: props.logsKey,
    });
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'DSR orchestrator request API',
      createDefaultStage: false,
    });
    this.publicApiUrl = props.publicApiUrl ?? this.httpApi.apiEndpoint;
    // https://<host>[/path] -> <host>
    this.processorDomain = props.processorDomain ?? Fn.select(2, Fn.split('/', this.publicApiUrl));
    fn.function.addEnvironment(KEY_ENV.publicApiUrl, this.publicApiUrl);
    fn.function.addEnvironment(SETTINGS_ENV.processorDomain, this.processorDomain);
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
    });

    const integration = new HttpLambdaIntegration('Handler', fn.function, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    const authorizer = new HttpUserPoolAuthorizer('CognitoJwt', this.userPool, {
      userPoolClients: Object.values(clients),
      identitySource: ['$request.header.Authorization'],
    });
    for (const path of AUTHORIZED_ROUTES) {
      this.httpApi.addRoutes({
        path,
        methods: [apigwv2.HttpMethod.ANY],
        integration,
        authorizer,
        // Any role's token passes the gateway; the handler then checks the scope each route needs.
        authorizationScopes: API_ROLES.map(roleScope),
      });
    }
    // Each public route has its own, smaller budget (config/throttles.ts).
    const cfnStage = this.stage.node.defaultChild as apigwv2.CfnStage;
    cfnStage.routeSettings = Object.fromEntries(
      PUBLIC_ROUTE_THROTTLES.map((route) => [
        `GET ${route.path}`,
        // A JSON property: CloudFormation's own (PascalCase) names.
        { ThrottlingRateLimit: route.rateLimit, ThrottlingBurstLimit: route.burstLimit },
      ]),
    );
    for (const route of PUBLIC_ROUTES) {
      for (const httpRoute of this.httpApi.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod.GET],
        integration,
      })) {
        Validations.of(httpRoute).acknowledge({ id: 'AwsSolutions-APIG4', reason: route.reason });
      }
    }

    this.tokenUrl = `${domain.baseUrl()}/oauth2/token`;
  }

  /** A pool for machine clients only: no sign-up, no users; the password and MFA rules bind any user added by hand. */
  private createUserPool(): cognito.UserPool {
    return new cognito.UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { username: true },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
      },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.NONE,
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: true,
    });
  }
}
