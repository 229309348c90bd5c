import { Readable } from 'node:stream';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { isSafeRelativePath } from '../../functions/assemble-export/core';
import { dataFileSchema, JSON_SCHEMA_DIALECT } from '../../functions/assemble-export/json-schema';
import { sanitizeArchivePath } from '../../functions/lib/export/archive-path';
import {
  parseManifest,
  serializeManifest,
  ManifestFormatError,
  type Manifest,
} from '../../functions/lib/export/manifest';
import {
  jsonArrayChunks,
  ndjsonLines,
  ndjsonRecords,
  type JsonRecord,
} from '../../functions/assemble-export/ndjson';

const sha = 'a'.repeat(64);
const manifest: Manifest = {
  formatVersion: 1,
  requestId: 'req-1',
  subject: 'hash-1',
  generatedAt: '2025-01-15T10:00:00.000Z',
  subjectFound: true,
  stores: [{ store: 'accounts', records: 1, files: 2 }],
  files: [
    { path: 'schemas/accounts/profile.schema.json', sha256: sha, bytes: 10 },
    { path: 'data/accounts/profile.json', sha256: sha, bytes: 20, records: 1 },
  ],
};

describe('manifest.json', () => {
  it('serialises with a stable layout (two-space JSON and a newline) and parses back', () => {
    const bytes = serializeManifest(manifest);
    expect(bytes.toString()).toBe(`${JSON.stringify(manifest, null, 2)}\n`);
    expect(parseManifest(bytes)).toEqual(manifest);
  });

  it.each([
    ['not JSON', Buffer.from('{')],
    ['another version', serializeManifest({ ...manifest, formatVersion: 2 as 1 })],
    ['a bad hash', serializeManifest({ ...manifest, files: [{ path: 'a', sha256: 'ABC', bytes: 1 }] })],
    ['a negative size', serializeManifest({ ...manifest, files: [{ path: 'a', sha256: sha, bytes: -1 }] })],
    ['a duplicate path', serializeManifest({ ...manifest, files: [manifest.files[0]!, manifest.files[0]!] })],
    ['a missing subjectFound', Buffer.from(JSON.stringify({ ...manifest, subjectFound: undefined }))],
    ['malformed stores', Buffer.from(JSON.stringify({ ...manifest, stores: [{ store: 'x' }] }))],
  ])('rejects %s', (_label, bytes) => {
    expect(() => parseManifest(bytes)).toThrow(ManifestFormatError);
  });
});

async function collect(source: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

/** Splits text into chunks at arbitrary byte positions, as a network stream would. */
function chunked(text: string, cuts: number[]): Readable {
  const bytes = Buffer.from(text, 'utf8');
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    pieces.push(bytes.subarray(last, p));
    last = p;
  }
  pieces.push(bytes.subarray(last));
  return Readable.from(pieces.filter((p) => p.length > 0));
}

describe('staged NDJSON to the data file (record counts feed the manifest)', () => {
  const recordArb = fc.dictionary(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.oneof(
      fc.string({ unit: 'grapheme' }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string()),
    ),
  );

  it('turns NDJSON split anywhere (even inside a UTF-8 character) into a JSON array of the same records', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (records, cuts) => {
          const ndjson = records.map((r) => `${JSON.stringify(r)}\n`).join('');
          const counter = { records: 0 };
          const text = await collect(jsonArrayChunks(ndjsonLines(chunked(ndjson, cuts)), counter));
          expect(JSON.parse(text)).toEqual(records);
          expect(counter.records).toBe(records.length);
          expect(text.endsWith('\n')).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('writes [] for an empty collection and skips blank lines and CRLF endings', async () => {
    const counter = { records: 0 };
    expect(await collect(jsonArrayChunks(ndjsonLines(chunked('', [])), counter))).toBe('[]\n');
    expect(await collect(jsonArrayChunks(ndjsonLines(chunked('{"a":1}\r\n \n{"b":2}', [])), counter))).toBe(
      '[\n{"a":1},\n{"b":2}\n]\n',
    );
    const records: JsonRecord[] = [];
    for await (const r of ndjsonRecords(chunked('{"a":1}\r\n\n{"b":"日本"}', [3, 9, 16]))) records.push(r);
    expect(records).toEqual([{ a: 1 }, { b: '日本' }]);
  });

  it('refuses a line that is not a JSON object, without quoting it', async () => {
    const read = async (text: string) => {
      for await (const _ of ndjsonRecords(chunked(text, []))) void _;
    };
    await expect(read('{"a":1}\nsecret@example.com\n')).rejects.toThrow(
      'A staged collection has a line that is not JSON',
    );
    await expect(read('[1,2]\n')).rejects.toThrow(/not a JSON object/);
  });

  it('copies staged lines into the array as they are, refusing one that is not an object', async () => {
    const copy = (text: string) => collect(jsonArrayChunks(ndjsonLines(chunked(text, [])), { records: 0 }));
    // Byte for byte: a parse and re-serialisation would give the same, at many times the cost.
    expect(await copy('{"n":1.5,"s":"\\u00e9 日本"}\n')).toBe('[\n{"n":1.5,"s":"\\u00e9 日本"}\n]\n');
    await expect(copy('{"a":1}\n{"truncated":\n')).rejects.toThrow(/not a JSON object/);
    await expect(copy('[1,2]\n')).rejects.toThrow(/not a JSON object/);
  });
});

describe('data file schemas', () => {
  const spec = {
    name: 'profile',
    description: 'Your profile',
    tabular: false,
    recordSchema: {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      required: ['userId'],
      properties: { userId: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' } },
    },
  };

  it('is a draft 2020-12 schema of an array of records that ajv compiles and applies', () => {
    const schema = dataFileSchema('accounts', spec);
    expect(schema.$schema).toBe(JSON_SCHEMA_DIALECT);
    expect(schema).toMatchObject({ type: 'array', title: 'accounts: profile', description: 'Your profile' });
    expect((schema.items as Record<string, unknown>).$schema).toBeUndefined();
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    expect(validate([{ userId: 'u1', createdAt: '2024-01-01T00:00:00Z' }])).toBe(true);
    expect(validate([{ createdAt: 'yesterday' }])).toBe(false);
    expect(validate({ userId: 'u1' })).toBe(false);
  });
});

describe('media paths in the archive', () => {
  it('keeps paths the staging area produced (so records that refer to them stay right)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (raw) => {
        expect(isSafeRelativePath(sanitizeArchivePath(raw))).toBe(true);
      }),
      { numRuns: 1000 },
    );
    // A literal percent sequence stays as it is: decoding it again would rename the file.
    expect(isSafeRelativePath('uploads/%41.png')).toBe(true);
  });

  it.each([
    '../etc/passwd',
    'a//b',
    'a/./b',
    '/abs',
    'C:/x',
    'a\\b',
    'a/ b',
    'a/b.',
    'a/\u202egnp.exe',
    'con/x',
    '',
  ])('refuses %j (it is sanitised instead)', (path) => {
    expect(isSafeRelativePath(path)).toBe(false);
  });
});
