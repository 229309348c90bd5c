/**
 * The API's contract, read from its own OpenAPI document: requests generated from each operation's
 * parameters, body schema and security (valid ones, and ones broken in one way each), and a check of
 * every answer against what the document declares for the operation: no 5xx, a declared status, a
 * declared content type, a body its schema accepts. The contract test (test/integration/api-contract)
 * and `npm run fuzz` (scripts/fuzz-api.ts) both drive it against the API harness.
 */
import fc from 'fast-check';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

export type Schema = Record<string, unknown>;

export interface ParameterDoc {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  style?: string;
  explode?: boolean;
  schema: Schema;
}

export interface ResponseDoc {
  description: string;
  content?: Record<string, { schema?: Schema }>;
}

export interface OperationDoc {
  operationId: string;
  parameters?: ParameterDoc[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, ResponseDoc>;
  'x-roles': string[] | 'public';
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OperationDoc>>;
  components: { schemas: Record<string, Schema> };
}

export interface Operation {
  method: string;
  path: string;
  doc: OperationDoc;
}

export function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, doc]) => ({ method: method.toUpperCase(), path, doc })),
  );
}

/** Who calls: a role's valid token, or a token broken in one way, or none. */
export type Caller =
  | { kind: 'role'; role: string }
  | { kind: 'none' }
  | { kind: 'garbage' }
  | { kind: 'expired'; role: string }
  | { kind: 'foreign-key'; role: string }
  | { kind: 'wrong-audience'; role: string };

/** A generated call: what to send, and how it was made (for findings). */
export interface GeneratedCall {
  operationId: string;
  method: string;
  /** The path with its parameters filled in (URL-encoded). */
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  caller: Caller;
  body?: string;
  /** How the call departs from a valid one ('valid' when it does not). */
  variant: string;
}

/** Values the generator cannot invent: ids of records that exist, cursors the API issued. */
export interface Fixtures {
  /** Path parameter name -> values that name an existing record. */
  pathValues: Record<string, readonly string[]>;
  /** Query parameter name -> values worth sending as they are (cursors the API issued, known hashes). */
  queryValues: Record<string, readonly string[]>;
  /**
   * Body field name -> values that name something that exists (a subject's userId, an OpenDSR identity
   * and its type), sent as often as generated ones.
   */
  bodyValues: Record<string, readonly unknown[]>;
  /**
   * operationId -> whole bodies known to be valid, sent as often as generated ones: where the server ties
   * fields together (a field only for one request type), a generated body rarely passes every rule.
   */
  validBodies?: Record<string, readonly unknown[]>;
  roles: readonly string[];
}

// ---------------------------------------------------------------------------------------------------
// Values from schemas

function resolve(document: OpenApiDocument, schema: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  const name = ref.replace('#/components/schemas/', '');
  const target = document.components.schemas[name];
  if (!target) throw new Error(`Unresolved $ref ${ref}`);
  return resolve(document, target);
}

const LONG = 40;

