import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import yauzl from 'yauzl';
import { serializeManifest, type Manifest, type ManifestFile } from '../../functions/lib/export/manifest';
import { ZipWriter } from '../../functions/assemble-export/zip-writer';
import { JWS_TYPES, signDetached } from '../../functions/lib/crypto/jws';
import { LocalSigner } from '../../functions/lib/crypto/signing';
import { loadJwks, verifyArchive } from '../../functions/lib/export/verify-archive';
import { signCertificate, type CertificatePayload } from '../../functions/lib/erasure/certificate';

const ROOT = resolve(__dirname, '../..');
let work: string;
let signer: LocalSigner;
let otherSigner: LocalSigner;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'verify-archive-test-'));
  signer = new LocalSigner(join(work, 'keys'));
  otherSigner = new LocalSigner(join(work, 'other-keys'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Entry {
  path: string;
  data: Buffer;
  store?: boolean;
}

const MEDIA_BYTES = Buffer.from(`MEDIA-CONTENT-${'0123456789'.repeat(50)}`);
const BASE_FILES: Entry[] = [
  { path: 'schemas/accounts/profile.schema.json', data: Buffer.from('{"type":"array"}\n') },
  { path: 'data/accounts/profile.json', data: Buffer.from('[\n{"userId":"u1","name":"Ada"}\n]\n') },
  { path: 'data/accounts/profile.csv', data: Buffer.from('\ufeffuserId,name\r\nu1,Ada\r\n') },
  { path: 'media/media/uploads/holiday photo 日本 #1 50%.jpg', data: MEDIA_BYTES, store: true },
  { path: 'media/media/uploads/it\'s "quoted".txt', data: Buffer.from('hello'), store: true },
  { path: 'index.html', data: Buffer.from('<!doctype html><html lang="en"></html>') },
];

let counter = 0;
const fresh = (name: string) => join(work, `${counter++}-${name}`);

/** Writes entries, in order, into a ZIP file with the project's ZipWriter. */
async function writeZip(path: string, entries: Entry[], forceZip64 = false): Promise<void> {
  const writer = new ZipWriter({ date: new Date('2025-01-15T10:00:00Z'), forceZip64 });
  const out = createWriteStream(path);
  writer.output.pipe(out);
  for (const e of entries) {
    // Half the entries as streams, to exercise both paths of the writer.
    await writer.add(e.path, e.data.length % 2 ? Readable.from([e.data]) : e.data, {
      store: e.store ?? false,
    });
  }
  await writer.finish();
  await finished(out);
}

/** A signed archive, as the assembler lays it out: files, then manifest.json and manifest.jws. */
async function buildArchive(
  files: Entry[] = BASE_FILES,
  options: { forceZip64?: boolean; by?: LocalSigner } = {},
) {
  const manifestFiles: ManifestFile[] = [];
  for (const f of files) {
    manifestFiles.push({
      path: f.path,
      sha256: createHash('sha256').update(f.data).digest('hex'),
      bytes: f.data.length,
    });
  }
  const manifest: Manifest = {
    formatVersion: 1,
    requestId: 'req-1',
    subject: 'subject-hash',
    generatedAt: '2025-01-15T10:00:00.000Z',
    subjectFound: true,
    stores: [{ store: 'accounts', records: 1, files: 3 }],
    files: manifestFiles,
  };
  const manifestBytes = serializeManifest(manifest);
  const jws = await signDetached(manifestBytes, options.by ?? signer, { typ: JWS_TYPES.manifest });
  const entries = [
    ...files,
    { path: 'manifest.json', data: manifestBytes },
    { path: 'manifest.jws', data: Buffer.from(jws) },
  ];
  const path = fresh('export.zip');
  await writeZip(path, entries, options.forceZip64);
  return { path, entries, manifestBytes };
}

async function readEntries(path: string): Promise<Entry[]> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true });
  const entries: Entry[] = [];
  for await (const entry of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
    entries.push({ path: entry.fileName, data: Buffer.concat(chunks), store: entry.compressionMethod === 0 });
  }
  zip.close();
  return entries;
}

