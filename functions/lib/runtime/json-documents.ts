/**
 * Configuration documents validated at load (the erasure policy, the service profiles): their JSON
 * Schema compiled once with Ajv (draft 2020-12, strict), and faults named by JSON pointer, so a bad
 * document fails start-up and synth with a message that says what to fix.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { AppError } from './errors';

export interface DocumentFault {
  /** JSON pointer into the document ('' = the document). */
  pointer: string;
  message: string;
}

/** A compiled validator for a schema, built on first use. */
export function lazySchemaValidator(schema: object): () => ValidateFunction {
  let compiled: ValidateFunction | undefined;
  return () => {
    if (!compiled) {
      const ajv = new Ajv2020({ allErrors: true, strict: true });
      addFormats(ajv, ['date']);
      compiled = ajv.compile(schema);
    }
    return compiled;
  };
}

/** A JSON pointer from path segments (RFC 6901 escaping). */
export function jsonPointer(...segments: (string | number)[]): string {
  return segments.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** A schema error as a fault a person can act on. */
export function schemaFault(e: ErrorObject): DocumentFault {
  const p = e.params as Record<string, unknown>;
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') message = `unknown property '${String(p.additionalProperty)}'`;
  else if (e.keyword === 'enum') message = `must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
  else if (e.keyword === 'propertyNames') message = `invalid key '${String(p.propertyName)}'`;
  return { pointer: e.instancePath, message };
}

/** `Invalid <what> <source> (N faults): /a: ...; /b: ...` (the first ten, then how many more). */
export function describeFaults(what: string, faults: readonly DocumentFault[], source: string): string {
  const shown = faults.slice(0, 10).map((f) => `${f.pointer || '/'}: ${f.message}`);
  const more = faults.length > shown.length ? `; and ${faults.length - shown.length} more` : '';
  const noun = faults.length === 1 ? 'fault' : 'faults';
  return `Invalid ${what} ${source} (${faults.length} ${noun}): ${shown.join('; ')}${more}`;
}

/** A configuration document that failed validation: every fault, and the document's name. */
export class InvalidDocumentError extends AppError {
  constructor(
    what: string,
    readonly faults: readonly DocumentFault[],
    readonly source: string,
    code: string,
  ) {
    super(describeFaults(what, faults, source), code);
  }
}
