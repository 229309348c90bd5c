/**
 * The API core in-process over the real DynamoDB Local, behind the real local gateway (local/api-server:
 * JWT checks, body limit, throttling), with a stand-in workflow that records status changes through the
 * real request-status code. Faster than the whole stack, and no Step Functions needed; the local S3 only
 * when asked for (`s3: true`: archives and certificates are then read from it).
 */
import { randomBytes } from 'node:crypto';
import type { LogErasureJobs, LogErasureJobView } from '../../functions/api/routes/log-erasure-jobs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import middy from '@middy/core';
import yazl from 'yazl';
import type { Context } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  defaultResourceEnv,
  orchestratorResources,
  platformStores,
  serviceOwnTables,
} from '../../config/data-map';
import { serviceStoresFromEnv } from '../../functions/lib/services/stores';
import { createApi, type ApiDeps } from '../../functions/api/core';
import { errorAnswers } from '../../functions/api/error-middleware';
import { apiEvent } from './api-event';
import { S3CertificateReader } from '../../functions/api/routes/certificate';
import { DownloadLinks, S3ArchiveAccess } from '../../functions/lib/downloads/download-links';
import type { ApiEvent, ApiResult } from '../../functions/api/http';
import type { Role } from '../../functions/api/auth';
import { DynamoAccountDirectory } from '../../functions/api/accounts';
import type { WorkflowStarter } from '../../functions/api/workflows';
import { AuditLog } from '../../functions/lib/audit/audit-log';
import { EventLog } from '../../functions/lib/requests/event-log';
import { CallbackOutbox } from '../../functions/lib/requests/callback-outbox';
import { requestTable } from '../../functions/lib/requests/request-table';
import { RequestRepository } from '../../functions/lib/requests/requests';
import { HoldRepository } from '../../functions/lib/holds/holds';
import type { RequestType } from '../../functions/lib/requests/records';
import { LocalSubjectHasher } from '../../functions/lib/crypto/subject-hash';
import { LocalSigner } from '../../functions/lib/crypto/signing';
import { recordStatus, type StatusDeps } from '../../functions/request-status/core';
import { CallbackDelivery, startPolling } from '../../functions/callbacks/core';
import { httpTransport } from '../../functions/lib/webhooks/transport';
import { bootstrapResources } from '../../local/bootstrap';
import { startLocalApi } from '../../local/api-server';
import { loadTokenKey, mintToken } from '../../local/auth';
import {
  startDynamoLocal,
  startS3Local,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type RunningStore,
} from '../../local/stores';

/** Stands in for Step Functions: records starts and, when `run` is set, walks the export's statuses. */
export /** Log-erasure jobs the API started: running, as far as the harness knows (it runs no state machine). */
class StartedLogErasureJobs implements LogErasureJobs {
  private readonly started = new Map<string, string>();
  constructor(private readonly clock: () => Date = () => new Date()) {}

  async start(): Promise<{ jobId: string; startedAt: string }> {
    const startedAt = this.clock().toISOString();
    const jobId = `logjob-${startedAt.replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(4).toString('hex')}`;
    this.started.set(jobId, startedAt);
    return { jobId, startedAt };
  }

  async describe(jobId: string): Promise<LogErasureJobView | undefined> {
    const startedAt = this.started.get(jobId);
    return startedAt
      ? { jobId, status: 'RUNNING', startedAt, stoppedAt: null, result: null, error: null }
      : undefined;
  }
}

class FakeWorkflows implements WorkflowStarter {
  readonly started: { requestId: string; type?: RequestType }[] = [];
  run = false;
  types: RequestType[] = ['export'];

  constructor(
    private readonly status: StatusDeps,
    /** With the local S3: where a completed export's archive is written. */
    private readonly s3?: S3Client,
  ) {}

  supports(type: RequestType): boolean {
    return this.types.includes(type);
  }

  async start(requestId: string, type?: RequestType): Promise<void> {
    this.started.push({ requestId, type });
    if (this.run) void this.complete(requestId);
  }

