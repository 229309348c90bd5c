/**
 * One durable state change: a status change and its side records (events, schedule, deadline, link)
 * commit together, so a step retried after a fault finds all of them or none. Each case injects a fault
 * into the real DynamoDB Local write that carries the change: before it is sent (nothing committed) or
 * after it committed with its answer lost (the Lambda died), then retries the step as Step Functions
 * would and checks the end state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources } from '../../config/data-map';
import { certifyErasure } from '../../functions/certify-erasure/core';
import { recordStatus } from '../../functions/request-status/core';
import { runSweep, type ResumeStarter } from '../../functions/sweep/core';
import { putJson, stagingKeys } from '../../functions/lib/aws/s3-objects';
import { LocalSigner } from '../../functions/lib/crypto/signing';
import { DownloadLinks, ensureLink, type ArchiveAccess } from '../../functions/lib/downloads/download-links';
import { withdrawSubjectExports } from '../../functions/lib/downloads/subject-exports';
import { loadDefaultPolicy } from '../../functions/lib/erasure/policy';
import { buildPlan } from '../../functions/lib/erasure/planner';
import { ErasureSchedule } from '../../functions/lib/erasure/schedule';
import { LogErasureQueue } from '../../functions/lib/erasure/log-queue';
import { STORE_CATEGORIES, type Inventory, type StoreName } from '../../functions/lib/erasure/types';
import { EventLog } from '../../functions/lib/requests/event-log';
import { openKey, type RequestType } from '../../functions/lib/requests/records';
import { readItem, requestTable, type RequestTable } from '../../functions/lib/requests/request-table';
import { RequestRepository } from '../../functions/lib/requests/requests';
import { fakeClient } from '../support/fake-client';
import { startTestStores, type TestStores } from '../support/local-stores';

type Fault = 'before' | 'after';

let stores: TestStores;
let keysDir: string;
let table: RequestTable;

beforeAll(async () => {
  stores = await startTestStores();
  keysDir = mkdtempSync(join(tmpdir(), 'dsr-durable-keys-'));
  table = requestTable(stores.doc, orchestratorResources.requestsTable.tableName);
});

afterAll(async () => {
  await stores?.stop();
  rmSync(keysDir, { recursive: true, force: true });
});

/**
 * The requests table over a client whose first transaction fails: `before` it reaches DynamoDB, or
 * `after` it committed (the answer lost). Every other call goes through unchanged.
 */
function faultyTable(fault: Fault): { table: RequestTable; injected: () => number } {
  let injected = 0;
  const send = async (command: unknown) => {
    const isTransaction = command instanceof TransactWriteCommand;
    if (isTransaction && injected === 0 && fault === 'before') {
      injected++;
      throw Object.assign(new Error('injected before the write'), { name: 'TimeoutError' });
    }
    const result: unknown = await stores.doc.send(command as TransactWriteCommand);
    if (isTransaction && injected === 0 && fault === 'after') {
      injected++;
      throw Object.assign(new Error('injected after the write'), { name: 'TimeoutError' });
    }
    return result;
  };
  const doc = fakeClient(DynamoDBDocumentClient, { send, config: stores.doc.config });
  return { table: requestTable(doc, table.tableName), injected: () => injected };
}

let counter = 0;
async function openRequest(type: RequestType): Promise<{ requestId: string; subjectHash: string }> {
  const repo = new RequestRepository(table);
  const requestId = repo.newRequestId();
  const subjectHash = `hash-${Date.now()}-${counter++}`;
  await repo.open({
    requestId,
    type,
    policyVersion: '1.0.0',
    subjectHash,
    subject: { userId: 'u-durable' },
    service: 'klub-outside',
    jurisdiction: 'DE',
    jurisdictionSource: 'request',
    dueAt: '2099-01-01T00:00:00.000Z',
    requester: { kind: 'subject' },
    createdBy: 'test',
  });
  return { requestId, subjectHash };
}

async function eventTypes(requestId: string): Promise<string[]> {
  return (await new EventLog(table).list(requestId)).map((e) => e.type);
}

/** Runs `step` over a table that fails once, then retries it over the real one, as a Retry would. */
async function withRetry<T>(fault: Fault, step: (t: RequestTable) => Promise<T>): Promise<T> {
  const faulty = faultyTable(fault);
  await expect(step(faulty.table)).rejects.toThrow(/injected/);
  expect(faulty.injected()).toBe(1);
  return step(table);
}

