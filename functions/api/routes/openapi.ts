/** GET /v1/openapi.json: the OpenAPI 3.1 document, built from the route table it describes. */
import { buildOpenApi } from '../openapi';
import { defineRoute, type Route } from '../router';

/** `routes` is read when first served, so the document lists every route core.ts registers. */
export function openApiRoutes(routes: () => readonly Route[]): Route[] {
  let cached: string | undefined;
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/openapi.json',
      operationId: 'getOpenApi',
      summary: 'This document',
      access: 'public',
      responses: { '200': 'OpenAPI 3.1' },
      handler: async () => {
        cached ??= JSON.stringify(buildOpenApi(routes()));
        return {
          statusCode: 200,
          headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
          body: cached,
        };
      },
    }),
  ];
}
