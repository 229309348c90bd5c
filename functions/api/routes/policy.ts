/** GET /v1/policy, the erasure policy in force (any role): its version, hash and content. */
import { loadDefaultPolicy, policyView } from '../../lib/erasure/policy';
import { ROLES } from '../auth';
import { json } from '../http';
import { defineRoute, type Route } from '../router';

export const policyRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/v1/policy',
    operationId: 'getPolicy',
    summary: 'The erasure policy in force: version, hash (sha256 of its canonical JSON) and the document',
    access: ROLES,
    responses: { '200': '{version, hash, policy}' },
    handler: async () => json(200, policyView(loadDefaultPolicy())),
  }),
];
