/**
 * ResolveSubject stages the subject's service (the request's, else the account's, else the deployment's
 * default), the request's jurisdiction and the account's locale, and records the service on the request
 * when it had none, so that later steps (and a resumed erasure, whose account is gone) know whose
 * controller speaks.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { resolveSubject, type ResolveDeps } from '../../functions/resolve-subject/core';
import type { StagedSubject } from '../../functions/lib/connectors/contract';
import type { RequestRecord } from '../../functions/lib/requests/records';
import type { RequestRepository } from '../../functions/lib/requests/requests';
import { LocalSubjectHasher } from '../../functions/lib/crypto/subject-hash';
import { stagingKeys } from '../../functions/lib/aws/s3-objects';
import { ContractError } from '../../functions/lib/runtime/errors';

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
  const deps: ResolveDeps = {
    doc: {
      send: async (command: unknown) => {
        if (command instanceof GetCommand) return { Item: account };
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
    accountsTable: 'platform-accounts',
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
  return { deps, updates, subject, record };
}

const account = (extra: Record<string, unknown> = {}) => ({ userId: 'u-1', email: 'a@example.jp', ...extra });

test("stages the account's service, the request's jurisdiction and the account's locale, and records the service", async () => {
  const t = setup(account({ service: 'cluster', locale: 'ja-JP' }), { jurisdiction: 'JP' });
  await resolveSubject(t.deps, { requestId: REQ });
  expect(t.subject()).toMatchObject({ found: true, service: 'cluster', jurisdiction: 'JP', locale: 'ja-JP' });
  expect(t.updates).toEqual([{ service: 'cluster' }]);
});

test('an account without a service belongs to the deployment default service', async () => {
  const t = setup(account());
  await resolveSubject(t.deps, { requestId: REQ });
  expect(t.subject()?.service).toBe('klub-outside');
  expect(t.subject()).not.toHaveProperty('locale');
  expect(t.subject()).not.toHaveProperty('jurisdiction');
  expect(t.updates).toEqual([{ service: 'klub-outside' }]);
});

test("the request's own service wins, and is not written again", async () => {
  const t = setup(account({ service: 'metalive' }), { service: 'metalive' });
  await resolveSubject(t.deps, { requestId: REQ });
  expect(t.subject()?.service).toBe('metalive');
  expect(t.updates).toEqual([]);
});

test('an account naming a service the deployment does not serve is refused', async () => {
  const t = setup(account({ service: 'myspace' }));
  await expect(resolveSubject(t.deps, { requestId: REQ })).rejects.toBeInstanceOf(ContractError);
  expect(t.subject()).toBeUndefined();
});

test('an erasure records the service at its first run; a resumed run, whose account is gone, stages it again', async () => {
  const t = setup(account({ service: 'audiostock' }), { type: 'erasure', jurisdiction: 'KR' });
  await resolveSubject(t.deps, { requestId: REQ, mode: 'erasure' });
  expect(t.updates[0]).toMatchObject({ service: 'audiostock', accountHash: expect.any(String) });
  expect(t.subject()).toMatchObject({ service: 'audiostock', jurisdiction: 'KR' });

  const resumed = setup(undefined, { ...t.record });
  await resolveSubject(resumed.deps, { requestId: REQ, mode: 'erasure' });
  expect(resumed.subject()).toMatchObject({ found: true, service: 'audiostock', jurisdiction: 'KR' });
  expect(resumed.updates).toEqual([]);
});
