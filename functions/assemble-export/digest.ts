/**
 * What index.html shows of a collection, gathered while the assembler streams it: the first rows (cells
 * cut short), and counts per month of the records' dates (and, for purchases, amounts per month and
 * currency) for the charts. Memory is bounded whatever the collection's size: a fixed number of rows of
 * bounded cells, and one counter per month (capped) rather than the records.
 */
import type { JsonSchema } from '../lib/connectors/contract';
import { parseLine, type JsonRecord } from './ndjson';

/** Rows shown per collection; the full collection is in its JSON file. */
export const PREVIEW_ROWS = 20;
/** Columns shown; the others are in the files. */
export const PREVIEW_COLUMNS = 10;
/** Characters of a cell shown (a chat message or a nested value can be long). */
export const CELL_CHARS = 160;
/** Distinct months counted per collection: a hostile date cannot grow the map without bound. */
export const MAX_MONTHS = 1200;

/** A shown value: text (cut to CELL_CHARS, nested values as JSON), number, boolean or empty. */
export type PreviewCell = string | number | boolean | null;

/** Amounts summed per month, for the collection of purchases. */
export interface AmountSpec {
  /** The amount in the currency's unit, as a number or a decimal string. */
  amountField: string;
  currencyField: string;
  /** Records counted: those whose `typeField` is one of `types`. */
  typeField: string;
  types: readonly string[];
}

/** The purchases charted, by `store/collection`. */
export const AMOUNT_SPECS: Readonly<Record<string, AmountSpec>> = {
  'payments/transactions': {
    amountField: 'amountMajor',
    currencyField: 'currency',
    typeField: 'type',
    types: ['purchase', 'subscription'],
  },
};

export interface CollectionDigest {
  /** Columns shown, in the CSV header's order. */
  columns: string[];
  /** Columns left out of the table (present in the files). */
  hiddenColumns: number;
  /** The first PREVIEW_ROWS records, cells in `columns` order. */
  rows: PreviewCell[][];
  /** The field the months are counted from: the schema's first date-time property. */
  dateField?: string;
  /** Records per month (`YYYY-MM`, UTC) of `dateField`. */
  perMonth: Record<string, number>;
  /** Records with no readable date (or past MAX_MONTHS distinct months). */
  undated: number;
  /** Amounts per currency, then per month (purchases only). */
  amounts?: Record<string, Record<string, number>>;
}

/** The first property of a record schema declared as a date-time, if any. */
export function dateFieldOf(schema: JsonSchema): string | undefined {
  const properties = schema.properties;
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) return undefined;
  for (const [name, property] of Object.entries(properties as Record<string, unknown>)) {
    if ((property as { format?: unknown } | null)?.format === 'date-time') return name;
  }
  return undefined;
}

const UTC_TIME = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z$/;

/** `YYYY-MM` (UTC) of a date-time string, or undefined. */
export function monthOf(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}/.test(value)) return undefined;
  // A UTC time (as connectors write them) is its own month: no Date per record of a large collection.
  if (UTC_TIME.test(value)) return value.slice(0, 7);
  const time = Date.parse(value);
  if (Number.isNaN(time)) return undefined;
  return new Date(time).toISOString().slice(0, 7);
}

function cut(text: string): string {
  if (text.length <= CELL_CHARS) return text;
  let end = CELL_CHARS;
  // Never split a surrogate pair.
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

export function previewCell(value: unknown): PreviewCell {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') return cut(value);
  return cut(JSON.stringify(value) ?? '');
}

function amountOf(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** Gathers a collection's digest from its records as they stream by. */
export class DigestBuilder {
  private readonly rows: PreviewCell[][] = [];
  private readonly perMonth = new Map<string, number>();
  private readonly amounts = new Map<string, Map<string, number>>();
  private undated = 0;
  private readonly columns: string[];

  constructor(
    /** The collection's columns (the CSV header: schema order, then keys first seen). */
    private readonly header: readonly string[],
    private readonly dateField: string | undefined,
    private readonly amountSpec?: AmountSpec,
  ) {
    this.columns = header.slice(0, PREVIEW_COLUMNS);
  }

  /** Whether a record still adds anything (past the preview, only when dates are counted). */
  wants(): boolean {
    return this.rows.length < PREVIEW_ROWS || this.dateField !== undefined;
  }

  add(record: JsonRecord): void {
    if (this.rows.length < PREVIEW_ROWS) this.rows.push(this.columns.map((c) => previewCell(record[c])));
    if (this.dateField === undefined) return;
    const month = monthOf(record[this.dateField]);
    if (month === undefined || (!this.perMonth.has(month) && this.perMonth.size >= MAX_MONTHS)) {
      this.undated += 1;
      return;
    }
    this.perMonth.set(month, (this.perMonth.get(month) ?? 0) + 1);
    const spec = this.amountSpec;
    if (!spec || !spec.types.includes(String(record[spec.typeField]))) return;
    const amount = amountOf(record[spec.amountField]);
    const currency = record[spec.currencyField];
    if (amount === undefined || typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) return;
    let byMonth = this.amounts.get(currency);
    if (!byMonth) this.amounts.set(currency, (byMonth = new Map()));
    byMonth.set(month, (byMonth.get(month) ?? 0) + amount);
  }

  /** Passes staged lines through, parsing only those the digest still wants. */
  async *lines(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const line of source) {
      if (this.wants()) this.add(parseLine(line));
      yield line;
    }
  }

  /** Passes parsed records through, digesting each. */
  async *records(source: AsyncIterable<JsonRecord>): AsyncGenerator<JsonRecord> {
    for await (const record of source) {
      this.add(record);
      yield record;
    }
  }

  result(): CollectionDigest {
    const digest: CollectionDigest = {
      columns: this.columns,
      hiddenColumns: this.header.length - this.columns.length,
      rows: this.rows,
      perMonth: Object.fromEntries([...this.perMonth].sort(([a], [b]) => a.localeCompare(b))),
      undated: this.undated,
    };
    if (this.dateField !== undefined) digest.dateField = this.dateField;
    if (this.amountSpec) {
      digest.amounts = Object.fromEntries(
        [...this.amounts].map(([currency, byMonth]) => [currency, Object.fromEntries(byMonth)]),
      );
    }
    return digest;
  }
}
