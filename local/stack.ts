/**
 * The whole system on loopback: DynamoDB Local, s3rver, the local Step Functions running the ASL
 * files, and the HTTP API, all wired to the same handler code the Lambdas run. `npm start` and the
 * integration tests both start it through here, so the tests exercise what users run.
 */
import './polyfills';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Context, DynamoDBBatchResponse } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { STORE_NAMES, defaultResourceEnv } from '../config/data-map';
import {
  CONNECTOR_FUNCTIONS_ENV,
  STATE_MACHINES,
  connectorLocalName,
} from '../functions/lib/connectors/catalog';
import { ApiError, problem, type ApiEvent, type ApiResult } from '../functions/api/http';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startAll, startDynamoLocal, startS3Local } from './stores';
import { bootstrapResources } from './bootstrap';
import { startStreamPoller } from './dynamodb-stream';
import { seedDemoData } from './seed';
import { startLocalApi } from './api-server';
import { loadTokenKey } from './auth';
import { LocalWorkflows, type LocalWorkflowOptions } from './workflows';
import { startLogIndexing } from './log-index';
import type { WatermarkReport } from '../functions/index-logs/core';
import type { S3RepairReport } from './s3-repair';
import { reapExpired, startReaper, type ReapReport } from './ttl-reaper';
import { runPeriodically } from './periodic';
import type { ChaosOptions, FaultInjector } from './faults';
import type { FaultProxy } from './fault-proxy';

export interface LocalStackOptions {
  dataDir: string;
  /** Ports; 0 for one the system picks as each server binds (tests: no probe-then-bind race). */
  apiPort: number;
  ddbPort: number;
  s3Port: number;
  sfnPort: number;
  /** Keep DynamoDB data on disk (npm start) or in memory (tests). */
  persist: boolean;
  seed: boolean;
  workflows?: LocalWorkflowOptions;
  /** Indexes the logs (docs/log-index.md) at start and then every so many ms; 0 or unset: at start only. */
  logIndexIntervalMs?: number;
  /**
   * False: no indexing at start, only by `indexLogs()` (a benchmark that times building the index over
   * logs already in the data directory). Default true.
   */
  indexLogsAtStart?: boolean;
  /** How long the local stores may take to start (a benchmark on a loaded machine); the stores' defaults if unset. */
  storeStartTimeoutMs?: number;
  /**
   * Runs the watchdog (functions/watchdog) at start and then every so many ms; 0 or unset: at start
   * only. At start it re-drives at once whatever a crash left; later rounds leave alone requests changed
   * within `watchdogGraceMs` (default 10 s).
   */
  watchdogIntervalMs?: number;
  watchdogGraceMs?: number;
  /**
   * Runs the TTL and lifecycle reaper (local/ttl-reaper.ts: DynamoDB Local has no TTL, s3rver no
   * lifecycle rules) every so many ms; 0 or unset: only when `reapExpired` is called.
   */
  reaperIntervalMs?: number;
  /**
   * Fault injection (local/faults.ts, docs/chaos.md): the handlers reach the stores through fault
   * proxies, and Tasks and connectors fault at the given rates once `chaos.setEnabled(true)`.
   * Unset (the default): none of it is loaded.
   */
  chaos?: ChaosOptions;
}

export interface LocalChaos {
  injector: FaultInjector;
  /** Faults on or off, everywhere at once (off while starting, so start-up is undisturbed). */
  setEnabled(enabled: boolean): void;
}

export interface LocalStack {
  apiUrl: string;
  ddbEndpoint: string;
  s3Endpoint: string;
  sfnEndpoint: string;
  dataDir: string;
  tokenKey: Buffer;
  workflows: LocalWorkflows;
  /** Environment the handlers run with (also what a tool needs to reach the local stores). */
  env: Record<string, string>;
  doc: DynamoDBDocumentClient;
  s3: S3Client;
  seeded: boolean;
  /** Present when started with `chaos`. */
  chaos?: LocalChaos;
  /** What start-up set aside of torn local S3 files a crash left (local/s3-repair.ts). */
  s3Repair?: S3RepairReport;
  /** Brings the subject index of the logs up to date now. */
  indexLogs(): Promise<WatermarkReport[]>;
  /** Removes what DynamoDB TTL and the buckets' lifecycle rules would have removed by `now` (a moved clock in tests). */
  reapExpired(now?: Date): Promise<ReapReport>;
  stop(): Promise<void>;
}