/** A fast-check arbitrary of values `schema` accepts (or nearly: if/then and cross-field rules aside). */
export function valueOf(document: OpenApiDocument, raw: Schema, fixtures?: Fixtures): fc.Arbitrary<unknown> {
  const schema = resolve(document, raw);
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (branches) {
    const { anyOf: _a, oneOf: _o, ...rest } = schema;
    return fc.oneof(...branches.map((branch) => valueOf(document, { ...rest, ...branch }, fixtures)));
  }
  const min = (key: string, fallback: number) =>
    typeof schema[key] === 'number' ? (schema[key] as number) : fallback;
  switch (schema.type) {
    case 'string': {
      const minLength = min('minLength', 0);
      const maxLength = Math.min(min('maxLength', LONG), Math.max(LONG, minLength));
      const fits = (s: string) => s.length >= minLength && s.length <= min('maxLength', Infinity);
      if (schema.format === 'date-time')
        return fc
          .date({ min: new Date('2020-01-01'), max: new Date('2035-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString());
      if (schema.format === 'date')
        return fc
          .date({ min: new Date('2020-01-01'), max: new Date('2035-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString().slice(0, 10));
      if (typeof schema.pattern === 'string')
        return fc.stringMatching(new RegExp(schema.pattern)).filter(fits);
      return fc.string({ minLength, maxLength, unit: 'grapheme' });
    }
    case 'integer':
      return fc.integer({ min: min('minimum', -1000), max: min('maximum', 1_000_000) });
    case 'number':
      return fc.double({ min: min('minimum', -1000), max: min('maximum', 1_000_000), noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const items = valueOf(document, (schema.items as Schema | undefined) ?? {}, fixtures);
      const constraints = {
        minLength: min('minItems', 0),
        maxLength: Math.min(min('maxItems', 4), Math.max(4, min('minItems', 0))),
      };
      return schema.uniqueItems
        ? fc.uniqueArray(items, { ...constraints, selector: (v) => JSON.stringify(v) })
        : fc.array(items, constraints);
    }
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const names = Object.keys(properties);
      const required = (schema.required ?? []) as string[];
      const values = Object.fromEntries(
        names.map((name) => [
          name,
          fixtures?.bodyValues[name]?.length
            ? fc.oneof(
                fc.constantFrom(...fixtures.bodyValues[name]),
                valueOf(document, properties[name]!, fixtures),
              )
            : valueOf(document, properties[name]!, fixtures),
        ]),
      );
      // Exactly one property (a subject's identifiers): one of them.
      if (schema.maxProperties === 1 && required.length === 0 && names.length > 0)
        return fc.oneof(...names.map((name) => values[name]!.map((value) => ({ [name]: value }))));
      const extra =
        typeof schema.additionalProperties === 'object'
          ? fc.dictionary(
              fc.string({ minLength: 1, maxLength: 8 }),
              valueOf(document, schema.additionalProperties as Schema, fixtures),
              { maxKeys: Math.min(min('maxProperties', 3), 3) },
            )
          : fc.constant({});
      return fc
        .tuple(fc.record(values, { requiredKeys: required }), extra)
        .map(([known, more]) => ({ ...more, ...known }));
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A value `schema` refuses, as far as a simple reading of it can tell. */
function refusedBy(schema: Schema): fc.Arbitrary<unknown> {
  const options: fc.Arbitrary<unknown>[] = [fc.constant(null), fc.constant([]), fc.constant({ x: 1 })];
  if (schema.type !== 'string') options.push(fc.string({ maxLength: 8 }));
  else {
    options.push(fc.integer());
    if (typeof schema.maxLength === 'number') options.push(fc.constant('x'.repeat(schema.maxLength + 1)));
    if (Array.isArray(schema.enum) || typeof schema.pattern === 'string')
      options.push(fc.constantFrom('not-a-value', ' ', '\u0000', '../..'));
  }
  if (schema.type === 'integer') options.push(fc.constantFrom(0, -1, 1.5, 10 ** 12));
  return fc.oneof(...options);
}

// ---------------------------------------------------------------------------------------------------
// Calls from operations

const JSON_MEDIA = 'application/json';

/** A JSON value nested `depth` levels deep: `{"":{"":...}}` (5 bytes a level). */
export function nested(depth: number): string {
  return `${'{"":'.repeat(depth)}{}${'}'.repeat(depth)}`;
}

/** The body variants of an operation: valid, broken in one way, or not JSON at all. */
function bodyOf(
  document: OpenApiDocument,
  op: OperationDoc,
  fixtures: Fixtures,
): fc.Arbitrary<{ body?: string; contentType?: string; variant: string }> {
  const schema = op.requestBody?.content[JSON_MEDIA]?.schema;
  if (!schema) {
    return fc.oneof(
      { weight: 6, arbitrary: fc.constant({ variant: 'valid' }) },
      {
        weight: 1,
        arbitrary: fc.constant({
          body: '{"unexpected":true}',
          contentType: JSON_MEDIA,
          variant: 'unexpected-body',
        }),
      },
    );
  }
  const resolved = resolve(document, schema);
  const properties = (resolved.properties ?? {}) as Record<string, Schema>;
  const names = Object.keys(properties);
  const generated = valueOf(document, schema, fixtures) as fc.Arbitrary<Record<string, unknown>>;
  const known = (op.operationId ? fixtures.validBodies?.[op.operationId] : undefined) ?? [];
  const valid =
    known.length > 0
      ? fc.oneof(generated, fc.constantFrom(...(known as Record<string, unknown>[])))
      : generated;
  const asJson = (variant: string) => (value: unknown) => ({
    body: JSON.stringify(value),
    contentType: JSON_MEDIA,
    variant,
  });
  const broken: fc.Arbitrary<{ body?: string; contentType?: string; variant: string }>[] = [
    valid
      .chain((value) =>
        names.length === 0
          ? fc.constant(value)
          : fc
              .constantFrom(...names)
              .chain((name) =>
                refusedBy(resolve(document, properties[name]!)).map((bad) => ({ ...value, [name]: bad })),
              ),
      )
      .map(asJson('field-refused')),
    valid
      .chain((value) =>
        fc.constantFrom(...Object.keys(value).concat('')).map((name) => {
          const copy = { ...value };
          delete copy[name];
          return copy;
        }),
      )
      .map(asJson('field-missing')),
    valid.map((value) => ({ ...value, unknownField: 1 })).map(asJson('unknown-field')),
    fc
      .constantFrom('[]', '"text"', '42', 'null', '{', '{"a":', '\u0000')
      .map((body) => ({ body, contentType: JSON_MEDIA, variant: 'not-an-object' })),
    valid.map((value) => ({
      body: JSON.stringify(value),
      contentType: 'text/plain',
      variant: 'wrong-content-type',
    })),
    valid.map((value) => ({ body: JSON.stringify(value), variant: 'no-content-type' })),
    fc.constant({ variant: 'no-body' }),
    fc.constant({
      body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }),
      contentType: JSON_MEDIA,
      variant: 'too-large',
    }),
  ];
  // Free-form objects (OpenDSR `extensions`): deep nesting, and many keys.
  const freeForm = names.filter(
    (name) => properties[name]?.type === 'object' && properties[name]?.additionalProperties !== false,
  );
  if (freeForm.length > 0) {
    broken.push(
      fc
        .tuple(valid, fc.constantFrom(...freeForm), fc.constantFrom(40, 1000, 10_000))
        .map(([value, name, depth]) => {
          const text = JSON.stringify({ ...value, [name]: '@@' });
          return {
            body: text.replace('"@@"', `{"a":${nested(depth)}}`),
            contentType: JSON_MEDIA,
            variant: `nested-${depth}`,
          };
        }),
    );
  }
  return fc.oneof(
    { weight: 4, arbitrary: valid.map(asJson('valid')) },
    { weight: 6, arbitrary: fc.oneof(...broken) },
  );
}

function callerOf(op: OperationDoc, fixtures: Fixtures): fc.Arbitrary<Caller> {
  const allowed = op['x-roles'] === 'public' ? [] : op['x-roles'];
  const role = fc.constantFrom(...fixtures.roles);
  const options: fc.WeightedArbitrary<Caller>[] = [
    { weight: 2, arbitrary: fc.constant({ kind: 'none' }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'garbage' }) },
    { weight: 1, arbitrary: role.map((r) => ({ kind: 'expired', role: r })) },
    { weight: 1, arbitrary: role.map((r) => ({ kind: 'foreign-key', role: r })) },
    { weight: 1, arbitrary: role.map((r) => ({ kind: 'wrong-audience', role: r })) },
    { weight: 3, arbitrary: role.map((r) => ({ kind: 'role', role: r })) },
  ];
  if (allowed.length > 0)
    options.push({
      weight: 12,
      arbitrary: fc.constantFrom(...allowed).map((r) => ({ kind: 'role', role: r })),
    });
  return fc.oneof(...options);
}

function pathValue(
  document: OpenApiDocument,
  param: ParameterDoc,
  fixtures: Fixtures,
): fc.Arbitrary<[string, string]> {
  const known = fixtures.pathValues[param.name] ?? [];
  const options: fc.WeightedArbitrary<[string, string]>[] = [
    {
      weight: 2,
      // Not empty: a path segment is never empty (an empty one is another path, of no operation).
      arbitrary: (valueOf(document, param.schema) as fc.Arbitrary<string>)
        .filter((v) => String(v).length > 0)
        .map((v) => [String(v), 'unknown-id']),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.string({ maxLength: 20 }), fc.constantFrom('%', 'a%2Fb', 'x'.repeat(600), '\u00e9', '%00'))
        .filter((v) => v.length > 0)
        .map((v) => [v, 'malformed-id']),
    },
  ];
  if (known.length > 0)
    options.push({ weight: 6, arbitrary: fc.constantFrom(...known).map((v) => [v, 'valid']) });
  return fc.oneof(...options);
}

function encodePathValue(value: string): string {
  // A `%` goes as it is (`%`, `a%2Fb`: raw path text, malformed escapes); everything else is encoded,
  // so a `?`, `#` or `/` beside it stays in the segment. Dot segments are never sent: a client resolves
  // them, so they would reach another route.
  return value.includes('%')
    ? value.split('%').map(encodeURIComponent).join('%')
    : encodeURIComponent(value).replace(/^\.\.?$/, 'dot');
}

interface QueryVariant {
  query: [string, string][];
  variant: string;
}

function queryOf(
  document: OpenApiDocument,
  params: ParameterDoc[],
  fixtures: Fixtures,
): fc.Arbitrary<QueryVariant> {
  if (params.length === 0) {
    return fc.oneof(
      { weight: 8, arbitrary: fc.constant<QueryVariant>({ query: [], variant: 'valid' }) },
      {
        weight: 1,
        arbitrary: fc.constant<QueryVariant>({
          query: [['unknownParam', '1']],
          variant: 'unknown-parameter',
        }),
      },
    );
  }
  const serialise = (param: ParameterDoc, value: unknown) =>
    Array.isArray(value) ? value.map(String).join(',') : String(value);
  const validOne = (param: ParameterDoc): fc.Arbitrary<string> => {
    const known = fixtures.queryValues[param.name] ?? [];
    const generated = valueOf(document, param.schema).map((v) => serialise(param, v));
    return known.length ? fc.oneof(fc.constantFrom(...known), generated) : generated;
  };
  const valid = fc
    .subarray(params)
    .chain((chosen) =>
      chosen.length === 0
        ? fc.constant([] as [string, string][])
        : fc.tuple(...chosen.map((p) => validOne(p).map((v) => [p.name, v] as [string, string]))),
    );
  const broken: fc.Arbitrary<QueryVariant>[] = [
    fc.tuple(valid, fc.constantFrom(...params)).chain(([query, param]) =>
      refusedBy(param.schema).map((bad) => ({
        query: [
          ...query.filter(([name]) => name !== param.name),
          [param.name, typeof bad === 'object' ? JSON.stringify(bad) : String(bad)],
        ] as [string, string][],
        variant: 'parameter-refused',
      })),
    ),
    valid.map((query) => ({
      query: [...query, ['unknownParam', '1']] as [string, string][],
      variant: 'unknown-parameter',
    })),
  ];
  if (params.some((p) => p.name === 'cursor')) {
    // Cursors that decode but that the API did not issue for this listing.
    broken.push(
      fc.tuple(valid, forgedCursor(fixtures)).map(([query, cursor]) => ({
        query: [...query.filter(([n]) => n !== 'cursor'), ['cursor', cursor]] as [string, string][],
        variant: 'forged-cursor',
      })),
    );
  }
  return fc.oneof(
    { weight: 5, arbitrary: valid.map((query) => ({ query, variant: 'valid' })) },
    { weight: 4, arbitrary: fc.oneof(...broken) },
  );
}

function forgedCursor(fixtures: Fixtures): fc.Arbitrary<string> {
  const keys = fc.subarray(['pk', 'sk', 'kind', 'createdAt', 'subjectHash', 'other'], { minLength: 1 });
  const fromKeys = keys.chain((names) =>
    fc
      .tuple(...names.map(() => fc.string({ maxLength: 12 })))
      .map((values) =>
        Buffer.from(JSON.stringify(Object.fromEntries(names.map((n, i) => [n, values[i]]))), 'utf8').toString(
          'base64url',
        ),
      ),
  );
  const issued = Object.values(fixtures.queryValues)
    .flat()
    .filter((v) => v.length > 40);
  return issued.length ? fc.oneof(fromKeys, fc.constantFrom(...issued)) : fromKeys;
}

/** An arbitrary of calls to `op`, valid or broken in one way (roles, tokens, parameters, body, headers). */
export function callOf(
  document: OpenApiDocument,
  operation: Operation,
  fixtures: Fixtures,
): fc.Arbitrary<GeneratedCall> {
  const params = operation.doc.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const headerParams = params.filter((p) => p.in === 'header');
  const accepts = [
    ...new Set(Object.values(operation.doc.responses).flatMap((r) => Object.keys(r.content ?? {}))),
  ];
  const path = pathParams.length
    ? fc.tuple(
        ...pathParams.map((p) =>
          pathValue(document, p, fixtures).map(([v, how]) => [p.name, v, how] as const),
        ),
      )
    : fc.constant([] as (readonly [string, string, string])[]);
  const headers = fc.record(
    {
      accept: fc.constantFrom(
        ...accepts,
        '*/*',
        'text/html',
        'application/json',
        'text/html, application/json;q=0.9',
        'image/png',
      ),
      'accept-language': fc.constantFrom('en', 'ja', 'fr-CH, fr;q=0.9', '*'),
      ...Object.fromEntries(
        headerParams.map((p) => [
          p.name.toLowerCase(),
          fc.oneof(
            valueOf(document, p.schema).map(String),
            fc.constantFrom(' ', 'x'.repeat(200), 'bad key!'),
          ),
        ]),
      ),
    },
    { requiredKeys: [] },
  );
  return fc
    .record({
      caller: callerOf(operation.doc, fixtures),
      path,
      query: queryOf(
        document,
        params.filter((p) => p.in === 'query'),
        fixtures,
      ),
      headers,
      body: bodyOf(document, operation.doc, fixtures),
    })
    .map(({ caller, path: values, query, headers: extra, body }) => {
      let filled = operation.path;
      for (const [name, value] of values) filled = filled.replace(`{${name}}`, encodePathValue(value));
      const variants = [
        ...values.map(([name, , how]) => (how === 'valid' ? '' : `${name}:${how}`)),
        query.variant === 'valid' ? '' : query.variant,
        body.variant === 'valid' ? '' : `body:${body.variant}`,
        caller.kind === 'role' ? '' : `caller:${caller.kind}`,
      ].filter(Boolean);
      return {
        operationId: operation.doc.operationId,
        method: operation.method,
        path: filled,
        query: query.query,
        headers: { ...extra, ...(body.contentType ? { 'content-type': body.contentType } : {}) },
        caller,
        body: body.body,
        variant: variants.join(' ') || 'valid',
      };
    });
}

/** Calls to every operation of the document. */
export function anyCall(document: OpenApiDocument, fixtures: Fixtures): fc.Arbitrary<GeneratedCall> {
  return fc.oneof(...operationsOf(document).map((op) => callOf(document, op, fixtures)));
}

// ---------------------------------------------------------------------------------------------------
// Answers against the document

export interface Answer {
  /** 0 when there was no answer (`text` then says why). */
  status: number;
  contentType: string | undefined;
  text: string;
}

export type FindingKind =
  | 'no-answer'
  | 'server-error'
  | 'undeclared-status'
  | 'undeclared-content-type'
  | 'undeclared-body-schema'
  | 'body-mismatch';

export interface Finding {
  kind: FindingKind;
  operationId: string;
  status: number;
  detail: string;
  variant: string;
}

/** Checks answers against a document; compiled schemas are kept. */
export class ContractChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly operations = new Map<string, Operation>();

  constructor(private readonly document: OpenApiDocument) {
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'https://dsr.example/openapi.json', components: document.components });
    for (const op of operationsOf(document)) this.operations.set(op.doc.operationId, op);
  }

  private validator(schema: Schema): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) {
      const text = JSON.stringify(schema).replace(
        /"#\/components\//g,
        '"https://dsr.example/openapi.json#/components/',
      );
      validate = this.ajv.compile(JSON.parse(text) as Schema);
      this.compiled.set(key, validate);
    }
    return validate;
  }

  check(call: GeneratedCall, answer: Answer): Finding[] {
    const op = this.operations.get(call.operationId);
    if (!op) throw new Error(`No operation ${call.operationId}`);
    const finding = (kind: FindingKind, detail: string): Finding => ({
      kind,
      operationId: call.operationId,
      status: answer.status,
      detail,
      variant: call.variant,
    });
    // Status 0: the connection failed before an answer (reset, refused).
    if (answer.status === 0) return [finding('no-answer', answer.text)];
    const findings: Finding[] = [];
    if (answer.status >= 500) findings.push(finding('server-error', answer.text.slice(0, 200)));
    const declared = op.doc.responses[String(answer.status)];
    if (!declared) {
      findings.push(finding('undeclared-status', `declared: ${Object.keys(op.doc.responses).join(', ')}`));
      return findings;
    }
    const content = declared.content ?? {};
    if (Object.keys(content).length === 0) {
      if (answer.text.length > 0)
        findings.push(finding('undeclared-content-type', 'a body where none is declared'));
      return findings;
    }
    const media = answer.contentType?.split(';')[0]?.trim().toLowerCase();
    const entry = media ? content[media] : undefined;
    if (!media || !entry) {
      findings.push(
        finding(
          'undeclared-content-type',
          `${media ?? 'none'} (declared: ${Object.keys(content).join(', ')})`,
        ),
      );
      return findings;
    }
    const isJson = /[/+]json$/.test(media);
    // A success's JSON body is declared exactly: an empty schema would accept anything.
    if (isJson && answer.status < 400 && (!entry.schema || Object.keys(entry.schema).length === 0)) {
      findings.push(finding('undeclared-body-schema', `${media}: no schema for the success body`));
      return findings;
    }
    if (!entry.schema) return findings;
    let body: unknown = answer.text;
    if (isJson) {
      try {
        body = JSON.parse(answer.text) as unknown;
      } catch {
        findings.push(finding('body-mismatch', `${media} body is not JSON`));
        return findings;
      }
    }
    const validate = this.validator(entry.schema);
    if (!validate(body)) {
      const first = validate.errors?.[0];
      // An undeclared property names itself: the schema is closed and the server sent more.
      const extra = (first?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
      findings.push(
        finding(
          'body-mismatch',
          `${media}: ${first?.instancePath || '/'} ${first?.message ?? ''}${extra ? ` '${extra}'` : ''}`,
        ),
      );
    }
    return findings;
  }
}

/** Findings counted by kind, then by operation, status and detail (a printable summary). */
export function summarise(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'no findings';
  const byKey = new Map<string, { count: number; example: Finding }>();
  for (const f of findings) {
    const key = `${f.kind} ${f.operationId} ${f.status} ${f.detail.slice(0, 120)}`;
    const seen = byKey.get(key);
    if (seen) seen.count += 1;
    else byKey.set(key, { count: 1, example: f });
  }
  const kinds = new Map<string, number>();
  for (const f of findings) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
  return [
    [...kinds].map(([kind, n]) => `${kind}: ${n}`).join(', '),
    ...[...byKey.values()]
      .sort((a, b) => b.count - a.count)
      .map(
        ({ count, example: f }) =>
          `  ${count}x ${f.kind} ${f.operationId} ${f.status} [${f.variant}] ${f.detail}`,
      ),
  ].join('\n');
}
