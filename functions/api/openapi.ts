/**
 * The OpenAPI 3.1 document, generated from the route table and the very schema objects the router
 * validates with (path parameters, query, body): a route, a parameter or a field cannot exist in one
 * and not the other.
 */
import { PATH_PARAMS } from './path-params';
import type { Route } from './router';
import { REQUEST_SCHEMAS, idempotencyKeySchema } from './schemas';
import { RESPONSE_COMPONENTS, RESPONSE_SCHEMAS } from './response-schemas';
import { serviceScope } from './auth';
import { serviceIds } from '../lib/services/profiles';

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'code', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: {
      type: 'string',
      description:
        "Stable: switch on this (docs/api.md lists them). Services: 400 SERVICE_REQUIRED (bound to several, none named), 403 SERVICE_NOT_ALLOWED (not bound to the one named), 403 NO_SERVICE (bound to none served here); another service's resource is a plain 404.",
    },
    detail: { type: 'string' },
    pointer: { type: 'string', description: 'Body refusals: the JSON pointer of the field' },
    parameter: { type: 'string', description: 'Query refusals: the parameter' },
    requestStatus: { type: 'string', description: "409 on a request: the request's status" },
  },
} as const;

/** A compact JWS: three base64url parts. */
const JWS_PATTERN = '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*$';

const openDsrErrorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'integer' },
        message: { type: 'string' },
        errors: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              domain: { type: 'string' },
              reason: { type: 'string' },
              message: { type: 'string' },
            },
          },
        },
      },
    },
  },
} as const;

/** What a body of `media` is, for a status of `route`. */
function schemaOf(route: Route, status: number, media: string): Record<string, unknown> {
  if (media === 'application/problem+json') return { $ref: '#/components/schemas/Problem' };
  if (status >= 400 && route.dialect === 'opendsr') return { $ref: '#/components/schemas/OpenDsrError' };
  if (media === 'application/jose') return { type: 'string', pattern: JWS_PATTERN };
  if (media.startsWith('text/')) return { type: 'string' };
  const success = RESPONSE_SCHEMAS[route.operationId]?.[String(status)];
  if (success && /[/+]json$/.test(media)) return { $ref: `#/components/schemas/${success}` };
  return {};
}

/** A status's content: the media types given, else the route's own (errors: its dialect's shape). */
function contentOf(route: Route, status: number, media?: readonly string[]): Record<string, unknown> {
  const errorMedia = route.dialect === 'opendsr' ? 'application/json' : 'application/problem+json';
  const types = media ?? [status >= 400 ? errorMedia : (route.responseType ?? 'application/json')];
  return Object.fromEntries(types.map((type) => [type, { schema: schemaOf(route, status, type) }]));
}

/**
 * What any route of its kind may answer besides its own statuses: the gateway's refusals (body too
 * large, throttling, and the token on protected routes), input refused by the route's schemas, a body
 * that is not JSON, and the server's own failures.
 */
function standardErrors(route: Route): Record<string, string> {
  return {
    '400': 'Invalid input',
    '404': 'Not found',
    '413': 'Body too large',
    ...(route.requestSchema ? { '415': 'The body is not application/json' } : {}),
    '429': 'Too many requests',
    '500': 'Internal error (no details)',
    '503': 'A store is briefly unavailable: retry after Retry-After seconds',
    ...(route.access === 'public'
      ? {}
      : {
          '401': 'Missing, expired or wrong-audience token',
          '403': 'The token lacks the role (FORBIDDEN), or is bound to no service served here (NO_SERVICE)',
        }),
  };
}

function schemaName(schema: Record<string, unknown>): string | undefined {
  return Object.entries(REQUEST_SCHEMAS).find(([, s]) => s === schema)?.[0];
}

export function buildOpenApi(routes: readonly Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const method = route.method.toLowerCase();
    const pathParams = route.params.map((name) => {
      const { description, ...schema } = PATH_PARAMS[name].schema;
      return { name, in: 'path', required: true, description, schema };
    });
    const queryParams = Object.entries(route.query?.properties ?? {}).map(([name, property]) => {
      const { description, ...schema } = property;
      // An array parameter is comma-separated: ?status=received,failed
      const style = schema.type === 'array' ? { style: 'form', explode: false } : {};
      return { name, in: 'query', required: false, description, ...style, schema };
    });
    const responses: Record<string, unknown> = {};
    for (const [status, doc] of Object.entries(route.responses ?? { '200': 'OK' })) {
      const { description, content } =
        typeof doc === 'string' ? { description: doc, content: undefined } : doc;
      responses[status] = { description, content: contentOf(route, Number(status), content) };
    }
    for (const [status, description] of Object.entries(standardErrors(route))) {
      responses[status] ??= { description, content: contentOf(route, Number(status)) };
    }
    const operation: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
      parameters: [
        ...pathParams,
        ...queryParams,
        ...(route.method === 'POST' && route.requestSchema === REQUEST_SCHEMAS.CreateRequest
          ? [{ name: 'Idempotency-Key', in: 'header', required: false, schema: idempotencyKeySchema }]
          : []),
      ],
      responses,
      security: route.access === 'public' ? [] : [{ jwt: route.access.map((r) => `dsr/${r}`) }],
      'x-roles': route.access === 'public' ? 'public' : [...route.access],
    };
    if (route.requestSchema) {
      const name = schemaName(route.requestSchema);
      operation.requestBody = {
        required: !route.optionalBody,
        content: {
          'application/json': {
            schema: name ? { $ref: `#/components/schemas/${name}` } : route.requestSchema,
          },
        },
      };
    }
    paths[route.path] = { ...(paths[route.path] ?? {}), [method]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'DSR orchestrator API',
      version: '1.0.0',
      description:
        'Export, erasure and restriction requests for support systems (an export may be transmitted to another controller), and the OpenDSR dialect. See docs/api.md and docs/rights.md.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas: {
        ...REQUEST_SCHEMAS,
        ...RESPONSE_COMPONENTS,
        Problem: problemSchema,
        OpenDsrError: openDsrErrorSchema,
      },
      securitySchemes: {
        jwt: {
          type: 'oauth2',
          description:
            "JWT (Cognito client credentials); a role scope (dsr/support, dsr/legal, dsr/auditor) and one dsr/service:<id> scope per service the client is bound to: it sees and acts only on those services' requests, holds, certificates and audit entries (others are 404)",
          flows: {
            clientCredentials: {
              tokenUrl: 'https://auth.example/oauth2/token',
              scopes: {
                'dsr/support': 'Support systems',
                'dsr/legal': 'Legal staff',
                'dsr/auditor': 'Auditors',
                ...Object.fromEntries(
                  serviceIds().map((id) => [serviceScope(id), `Bound to the service ${id}`]),
                ),
              },
            },
          },
        },
      },
    },
  };
}
