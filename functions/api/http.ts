/** HTTP plumbing shared by every route: the problem+json error shape and JSON responses. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export type ApiEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2['requestContext'] & {
    authorizer?: {
      jwt?: { claims?: Record<string, string | number | boolean | string[]>; scopes?: string[] | null };
    };
  };
};
export type ApiResult = APIGatewayProxyStructuredResultV2;

/**
 * An error the API answers with: a stable `code` callers can switch on, a detail without internals,
 * optional extra body fields (never overriding the problem fields) and response headers.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** RFC 9457 problem+json; `status` is always the HTTP status (extra fields cannot replace it). */
export function problem(error: ApiError): ApiResult {
  return {
    statusCode: error.status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...error.headers },
    body: JSON.stringify({
      ...error.extra,
      type: `https://dsr.example/problems/${error.code.toLowerCase().replace(/_/g, '-')}`,
      title: TITLES[error.status] ?? 'Error',
      status: error.status,
      code: error.code,
      detail: error.detail,
    }),
  };
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** Parses a JSON body, refusing anything that is not a JSON object. */
export function parseJsonBody(event: ApiEvent): unknown {
  const contentType = headerOf(event, 'content-type') ?? '';
  if (!/^application\/(?:[a-z0-9.+-]*\+)?json\b/i.test(contentType)) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json');
  }
  const raw = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, 'base64').toString('utf8')
      : event.body
    : '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw) as unknown;
  } catch {
    throw new ApiError(400, 'MALFORMED_JSON', 'The body is not valid JSON');
  }
  if (nestingDepth(raw) > MAX_BODY_DEPTH) {
    throw new ApiError(400, 'BODY_TOO_DEEP', `The body nests deeper than ${MAX_BODY_DEPTH} levels`);
  }
  return parsed;
}

/** No schema of ours goes near this; past it, code that walks a body recursively could run out of stack. */
const MAX_BODY_DEPTH = 32;

/** The deepest nesting of arrays and objects in valid JSON text, in one pass (strings skipped). */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** OpenDSR's error shape (specification 7.6): `{"error":{"code","message","errors":[...]}}`. */
export function openDsrProblem(error: ApiError): ApiResult {
  return {
    statusCode: error.status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...error.headers },
    body: JSON.stringify({
      error: {
        code: error.status,
        message: error.detail,
        errors: [
          {
            domain: error.status < 500 ? 'Validation' : 'Processing',
            reason: error.code,
            message: error.detail,
          },
        ],
      },
    }),
  };
}

/** A request header, case-insensitively (API Gateway lower-cases them; tests may not). */
export function headerOf(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}
