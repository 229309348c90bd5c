/**
 * The assembler against real local S3 (the guarded s3rver of the local stack): stage a subject, store
 * indexes, NDJSON collections and media objects, assemble, download the ZIP and check it with the
 * verifier and by reading every file. Also: a failed read aborts the multipart upload and publishes
 * nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Context } from 'aws-lambda';
import { orchestratorResources, platformStores } from '../../config/data-map';
import { ArchiveAssemblyError } from '../../functions/assemble-export/errors';
import {
  archiveKey,
  assembleExport,
  type AssembleDeps,
  type AssembleInput,
} from '../../functions/assemble-export/core';
import type { Manifest } from '../../functions/lib/export/manifest';
import type { AboutYourData } from '../../functions/lib/export/about-your-data';
import type {
  CollectResult,
  StagedMedia,
  StagedSubject,
  StoreIndex,
  StoreName,
} from '../../functions/lib/connectors/contract';
import { sanitizeArchivePath } from '../../functions/lib/export/archive-path';
import { ContractError } from '../../functions/lib/runtime/errors';
import { stagingKeys } from '../../functions/lib/aws/s3-objects';
import { S3ArchiveAccess } from '../../functions/lib/downloads/download-links';
import { LocalSigner } from '../../functions/lib/crypto/signing';
import { StagingArea } from '../../functions/lib/connectors/staging';
import { verifyArchive } from '../../functions/lib/export/verify-archive';
import { shippedServiceProfiles, type ServiceProfile } from '../../functions/lib/services/profiles';
import { startTestStores, type TestStores } from '../support/local-stores';
import { readZip } from '../support/zip';

const STAGING = orchestratorResources.stagingBucket;
const EXPORTS = orchestratorResources.exportsBucket;
const MEDIA = platformStores.media.bucketName;

let stores: TestStores;
let work: string;
let signer: LocalSigner;
let seq = 0;

beforeAll(async () => {
  stores = await startTestStores();
  work = await mkdtemp(join(tmpdir(), 'assemble-export-test-'));
  signer = new LocalSigner(join(work, 'keys'));
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.destroy();
  await stores?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** An S3 client on the local store that records the commands it sends, and lets a test corrupt reads. */
const clients: S3Client[] = [];
function recordingClient(options: { breakReadOf?: string; afterBytes?: number; throttle?: string } = {}) {
  const sent: string[] = [];
  const s3 = new S3Client({
    endpoint: stores.s3Endpoint,
    region: stores.env.AWS_REGION,
    credentials: {
      accessKeyId: stores.env.AWS_ACCESS_KEY_ID!,
      secretAccessKey: stores.env.AWS_SECRET_ACCESS_KEY!,
    },
    forcePathStyle: true,
  });
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName ?? '?');
      if (context.commandName === options.throttle) {
        throw Object.assign(new Error('Rate exceeded'), {
          name: 'ThrottlingException',
          $metadata: { httpStatusCode: 429 },
        });
      }
      const result = await next(args);
      const key = (args.input as { Key?: string }).Key;
      if (context.commandName === 'GetObjectCommand' && key === options.breakReadOf) {
        // The object starts streaming, then the connection fails part-way through.
        const output = result.output as { Body?: Readable };
        const body = output.Body as Readable;
        let seen = 0;
        const broken = new PassThrough();
        body.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > (options.afterBytes ?? 0)) {
            body.destroy();
            broken.destroy(Object.assign(new Error('socket hang up'), { name: 'ECONNRESET' }));
          } else broken.write(chunk);
        });
        output.Body = Object.assign(broken, { transformToString: async () => '' }) as unknown as Readable;
      }
      return result;
    },
    { step: 'initialize', name: 'recorder' },
  );
  clients.push(s3);
  return { s3, sent };
}

