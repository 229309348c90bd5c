/** The OpenAPI document is valid 3.1 in structure, lists every route, and embeds the validators' schemas. */
import Ajv2020 from 'ajv/dist/2020';
import { ROUTES } from '../../functions/api/core';
import { buildOpenApi } from '../../functions/api/openapi';
import {
  createRequestSchema,
  extendRequestSchema,
  openDsrCreateSchema,
  REQUEST_SCHEMAS,
} from '../../functions/api/schemas';

const doc = buildOpenApi(ROUTES) as {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<
    string,
    Record<
      string,
      {
        operationId?: string;
        responses: Record<string, unknown>;
        requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
};

test('3.1 structure: version, info, paths with operations and responses', () => {
  expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
  expect(doc.info.title).toBeTruthy();
  expect(doc.info.version).toBeTruthy();
  const ids = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    expect(path.startsWith('/')).toBe(true);
    for (const [method, op] of Object.entries(item)) {
      expect(['get', 'post', 'put', 'patch', 'delete']).toContain(method);
      expect(Object.keys(op.responses).length).toBeGreaterThan(0);
      for (const status of Object.keys(op.responses)) expect(status).toMatch(/^[1-5]\d\d$/);
      expect(op.operationId).toBeTruthy();
      expect(ids.has(op.operationId!)).toBe(false);
      ids.add(op.operationId!);
      // Path parameters are declared for every {template} segment.
      const params = ((op as { parameters?: { name: string; in: string }[] }).parameters ?? []).filter(
        (p) => p.in === 'path',
      );
      expect(params.map((p) => p.name).sort()).toEqual(
        [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort(),
      );
    }
  }
  // Every component schema compiles as JSON Schema 2020-12 (the dialect OpenAPI 3.1 uses).
  const ajv = new Ajv2020({ strict: false });
  for (const schema of Object.values(doc.components.schemas))
    expect(() => ajv.compile(schema as object)).not.toThrow();
});

test('every route the router serves appears, with its method', () => {
  for (const route of ROUTES.filter((r) => r.path)) {
    expect({
      route: `${route.method} ${route.path}`,
      present: Boolean(doc.paths[route.path!]?.[route.method.toLowerCase()]),
    }).toEqual({
      route: `${route.method} ${route.path}`,
      present: true,
    });
  }
});

test("every request body schema is the validator's own schema object", () => {
  expect(doc.components.schemas.CreateRequest).toBe(createRequestSchema);
  expect(doc.components.schemas.ExtendRequest).toBe(extendRequestSchema);
  expect(doc.components.schemas.OpenDsrCreateRequest).toBe(openDsrCreateSchema);
  for (const route of ROUTES.filter((r) => r.requestSchema)) {
    const op = doc.paths[route.path!]?.[route.method.toLowerCase()];
    const ref = op?.requestBody?.content['application/json']?.schema.$ref ?? '';
    const name = ref.replace('#/components/schemas/', '');
    expect(REQUEST_SCHEMAS[name as keyof typeof REQUEST_SCHEMAS]).toBe(route.requestSchema);
  }
});

test('every success answered as JSON declares its exact body schema (a closed component)', () => {
  const missing: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) >= 400) continue;
        const content = (response as { content?: Record<string, { schema?: { $ref?: string } }> }).content;
        for (const [media, entry] of Object.entries(content ?? {})) {
          if (!/[/+]json$/.test(media)) continue;
          const name = (entry.schema?.$ref ?? '').replace('#/components/schemas/', '');
          if (!name || !doc.components.schemas[name]) missing.push(`${method} ${path} ${status} ${media}`);
        }
      }
    }
  }
  expect(missing).toEqual([]);
});
