/**
 * Callers bound to services, through the real local gateway over DynamoDB Local: a caller sees and acts
 * only on its services' requests, holds, certificates and audit entries; another service's is a 404
 * exactly like an unknown id; a request names its service or has it implied.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { platformStores, serviceStores } from '../../config/data-map';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, signToken } from '../../local/auth';
import { startHarness, type Harness } from '../support/api-harness';

let h: Harness;
const CLUSTER = ['cluster'];
const METALIVE = ['metalive'];
/** A request id no request has: what "not found" looks like. */
const UNKNOWN_REQUEST = `req_${'0'.repeat(32)}`;

beforeAll(async () => {
  h = await startHarness();
  h.workflows.types = ['export', 'erasure'];
  // A METALIVE user in Korea, and a Cluster user with the same e-mail (another person).
  for (const account of [
    { userId: 'u-meta', email: 'same@example.com', country: 'KR', service: 'metalive' },
    { userId: 'u-clus', email: 'same@example.com', country: 'JP', service: 'cluster' },
  ]) {
    // METALIVE keeps its own accounts table (config/data-map.ts serviceStores).
    const TableName =
      serviceStores[account.service]?.accountsTable ?? platformStores.accounts.table.tableName;
    await h.doc.send(new PutCommand({ TableName, Item: account }));
  }
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

type Call = Awaited<ReturnType<Harness['call']>>;

async function open(services: string[], body: Record<string, unknown>): Promise<Call> {
  return h.call('POST', '/v1/requests', { token: h.token('support', services), body });
}

/** A 404's problem without its per-call parts: what a caller can compare. */
const problemOf = (res: Call) => ({ status: res.status, code: res.body.code, detail: res.body.detail });

test('a caller bound to cluster cannot see, cancel, extend, hold or read the certificate of a metalive request', async () => {
  const created = await open(METALIVE, { type: 'erasure', subject: { userId: 'u-meta' } });
  expect(created.status).toBe(202);
  expect(created.body.service).toBe('metalive');
  const id = String(created.body.requestId);

  const unknown = problemOf(await h.call('GET', `/v1/requests/${UNKNOWN_REQUEST}`));
  expect(unknown).toMatchObject({ status: 404, code: 'REQUEST_NOT_FOUND' });
  const support = h.token('support', CLUSTER);
  const auditor = h.token('auditor', CLUSTER);
  const legal = h.token('legal', CLUSTER);
  const asCluster: [string, string, string, unknown?][] = [
    ['GET', `/v1/requests/${id}`, support],
    ['GET', `/v1/requests/${id}`, auditor],
    ['GET', `/v1/requests/${id}/events`, support],
    ['POST', `/v1/requests/${id}/cancel`, support],
    ['POST', `/v1/requests/${id}/extend`, support, { reason: 'Large volume of media files' }],
    ['POST', `/v1/requests/${id}/revoke-download`, support],
    ['GET', `/v1/requests/${id}/certificate`, auditor],
    ['GET', `/v1/holds?requestId=${id}`, legal],
    ['POST', `/v1/requests/${id}/verification`, support, { method: 'id_document', verifiedBy: 'agent-1' }],
    [
      'POST',
      `/v1/requests/${id}/refuse`,
      support,
      { reasonCode: 'identity_not_verified', legalGround: 'appi-art-37' },
    ],
  ];
  for (const [method, path, token, body] of asCluster) {
    // Exactly what an id that does not exist gets: the caller learns nothing of metalive's request.
    expect(problemOf(await h.call(method, path, { token, body }))).toEqual(unknown);
  }
  // Untouched: still waiting for the identity check METALIVE makes before it discloses, and the
  // metalive caller still sees it (no certificate yet).
  const mine = await h.call('GET', `/v1/requests/${id}`, { token: h.token('support', METALIVE) });
  expect(mine.body).toMatchObject({ status: 'awaiting_verification', service: 'metalive' });
  const cert = await h.call('GET', `/v1/requests/${id}/certificate`, { token: h.token('auditor', METALIVE) });
  expect(cert.body.code).toBe('CERTIFICATE_NOT_FOUND');

  // A hold by cluster's legal client on the same identifier is a cluster hold: it holds nothing of
  // metalive's erasure, and does not even say that erasure exists.
  const clusterHold = await h.call('POST', '/v1/holds', {
    token: legal,
    body: { subject: { userId: 'u-meta' }, caseReference: 'CL-1', reason: 'Litigation' },
  });
  expect(clusterHold.status).toBe(201);
  expect(clusterHold.body).toMatchObject({ service: 'cluster', affectedRequests: [] });
  const metaliveLegal = h.token('legal', METALIVE);
  const metaliveHold = await h.call('POST', '/v1/holds', {
    token: metaliveLegal,
    body: { subject: { userId: 'u-meta' }, caseReference: 'ML-1', reason: 'Police request' },
  });
  expect(metaliveHold.body).toMatchObject({ service: 'metalive', affectedRequests: [id] });
  const holdId = String(metaliveHold.body.holdId);
  const unknownHold = problemOf(await h.call('GET', `/v1/holds/hold_${'0'.repeat(32)}`, { token: legal }));
  expect(unknownHold).toMatchObject({ status: 404, code: 'HOLD_NOT_FOUND' });
  expect(problemOf(await h.call('GET', `/v1/holds/${holdId}`, { token: legal }))).toEqual(unknownHold);
  expect(problemOf(await h.call('POST', `/v1/holds/${holdId}/release`, { token: legal, body: {} }))).toEqual(
    unknownHold,
  );
  // Each legal client lists only its own service's holds on the subject.
  const subjectHash = String(metaliveHold.body.subjectHash);
  const listed = async (token: string) =>
    (
      (await h.call('GET', `/v1/holds?subjectHash=${subjectHash}`, { token })).body.holds as {
        holdId: string;
      }[]
    ).map((x) => x.holdId);
  expect(await listed(legal)).toEqual([clusterHold.body.holdId]);
  expect(await listed(metaliveLegal)).toEqual([holdId]);
  expect(
    ((await h.call('GET', `/v1/holds?requestId=${id}`, { token: metaliveLegal })).body.holds as unknown[])
      .length,
  ).toBe(1);
  // Only metalive's erasure events name metalive's hold; cluster's never reached it.
  const events = await h.call('GET', `/v1/requests/${id}/events`, { token: h.token('support', METALIVE) });
  const holdEvents = (events.body.events as { type: string; detail?: { holdId?: string } }[]).filter((e) =>
    e.type.startsWith('hold.'),
  );
  expect(holdEvents.map((e) => e.detail?.holdId)).toEqual([holdId]);
  // The hold is still active: cluster's release attempt changed nothing.
  expect((await h.call('GET', `/v1/holds/${holdId}`, { token: metaliveLegal })).body.status).toBe('active');
});

test("a caller bound to cluster cannot open a request for metalive, nor reach a metalive subject's account", async () => {
  const refused = await open(CLUSTER, { type: 'export', service: 'metalive', subject: { userId: 'u-meta' } });
  expect(refused.status).toBe(403);
  expect(refused.body.code).toBe('SERVICE_NOT_ALLOWED');

  // Naming metalive's user from cluster opens a cluster request: it is not metalive's request (no
  // duplicate handed back), and the metalive account's country does not show through it.
  const metalive = await open(METALIVE, { type: 'export', subject: { email: 'same@example.com' } });
  expect(metalive.body).toMatchObject({ service: 'metalive', jurisdiction: 'KR' });
  const cluster = await open(CLUSTER, { type: 'export', subject: { email: 'same@example.com' } });
  expect(cluster.status).toBe(202);
  expect(cluster.body.duplicate).toBeUndefined();
  expect(cluster.body.requestId).not.toBe(metalive.body.requestId);
  expect(cluster.body).toMatchObject({ service: 'cluster', jurisdiction: 'JP' });
  const stranger = await open(CLUSTER, { type: 'export', subject: { userId: 'u-meta' } });
  expect(stranger.body.service).toBe('cluster');
  const stored = await h.requests.get(String(stranger.body.requestId));
  expect(stored).toMatchObject({ service: 'cluster', jurisdictionSource: 'default' });
  // A second cluster export of the same e-mail is cluster's duplicate, still not metalive's.
  const again = await open(CLUSTER, { type: 'export', subject: { email: 'same@example.com' } });
  expect(again.body).toMatchObject({ duplicate: true, requestId: cluster.body.requestId });
});

test('a caller bound to two services must name one; a caller bound to one has it implied and stored', async () => {
  const two = ['cluster', 'metalive'];
  const unnamed = await open(two, { type: 'export', subject: { userId: 'u-two-1' } });
  expect(unnamed.status).toBe(400);
  expect(unnamed.body.code).toBe('SERVICE_REQUIRED');
  const named = await open(two, { type: 'export', service: 'metalive', subject: { userId: 'u-two-1' } });
  expect(named.status).toBe(202);
  expect(named.body.service).toBe('metalive');
  const unknownService = await open(two, {
    type: 'export',
    service: 'nowhere',
    subject: { userId: 'u-two-2' },
  });
  expect(unknownService.status).toBe(400);

  const implied = await open(CLUSTER, { type: 'export', subject: { userId: 'u-one-1' } });
  expect(implied.status).toBe(202);
  expect(implied.body.service).toBe('cluster');
  // Stored on the request item from the start, before any workflow step ran.
  expect((await h.requests.get(String(implied.body.requestId)))?.service).toBe('cluster');

  // Holds alike: two services must name one.
  const hold = await h.call('POST', '/v1/holds', {
    token: h.token('legal', two),
    body: { subject: { userId: 'u-two-1' }, caseReference: 'C-2', reason: 'Litigation' },
  });
  expect(hold.body.code).toBe('SERVICE_REQUIRED');
});

test('lists show only the caller’s services, and paging over a filtered list skips and repeats nothing', async () => {
  // Interleaved so that every page of the unfiltered index mixes the two services.
  const opened: Record<string, string[]> = { audiostock: [], 'prism-project': [] };
  for (let i = 0; i < 14; i++) {
    const service = i % 3 === 0 ? 'audiostock' : 'prism-project';
    const res = await open([service], { type: 'export', subject: { userId: `u-page-${service}-${i}` } });
    opened[service]?.push(String(res.body.requestId));
  }
  async function listAll(token: string, query = ''): Promise<{ ids: string[]; services: Set<string> }> {
    const ids: string[] = [];
    const services = new Set<string>();
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const res: Call = await h.call(
        'GET',
        `/v1/requests?limit=2${query}${cursor ? `&cursor=${cursor}` : ''}`,
        { token },
      );
      expect(res.status).toBe(200);
      const requests = res.body.requests as { requestId: string; service: string }[];
      expect(requests.length).toBeLessThanOrEqual(2);
      for (const r of requests) {
        ids.push(r.requestId);
        services.add(r.service);
      }
      cursor = res.body.nextCursor as string | null;
      if (!cursor) break;
    }
    return { ids, services };
  }
  const audiostock = await listAll(h.token('auditor', ['audiostock']));
  expect([...audiostock.services]).toEqual(['audiostock']);
  // Newest first, each exactly once.
  expect(audiostock.ids).toEqual([...(opened.audiostock ?? [])].reverse());

  const both = await listAll(h.token('auditor', ['audiostock', 'prism-project']), '&service=prism-project');
  expect(both.ids).toEqual([...(opened['prism-project'] ?? [])].reverse());
  const refused = await h.call('GET', '/v1/requests?service=metalive', {
    token: h.token('auditor', ['audiostock']),
  });
  expect(refused.body.code).toBe('SERVICE_NOT_ALLOWED');
  // Bound to every service: everything, unfiltered.
  const all = await listAll(h.token('auditor'));
  for (const id of [...(opened.audiostock ?? []), ...(opened['prism-project'] ?? [])]) {
    expect(all.ids).toContain(id);
  }
  // By subject too: the filtered query keeps to the caller's services.
  const subject = await open(['audiostock'], { type: 'export', subject: { email: 'twice@example.com' } });
  await open(['prism-project'], { type: 'export', subject: { email: 'twice@example.com' } });
  const bySubject = await h.call('GET', `/v1/requests?subjectHash=${String(subject.body.subjectHash)}`, {
    token: h.token('support', ['audiostock']),
  });
  expect((bySubject.body.requests as { requestId: string }[]).map((r) => r.requestId)).toEqual([
    subject.body.requestId,
  ]);
});

test("auditors read only their services' audit entries", async () => {
  const klub = await open(['klub-outside'], { type: 'export', subject: { userId: 'u-audit-k' } });
  const meta = await open(METALIVE, { type: 'export', subject: { userId: 'u-audit-m' } });
  const klubId = String(klub.body.requestId);
  const metaId = String(meta.body.requestId);
  // Cluster's client probes metalive's request: filed under metalive, so metalive's auditors see it.
  await h.call('GET', `/v1/requests/${metaId}`, { token: h.token('support', CLUSTER) });

  async function entries(
    services: string[],
    query = '',
  ): Promise<{ requestId?: string; service?: string }[]> {
    const out: { requestId?: string; service?: string }[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 200; page++) {
      const res: Call = await h.call(
        'GET',
        `/v1/audit?limit=50${query}${cursor ? `&cursor=${cursor}` : ''}`,
        {
          token: h.token('auditor', services),
        },
      );
      expect(res.status).toBe(200);
      out.push(...(res.body.records as { requestId?: string; service?: string }[]));
      cursor = res.body.nextCursor as string | null;
      if (!cursor) break;
    }
    return out;
  }
  const klubAudit = await entries(['klub-outside']);
  expect(klubAudit.some((e) => e.requestId === klubId)).toBe(true);
  expect(klubAudit.some((e) => e.requestId === metaId)).toBe(false);
  expect(new Set(klubAudit.map((e) => e.service))).toEqual(new Set(['klub-outside']));
  expect(await entries(['klub-outside'], `&requestId=${metaId}`)).toEqual([]);
  const metaAudit = await entries(METALIVE, `&requestId=${metaId}`);
  expect(metaAudit.map((e) => e.service)).toEqual(metaAudit.map(() => 'metalive'));
  // Opened, and the probe: 404 by cluster's client.
  expect(metaAudit).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ action: 'request.status.received' }),
      expect.objectContaining({ action: 'getRequest', outcome: 404, actor: 'local-support-cluster-client' }),
    ]),
  );
});

