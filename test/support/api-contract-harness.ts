/**
 * Runs generated calls (api-contract.ts) against the API harness with the local S3: the fixtures the
 * generator cannot invent (requests, a completed export and its download token, an erasure with a
 * certificate, a hold, an OpenDSR request, cursors the API issued), and sending a call as a client would.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources } from '../../config/data-map';
import { ROLES } from '../../functions/api/auth';
import { certificateKey } from '../../functions/lib/erasure/certificate';
import { requestKey } from '../../functions/lib/requests/records';
import { mintToken } from '../../local/auth';
import type { Answer, Caller, Fixtures, GeneratedCall, OpenApiDocument } from './api-contract';
import { startHarness, type Harness } from './api-harness';

export interface ContractTarget {
  harness: Harness;
  document: OpenApiDocument;
  fixtures: Fixtures;
  send(call: GeneratedCall): Promise<Answer>;
  stop(): Promise<void>;
}

function tokenFor(h: Harness, caller: Caller): string | undefined {
  switch (caller.kind) {
    case 'none':
      return undefined;
    case 'garbage':
      return 'not.a-token';
    case 'role':
      return h.token(caller.role as (typeof ROLES)[number]);
    case 'expired':
      return mintToken(h.tokenKey, caller.role as (typeof ROLES)[number], { ttlSeconds: -60 });
    case 'foreign-key':
      return mintToken(randomBytes(32), caller.role as (typeof ROLES)[number]);
    case 'wrong-audience':
      return mintToken(h.tokenKey, caller.role as (typeof ROLES)[number], { audience: 'someone-else' });
  }
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('Timed out preparing the contract fixtures');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Records of every kind the operations read, made through the API itself where it can make them. */
async function prepareFixtures(h: Harness): Promise<Fixtures> {
  h.workflows.types = ['export', 'erasure', 'restriction'];
  const open = async (body: unknown) => {
    const res = await h.call('POST', '/v1/requests', {
      body: { service: 'klub-outside', ...(body as object) },
    });
    if (res.status !== 202) throw new Error(`Fixture request refused: ${res.status} ${res.text}`);
    return res.body as { requestId: string; subjectHash: string };
  };
  // A completed export (its archive in the local S3), so its download link is live.
  h.workflows.run = true;
  const completed = await open({ type: 'export', subject: { userId: 'u-de' } });
  h.workflows.run = false;
  const token = await until(async () => {
    const res = await h.call('GET', `/v1/requests/${completed.requestId}`);
    const url = typeof res.body.downloadUrl === 'string' ? res.body.downloadUrl : undefined;
    return url?.split('/v1/downloads/')[1];
  });
  const pending = await open({ type: 'export', subject: { userId: 'u-kr' } });
  const erasure = await open({ type: 'erasure', subject: { userId: 'u-jp' } });
  await certify(h, erasure.requestId);
  const hold = await h.call('POST', '/v1/holds', {
    role: 'legal',
    body: {
      service: 'klub-outside',
      subject: { userId: 'u-ca' },
      caseReference: 'CASE-1',
      reason: 'Litigation hold for the case',
    },
  });
  const srid = randomUUID();
  const dsr = await h.call('POST', '/opendsr/v1/requests', {
    body: {
      service: 'klub-outside',
      subject_request_id: srid,
      subject_request_type: 'access',
      submitted_time: new Date().toISOString(),
      subject_identities: [
        { identity_type: 'email', identity_value: 'u-ca@example.com', identity_format: 'raw' },
      ],
    },
  });
  if (hold.status !== 201 || dsr.status !== 201) throw new Error('Fixture hold or OpenDSR request refused');
  // A log-erasure job, so that reading one has a valid id to be called with.
  const job = await h.call('POST', '/v1/log-erasure-jobs', { role: 'support' });
  if (job.status !== 202) throw new Error(`Fixture log-erasure job refused: ${job.status}`);
  const requestsPage = await h.call('GET', '/v1/requests?limit=1');
  const auditPage = await h.call('GET', '/v1/audit?limit=1', { role: 'auditor' });
  const cursors = [requestsPage.body.nextCursor, auditPage.body.nextCursor].filter(
    (c): c is string => typeof c === 'string',
  );
  return {
    pathValues: {
      requestId: [completed.requestId, pending.requestId, erasure.requestId],
      holdId: [String(hold.body.holdId)],
      subjectRequestId: [srid],
      jobId: [String(job.body.jobId)],
      token: [token],
    },
    queryValues: {
      cursor: cursors,
      subjectHash: [completed.subjectHash, String(hold.body.subjectHash)],
      requestId: [completed.requestId, erasure.requestId],
    },
    bodyValues: {
      userId: ['u-de', 'u-kr', 'u-jp', 'u-ca'],
      identity_type: ['controller_customer_id', 'email'],
      identity_format: ['raw'],
      identity_value: ['u-de', 'u-kr@example.com'],
    },
    validBodies: {
      createRequest: [
        { type: 'export', service: 'klub-outside', subject: { userId: 'u-jp' } },
        { type: 'erasure', service: 'klub-outside', subject: { userId: 'u-ca' } },
        {
          type: 'restriction',
          service: 'klub-outside',
          subject: { userId: 'u-kr' },
          restriction: { kind: 'stop-marketing', action: 'apply' },
        },
      ],
    },
    roles: [...ROLES],
  };
}