describe.each<Fault>(['before', 'after'])('a fault %s the commit, then a retry', (fault) => {
  test('request-status: the status change and its event', async () => {
    const { requestId } = await openRequest('export');
    await withRetry(fault, (t) =>
      recordStatus({ requests: new RequestRepository(t) }, { requestId, status: 'in_progress' }),
    );
    const archive = { bucket: 'b', key: 'k', bytes: 1, sha256: 'x', files: 1, records: 2 };
    await withRetry(fault, (t) =>
      recordStatus({ requests: new RequestRepository(t) }, { requestId, status: 'completed', archive }),
    );
    expect((await new RequestRepository(table).require(requestId)).status).toBe('completed');
    expect(await eventTypes(requestId)).toEqual([
      'request.received',
      'request.in_progress',
      'request.completed',
    ]);
  });

  test('download link: the link and its issued event', async () => {
    const { requestId } = await openRequest('export');
    const archives: ArchiveAccess = {
      exists: async () => true,
      presign: async () => 'http://unused',
      summarize: async (a) => ({ ...a, stores: [] }),
    };
    const archive = { bucket: 'b', key: 'k', bytes: 1, sha256: 'x', files: 1, records: 2 };
    const config = { ttlSeconds: 3600, maxDownloads: 5, presignSeconds: 60, publicBaseUrl: 'http://x' };
    const mac = {
      hash: async (v: string) => Buffer.from(v).toString('base64url').slice(0, 43).padEnd(43, 'A'),
    };
    const link = await withRetry(fault, (t) =>
      ensureLink({ links: new DownloadLinks(t, mac, config), archives }, requestId, archive),
    );
    expect(link.requestId).toBe(requestId);
    expect(await eventTypes(requestId)).toEqual(['request.received', 'download.link_issued']);
  });

  test('certify-erasure: the partial outcome, its schedule item and the cleared deadline', async () => {
    const { requestId, subjectHash } = await openRequest('erasure');
    const requests = new RequestRepository(table);
    const now = new Date();
    await requests.transition(requestId, 'in_progress', {
      erasureRuns: [
        {
          run: 0,
          executionName: requestId,
          startedAt: now.toISOString(),
          asOf: now.toISOString(),
          trigger: 'request',
        },
      ],
    });
    // Three messages under a hold: the run ends partially completed, waiting for the hold.
    const inventory = {} as Record<StoreName, Record<string, { count: number }>>;
    for (const store of Object.keys(STORE_CATEGORIES) as StoreName[])
      inventory[store] = Object.fromEntries(STORE_CATEGORIES[store].map((c) => [c, { count: 0 }]));
    inventory.chat.messages = { count: 3 };
    const plan = buildPlan({
      policy: loadDefaultPolicy(),
      jurisdiction: 'DE',
      inventory: inventory as unknown as Inventory,
      holds: [{ holdId: 'hold_durable', caseReference: 'C-1', stores: ['chat'] }],
      now,
    });
    const bucket = orchestratorResources.stagingBucket;
    await putJson(stores.s3, { bucket, key: stagingKeys.plan(requestId) }, plan);
    await putJson(
      stores.s3,
      { bucket, key: `${stagingKeys.prefix(requestId)}verification.json` },
      { passed: true, checked: 0, leftovers: [], kept: [], at: now.toISOString() },
    );
    const identifiers = {
      userIds: ['u-durable'],
      emails: [],
      phones: [],
      deviceIds: [],
      externalAccounts: [],
    };
    await putJson(
      stores.s3,
      { bucket, key: stagingKeys.subject(requestId) },
      { requestId, subjectHash, found: true, identifiers, pseudonymSalt: 'salt' },
    );
    const signer = new LocalSigner(keysDir);
    const issue = (t: RequestTable) =>
      certifyErasure(
        {
          s3: stores.s3,
          stagingBucket: bucket,
          exportsBucket: orchestratorResources.exportsBucket,
          requests: new RequestRepository(t),
          events: new EventLog(t),
          schedule: new ErasureSchedule(t),
          logQueue: new LogErasureQueue(t),
          signer,
          issuer: 'test',
        },
        { requestId, operation: 'issue', executionName: requestId },
      );
    const out = await withRetry(fault, issue);
    expect(out).toMatchObject({ status: 'partially_completed' });

    const record = await requests.require(requestId);
    expect(record.status).toBe('partially_completed');
    expect(record.heldBy).toEqual(['hold_durable']);
    const pending = (await new ErasureSchedule(table).list()).filter((p) => p.requestId === requestId);
    expect(pending).toEqual([{ requestId, nextStepAt: null, heldBy: ['hold_durable'] }]);
    const lock = await readItem(table, openKey('erasure', subjectHash, 'klub-outside'));
    expect(lock?.requestId).toBe(requestId);
    expect(lock).not.toHaveProperty('dueAt');
    expect((await eventTypes(requestId)).filter((e) => e === 'erasure.certified')).toHaveLength(1);
  });
});

