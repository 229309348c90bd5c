/**
 * ResolveSubject looks only inside the request's service (the deployment's default service when the
 * request names none) and stages that service, the request's jurisdiction and the account's locale; it
 * records the service on the request when it had none, so that later steps (and a resumed erasure,
 * whose account is gone) know whose controller speaks.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { resolveSubject, type ResolveDeps } from '../../functions/resolve-subject/core';
import type { StagedSubject } from '../../functions/lib/connectors/contract';
import type { RequestRecord } from '../../functions/lib/requests/records';
import type { RequestRepository } from '../../functions/lib/requests/requests';
import { LocalSubjectHasher } from '../../functions/lib/crypto/subject-hash';
import { stagingKeys } from '../../functions/lib/aws/s3-objects';
import { ServiceStores } from '../../functions/lib/services/stores';

const REQ = 'req_' + 'd'.repeat(32);

function setup(account: Record<string, unknown> | undefined, request: Partial<RequestRecord> = {}) {
  const staged = new Map<string, StagedSubject>();
  const updates: Partial<RequestRecord>[] = [];
  const record: RequestRecord = {
    requestId: REQ,
    type: 'export',
    status: 'in_progress',
    createdAt: '2026-11-23T00:00:00.000Z',
    updatedAt: '2026-11-23T00:00:00.000Z',
    subjectHash: 'named-hash',
    subject: { userId: 'u-1' },
    ...request,
  };
  const tables: string[] = [];
  const deps: ResolveDeps = {
    doc: {
      send: async (command: unknown) => {
        if (command instanceof GetCommand) {
          tables.push(String(command.input.TableName));
          return { Item: account };
        }
        throw new Error('unexpected command');
      },
    } as unknown as DynamoDBDocumentClient,
    s3: {
      send: async (command: unknown) => {
        if (!(command instanceof PutObjectCommand)) throw new Error('unexpected command');
        staged.set(String(command.input.Key), JSON.parse(String(command.input.Body)) as StagedSubject);
        return {};
      },
    } as unknown as S3Client,
    requests: {
      get: async () => record,
      update: async (_id: string, set: Partial<RequestRecord>) => {
        updates.push(set);
        Object.assign(record, set);
      },
    } as unknown as RequestRepository,
    events: { append: async () => undefined },
    hasher: new LocalSubjectHasher(Buffer.alloc(32, 3)),
    stores: new ServiceStores(
      { metalive: { ACCOUNTS_TABLE: 'metalive-accounts' } },
      () => 'platform-accounts',
    ),
    stagingBucket: 'staging',
    connectorFunctions: {},
    holds: { putSubjectRefs: async () => undefined },
    // These tests name the subject by user id: the identifier index is never asked.
    identifierIndex: {
      userIdsOf: async () => {
        throw new Error('unexpected index lookup');
      },
    },
  };
  const subject = () => staged.get(stagingKeys.subject(REQ));
  return { deps, updates, subject, record, tables };
}

const account = (extra: Record<string, unknown> = {}) => ({ userId: 'u-1', email: 'a@example.jp', ...extra });

test("stages the request's service, the request's jurisdiction and the account's locale", async () => {
  const t = setup(account({ service: 'cluster', locale: 'ja-JP' }), {
    jurisdiction: 'JP',
    service: 'cluster',
  });
  const out = await resolveSubject(t.deps, { requestId: REQ });
  expect(t.subject()).toMatchObject({ found: true, service: 'cluster', jurisdiction: 'JP', locale: 'ja-JP' });
  expect(t.updates).toEqual([]);
  expect(out.stores).toEqual([]);
});

test('a request without a service is resolved in the deployment default service, and records it', async () => {
  const t = setup(account());
  await resolveSubject(t.deps, { requestId: REQ });
  expect(t.subject()).toMatchObject({ found: true, service: 'klub-outside' });
  expect(t.subject()).not.toHaveProperty('locale');
  expect(t.subject()).not.toHaveProperty('jurisdiction');
  expect(t.updates).toEqual([{ service: 'klub-outside' }]);
});

test("another service's account is not the subject: the request's service finds nobody", async () => {
  const t = setup(account({ service: 'cluster' }), { service: 'audiostock' });
  await resolveSubject(t.deps, { requestId: REQ });
  expect(t.subject()).toMatchObject({ found: false, service: 'audiostock' });
  // Nor does a request without a service find an account of a service other than the default.
  const unnamed = setup(account({ service: 'cluster' }));
  await resolveSubject(unnamed.deps, { requestId: REQ });
  expect(unnamed.subject()).toMatchObject({ found: false, service: 'klub-outside' });
});

test("a service with its own accounts table is looked up there, where an unmarked account is the service's", async () => {
  const t = setup(account(), { service: 'metalive' });
  await resolveSubject(t.deps, { requestId: REQ });
  expect(t.tables).toEqual(['metalive-accounts']);
  expect(t.subject()).toMatchObject({ found: true, service: 'metalive' });
});

test('only the stores the service keeps are listed for the connectors', async () => {
  const t = setup(account({ service: 'audiostock' }), { service: 'audiostock' });
  t.deps.connectorFunctions = {
    accounts: 'c-accounts',
    payments: 'c-payments',
    chat: 'c-chat',
    media: 'c-media',
    logs: 'c-logs',
    marketing: 'c-marketing',
  };
  const out = await resolveSubject(t.deps, { requestId: REQ });
  expect(out.stores.map((s) => s.store)).toEqual(['accounts', 'payments', 'logs']);
});

test('an erasure records the service at its first run; a resumed run, whose account is gone, stages it again', async () => {
  const t = setup(account({ service: 'audiostock' }), {
    type: 'erasure',
    jurisdiction: 'KR',
    service: 'audiostock',
  });
  await resolveSubject(t.deps, { requestId: REQ, mode: 'erasure' });
  expect(t.updates[0]).toMatchObject({ service: 'audiostock', accountHash: expect.any(String) });
  expect(t.subject()).toMatchObject({ found: true, service: 'audiostock', jurisdiction: 'KR' });

  const resumed = setup(undefined, { ...t.record });
  await resolveSubject(resumed.deps, { requestId: REQ, mode: 'erasure' });
  expect(resumed.subject()).toMatchObject({ found: true, service: 'audiostock', jurisdiction: 'KR' });
  expect(resumed.updates).toEqual([]);
});