async function put(bucket: string, key: string, body: string | Buffer): Promise<void> {
  await stores.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

interface Fixture {
  requestId: string;
  input: AssembleInput;
  records: Record<string, Record<string, unknown>[]>;
  media: Map<string, Buffer>;
}

const profileSchema = {
  type: 'object',
  required: ['userId'],
  properties: {
    userId: { type: 'string' },
    name: { type: 'object' },
    createdAt: { type: 'string', format: 'date-time' },
  },
};

/** Stages a request as the connectors would. `stores` maps each store to its collections and media. */
async function stage(
  spec: Partial<
    Record<
      StoreName,
      {
        collections?: {
          name: string;
          tabular: boolean;
          records: Record<string, unknown>[];
          recordSchema?: Record<string, unknown>;
        }[];
        media?: { path: string; body?: Buffer; key?: string; bucket?: string }[];
      }
    >
  >,
  options: { found?: boolean; service?: string; jurisdiction?: string; locale?: string } = {},
): Promise<Fixture> {
  const requestId = `req_asm_${++seq}_${Date.now()}`;
  const subject: StagedSubject = {
    requestId,
    subjectHash: `hash-${requestId}`,
    found: options.found ?? true,
    identifiers: { userIds: ['u-1'], emails: [], phones: [], deviceIds: [], externalAccounts: [] },
    pseudonymSalt: 'salt',
    ...(options.service ? { service: options.service } : {}),
    ...(options.jurisdiction ? { jurisdiction: options.jurisdiction } : {}),
    ...(options.locale ? { locale: options.locale } : {}),
  };
  await put(STAGING, stagingKeys.subject(requestId), JSON.stringify(subject));
  const results: CollectResult[] = [];
  const records: Fixture['records'] = {};
  const media = new Map<string, Buffer>();
  for (const [store, content] of Object.entries(spec) as [
    StoreName,
    NonNullable<(typeof spec)[StoreName]>,
  ][]) {
    // Collections go through the connectors' own staging area (batched NDJSON, keys noted as written).
    const area = new StagingArea(stores.s3, STAGING, store, subject);
    const ctx = area.context();
    for (const c of content.collections ?? []) {
      const writer = ctx.collection({
        name: c.name,
        description: `The ${c.name} of <${store}>`,
        tabular: c.tabular,
        recordSchema: c.recordSchema ?? (c.name === 'profile' ? profileSchema : { type: 'object' }),
      });
      for (const r of c.records) await writer.write(r);
      records[`${store}/${c.name}`] = c.records;
    }
    const { collections } = await area.finish();
    const staged: StagedMedia[] = [];
    for (const [i, m] of (content.media ?? []).entries()) {
      const key = m.key ?? `uploads/u-1/f${i}/${m.path.replace(/\//g, '_')}`;
      // As the staging area does: the suggested name, sanitised into a safe relative path.
      const archivePath = sanitizeArchivePath(m.path);
      if (m.body) {
        await put(m.bucket ?? MEDIA, key, m.body);
        media.set(`media/${store}/${archivePath}`, m.body);
      }
      staged.push({
        archivePath,
        source: { bucket: m.bucket ?? MEDIA, key },
        bytes: m.body?.length ?? 0,
        contentType: 'application/octet-stream',
      });
    }
    const index: StoreIndex = { formatVersion: 1, store, collections, media: staged };
    const pointer = { bucket: STAGING, key: stagingKeys.storeIndex(requestId, store) };
    await put(STAGING, pointer.key, JSON.stringify(index));
    results.push({ store, index: pointer, records: 0, mediaFiles: staged.length, bytes: 0 });
  }
  return { requestId, input: { requestId, stores: results }, records, media };
}

function deps(s3: S3Client = stores.s3, extra: Partial<AssembleDeps> = {}): AssembleDeps {
  return {
    s3,
    stagingBucket: STAGING,
    exportsBucket: EXPORTS,
    mediaBucket: MEDIA,
    signer,
    clock: () => new Date('2025-01-15T10:00:00.000Z'),
    ...extra,
  };
}

async function download(key: string): Promise<string> {
  const out = await stores.s3.send(new GetObjectCommand({ Bucket: EXPORTS, Key: key }));
  const file = join(work, `${++seq}-download.zip`);
  await pipeline(out.Body as Readable, createWriteStream(file));
  return file;
}

async function exists(bucket: string, key: string): Promise<boolean> {
  try {
    await stores.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'NotFound') return false;
    throw error;
  }
}