test('OpenDSR: the service is implied or named; another service’s subject_request_id is unknown', async () => {
  const srid = 'e7551968-d5d6-44b2-9831-815ac9017701';
  const body = {
    subject_request_id: srid,
    subject_request_type: 'access',
    submitted_time: '2026-01-02T15:00:00Z',
    subject_identities: [
      { identity_type: 'controller_customer_id', identity_value: 'u-odsr-meta', identity_format: 'raw' },
    ],
  };
  const metalive = h.token('support', METALIVE);
  const created = await h.call('POST', '/opendsr/v1/requests', { token: metalive, body });
  expect(created.status).toBe(201);
  expect((await h.call('GET', `/opendsr/v1/requests/${srid}`, { token: metalive })).status).toBe(200);

  const cluster = h.token('support', CLUSTER);
  const unknownId = 'e7551968-d5d6-44b2-9831-815ac9017702';
  const unknown = await h.call('GET', `/opendsr/v1/requests/${unknownId}`, { token: cluster });
  expect(unknown.status).toBe(404);
  const status = await h.call('GET', `/opendsr/v1/requests/${srid}`, { token: cluster });
  expect(status.status).toBe(404);
  expect(status.body).toEqual(unknown.body);
  const cancel = await h.call('DELETE', `/opendsr/v1/requests/${srid}`, { token: cluster });
  expect(cancel.status).toBe(404);
  expect(cancel.body).toEqual(unknown.body);
  expect((await h.call('GET', `/opendsr/v1/requests/${srid}`, { token: metalive })).body.request_status).toBe(
    'pending',
  );

  // Cluster's controller may use the same id: it is cluster's own request, not a replay of metalive's.
  const clusterCreated = await h.call('POST', '/opendsr/v1/requests', { token: cluster, body });
  expect(clusterCreated.status).toBe(201);
  expect((await h.call('DELETE', `/opendsr/v1/requests/${srid}`, { token: cluster })).status).toBe(202);
  expect((await h.call('GET', `/opendsr/v1/requests/${srid}`, { token: metalive })).body.request_status).toBe(
    'pending',
  );

  const two = h.token('support', ['cluster', 'metalive']);
  const unnamed = await h.call('POST', '/opendsr/v1/requests', {
    token: two,
    body: { ...body, subject_request_id: 'e7551968-d5d6-44b2-9831-815ac9017703' },
  });
  expect(unnamed.status).toBe(400);
  expect(unnamed.body).toMatchObject({ error: { errors: [{ reason: 'SERVICE_REQUIRED' }] } });
  const notMine = await h.call('POST', '/opendsr/v1/requests', {
    token: cluster,
    body: { ...body, service: 'metalive', subject_request_id: 'e7551968-d5d6-44b2-9831-815ac9017704' },
  });
  // Every error of an OpenDSR route is in the OpenDSR shape, 403 included.
  expect(notMine.status).toBe(403);
  expect(notMine.body).toMatchObject({ error: { code: 403, errors: [{ reason: 'SERVICE_NOT_ALLOWED' }] } });
});

test('a token bound to no service this deployment serves is refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = signToken(h.tokenKey, {
    iss: LOCAL_ISSUER,
    aud: LOCAL_AUDIENCE,
    sub: 'stray',
    client_id: 'stray',
    scope: 'dsr/support dsr/service:elsewhere',
    iat: now,
    exp: now + 600,
  });
  const res = await h.call('GET', '/v1/requests', { token });
  expect(res.status).toBe(403);
  expect(res.body.code).toBe('NO_SERVICE');
});
