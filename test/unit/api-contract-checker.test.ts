/** The contract checker holds success bodies to their declared schemas, closed where the document closes them. */
import { ROUTES } from '../../functions/api/core';
import { buildOpenApi } from '../../functions/api/openapi';
import { ContractChecker, type GeneratedCall, type OpenApiDocument } from '../support/api-contract';

const document = buildOpenApi(ROUTES) as unknown as OpenApiDocument;
const call: GeneratedCall = {
  operationId: 'getRequest',
  method: 'GET',
  path: '/v1/requests/req_0123456789abcdef0123456789abcdef',
  query: [],
  headers: {},
  caller: { kind: 'role', role: 'support' },
  variant: 'valid',
};
const view = {
  requestId: 'req_0123456789abcdef0123456789abcdef',
  type: 'export',
  status: 'completed',
  createdAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:01:00.000Z',
  subjectHash: 'h'.repeat(43),
  service: 'klub-outside',
  download: {
    status: 'active',
    expiresAt: '2026-11-08T00:00:00.000Z',
    maxDownloads: 5,
    downloadsRemaining: 5,
  },
};
const answer = (body: unknown) => ({
  status: 200,
  contentType: 'application/json',
  text: JSON.stringify(body),
});

test('a request view as the server builds it passes', () => {
  expect(new ContractChecker(document).check(call, answer(view))).toEqual([]);
});

test('a property the closed schema does not name fails, and is named', () => {
  const findings = new ContractChecker(document).check(call, answer({ ...view, subject: 'a@example.com' }));
  expect(findings).toEqual([expect.objectContaining({ kind: 'body-mismatch', status: 200 })]);
  expect(findings[0]?.detail).toContain("'subject'");
  // Nested objects are closed too.
  const nested = { ...view, download: { ...view.download, token: 'secret' } };
  expect(new ContractChecker(document).check(call, answer(nested))[0]?.detail).toContain("'token'");
});

test('a JSON success declared without a schema is a finding of its own', () => {
  const open = structuredClone(document);
  const operation = open.paths['/v1/requests/{requestId}']?.get;
  if (!operation) throw new Error('getRequest is missing');
  operation.responses['200'] = { description: 'OK', content: { 'application/json': { schema: {} } } };
  expect(new ContractChecker(open).check(call, answer(view))).toEqual([
    expect.objectContaining({ kind: 'undeclared-body-schema' }),
  ]);
});
