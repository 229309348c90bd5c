/**
 * The one place request input is checked against the route's schemas: path parameters, query
 * parameters and the JSON body. Each refusal has a stable code and names the field or parameter, never
 * its value.
 */
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { ApiError, parseJsonBody, type ApiEvent } from './http';
import { PATH_PARAMS, notFound, type PathParamName } from './path-params';
import type { Validated } from './schemas';

/** The shape of a route's query schema (see strictQuery in schemas.ts). */
export interface QuerySchema {
  readonly type: 'object';
  readonly properties: Readonly<Record<string, { readonly type?: unknown; readonly description?: string }>>;
  readonly additionalProperties?: boolean;
}

// allErrors, so that an unknown field is reported as such even when its absence under the right name
// also breaks a `required` (a typo such as `subjct`). strictRequired off only because requester's
// if/then names a property declared beside it, not inside it.
const bodies = new Ajv({ allErrors: true, strict: true, strictRequired: false });
addFormats(bodies, ['date-time']);
// Query values arrive as strings: integers and booleans are converted, and defaults filled in.
const queries = new Ajv({ allErrors: true, strict: true, coerceTypes: true, useDefaults: true });
addFormats(queries, ['date', 'date-time']);

/** Compiles a route's schemas once, when the route is defined, so a bad schema fails at load. */
export function compileRouteSchemas(schemas: {
  query?: QuerySchema;
  body?: object;
  params: readonly PathParamName[];
}): void {
  if (schemas.query) queries.compile(schemas.query);
  if (schemas.body) bodies.compile(schemas.body);
  for (const name of schemas.params) bodies.compile(PATH_PARAMS[name].schema);
}

/** The error to report: an unknown field first (it is usually why the others happened), else the first. */
function primary(errors: ErrorObject[] | null | undefined): ErrorObject | undefined {
  return errors?.find((e) => e.keyword === 'additionalProperties') ?? errors?.[0];
}

const bounded = (name: unknown) => String(name).slice(0, 64);
const pointerSegment = (name: unknown) => bounded(name).replace(/~/g, '~0').replace(/\//g, '~1');

/** The field a schema error is about, as a dotted path (never its value). */
function fieldOf(error: ErrorObject | undefined): string {
  return error?.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : 'body';
}

/** Maps a body's schema error to a stable code and a message that names the field, never its value. */
function bodyError(error: ErrorObject | undefined): ApiError {
  const field = fieldOf(error);
  const at = (pointer: string) => ({ pointer });
  const here = at(error?.instancePath ?? '');
  switch (error?.keyword) {
    case 'required': {
      const missing = String(error.params.missingProperty);
      const pointer = at(`${error.instancePath}/${pointerSegment(missing)}`);
      if (missing === 'subject') {
        return new ApiError(400, 'MISSING_IDENTIFIER', 'The subject needs exactly one identifier', pointer);
      }
      if (missing === 'evidenceRef') {
        return new ApiError(
          400,
          'MISSING_EVIDENCE',
          'An agent or guardian needs requester.evidenceRef',
          pointer,
        );
      }
      return new ApiError(400, 'MISSING_FIELD', `Missing field: ${bounded(missing)}`, pointer);
    }
    case 'additionalProperties': {
      const name = error.params.additionalProperty;
      return new ApiError(
        400,
        'UNKNOWN_FIELD',
        `Unknown field in ${field}: ${bounded(name)}`,
        at(`${error.instancePath}/${pointerSegment(name)}`),
      );
    }
    case 'enum':
      if (field === 'type')
        return new ApiError(400, 'UNKNOWN_TYPE', 'type must be one of: export, erasure, restriction', here);
      if (field.startsWith('stores'))
        return new ApiError(400, 'UNKNOWN_STORE', `${field} is not a store`, here);
      if (field.startsWith('categories')) {
        return new ApiError(400, 'UNKNOWN_CATEGORY', `${field} is not a data category`, here);
      }
      return new ApiError(400, 'INVALID_FIELD', `Invalid value for ${field}`, here);
    case 'minProperties':
    case 'maxProperties':
      if (field === 'subject')
        return new ApiError(400, 'MISSING_IDENTIFIER', 'The subject needs exactly one identifier', here);
      return new ApiError(400, 'INVALID_FIELD', `Invalid value for ${field}`, here);
    case 'maxLength':
    case 'maxItems':
      return new ApiError(400, 'FIELD_TOO_LONG', `${field} is too long`, here);
    default:
      return new ApiError(400, 'INVALID_FIELD', `Invalid value for ${field}`, here);
  }
}

/** Checks a parsed body against `schema`: a JSON object that the schema accepts. */
function validBody(schema: object, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError(400, 'INVALID_BODY', 'The body must be a JSON object');
  }
  const validate = bodies.compile(schema);
  if (!validate(value)) throw bodyError(primary(validate.errors));
  return value;
}

/** Checks a parsed body against `schema` and gives it the type the schema derives. */
export function checkBodyValue<S extends object>(schema: S, value: unknown): Validated<S> {
  return validBody(schema, value) as Validated<S>;
}

/** Parses and checks the request's JSON body; an optional body that is absent counts as `{}`. */
export function checkBody(schema: object, event: ApiEvent, optional = false): unknown {
  return validBody(schema, optional && !event.body ? {} : parseJsonBody(event));
}

function queryError(schema: QuerySchema, error: ErrorObject | undefined): ApiError {
  if (error?.keyword === 'additionalProperties') {
    const name = bounded(error.params.additionalProperty);
    return new ApiError(400, 'UNKNOWN_PARAMETER', `Unknown query parameter: ${name}`, { parameter: name });
  }
  const name =
    error?.keyword === 'required'
      ? String(error.params.missingProperty)
      : (error?.instancePath.split('/')[1] ?? '');
  const expected = schema.properties[name]?.description;
  return new ApiError(
    400,
    'INVALID_PARAMETER',
    `Invalid query parameter ${bounded(name)}${expected ? `: ${expected}` : ''}`,
    { parameter: bounded(name) },
  );
}

/**
 * Checks the query against the route's schema and returns the parameters converted to their types
 * (array parameters split on commas, defaults filled in).
 */
export function checkQuery(schema: QuerySchema, event: ApiEvent): Record<string, unknown> {
  const values = Object.fromEntries(
    Object.entries(event.queryStringParameters ?? {})
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([name, value]) => [
        name,
        schema.properties[name]?.type === 'array' ? value.split(',').map((v) => v.trim()) : value,
      ]),
  );
  const validate = queries.compile(schema);
  if (!validate(values)) throw queryError(schema, primary(validate.errors));
  return values;
}

/** Checks each path parameter against its schema: a value outside it names nothing, so 404. */
export function checkPathParams(
  names: readonly PathParamName[],
  values: Readonly<Record<string, string>>,
): Record<string, string> {
  for (const name of names) {
    if (!bodies.compile(PATH_PARAMS[name].schema)(values[name])) throw notFound(name);
  }
  return { ...values };
}