/** What the erasure workflow leaves for a completed erasure: its certificate object and pointer. */
async function certify(h: Harness, requestId: string): Promise<void> {
  const payload = { type: 'erasure-certificate', requestId, issuedAt: new Date().toISOString() };
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'k1' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const key = certificateKey(requestId, 1);
  const bucket = orchestratorResources.exportsBucket;
  await h.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${header}.${body}.sig` }));
  await h.doc.send(
    new UpdateCommand({
      TableName: orchestratorResources.requestsTable.tableName,
      Key: requestKey(requestId),
      UpdateExpression: 'SET certificate = :c',
      ExpressionAttributeValues: {
        ':c': { bucket, key, number: 1, issuedAt: payload.issuedAt, kid: 'k1', sha256: '0'.repeat(64) },
      },
    }),
  );
}

/**
 * The response, or why there was none: a reset connection is a finding, not a crash of the run. Tried
 * twice, as a client would: a kept-alive connection the server closes for idleness just as it is
 * reused (Node's 5 s keep-alive timeout, after a pause of the run) resets once; a call the server
 * resets resets again.
 */
async function fetchOrFailure(url: string, init: RequestInit): Promise<Response | string> {
  let failure = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return await fetch(url, init);
    } catch (error) {
      const cause = (error as { cause?: { code?: unknown } }).cause;
      failure = `no answer: ${String(cause?.code ?? error)}`;
    }
  }
  return failure;
}

export async function startContractTarget(): Promise<ContractTarget> {
  const harness = await startHarness({ s3: true });
  try {
    const document = (await (await fetch(`${harness.url}/v1/openapi.json`)).json()) as OpenApiDocument;
    const fixtures = await prepareFixtures(harness);
    const send = async (call: GeneratedCall): Promise<Answer> => {
      const token = tokenFor(harness, call.caller);
      const headers = { ...call.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
      const search = new URLSearchParams(call.query).toString();
      const res = await fetchOrFailure(`${harness.url}${call.path}${search ? `?${search}` : ''}`, {
        method: call.method,
        headers,
        // A client cannot send a body with GET.
        body: call.method === 'GET' ? undefined : call.body,
        redirect: 'manual',
      });
      if (typeof res === 'string') return { status: 0, contentType: undefined, text: res };
      return {
        status: res.status,
        contentType: res.headers.get('content-type') ?? undefined,
        text: await res.text(),
      };
    };
    return { harness, document, fixtures, send, stop: () => harness.stop() };
  } catch (error) {
    await harness.stop();
    throw error;
  }
}
