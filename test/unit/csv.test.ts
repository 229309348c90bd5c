import fc from 'fast-check';
import {
  csvCell,
  csvChunks,
  csvHeader,
  csvRow,
  CSV_BOM,
  guardFormula,
} from '../../functions/assemble-export/csv';
import type { JsonRecord } from '../../functions/assemble-export/ndjson';

/** A strict RFC 4180 reader, written independently of the writer, to check what the writer produces. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let fieldStarted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i += 1;
        if (text[i] !== ',' && text[i] !== '\r') throw new Error(`junk after closing quote at ${i}`);
      } else {
        field += ch;
        i += 1;
      }
    } else if (ch === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
      i += 1;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      fieldStarted = false;
      i += 1;
    } else if (ch === '\r') {
      if (text[i + 1] !== '\n') throw new Error(`bare CR at ${i}`);
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      fieldStarted = false;
      i += 2;
    } else {
      if (ch === '"' || ch === '\n') throw new Error(`unquoted ${JSON.stringify(ch)} at ${i}`);
      field += ch;
      fieldStarted = true;
      i += 1;
    }
  }
  if (quoted) throw new Error('unterminated quote');
  if (field !== '' || row.length > 0) throw new Error('last row not terminated by CRLF');
  return rows;
}

async function* from(records: JsonRecord[]): AsyncGenerator<JsonRecord> {
  yield* records;
}

async function render(header: string[], records: JsonRecord[]): Promise<{ text: string; records: number }> {
  const counter = { records: 0 };
  const chunks: Buffer[] = [];
  for await (const chunk of csvChunks(header, from(records), counter)) chunks.push(chunk);
  return { text: Buffer.concat(chunks).toString('utf8'), records: counter.records };
}

describe('csv cells', () => {
  it('quotes fields holding quotes, commas, CR or LF, and doubles quotes', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('line1\nline2')).toBe('"line1\nline2"');
    expect(csvCell('a\r\nb')).toBe('"a\r\nb"');
  });

  it('writes null and missing as empty, numbers and booleans as JSON, nested values as JSON', () => {
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(-12.5)).toBe('-12.5');
    expect(csvCell(false)).toBe('false');
    expect(csvCell({ brand: 'visa', last4: '4242' })).toBe('"{""brand"":""visa"",""last4"":""4242""}"');
    expect(csvCell(['a', 'b'])).toBe('"[""a"",""b""]"');
  });

  it.each(['=SUM(A1:A2)', '+1+1', '-2+3', '@cmd', '\tx', '\r=1'])(
    'guards %j against formula injection',
    (text) => {
      const cell = csvCell(text);
      const [[parsed]] = parseCsv(`${cell}\r\n`) as [[string]];
      expect(parsed).toBe(`'${text}`);
    },
  );

  it('leaves other text and numbers (even negative ones) unprefixed', () => {
    expect(guardFormula('hello=world')).toBe('hello=world');
    expect(guardFormula("'already")).toBe("'already");
    expect(csvCell(-5)).toBe('-5');
  });

  it('round-trips any text through an RFC 4180 reader (after the formula prefix)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 6 }), (values) => {
        const rows = parseCsv(csvRow(values));
        expect(rows).toEqual([values.map(guardFormula)]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('csv header', () => {
  it('is the union of keys seen, schema order first, then first-seen order, dropping absent columns', () => {
    const records = [
      { b: 1, z: 1 },
      { a: 2, y: 2 },
      { c: 3, b: 3 },
    ];
    const keys = [...new Set(records.flatMap((r) => Object.keys(r)))];
    const schema = { type: 'object', properties: { a: {}, b: {}, c: {}, never: {} } };
    expect(csvHeader(schema, keys)).toEqual(['a', 'b', 'c', 'z', 'y']);
    expect(csvHeader({}, keys)).toEqual(keys);
  });
});

describe('csv file', () => {
  it('starts with a BOM and a header row, has one CRLF row per record, and counts records', async () => {
    const header = ['txnId', 'amount', 'card', 'note'];
    const records: JsonRecord[] = [
      {
        txnId: 't1',
        amount: 1200,
        card: { brand: 'visa', last4: '4242' },
        note: '=HYPERLINK("http://evil")',
      },
      { txnId: 't2', amount: -300 },
      { txnId: 't3, "quoted"', note: 'multi\nline' },
    ];
    const { text, records: count } = await render(header, records);
    expect(count).toBe(3);
    expect(text.startsWith(CSV_BOM)).toBe(true);
    const rows = parseCsv(text.slice(CSV_BOM.length));
    expect(rows).toEqual([
      header,
      ['t1', '1200', '{"brand":"visa","last4":"4242"}', `'=HYPERLINK("http://evil")`],
      ['t2', '-300', '', ''],
      ['t3, "quoted"', '', '', 'multi\nline'],
    ]);
  });

  it('guards header cells too (attribute names come from the store)', async () => {
    const { text } = await render(['=evil', 'ok'], [{ '=evil': 1, ok: 2 }]);
    expect(parseCsv(text.slice(1))[0]).toEqual(["'=evil", 'ok']);
  });

  it('writes a header-only file for an empty collection', async () => {
    const { text, records } = await render(['a'], []);
    expect(records).toBe(0);
    expect(text).toBe(`${CSV_BOM}a\r\n`);
  });

  it('streams large collections in bounded chunks', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({ id: i, text: 'x'.repeat(20) }));
    const counter = { records: 0 };
    let largest = 0;
    let total = 0;
    for await (const chunk of csvChunks(['id', 'text'], from(many), counter)) {
      largest = Math.max(largest, chunk.length);
      total += chunk.length;
    }
    expect(counter.records).toBe(20_000);
    expect(total).toBeGreaterThan(400_000);
    expect(largest).toBeLessThan(200 * 1024);
  });
});