  /** What the export state machine records: in_progress, then completed with an archive pointer. */
  async complete(requestId: string): Promise<void> {
    const key = `exports/${requestId}.zip`;
    const zip = this.s3 ? await manifestOnlyZip() : undefined;
    if (zip) {
      await this.s3?.send(
        new PutObjectCommand({ Bucket: orchestratorResources.exportsBucket, Key: key, Body: zip }),
      );
    }
    await new Promise((r) => setTimeout(r, 30));
    await recordStatus(this.status, { requestId, status: 'in_progress' });
    await new Promise((r) => setTimeout(r, 30));
    await recordStatus(this.status, {
      requestId,
      status: 'completed',
      found: true,
      archive: {
        bucket: orchestratorResources.exportsBucket,
        key,
        bytes: zip?.length ?? 10,
        sha256: '0'.repeat(64),
        files: 1,
        records: 1,
      },
    });
  }
}

/** A ZIP with an empty manifest: enough of an archive for the download routes to summarise. */
async function manifestOnlyZip(): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(JSON.stringify({ stores: [] })), 'manifest.json');
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The API as the Lambda serves it (functions/api/handler.ts): the dispatcher behind the error middleware. */
export function apiHandler(deps: ApiDeps): (event: ApiEvent) => Promise<ApiResult> {
  const handler = middy<ApiEvent, ApiResult>().use(errorAnswers()).handler(createApi(deps));
  return (event) => handler(event, {} as Context);
}

