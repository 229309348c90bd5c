/** docs/api.md says what the code serves: its route table is exactly the router's, roles included. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROUTES } from '../../functions/api/core';
import { answerFor } from '../../functions/api/error-mapping';
import * as typedErrors from '../../functions/lib/runtime/errors';

const doc = readFileSync(join(__dirname, '../../docs/api.md'), 'utf8');

/** `METHOD path -> roles` of each row of the "Routes and roles" table. */
function documentedRoutes(): string[] {
  const section = doc.split(/^## /m).find((s) => s.startsWith('Routes and roles')) ?? '';
  return [...section.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) +\| (\S+) +\| ([^|]+?) +\|/gm)].map(
    ([, method, path, roles]) => `${method} ${path} -> ${roles}`,
  );
}

test('the route table in docs/api.md is the router table: every route, its roles, nothing else', () => {
  const served = ROUTES.map(
    (r) => `${r.method} ${r.path} -> ${r.access === 'public' ? 'public' : r.access.join(', ')}`,
  );
  expect(documentedRoutes().sort()).toEqual(served.sort());
});

test('the answer of every typed error is documented with its status and code', () => {
  const typed = [
    new typedErrors.TransientError('x'),
    new typedErrors.NotFoundError('x'),
    new typedErrors.SubjectConflictError(),
    new typedErrors.ConnectorError('chat', 'x'),
    new typedErrors.ContractError('x'),
  ];
  for (const error of typed) {
    const { status, code } = answerFor(error);
    expect({ error: error.name, documented: doc.includes(`${status} ${code}`) }).toEqual({
      error: error.name,
      documented: true,
    });
  }
});