async function rewrite(path: string, change: (entries: Entry[]) => Entry[]): Promise<string> {
  const out = fresh('tampered.zip');
  await writeZip(out, change(await readEntries(path)));
  return out;
}

describe('verifyArchive', () => {
  it('accepts a good archive (JWKS and PEM), naming the key and counting the files', async () => {
    const { path } = await buildArchive();
    const jwks = await signer.publicJwks();
    const result = await verifyArchive(path, { jwks });
    expect(result).toMatchObject({
      ok: true,
      errors: [],
      kid: await signer.keyId(),
      filesChecked: BASE_FILES.length,
    });
    const pem = createPublicKey(
      await readFile(join(work, 'keys', `${await signer.keyId()}.public.pem`), 'utf8'),
    );
    expect((await verifyArchive(path, { publicKey: pem })).ok).toBe(true);
  });

  it('detects one changed byte in a stored file, naming it', async () => {
    const { path } = await buildArchive();
    const bytes = await readFile(path);
    const at = bytes.indexOf(MEDIA_BYTES);
    expect(at).toBeGreaterThan(0);
    bytes[at + 100] = (bytes[at + 100] ?? 0) ^ 0x01;
    const tampered = fresh('flipped.zip');
    await writeFile(tampered, bytes);
    const result = await verifyArchive(tampered, { jwks: await signer.publicJwks() });
    expect(result.ok).toBe(false);
    expect(result.errors).toEqual([
      expect.objectContaining({
        code: 'altered-file',
        path: 'media/media/uploads/holiday photo 日本 #1 50%.jpg',
      }),
    ]);
  });

  it('detects a changed data file re-zipped with consistent sizes and CRC', async () => {
    const { path } = await buildArchive();
    const tampered = await rewrite(path, (entries) =>
      entries.map((e) =>
        e.path === 'data/accounts/profile.json'
          ? { ...e, data: Buffer.from(e.data.toString().replace('Ada', 'Eve')) }
          : e,
      ),
    );
    const result = await verifyArchive(tampered, { jwks: await signer.publicJwks() });
    expect(result.errors.map((e) => [e.code, e.path])).toEqual([
      ['altered-file', 'data/accounts/profile.json'],
    ]);
  });

  it('detects an added file, naming it', async () => {
    const { path } = await buildArchive();
    const tampered = await rewrite(path, (entries) => [
      ...entries,
      { path: 'data/accounts/extra.json', data: Buffer.from('[]') },
    ]);
    const result = await verifyArchive(tampered, { jwks: await signer.publicJwks() });
    expect(result.errors.map((e) => [e.code, e.path])).toEqual([['extra-file', 'data/accounts/extra.json']]);
  });

  it('detects a removed file, naming it', async () => {
    const { path } = await buildArchive();
    const tampered = await rewrite(path, (entries) =>
      entries.filter((e) => e.path !== 'data/accounts/profile.csv'),
    );
    const result = await verifyArchive(tampered, { jwks: await signer.publicJwks() });
    expect(result.errors.map((e) => [e.code, e.path])).toEqual([
      ['missing-file', 'data/accounts/profile.csv'],
    ]);
  });

  it('detects a duplicated entry name (the second copy could shadow the first on extraction)', async () => {
    const { path } = await buildArchive();
    const tampered = await rewrite(path, (entries) => [
      ...entries,
      { path: 'index.html', data: Buffer.from('<p>evil</p>') },
    ]);
    const result = await verifyArchive(tampered, { jwks: await signer.publicJwks() });
    expect(result.errors).toEqual([expect.objectContaining({ code: 'duplicate-entry', path: 'index.html' })]);
  });

  it('fails the signature when the manifest is edited, even to match a tampered file', async () => {
    const { path, manifestBytes } = await buildArchive();
    const forged = Buffer.from('[\n{"userId":"u1","name":"Eve"}\n]\n');
    const manifest = JSON.parse(manifestBytes.toString()) as Manifest;
    const entry = manifest.files.find((f) => f.path === 'data/accounts/profile.json')!;
    entry.sha256 = createHash('sha256').update(forged).digest('hex');
    entry.bytes = forged.length;
    const tampered = await rewrite(path, (entries) =>
      entries.map((e) =>
        e.path === 'manifest.json'
          ? { ...e, data: serializeManifest(manifest) }
          : e.path === 'data/accounts/profile.json'
            ? { ...e, data: forged }
            : e,
      ),
    );
    const result = await verifyArchive(tampered, { jwks: await signer.publicJwks() });
    // Every file matches the (forged) manifest, so only the signature gives it away.
    expect(result.errors.map((e) => [e.code, e.path])).toEqual([['bad-signature', 'manifest.jws']]);
  });

  it('fails the signature with the wrong key (JWKS without the kid, or another PEM)', async () => {
    const { path } = await buildArchive();
    const wrongJwks = await otherSigner.publicJwks();
    const byJwks = await verifyArchive(path, { jwks: wrongJwks });
    expect(byJwks.ok).toBe(false);
    expect(byJwks.errors).toEqual([expect.objectContaining({ code: 'bad-signature' })]);
    expect(byJwks.errors[0]?.message).toContain(await signer.keyId());
    const otherPem = await readFile(
      join(work, 'other-keys', `${await otherSigner.keyId()}.public.pem`),
      'utf8',
    );
    const byPem = await verifyArchive(path, { publicKey: otherPem });
    expect(byPem.errors.map((e) => e.code)).toEqual(['bad-signature']);
  });

  it('reports a missing manifest or signature, and a file that is not a ZIP', async () => {
    const { path } = await buildArchive();
    const noSig = await rewrite(path, (entries) => entries.filter((e) => e.path !== 'manifest.jws'));
    expect(
      (await verifyArchive(noSig, { jwks: await signer.publicJwks() })).errors.map((e) => e.code),
    ).toEqual(['missing-signature']);
    const noManifest = await rewrite(path, (entries) => entries.filter((e) => e.path !== 'manifest.json'));
    expect(
      (await verifyArchive(noManifest, { jwks: await signer.publicJwks() })).errors.map((e) => e.code),
    ).toEqual(['missing-manifest']);
    const notZip = fresh('not.zip');
    await writeFile(notZip, 'hello');
    expect(
      (await verifyArchive(notZip, { jwks: await signer.publicJwks() })).errors.map((e) => e.code),
    ).toEqual(['unreadable-archive']);
  });

  it('reads ZIP64 archives (forced ZIP64 end records), as do unzip and Python', async () => {
    const { path } = await buildArchive(BASE_FILES, { forceZip64: true });
    const bytes = await readFile(path);
    // ZIP64 end of central directory record and locator signatures.
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]))).toBe(true);
    expect((await verifyArchive(path, { jwks: await signer.publicJwks() })).ok).toBe(true);
    if (spawnSync('unzip', ['-v']).status === 0) {
      const test = spawnSync('unzip', ['-tq', path], { encoding: 'utf8' });
      expect(test.stdout).toContain('No errors detected');
    }
    if (spawnSync('python3', ['--version']).status === 0) {
      const py = spawnSync(
        'python3',
        ['-c', 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(z.testzip() or "ok")', path],
        {
          encoding: 'utf8',
        },
      );
      expect(py.stdout.trim()).toBe('ok');
    }
  });
});

