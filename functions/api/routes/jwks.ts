/** GET /.well-known/jwks.json: public keys that verify archives and certificates, old ones included. */
import { defineRoute, type Route } from '../router';

export const jwksRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/.well-known/jwks.json',
    operationId: 'getJwks',
    summary: 'Public keys (ES256) that verify archives, certificates and callbacks',
    access: 'public',
    responseType: 'application/jwk-set+json',
    responses: { '200': 'JWKS' },
    handler: async (deps) => ({
      statusCode: 200,
      headers: { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300' },
      body: JSON.stringify(await deps.jwks()),
    }),
  }),
];