test('sweep: a resumed run whose start failed records its events once', async () => {
  const { requestId } = await openRequest('erasure');
  const requests = new RequestRepository(table);
  const at = '2020-01-01T00:00:00.000Z';
  const run0 = { run: 0, executionName: requestId, startedAt: at, asOf: at, trigger: 'request' as const };
  await requests.transition(requestId, 'in_progress', { erasureRuns: [run0] });
  await requests.transition(requestId, 'partially_completed', {
    erasureRuns: [{ ...run0, finishedAt: at }],
    nextStepAt: '2021-01-01T00:00:00.000Z',
    heldBy: [],
    // Two payments kept in the vault until 2021: the sweep records their destruction on resuming.
    erasureLedger: [
      {
        store: 'payments',
        category: 'transactions',
        state: 'retained',
        liveAction: 'delete',
        deleted: 2,
        anonymised: 0,
        run: 0,
        retained: {
          location: 'vault',
          jurisdiction: 'DE',
          records: 'books',
          basis: { law: 'HGB', provision: '257', source: 'policy' },
          period: 'P1Y',
          from: 'transactionDate',
          keep: ['amount'],
          schedule: [{ until: '2021-01-01T00:00:00.000Z', count: 2 }],
          destroyed: 0,
        },
      },
    ],
  });
  await new ErasureSchedule(table).put({ requestId, nextStepAt: '2021-01-01T00:00:00.000Z', heldBy: [] });
  const startedNames: string[] = [];
  let fail = true;
  const starter: ResumeStarter = {
    start: async (name) => {
      if (fail) {
        fail = false;
        throw Object.assign(new Error('injected'), { name: 'ServiceUnavailable' });
      }
      startedNames.push(name);
      return true;
    },
  };
  const deps = {
    requests,
    events: new EventLog(table),
    holds: { get: async () => undefined },
    schedule: new ErasureSchedule(table),
    vault: { listDue: async () => [], destroy: async () => 0 },
    starter,
  };
  const now = new Date('2022-01-01T00:00:00.000Z');
  await runSweep(deps, now);
  await runSweep(deps, now);
  // (The certify cases' requests wait for a hold this stand-in reports released: they resume too.)
  expect(startedNames.filter((n) => n.startsWith(requestId))).toEqual([`${requestId}-r1`]);
  const types = await eventTypes(requestId);
  expect(types.filter((t) => t === 'erasure.resumed')).toHaveLength(1);
  expect(types.filter((t) => t === 'vault.destroyed')).toHaveLength(1);
  await new ErasureSchedule(table).remove(requestId);
});

test("an erasure's withdrawal of the person's exports, retried, records it once per export", async () => {
  const { requestId: exportId, subjectHash } = await openRequest('export');
  const deps = {
    table,
    requests: new RequestRepository(table),
    events: new EventLog(table),
    s3: stores.s3,
    stagingBucket: orchestratorResources.stagingBucket,
  };
  const erasureId = 'req_erasure_withdraws';
  expect(await withdrawSubjectExports(deps, erasureId, [subjectHash], 'klub-outside')).toEqual([exportId]);
  // The step retried (its answer lost): the same exports, and still one event for this erasure.
  expect(await withdrawSubjectExports(deps, erasureId, [subjectHash], 'klub-outside')).toEqual([exportId]);
  expect((await eventTypes(exportId)).filter((t) => t === 'export.withdrawn')).toHaveLength(1);
});
