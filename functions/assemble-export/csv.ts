/**
 * CSV copies of tabular collections (RFC 4180): comma-separated, CRLF line ends, fields quoted when
 * they hold a quote, comma, CR or LF, quotes doubled. UTF-8 with a byte-order mark, so spreadsheet
 * programs read names in any script correctly. Nested values are JSON-encoded in their cell.
 *
 * Formula injection: a spreadsheet runs a cell that starts with = + - @ (or a tab or CR, which some
 * programs strip before looking) as a formula. Any text cell (and header) starting with one of those is
 * prefixed with a single quote ('), which spreadsheets show as text. Numbers are left alone: a JSON
 * number cannot carry a formula. The JSON copy of the collection is always the exact data.
 */
import type { JsonSchema } from '../lib/connectors/contract';
import type { JsonRecord, RecordCounter } from './ndjson';

export const CSV_BOM = '\ufeff';
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;
const CHUNK_CHARS = 64 * 1024;

/** Neutralises spreadsheet formulas in text. */
export function guardFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

function quote(field: string): string {
  return NEEDS_QUOTES.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** One cell: empty for null/absent, JSON for objects and arrays, text guarded against formulas. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return quote(guardFormula(value));
  return quote(JSON.stringify(value));
}

export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/**
 * The header: the keys that occur in the data (as the staging area noted them), in the schema's
 * property order first (so files of the same collection line up), then any others in the order first
 * seen. Columns no record has are left out.
 */
export function csvHeader(recordSchema: JsonSchema, keysSeen: readonly string[]): string[] {
  const present = new Set(keysSeen);
  const properties = recordSchema.properties;
  const declared =
    typeof properties === 'object' && properties !== null && !Array.isArray(properties)
      ? Object.keys(properties)
      : [];
  const header = declared.filter((key) => present.has(key));
  const inHeader = new Set(header);
  for (const key of keysSeen) if (!inHeader.has(key)) header.push(key);
  return header;
}

/** The CSV file as chunks: BOM and header row, then one row a record. */
export async function* csvChunks(
  header: readonly string[],
  records: AsyncIterable<JsonRecord>,
  counter: RecordCounter,
): AsyncGenerator<Buffer> {
  let batch = CSV_BOM + csvRow(header);
  for await (const record of records) {
    batch += csvRow(header.map((key) => record[key]));
    counter.records += 1;
    if (batch.length >= CHUNK_CHARS) {
      yield Buffer.from(batch, 'utf8');
      batch = '';
    }
  }
  yield Buffer.from(batch, 'utf8');
}