/** A minimal RFC 4180 row splitter for checking CSV output (no embedded newlines in this data). */
function csvRows(text: string): string[][] {
  return text
    .replace(/^\ufeff/, '')
    .split('\r\n')
    .filter((l) => l !== '')
    .map((line) => {
      const cells: string[] = [];
      let cell = '';
      let quoted = false;
      for (let i = 0; i < line.length; i++) {
        const ch = line[i]!;
        if (quoted && ch === '"' && line[i + 1] === '"') {
          cell += '"';
          i++;
        } else if (ch === '"') quoted = !quoted;
        else if (ch === ',' && !quoted) {
          cells.push(cell);
          cell = '';
        } else cell += ch;
      }
      cells.push(cell);
      return cells;
    });
}

describe('assembleExport against local S3', () => {
  const hostile = 'uploads/<b>bold "quoted" & 50% #1?.png';
  const big = randomBytes(6 * 1024 * 1024 + 123);

  it('writes a complete, signed archive that the verifier accepts and whose files are the staged data', async () => {
    const profile = {
      userId: 'u-1',
      name: { first: 'Ada', last: '山田' },
      createdAt: '2024-01-01T00:00:00Z',
    };
    const devices = [
      { deviceId: 'd-1', platform: 'ios', note: '=HYPERLINK("http://evil")' },
      { deviceId: 'd-2', platform: 'android', extra: { nested: [1, 2] } },
    ];
    const fx = await stage({
      accounts: {
        collections: [
          { name: 'profile', tabular: false, records: [profile] },
          { name: 'devices', tabular: true, records: devices },
        ],
      },
      media: {
        collections: [{ name: 'objects', tabular: true, records: [{ key: 'x', bytes: 3 }] }],
        media: [
          { path: hostile, body: Buffer.from('png bytes') },
          { path: 'voice/2024-01-01/clip.ogg', body: big },
        ],
      },
      logs: { collections: [{ name: 'access', tabular: true, records: [] }] },
    });
    const { s3, sent } = recordingClient();
    const out = await assembleExport(deps(s3, { partSize: 5 * 1024 * 1024 }), fx.input);

    expect(out.archive).toMatchObject({ bucket: EXPORTS, key: archiveKey(fx.requestId), records: 4 });
    expect(sent).toContain('CompleteMultipartUploadCommand'); // over 5 MiB: a real multipart upload
    const file = await download(out.archive.key);
    const raw = await readFile(file);
    const zip = await readZip(raw);
    expect(raw.length).toBe(out.archive.bytes);
    expect(createHash('sha256').update(raw).digest('hex')).toBe(out.archive.sha256);
    expect(zip.size).toBe(out.archive.files);

    // The verifier: signature and every file.
    const verdict = await verifyArchive(file, { jwks: await signer.publicJwks() });
    expect(verdict.errors).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.kid).toBe(await signer.keyId());

    // The manifest covers every file except itself and its signature, and says who and what.
    const manifest = JSON.parse(zip.get('manifest.json')!.toString()) as Manifest;
    expect(manifest).toMatchObject({
      formatVersion: 1,
      requestId: fx.requestId,
      subject: `hash-${fx.requestId}`,
      generatedAt: '2025-01-15T10:00:00.000Z',
      subjectFound: true,
    });
    expect(manifest.files.map((f) => f.path).sort()).toEqual(
      [...zip.keys()].filter((p) => p !== 'manifest.json' && p !== 'manifest.jws').sort(),
    );
    expect(manifest.stores).toEqual([
      { store: 'accounts', records: 3, files: 5 },
      { store: 'media', records: 1, files: 5 },
      { store: 'logs', records: 0, files: 3 },
    ]);
    expect(manifest.files.find((f) => f.path === 'data/accounts/devices.csv')?.records).toBe(2);
    expect([...zip.keys()].slice(-2)).toEqual(['manifest.json', 'manifest.jws']);

    // Data files: the staged records, as JSON arrays; CSV for tabular ones, formula-guarded.
    expect(JSON.parse(zip.get('data/accounts/profile.json')!.toString())).toEqual([profile]);
    expect(JSON.parse(zip.get('data/accounts/devices.json')!.toString())).toEqual(devices);
    expect(JSON.parse(zip.get('data/logs/access.json')!.toString())).toEqual([]);
    expect(zip.has('data/accounts/profile.csv')).toBe(false);
    expect(csvRows(zip.get('data/accounts/devices.csv')!.toString())).toEqual([
      ['deviceId', 'platform', 'note', 'extra'],
      ['d-1', 'ios', `'=HYPERLINK("http://evil")`, ''],
      ['d-2', 'android', '', '{"nested":[1,2]}'],
    ]);

    // Schemas (draft 2020-12) validate their data files.
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    for (const path of [...zip.keys()].filter((p) => p.startsWith('schemas/'))) {
      const schema = JSON.parse(zip.get(path)!.toString()) as Record<string, unknown>;
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      const dataPath = path.replace(/^schemas\//, 'data/').replace(/\.schema\.json$/, '.json');
      expect(ajv.validate(schema, JSON.parse(zip.get(dataPath)!.toString()))).toBe(true);
    }

    // Media: byte for byte, under media/<store>/<archivePath>, stored (not deflated).
    for (const [path, body] of fx.media) expect(zip.get(path)?.equals(body)).toBe(true);

    // index.html links every file by a relative, encoded path that resolves in the archive.
    const html = zip.get('index.html')!.toString();
    const hrefs = [...html.matchAll(/href="([^"#][^"]*)"/g)].map((m) =>
      (m[1] ?? '').replace(/&amp;/g, '&').split('/').map(decodeURIComponent).join('/'),
    );
    for (const href of hrefs) expect(zip.has(href)).toBe(true);
    for (const f of manifest.files) if (f.path !== 'index.html') expect(hrefs).toContain(f.path);
    expect(fx.media.has('media/media/uploads/_b_bold _quoted_ & 50% #1_.png')).toBe(true);
    expect(html).toContain('href="media/media/uploads/_b_bold%20_quoted_%20%26%2050%25%20%231_.png"');
    expect(html).toContain('>uploads/_b_bold _quoted_ &amp; 50% #1_.png<');

    // About your data: only categories and rules of stores holding data (logs held nothing here).
    const about = JSON.parse(zip.get('about-your-data.json')!.toString()) as AboutYourData;
    const categories = about.categories.map((c) => c.id);
    expect(categories).toContain('identifiers');
    expect(categories).toContain('audio-visual');
    expect(categories).not.toContain('commercial');
    expect(about.retention.map((r) => r.period)).not.toContain('P3M');
    expect(about.recipients.map((r) => r.name)).not.toContain('Sony Payment Services Inc.');
  });

  it("copies a collection of many staging batches exactly, its CSV header the union of all records' keys", async () => {
    // About 300 KB of NDJSON: several of the staging area's batches, and many chunks of the data file.
    const transactions = Array.from({ length: 2500 }, (_, i) => ({
      txnId: `t-${i}`,
      amount: i * 13,
      memo: `café ${'x'.repeat(i % 90)} 日本 \u2028 "q"`,
      ...(i === 2222 ? { refundOf: 't-1' } : {}),
    }));
    // A key whose value is undefined is not in the JSON, so it is no CSV column either.
    const staged = transactions.map((t, i) => (i === 7 ? { ...t, note: undefined } : t));
    const fx = await stage({
      payments: { collections: [{ name: 'transactions', tabular: true, records: staged }] },
    });
    const out = await assembleExport(deps(), fx.input);
    const zip = await readZip(await readFile(await download(out.archive.key)));
    expect(JSON.parse(zip.get('data/payments/transactions.json')!.toString())).toEqual(transactions);
    const rows = csvRows(zip.get('data/payments/transactions.csv')!.toString());
    expect(rows[0]).toEqual(['txnId', 'amount', 'memo', 'refundOf']);
    expect(rows).toHaveLength(2501);
    expect(rows[2223]).toEqual(['t-2222', String(2222 * 13), transactions[2222]!.memo, 't-1']);
    expect(out.archive.records).toBe(2500);
  });

  it('is summarised for its download page from one ranged read of its end, however many files it has', async () => {
    const fx = await stage({
      accounts: { collections: [{ name: 'profile', tabular: false, records: [{ userId: 'u-1' }] }] },
      media: {
        media: Array.from({ length: 120 }, (_, i) => ({
          path: `voice/clip-${i}.ogg`,
          body: randomBytes(64),
        })),
      },
    });
    const out = await assembleExport(deps(), fx.input);
    const { s3, sent } = recordingClient();
    const summary = await new S3ArchiveAccess(s3).summarize({ ...out.archive });
    expect(summary.stores).toEqual([
      { store: 'accounts', records: 1, files: 2 },
      { store: 'media', records: 0, files: 120 },
    ]);
    expect(summary.files).toBe(out.archive.files);
    // yauzl reads the central directory a piece per entry: without the tail read, hundreds of GETs.
    expect(sent).toEqual(['GetObjectCommand']);
  });

  it('produces a valid, empty archive when no account matched', async () => {
    const fx = await stage(
      { accounts: { collections: [] }, payments: { collections: [] } },
      { found: false },
    );
    const out = await assembleExport(deps(), fx.input);
    const file = await download(out.archive.key);
    expect((await verifyArchive(file, { jwks: await signer.publicJwks() })).ok).toBe(true);
    const zip = await readZip(await readFile(file));
    const manifest = JSON.parse(zip.get('manifest.json')!.toString()) as Manifest;
    expect(manifest.subjectFound).toBe(false);
    expect(zip.get('index.html')!.toString()).toContain('We found no account matching');
    expect((JSON.parse(zip.get('about-your-data.json')!.toString()) as AboutYourData).categories).toEqual([]);
    // about-your-data.json, index.html, index.ja.html (klub-outside speaks English), manifest.json, manifest.jws.
    expect(out.archive).toMatchObject({ records: 0, files: 5 });
    expect(zip.get('index.ja.html')!.toString()).toContain('一致するアカウントが見つからなかった');
  });

  it("writes index.html in the account's language and the other language beside it, showing and charting the records", async () => {
    // 45 access-log lines over three months (15 each), one with a hostile path.
    const records = Array.from({ length: 45 }, (_, i) => ({
      ts: new Date(Date.UTC(2024, i % 3, 1 + (i % 28), 12)).toISOString(),
      path: i === 0 ? '/p/<script>alert(1)</script>' : `/p/${i}`,
    }));
    const recordSchema = {
      type: 'object',
      properties: { ts: { type: 'string', format: 'date-time' }, path: { type: 'string' } },
    };
    const fx = await stage(
      { logs: { collections: [{ name: 'access-log', tabular: true, records, recordSchema }] } },
      { service: 'cluster', locale: 'ja-JP' },
    );
    const out = await assembleExport(deps(), fx.input);
    const file = await download(out.archive.key);
    expect((await verifyArchive(file, { jwks: await signer.publicJwks() })).ok).toBe(true);
    const zip = await readZip(await readFile(file));
    const manifest = JSON.parse(zip.get('manifest.json')!.toString()) as Manifest;
    expect(manifest.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['index.html', 'index.en.html']),
    );
    expect(zip.has('index.ja.html')).toBe(false);

    const ja = zip.get('index.html')!.toString();
    const en = zip.get('index.en.html')!.toString();
    expect(ja).toMatch(/<html lang="ja">/);
    expect(ja).toContain('href="index.en.html" hreflang="en"');
    expect(en).toMatch(/<html lang="en">/);
    expect(en).toContain('href="index.html" hreflang="ja"');
    for (const html of [ja, en]) {
      // The first 20 records, in the order staged, the hostile one as text.
      expect(html).toContain('<td>/p/&lt;script&gt;alert(1)&lt;/script&gt;</td>');
      expect(html).toContain('<td>/p/19</td>');
      expect(html).not.toContain('<td>/p/20</td>');
      expect(html).not.toContain('<script>');
      // One bar a month, from the counts taken while the collection was written.
      const svg = /<svg[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
      expect(svg.match(/<rect /g)).toHaveLength(3);
    }
    expect(ja).toContain('<title>利用記録, 2024年2月: 15</title>');
    expect(en).toContain('<title>Activity logs, Feb 2024: 15</title>');
    expect(en).toContain('Access log: the first 20 of 45 records');
  });

  it('runs through the Lambda handler with the environment the stack gives it', async () => {
    const fx = await stage({
      accounts: { collections: [{ name: 'profile', tabular: false, records: [{ userId: 'u-1' }] }] },
    });
    const saved = { ...process.env };
    Object.assign(process.env, stores.env, { SIGNING_KEY_DIR: join(work, 'keys'), LOG_LEVEL: 'silent' });
    try {
      // Loaded here, not imported above: the handler reads its configuration when it is first loaded.
      const { handler } = jest.requireActual<typeof import('../../functions/assemble-export/handler')>(
        '../../functions/assemble-export/handler',
      );
      const out = (await handler(fx.input, {} as Context)) as { archive: { key: string } };
      // The handler's module-level client: closed with the others after the tests.
      clients.push(
        jest
          .requireActual<typeof import('../../functions/lib/aws/clients')>('../../functions/lib/aws/clients')
          .s3Client(),
      );
      expect(out.archive.key).toBe(archiveKey(fx.requestId));
      expect(
        (await verifyArchive(await download(out.archive.key), { jwks: await signer.publicJwks() })).ok,
      ).toBe(true);
    } finally {
      process.env = saved;
    }
  });
});

describe("each service's archive speaks for that service only", () => {
  const profiles = [...shippedServiceProfiles().values()];
  /** Companies and services of the other profiles (their service, controller, representatives, named recipients). */
  const namesOf = (p: ServiceProfile): string[] => [
    p.name,
    p.controller.name,
    ...(p.controller.legalName ? [p.controller.legalName] : []),
    ...(p.controller.representatives ?? []).map((r) => r.name),
    ...p.recipients.filter((r) => r.named).map((r) => r.name),
  ];

  async function archiveOf(service: string, jurisdiction: string) {
    const fx = await stage(
      {
        accounts: { collections: [{ name: 'profile', tabular: false, records: [{ userId: 'u-1' }] }] },
        payments: { collections: [{ name: 'transactions', tabular: true, records: [{ txnId: 't-1' }] }] },
        logs: {
          collections: [
            { name: 'access-log', tabular: true, records: [{ ts: '2025-01-01T00:00:00Z', ip: '192.0.2.1' }] },
            { name: 'voice-sessions', tabular: false, records: [] },
          ],
        },
      },
      { service, jurisdiction },
    );
    const out = await assembleExport(deps(), fx.input);
    const file = await download(out.archive.key);
    expect((await verifyArchive(file, { jwks: await signer.publicJwks() })).ok).toBe(true);
    const zip = await readZip(await readFile(file));
    return {
      zip,
      out,
      manifest: JSON.parse(zip.get('manifest.json')!.toString()) as Manifest,
      aboutText: zip.get('about-your-data.json')!.toString(),
      about: JSON.parse(zip.get('about-your-data.json')!.toString()) as AboutYourData,
      html: zip.get('index.html')!.toString(),
    };
  }

  it.each(profiles.map((p) => [p.id, p] as const))(
    '%s: its controller, its policy and its recipients, and no other company',
    async (id, profile) => {
      const { manifest, about, aboutText, html } = await archiveOf(id, 'JP');
      expect(manifest.service).toBe(id);
      expect(about.controller.name).toBe(profile.controller.name);
      expect(about.policy.file).toBe(profile.policy.file);
      expect(html).toContain(`<cite>${profile.policy.title}</cite>`);
      // Stores with data in the archive (METALIVE's logs hold only its withheld access log here).
      const held = new Set(manifest.stores.filter((s) => s.records > 0).map((s) => s.store as string));
      expect(held.size).toBe(id === 'metalive' ? 2 : 3);
      expect(about.recipients.map((r) => r.name)).toEqual(
        profile.recipients.filter((r) => r.stores.some((s) => held.has(s))).map((r) => r.name),
      );
      const own = new Set(namesOf(profile));
      for (const name of profiles.filter((p) => p.id !== id).flatMap(namesOf)) {
        if (own.has(name)) continue;
        expect(aboutText).not.toContain(name);
        expect(html).not.toContain(name);
      }
    },
  );

  it('METALIVE: no access-log data file, but the archive says access logs were withheld and why', async () => {
    const { zip, manifest, about, html, out } = await archiveOf('metalive', 'JP');
    const paths = [...zip.keys()];
    expect(paths.filter((p) => p.includes('access-log'))).toEqual([]);
    expect(paths).toContain('data/logs/voice-sessions.json');
    expect(manifest.files.map((f) => f.path).filter((p) => p.includes('access-log'))).toEqual([]);
    expect(manifest.stores.find((s) => s.store === 'logs')).toEqual({ store: 'logs', records: 0, files: 2 });
    expect(out.archive.records).toBe(2);
    expect(about.withheld).toEqual([
      expect.objectContaining({ store: 'logs', collection: 'access-log', records: 1 }),
    ]);
    expect(html).toContain(
      'In principle, we will not disclose any information other than personal information, such as access logs.',
    );
    // Another service keeps its access log in the archive.
    const cluster = await archiveOf('cluster', 'JP');
    expect(cluster.zip.has('data/logs/access-log.json')).toBe(true);
    expect(cluster.about.withheld).toEqual([]);
  });

  it('states retention for the person: 5 years and 6 months for a Korean klub-outside user, nothing for a Japanese Cluster user', async () => {
    const korean = await archiveOf('klub-outside', 'KR');
    const periods = Object.fromEntries(
      korean.about.retention.map((r) => [`${r.store}/${r.category}`, r.periodText]),
    );
    expect(periods).toMatchObject({
      'payments/transactions': '5 years',
      'accounts/marketing-consents': '6 months',
      'logs/access-log': '3 months',
    });
    expect(korean.html).toContain('5 years from the date of each transaction');
    const japanese = await archiveOf('cluster', 'JP');
    expect(japanese.about.retention).toEqual([]);
    expect(japanese.about.retentionNote).toContain('nothing is kept by statute');
    expect(japanese.html).toContain('nothing is kept by statute');
  });
});

describe('a failed read publishes nothing', () => {
  /**
   * Assembles with 5 MiB parts (so a multipart upload is under way) through a client with the given
   * faults; checks the upload was aborted, never completed, and nothing is under the archive's key.
   */
  async function assembleAborted(fx: Fixture, faults: Parameters<typeof recordingClient>[0] = {}) {
    const { s3, sent } = recordingClient(faults);
    const error = await assembleExport(deps(s3, { partSize: 5 * 1024 * 1024 }), fx.input).catch(
      (e: unknown) => e,
    );
    expect(sent).toContain('AbortMultipartUploadCommand');
    expect(sent).not.toContain('CompleteMultipartUploadCommand');
    expect(await exists(EXPORTS, archiveKey(fx.requestId))).toBe(false);
    return { error: error as Error, sent };
  }

  it('aborts the multipart upload when a media object is missing, and throws a typed error', async () => {
    const fx = await stage({
      media: {
        media: [
          { path: 'voice/big.ogg', body: randomBytes(6 * 1024 * 1024) },
          { path: 'uploads/gone.png', key: 'uploads/u-1/gone/gone.png' }, // never written
        ],
      },
    });
    const { error, sent } = await assembleAborted(fx);
    expect(error).toBeInstanceOf(ArchiveAssemblyError);
    expect(error.message).not.toContain('gone');
    expect(sent).toContain('CreateMultipartUploadCommand');
  });

  it('aborts when a read fails part-way through a file', async () => {
    const fx = await stage({
      media: {
        media: [
          { path: 'voice/a.ogg', body: randomBytes(6 * 1024 * 1024) },
          { path: 'voice/b.ogg', body: randomBytes(2 * 1024 * 1024), key: 'voice/u-1/b.ogg' },
        ],
      },
    });
    const { error } = await assembleAborted(fx, { breakReadOf: 'voice/u-1/b.ogg', afterBytes: 256 * 1024 });
    // A connection reset is worth retrying: the workflow's Retry matches TransientError.
    expect(error.name).toBe('TransientError');
  });

  it('aborts, with a retryable error, when S3 throttles a part of the archive', async () => {
    const fx = await stage({
      media: { media: [{ path: 'voice/a.ogg', body: randomBytes(12 * 1024 * 1024) }] },
    });
    const { error } = await assembleAborted(fx, { throttle: 'UploadPartCommand' });
    // The writer only sees its output torn down; the upload's own error decides the retry.
    expect(error.name).toBe('TransientError');
  });

  it('publishes nothing when a staged collection holds fewer records than staging counted', async () => {
    const fx = await stage({
      accounts: { collections: [{ name: 'profile', tabular: false, records: [{ userId: 'u-1' }] }] },
    });
    // As if a crash had lost a staged batch: the index still counts the record the batch held.
    const pointer = fx.input.stores[0]!.index;
    const index = JSON.parse(
      await (
        await stores.s3.send(new GetObjectCommand({ Bucket: pointer.bucket, Key: pointer.key }))
      ).Body!.transformToString(),
    ) as StoreIndex;
    index.collections[0]!.records += 1;
    await put(pointer.bucket, pointer.key, JSON.stringify(index));
    await expect(assembleExport(deps(), fx.input)).rejects.toBeInstanceOf(ArchiveAssemblyError);
    expect(await exists(EXPORTS, archiveKey(fx.requestId))).toBe(false);
  });

  it('publishes nothing for a small archive either (single PUT never sent)', async () => {
    const fx = await stage({
      accounts: { collections: [{ name: 'profile', tabular: false, records: [{ userId: 'u-1' }] }] },
      media: { media: [{ path: 'uploads/gone.png', key: 'uploads/u-1/missing.png' }] },
    });
    const { s3, sent } = recordingClient();
    await expect(assembleExport(deps(s3), fx.input)).rejects.toBeInstanceOf(ArchiveAssemblyError);
    expect(sent).not.toContain('PutObjectCommand');
    expect(await exists(EXPORTS, archiveKey(fx.requestId))).toBe(false);
  });
});

describe('contract checks', () => {
  it('refuses to read outside the request staging area or the media bucket', async () => {
    const fx = await stage({ accounts: { collections: [] } });
    const elsewhere = {
      ...fx.input,
      stores: [
        { ...fx.input.stores[0]!, index: { bucket: STAGING, key: 'requests/other/accounts/index.json' } },
      ],
    };
    await expect(assembleExport(deps(), elsewhere)).rejects.toBeInstanceOf(ContractError);

    const foreign = await stage({
      media: { media: [{ path: 'x.bin', body: Buffer.from('x'), bucket: platformStores.logs.bucketName }] },
    });
    await expect(assembleExport(deps(), foreign.input)).rejects.toBeInstanceOf(ContractError);

    await expect(assembleExport(deps(), { requestId: '../etc', stores: [] })).rejects.toBeInstanceOf(
      ContractError,
    );
    const twice = { ...fx.input, stores: [fx.input.stores[0]!, fx.input.stores[0]!] };
    await expect(assembleExport(deps(), twice)).rejects.toBeInstanceOf(ContractError);
  });
});
