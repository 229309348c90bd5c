/**
 * The OpenAPI document is the contract: calls generated from it (every operation, valid and broken in
 * one way each, every role, missing, expired, foreign and garbage tokens, deep OpenDSR extensions) run
 * against the API harness over DynamoDB Local and the local S3, and every answer must be one the
 * document declares for its operation: no 5xx, a declared status and content type, a body its schema
 * accepts. `npm run fuzz` runs the same, longer.
 */
import fc from 'fast-check';
import { ContractChecker, anyCall, callOf, nested, operationsOf } from '../support/api-contract';
import { startContractTarget, type ContractTarget } from '../support/api-contract-harness';

let target: ContractTarget;
let checker: ContractChecker;

beforeAll(async () => {
  target = await startContractTarget();
  checker = new ContractChecker(target.document);
}, 120_000);

afterAll(async () => {
  await target?.stop();
});

// First: the generated calls below may revoke the download link or cancel the fixtures' requests.
test('each operation is reached with a valid call by an allowed role', async () => {
  // Not only refusals: valid calls pass every input check, and reach the handler's own verdict (a
  // success, or one on the record's state: an extension the law does not allow, a link used up).
  for (const operation of operationsOf(target.document)) {
    const valid = callOf(target.document, operation, target.fixtures).filter(
      (call) =>
        call.variant === 'valid' && (operation.doc['x-roles'] === 'public' || call.caller.kind === 'role'),
    );
    const statuses = new Set<number>();
    for (const call of fc.sample(valid, { numRuns: 25, seed: 42 })) {
      const answer = await target.send(call);
      expect(checker.check(call, answer)).toEqual([]);
      statuses.add(answer.status);
    }
    const reached = [...statuses].some((s) => s < 400 || [409, 410, 429].includes(s));
    expect({ op: operation.doc.operationId, reached }).toEqual({
      op: operation.doc.operationId,
      reached: true,
    });
  }
}, 120_000);

test('every answer to 400 generated calls is one the document declares', async () => {
  await fc.assert(
    fc.asyncProperty(anyCall(target.document, target.fixtures), async (call) => {
      const answer = await target.send(call);
      expect({ call, findings: checker.check(call, answer) }).toEqual({ call, findings: [] });
    }),
    { numRuns: 400 },
  );
}, 120_000);

test('OpenDSR extensions nested 10,000 levels deep get a declared 4xx in the OpenDSR shape', async () => {
  const create = operationsOf(target.document).find((op) => op.doc.operationId === 'openDsrCreate')!;
  const body = {
    subject_request_id: '6f0a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b',
    subject_request_type: 'access',
    submitted_time: new Date().toISOString(),
    subject_identities: [
      { identity_type: 'email', identity_value: 'u-de@example.com', identity_format: 'raw' },
    ],
    extensions: '@@',
  };
  const call = {
    operationId: create.doc.operationId,
    method: create.method,
    path: create.path,
    query: [],
    headers: { 'content-type': 'application/json' },
    caller: { kind: 'role', role: 'support' } as const,
    body: JSON.stringify(body).replace('"@@"', `{"a":${nested(10_000)}}`),
    variant: 'nested-10000',
  };
  const answer = await target.send(call);
  expect(checker.check(call, answer)).toEqual([]);
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.status).toBeLessThan(500);
  expect(JSON.parse(answer.text)).toHaveProperty('error.code', answer.status);
});

test('a cursor of the other listing, or one missing key attributes, is 400 INVALID_CURSOR', async () => {
  const h = target.harness;
  const audit = await h.call('GET', '/v1/audit?limit=1', { role: 'auditor' });
  const requests = await h.call('GET', '/v1/requests?limit=1');
  const auditCursor = String(audit.body.nextCursor);
  const requestsCursor = String(requests.body.nextCursor);
  const incomplete = (cursor: string) => {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      k: Record<string, string>;
    };
    delete parsed.k.sk;
    return Buffer.from(JSON.stringify(parsed)).toString('base64url');
  };
  for (const [path, role] of [
    [`/v1/requests?cursor=${auditCursor}`, 'support'],
    [`/v1/audit?cursor=${requestsCursor}`, 'auditor'],
    [`/v1/requests?cursor=${incomplete(requestsCursor)}`, 'support'],
    [`/v1/audit?cursor=${incomplete(auditCursor)}`, 'auditor'],
  ] as const) {
    const res = await h.call('GET', path, { role });
    expect({ path, status: res.status, code: res.body.code }).toEqual({
      path,
      status: 400,
      code: 'INVALID_CURSOR',
    });
  }
  // The cursors themselves continue their own listing.
  expect((await h.call('GET', `/v1/requests?cursor=${requestsCursor}`)).status).toBe(200);
  expect((await h.call('GET', `/v1/audit?cursor=${auditCursor}`, { role: 'auditor' })).status).toBe(200);
});