/** Runs the watchdog now (no grace: nothing can be starting yet) and then every `intervalMs`. */
async function startWatchdog(intervalMs: number, graceMs: number): Promise<{ stop(): Promise<void> }> {
  const { deps } =
    (await import('../functions/watchdog/handler')) as typeof import('../functions/watchdog/handler');
  const { runWatchdog } = await import('../functions/watchdog/core');
  await runWatchdog({ ...deps, graceMs: 0 }, new Date());
  return runPeriodically(() => runWatchdog({ ...deps, graceMs }, new Date()), intervalMs);
}

/** The fault proxies and hooks of a chaos stack (loaded only then). */
async function startChaos(options: ChaosOptions, dynamoEndpoint: string, s3Endpoint: string) {
  const { FaultInjector } = await import('./faults');
  const { startFaultProxy } = await import('./fault-proxy');
  const { setBetweenBatchesHook } = await import('../functions/lib/connectors/connector-handler');
  const injector = new FaultInjector(options);
  const proxies: FaultProxy[] = [];
  for (const [flavour, target] of [
    ['dynamodb', dynamoEndpoint],
    ['s3', s3Endpoint],
  ] as const) {
    proxies.push(
      await startFaultProxy({
        target,
        flavour,
        rates: options.proxy,
        random: injector.random,
        holdMs: options.requestTimeoutMs * 2,
        onFault: (kind) => injector.count(`store-${kind}`),
      }),
    );
  }
  setBetweenBatchesHook(injector.betweenBatchesHook());
  const control: LocalChaos = {
    injector,
    setEnabled: (enabled) => {
      injector.enabled = enabled;
      for (const proxy of proxies) proxy.setEnabled(enabled);
    },
  };
  return {
    control,
    dynamoEndpoint: proxies[0]!.endpoint,
    s3Endpoint: proxies[1]!.endpoint,
    interceptor: (inner: LocalWorkflowOptions['interceptor']): LocalWorkflowOptions['interceptor'] => {
      const faults = injector.taskInterceptor();
      return inner ? (fn, payload, invoke) => faults(fn, payload, () => inner(fn, payload, invoke)) : faults;
    },
    stop: async () => {
      control.setEnabled(false);
      setBetweenBatchesHook(undefined);
      for (const proxy of proxies) await proxy.stop();
    },
  };
}