describe('loadJwks', () => {
  it('reads a JWKS file and keeps only P-256 keys', async () => {
    const jwks = await signer.publicJwks();
    const file = fresh('jwks.json');
    await writeFile(
      file,
      JSON.stringify({ keys: [...jwks.keys, { kty: 'RSA', n: 'x', e: 'AQAB', kid: 'r' }] }),
    );
    expect(await loadJwks(file)).toEqual(jwks);
    await writeFile(file, '{"nokeys":1}');
    await expect(loadJwks(file)).rejects.toThrow(/keys/);
  });
});

describe('npm run verify (scripts/verify.ts)', () => {
  const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
  const run = (args: string[]) =>
    spawnSync(tsx, [join(ROOT, 'scripts', 'verify.ts'), ...args], { encoding: 'utf8', cwd: work });

  it('exits 0 for a good archive, 1 naming the altered file, 2 for usage errors', async () => {
    const { path } = await buildArchive();
    const jwksFile = fresh('jwks.json');
    await writeFile(jwksFile, JSON.stringify(await signer.publicJwks()));
    const good = run([path, '--jwks', jwksFile]);
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('VALID');

    const tampered = await rewrite(path, (entries) =>
      entries.map((e) => (e.path === 'data/accounts/profile.json' ? { ...e, data: Buffer.from('[]\n') } : e)),
    );
    const bad = run([tampered, '--jwks', jwksFile]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('ALTERED-FILE');
    expect(bad.stderr).toContain('data/accounts/profile.json');
    expect(bad.stderr).toContain('INVALID');

    expect(run([]).status).toBe(2);
    expect(run([path, '--jwks']).status).toBe(2);
  });

  it('says how many files the manifest lists and how many the archive holds, as the download page does', async () => {
    const { path } = await buildArchive();
    const jwksFile = fresh('jwks.json');
    await writeFile(jwksFile, JSON.stringify(await signer.publicJwks()));
    const good = run([path, '--jwks', jwksFile]);
    expect(good.stdout).toContain(
      `all ${BASE_FILES.length} files listed in manifest.json match it ` +
        `(${BASE_FILES.length + 2} files in the archive, with manifest.json and manifest.jws)`,
    );
  });

  it('checks an erasure certificate too: as JWS or as the route answers it, with a JWKS or a PEM key', async () => {
    const issuedAt = '2026-11-23T00:00:00.000Z';
    const payload: CertificatePayload = {
      type: 'erasure-certificate',
      formatVersion: 1,
      issuer: 'dsr-orchestrator',
      certificateId: `req_${'c'.repeat(32)}/1`,
      number: 1,
      requestId: `req_${'c'.repeat(32)}`,
      subject: { keyedHash: 'keyed-hash', found: true },
      jurisdiction: { requested: 'KR', applied: 'KR' },
      policy: { version: '1.0.0', hash: 'sha256:policy' },
      requestedAt: issuedAt,
      issuedAt,
      asOf: issuedAt,
      status: 'partially_completed',
      nextStepAt: null,
      stores: [
        {
          store: 'accounts',
          categories: [{ category: 'profile', state: 'deleted', deleted: 1, anonymised: 0 }],
        },
        {
          store: 'chat',
          categories: [
            {
              category: 'messages',
              state: 'held',
              deleted: 0,
              anonymised: 0,
              held: [{ holdId: 'hold_1', caseReference: 'CASE-42' }],
            },
          ],
        },
      ],
      verification: { result: 'passed', at: issuedAt, categoriesChecked: 2, remainingByDesign: [] },
      processors: [],
      runs: [],
    };
    const { jws, kid } = await signCertificate(payload, signer);
    const jwks = await signer.publicJwks();
    const jwksFile = fresh('jwks.json');
    await writeFile(jwksFile, JSON.stringify(jwks));
    const pemFile = fresh('public.pem');
    const jwk = jwks.keys.find((k) => k.kid === kid)!;
    await writeFile(
      pemFile,
      createPublicKey({ key: { ...jwk }, format: 'jwk' }).export({ type: 'spki', format: 'pem' }),
    );

    const jwsFile = fresh('cert.jws');
    await writeFile(jwsFile, jws);
    const good = run([jwsFile, '--jwks', jwksFile]);
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('Checking an erasure certificate');
    expect(good.stdout).toContain(`OK  signature valid (ES256, key ${kid})`);
    expect(good.stdout).toContain(`certificate ${payload.certificateId} of request ${payload.requestId}`);
    expect(good.stdout).toContain('chat: messages held, held by hold_1');
    expect(good.stdout).toContain('VALID');

    const jsonFile = fresh('cert.json');
    await writeFile(jsonFile, JSON.stringify({ certificate: jws, payload, kid, number: 1, latest: 1 }));
    expect(run([jsonFile, '--key', pemFile]).status).toBe(0);

    const [h, body, sig] = jws.split('.') as [string, string, string];
    const forgedBody = Buffer.from(
      Buffer.from(body, 'base64url').toString('utf8').replace('"deleted":1', '"deleted":9'),
    ).toString('base64url');
    const forgedFile = fresh('forged.jws');
    await writeFile(forgedFile, `${h}.${forgedBody}.${sig}`);
    const forged = run([forgedFile, '--jwks', jwksFile]);
    expect(forged.status).toBe(1);
    expect(forged.stderr).toContain('INVALID');

    const otherJwks = fresh('other-jwks.json');
    await writeFile(otherJwks, JSON.stringify(await otherSigner.publicJwks()));
    expect(run([jwsFile, '--jwks', otherJwks]).status).toBe(1);
  });
});

const hasShellTools = ['openssl', 'jq', 'unzip', 'sha256sum', 'od'].every(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0,
);

(hasShellTools ? describe : describe.skip)('the openssl instructions in docs/export-format.md', () => {
  let script: string;

  beforeAll(async () => {
    const doc = await readFile(join(ROOT, 'docs', 'export-format.md'), 'utf8');
    const match =
      /<!-- openssl-verification:begin -->\s*```bash\n([\s\S]*?)```\s*<!-- openssl-verification:end -->/.exec(
        doc,
      );
    if (!match?.[1]) throw new Error('docs/export-format.md has no openssl verification block');
    script = fresh('verify.sh');
    await writeFile(script, match[1]);
  });

  async function runDoc(archive: string) {
    const jwks = fresh('jwks.json');
    await writeFile(jwks, JSON.stringify(await signer.publicJwks()));
    return spawnSync('bash', [script], {
      encoding: 'utf8',
      env: { ...process.env, ARCHIVE: archive, JWKS: jwks },
      cwd: work,
    });
  }

  it('verifies a good archive: "Verified OK" and all files match', async () => {
    const { path } = await buildArchive();
    const result = await runDoc(path);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('Verified OK');
    expect(result.stdout).toContain('All files match the manifest');
    expect(result.status).toBe(0);
  });

  it('fails when the manifest was edited', async () => {
    const { path, manifestBytes } = await buildArchive();
    const edited = Buffer.from(manifestBytes.toString().replace('req-1', 'req-2'));
    const tampered = await rewrite(path, (entries) =>
      entries.map((e) => (e.path === 'manifest.json' ? { ...e, data: edited } : e)),
    );
    const result = await runDoc(tampered);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toContain('Verification failure');
  });

  it('fails when a file was altered, or a file was added', async () => {
    const { path } = await buildArchive();
    const altered = await rewrite(path, (entries) =>
      entries.map((e) => (e.path.endsWith('.txt') ? { ...e, data: Buffer.from('HELLO') } : e)),
    );
    const r1 = await runDoc(altered);
    expect(r1.stdout).toContain('Verified OK');
    expect(r1.status).not.toBe(0);
    expect(r1.stdout + r1.stderr).toMatch(/FAILED/);

    const added = await rewrite(path, (entries) => [
      ...entries,
      { path: 'media/media/new.bin', data: Buffer.from('x') },
    ]);
    const r2 = await runDoc(added);
    expect(r2.status).not.toBe(0);
    expect(r2.stderr).toContain('media/media/new.bin');
  });

  it('fails with a JWKS that does not hold the signing key', async () => {
    const { path } = await buildArchive(BASE_FILES, { by: otherSigner });
    const result = await runDoc(path);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('No key with kid');
  });
});