export interface Harness {
  url: string;
  doc: DynamoDBDocumentClient;
  /** The local S3 (s3: true), else a client with no endpoint that must not be used. */
  s3: S3Client;
  requests: RequestRepository;
  audit: AuditLog;
  workflows: FakeWorkflows;
  signer: LocalSigner;
  delivery: CallbackDelivery;
  deps: ApiDeps;
  api: (event: ApiEvent) => Promise<ApiResult>;
  tokenKey: Buffer;
  /** A token for the role, bound to `services` (default: every service, as `npm run token` mints). */
  token(role: Role, services?: readonly string[]): string;
  call(
    method: string,
    path: string,
    options?: { role?: Role | null; token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; text: string }>;
  /** An API Gateway event for the in-process core (no gateway in between). */
  event(
    method: string,
    path: string,
    options?: { role?: Role; services?: readonly string[]; body?: string; query?: Record<string, string> },
  ): ApiEvent;
  countItems(): Promise<number>;
  startCallbackPolling(): void;
  stop(): Promise<void>;
}

export async function startHarness(
  options: {
    throttle?: { perSecond: number; burst: number };
    clock?: () => Date;
    settings?: ApiDeps['settings'];
    /** Start the local S3 too, with the exports bucket. */
    s3?: boolean;
  } = {},
): Promise<Harness> {
  process.env.LOG_LEVEL ??= 'silent';
  const dataDir = mkdtempSync(join(tmpdir(), 'dsr-api-'));
  const [dynamo, s3Local] = await Promise.all([
    startDynamoLocal({ port: 0 }),
    options.s3 ? startS3Local({ port: 0, dataDir: join(dataDir, 's3') }) : undefined,
  ]);
  const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: dynamo.endpoint };
  const dynamoClient = new DynamoDBClient(clientConfig);
  const s3 = new S3Client({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    ...(s3Local ? { endpoint: s3Local.endpoint, forcePathStyle: true } : {}),
  });
  await bootstrapResources(
    { dynamo: dynamoClient, s3 },
    {
      // Each service's own accounts table too: the API looks a subject up in their service's.
      tables: [
        orchestratorResources.requestsTable,
        platformStores.accounts.table,
        ...serviceOwnTables()
          .filter((own) => own.resource === 'accountsTable')
          .map((own) => own.spec),
      ],
      buckets: s3Local ? [orchestratorResources.exportsBucket] : [],
    },
  );
  const doc = DynamoDBDocumentClient.from(dynamoClient, { marshallOptions: { removeUndefinedValues: true } });
  for (const [userId, country] of [
    ['u-de', 'DE'],
    ['u-kr', 'KR'],
    ['u-jp', 'JP'],
    ['u-ca', 'US-CA'],
  ] as const) {
    await doc.send(
      new PutCommand({
        TableName: platformStores.accounts.table.tableName,
        Item: { userId, country, email: `${userId}@example.com` },
      }),
    );
  }
  const table = requestTable(doc, orchestratorResources.requestsTable.tableName, options.clock);
  const requests = new RequestRepository(table);
  const events = new EventLog(table);
  const audit = new AuditLog(table);
  const signer = new LocalSigner(join(dataDir, 'signing'));
  const workflows = new FakeWorkflows({ requests }, s3Local ? s3 : undefined);
  const deps: ApiDeps = {
    requests,
    events,
    holds: new HoldRepository(table),
    hasher: new LocalSubjectHasher(Buffer.alloc(32, 7)),
    workflows,
    jwks: () => signer.publicJwks(),
    signer,
    audit,
    accounts: new DynamoAccountDirectory(doc, serviceStoresFromEnv({ ...defaultResourceEnv() })),
    settings: { allowPrivateCallbacks: true, processorDomain: 'dsr.test', ...(options.settings ?? {}) },
    clock: options.clock,
    // Without the local S3 only the archive and certificate routes read it (and must not be called).
    certificates: new S3CertificateReader(s3),
    // Jobs recorded as started; the job itself runs on the local stack (log-erasure-job.test.ts).
    logErasureJobs: new StartedLogErasureJobs(options.clock),
    downloads: {
      links: new DownloadLinks(table, new LocalSubjectHasher(Buffer.alloc(32, 9)), {
        ttlSeconds: 7 * 24 * 3600,
        maxDownloads: 5,
        presignSeconds: 300,
        publicBaseUrl: 'http://127.0.0.1',
      }),
      archives: new S3ArchiveAccess(s3),
    },
  };
  const api = apiHandler(deps);
  const tokenKey = loadTokenKey(join(dataDir, 'token.key'));
  const server = await startLocalApi(
    { handler: api, tokenKey, throttle: options.throttle ?? { perSecond: 1000, burst: 1000 } },
    0,
  );
  const delivery = new CallbackDelivery({
    requests,
    outbox: new CallbackOutbox(table),
    signer,
    transport: httpTransport({ allowPrivate: true, timeoutMs: 2000 }),
    config: { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 200, processorDomain: 'dsr.test' },
  });
  let poller: { stop(): Promise<void> } | undefined;
  const token = (role: Role, services?: readonly string[]) => mintToken(tokenKey, role, { services });
  const call: Harness['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const role = opts.role === undefined ? 'support' : opts.role;
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    else if (role) headers.authorization = `Bearer ${token(role)}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${server.url}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { raw: text };
    }
    return { status: res.status, body: parsed, headers: res.headers, text };
  };
  const event: Harness['event'] = (method, path, opts = {}) => apiEvent(method, path, opts);
  const countItems = async () => {
    const out = await doc.send(
      new ScanCommand({ TableName: table.tableName, Select: 'COUNT', ConsistentRead: true }),
    );
    return out.Count ?? 0;
  };
  return {
    url: server.url,
    doc,
    s3,
    requests,
    audit,
    workflows,
    signer,
    delivery,
    deps,
    api,
    tokenKey,
    token,
    call,
    event,
    countItems,
    startCallbackPolling: () => {
      poller ??= startPolling(delivery, 50);
    },
    stop: async () => {
      await poller?.stop();
      await new Promise<void>((resolve) => {
        server.server.closeAllConnections?.();
        server.server.close(() => resolve());
      });
      await dynamo.stop();
      await (s3Local as RunningStore | undefined)?.stop();
      dynamoClient.destroy();
      s3.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export { Server };