export function keyPaths(dataDir: string) {
  return {
    subjectHash: join(dataDir, 'keys', 'subject-hash.key'),
    vault: join(dataDir, 'keys', 'vault.key'),
    signing: join(dataDir, 'keys', 'signing'),
    apiToken: join(dataDir, 'keys', 'api-token.key'),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  mkdirSync(options.dataDir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const [dynamo, s3Local] = await startAll([
      startDynamoLocal({
        port: options.ddbPort,
        dataDir: options.persist ? join(options.dataDir, 'dynamodb') : undefined,
        startTimeoutMs: options.storeStartTimeoutMs,
      }),
      startS3Local(
        { port: options.s3Port, dataDir: join(options.dataDir, 's3') },
        options.storeStartTimeoutMs,
      ),
    ]);
    stops.push(
      () => dynamo.stop(),
      () => s3Local.stop(),
    );

    const chaos = options.chaos
      ? await startChaos(options.chaos, dynamo.endpoint, s3Local.endpoint)
      : undefined;
    if (chaos) stops.push(() => chaos.stop());

    const keys = keyPaths(options.dataDir);
    // Executions are journalled beside the data they act on: after a crash the watchdog finds them.
    const workflows = new LocalWorkflows({
      ...options.workflows,
      ...(chaos ? { interceptor: chaos.interceptor(options.workflows?.interceptor) } : {}),
      ...(options.persist ? { journalFile: join(options.dataDir, 'workflows', 'executions.jsonl') } : {}),
    });
    const sfn = await workflows.listen(options.sfnPort);
    stops.push(() => closeServer(sfn.server));

    // The API listens now, so its URL (its port may be any) is known before the handlers read their
    // configuration; it answers 503 until the handler is in place below.
    const tokenKey = loadTokenKey(keys.apiToken);
    const apiHandler: { serve?: (event: ApiEvent) => Promise<ApiResult> } = {};
    const api = await startLocalApi(
      {
        handler: async (event) =>
          apiHandler.serve
            ? apiHandler.serve(event)
            : problem(new ApiError(503, 'STARTING', 'The local stack is starting; retry in a moment')),
        tokenKey,
      },
      options.apiPort,
    );
    stops.push(() => closeServer(api.server));

    const env: Record<string, string> = {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      // With chaos, the handlers reach the stores through the fault proxies (this stack's own clients
      // below do not: its set-up and the campaign's reads are undisturbed).
      AWS_ENDPOINT_URL_DYNAMODB: chaos?.dynamoEndpoint ?? dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: chaos?.s3Endpoint ?? s3Local.endpoint,
      ...(chaos ? { SDK_REQUEST_TIMEOUT_MS: String(options.chaos?.requestTimeoutMs) } : {}),
      AWS_ENDPOINT_URL_SFN: sfn.endpoint,
      // s3rver does not understand aws-chunked bodies with trailing checksums.
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      ...defaultResourceEnv(),
      EXPORT_STATE_MACHINE_ARN: workflows.arnOf(STATE_MACHINES.export.localName),
      // The erasure workflow (the API offers erasure once this is set), processors' webhooks
      // (JSON {processorId: url}; tests point them at loopback receivers), quick retries locally.
      ERASURE_STATE_MACHINE_ARN: workflows.arnOf(STATE_MACHINES.erasure.localName),
      // The batched log-erasure job: the API starts it for support; `npm run erase-logs` too.
      LOG_ERASURE_STATE_MACHINE_ARN: workflows.arnOf(STATE_MACHINES.logErasure.localName),
      RESTRICTION_STATE_MACHINE_ARN: workflows.arnOf(STATE_MACHINES.restriction.localName),
      PROCESSOR_WEBHOOKS: process.env.PROCESSOR_WEBHOOKS ?? '{}',
      PROCESSOR_RETRY_BASE_MS: process.env.PROCESSOR_RETRY_BASE_MS ?? '100',
      PROCESSOR_RETRY_MAX_MS: process.env.PROCESSOR_RETRY_MAX_MS ?? '1000',
      PROCESSOR_MAX_ATTEMPTS: process.env.PROCESSOR_MAX_ATTEMPTS ?? '3',
      // s3rver keeps no versions: the media connector treats the local bucket as unversioned.
      MEDIA_BUCKET_VERSIONED: process.env.MEDIA_BUCKET_VERSIONED ?? 'false',
      // s3rver ignores If-Match: the log-erasure job re-checks the ETag itself (weaker; docs/erasure.md).
      LOGS_CONDITIONAL_WRITES: 'false',
      SUBJECT_HASH_KEY_FILE: keys.subjectHash,
      // The vault key's local stand-in: writers get data keys from it, only readers unwrap them.
      VAULT_KEY_FILE: keys.vault,
      SIGNING_KEY_DIR: keys.signing,
      // Test receivers listen on loopback; quick callback retries keep tests fast.
      ALLOW_PRIVATE_CALLBACKS: 'true',
      CALLBACK_RETRY_BASE_MS: process.env.CALLBACK_RETRY_BASE_MS ?? '200',
      CALLBACK_RETRY_MAX_MS: process.env.CALLBACK_RETRY_MAX_MS ?? '5000',
      // Download links: the page URL users get, the token MAC key, and the mail outbox.
      PUBLIC_API_URL: api.url,
      DOWNLOAD_TOKEN_KEY_FILE: join(options.dataDir, 'keys', 'download-token.key'),
      OUTBOX_DIR: join(options.dataDir, 'outbox'),
      [CONNECTOR_FUNCTIONS_ENV]: JSON.stringify(
        Object.fromEntries(STORE_NAMES.map((store) => [store, connectorLocalName(store)])),
      ),
    };
    // The handlers read their configuration from the environment when first imported, as in Lambda.
    Object.assign(process.env, env);

    const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const dynamoClient = new DynamoDBClient({ ...clientConfig, endpoint: dynamo.endpoint });
    const doc = DynamoDBDocumentClient.from(dynamoClient, {
      marshallOptions: { removeUndefinedValues: true },
    });
    const s3 = new S3Client({
      ...clientConfig,
      endpoint: s3Local.endpoint,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const bootstrap = await bootstrapResources({ dynamo: dynamoClient, s3 });

    // Seed once per data directory: re-seeding would bring back what an erasure removed.
    const seedMarker = join(options.dataDir, 'seeded');
    let seeded = false;
    if (options.seed && !(options.persist && existsSync(seedMarker))) {
      await seedDemoData({ doc, s3 });
      if (options.persist) writeFileSync(seedMarker, new Date().toISOString());
      seeded = true;
    }

    // The identifier index follows the accounts table's stream from its start, as the indexer Lambda does
    // in AWS. An accounts table this start did not create may hold accounts from before it had a stream
    // (an older data directory): the backfill adds whatever entries are missing.
    const indexer =
      (await import('../functions/index-identifiers/handler')) as typeof import('../functions/index-identifiers/handler');
    // Each accounts table (the shared one and every service's own) has its stream and poller.
    for (const { tableName } of indexer.deps.accountsTables) {
      const accountsStream = await startStreamPoller({
        endpoint: dynamo.endpoint,
        tableName,
        // A stream event gets the stream's answer (the batch item failures).
        handler: async (event) => (await indexer.handler(event, {} as Context)) as DynamoDBBatchResponse,
      });
      stops.push(() => accountsStream.stop());
      if (!bootstrap.createdTables.includes(tableName))
        await indexer.handler({ backfill: { accountsTable: tableName } }, {} as Context);
      await accountsStream.caughtUp();
    }

    // The log indexer, as S3 events and the schedule run it in AWS.
    const logIndexing = await startLogIndexing(
      options.logIndexIntervalMs ?? 0,
      options.indexLogsAtStart ?? true,
    );
    stops.push(() => logIndexing.stop());

    const { handler } = (await import('../functions/api/handler')) as {
      handler: (event: ApiEvent, context: Context) => Promise<ApiResult>;
    };
    apiHandler.serve = (event) => handler(event, {} as Context);

    // The callback deliverer, polling the outbox as the scheduled sweep does in AWS.
    const callbacks =
      (await import('../functions/callbacks/handler')) as typeof import('../functions/callbacks/handler');
    const { startPolling } = await import('../functions/callbacks/core');
    const poller = startPolling(callbacks.delivery, 100);
    stops.push(() => poller.stop());

    // The outcome notices' deliverer, polling their outbox as its schedule does in AWS.
    const notices =
      (await import('../functions/deliver-notices/handler')) as typeof import('../functions/deliver-notices/handler');
    const { startNoticePolling } = await import('../functions/lib/notices/outbox');
    const noticePoller = startNoticePolling(notices.deps, 200);
    stops.push(() => noticePoller.stop());

    // The watchdog, as its schedule runs it in AWS; first at once, for what a crash left.
    const watchdog = await startWatchdog(options.watchdogIntervalMs ?? 0, options.watchdogGraceMs ?? 10_000);
    stops.push(() => watchdog.stop());

    // What DynamoDB TTL and S3 lifecycle rules do in AWS.
    const reaper = startReaper({ doc, s3 }, options.reaperIntervalMs ?? 0);
    stops.push(() => reaper.stop());

    return {
      apiUrl: api.url,
      ddbEndpoint: dynamo.endpoint,
      s3Endpoint: s3Local.endpoint,
      sfnEndpoint: sfn.endpoint,
      dataDir: options.dataDir,
      tokenKey,
      workflows,
      env,
      doc,
      s3,
      seeded,
      ...(chaos ? { chaos: chaos.control } : {}),
      s3Repair: s3Local.repair,
      indexLogs: () => logIndexing.runNow(),
      reapExpired: (now) => reapExpired({ doc, s3 }, now),
      stop: async () => {
        await workflows.idle().catch(() => undefined);
        await stopAll();
        dynamoClient.destroy();
        s3.destroy();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * The stack in memory, on ports the system picks, in a temporary directory of its own (tests and benchmarks):
 * stop() removes the directory too.
 */
export async function startScratchStack(
  options: Pick<LocalStackOptions, 'seed' | 'workflows' | 'logIndexIntervalMs' | 'chaos'>,
): Promise<LocalStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dsr-stack-'));
  try {
    const stack = await startLocalStack({
      ...options,
      dataDir,
      apiPort: 0,
      ddbPort: 0,
      s3Port: 0,
      sfnPort: 0,
      persist: false,
    });
    return {
      ...stack,
      stop: async () => {
        await stack.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
