/**
 * Memory and throughput benchmark of the archive assembler against local S3:
 *
 *   npx tsx scripts/bench-assemble.ts --media-mib 1024 [--file-mib 256] [--records 100000]
 *       [--writer ours|yazl|both] [--rounds 1] [--verify] [--keep]
 *
 * Seeds N MiB of media (files of --file-mib each) and a collection of --records records into a local
 * S3 (s3rver behind the local stack's proxy, in its own process as always, so its memory is not counted),
 * then assembles the archive in a fresh process per run and prints that process's peak RSS (sampled
 * every 20 ms), CPU time and throughput. The target is a peak RSS under 300 MB at 1 GiB and 3 GiB of
 * media. --verify downloads each archive and checks it with the verifier. Exit status 1 if a peak
 * exceeds --max-rss-mib (300).
 *
 * --writer picks the ZIP writer: ours (zip-writer.ts, the default), yazl (scripts/yazl-writer.ts), or
 * both, which runs each --rounds times over the same data, in alternating order, and prints the medians
 * and yazl's ratios to ours (compare ratios from one run: the machine is shared). --writers-only leaves
 * S3 out: each writer writes the media (stored) and the records (deflated) from generated streams, and
 * its output is discarded, so the figures are the writer's own cost.
 *
 *   npx tsx scripts/bench-assemble.ts --zip64-check
 *
 * writes (to a temporary file, not S3) a signed archive with one 4.1 GiB entry followed by a small
 * one, so both an entry and offsets pass 4 GiB, and checks that the verifier (yauzl), `unzip -t` and
 * Python's zipfile read it (needs about 4.2 GB of disk).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { orchestratorResources, platformStores } from '../config/data-map';
import { assembleExport, type ArchivePointer } from '../functions/assemble-export/core';
import { serializeManifest, type ManifestFile } from '../functions/lib/export/manifest';
import { ZipWriter, type ZipWriterOptions } from '../functions/assemble-export/zip-writer';
import { JWS_TYPES, signDetached, type Jwks } from '../functions/lib/crypto/jws';
import type { CollectResult, StoreIndex } from '../functions/lib/connectors/contract';
import { stagingKeys } from '../functions/lib/aws/s3-objects';
import { LocalSigner } from '../functions/lib/crypto/signing';
import { verifyArchive } from '../functions/lib/export/verify-archive';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startS3Local } from '../local/stores';
import { flag, numberOption } from './cli-options';
import { YazlWriter } from './yazl-writer';
import { jsonArrayChunks } from '../functions/assemble-export/ndjson';

const MiB = 1024 * 1024;

/** Deterministic, incompressible-looking bytes without holding the file in memory. */
function mediaStream(bytes: number, seed: number): Readable {
  const block = randomBytes(MiB);
  let sent = 0;
  let n = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return void this.push(null);
      const size = Math.min(MiB, bytes - sent);
      const chunk = Buffer.from(block.subarray(0, size));
      chunk.writeUInt32BE(seed, 0);
      chunk.writeUInt32BE(n++, 4);
      sent += size;
      this.push(chunk);
    },
  });
}

/** ZIP64 check: a >4 GiB entry and >4 GiB offsets, written by ZipWriter to a file, read back by three readers. */
async function zip64Check(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'bench-zip64-'));
  try {
    const path = join(work, 'zip64.zip');
    const signer = new LocalSigner(join(work, 'keys'));
    const writer = new ZipWriter({ date: new Date() });
    const out = createWriteStream(path);
    writer.output.pipe(out);
    const files: ManifestFile[] = [];
    for (const [name, mib] of [
      ['media/media/huge.bin', 4200],
      ['media/media/after.bin', 3],
    ] as const) {
      files.push(await writer.add(name, mediaStream(mib * MiB, files.length), { store: true }));
    }
    const manifestBytes = serializeManifest({
      formatVersion: 1,
      requestId: 'zip64-check',
      subject: 'none',
      generatedAt: new Date().toISOString(),
      subjectFound: false,
      stores: [],
      files,
    });
    await writer.add('manifest.json', manifestBytes, { store: false });
    await writer.add(
      'manifest.jws',
      Buffer.from(await signDetached(manifestBytes, signer, { typ: JWS_TYPES.manifest })),
      {
        store: false,
      },
    );
    await writer.finish();
    await finished(out);
    const verdict = await verifyArchive(path, { jwks: await signer.publicJwks() });
    console.log(
      `archive ${mibText(writer.summary().bytes)} MiB; verifier (yauzl): ${verdict.ok ? 'VALID' : 'INVALID'}`,
    );
    const unzip = spawnSync('unzip', ['-tq', path], { encoding: 'utf8' });
    console.log(`unzip -t: ${unzip.error ? 'not installed' : (unzip.stdout || unzip.stderr).trim()}`);
    const py = spawnSync(
      'python3',
      ['-c', 'import sys,zipfile; print(zipfile.ZipFile(sys.argv[1]).testzip() or "ok")', path],
      {
        encoding: 'utf8',
      },
    );
    console.log(`python zipfile: ${py.error ? 'not installed' : (py.stdout || py.stderr).trim()}`);
    if (!verdict.ok || (!unzip.error && unzip.status !== 0) || (!py.error && py.status !== 0))
      process.exitCode = 1;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const mibText = (n: number) => (n / MiB).toFixed(1);

const WRITERS = ['ours', 'yazl'] as const;
type WriterName = (typeof WRITERS)[number];

const createWriter = (writer: WriterName) => (options: ZipWriterOptions) =>
  writer === 'yazl' ? new YazlWriter(options) : new ZipWriter(options);

/** What one assembling process is given: the seeded request, and where to find the store and keys. */
interface AssembleSpec {
  writer: WriterName;
  endpoint: string;
  requestId: string;
  stores: CollectResult[];
  keysDir: string;
}

/** What one writer-only process is given: how much media (stored) and how many records (deflated). */
interface WriterSpec {
  writer: WriterName;
  mediaMiB: number;
  fileMiB: number;
  records: number;
}

interface RunResult {
  writer: WriterName;
  /** Archive bytes written. */
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  baselineRss: number;
  peakRss: number;
  /** Assembling runs: where the archive is. */
  archive?: ArchivePointer;
}

const localS3 = (endpoint: string) =>
  new S3Client({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });

const RUN_RESULT_PREFIX = 'bench-assemble-result ';

/**
 * Runs `work` in this process (a child of the bench, one per run, so that no run inherits another's
 * or the seeding's heap), sampling RSS every 20 ms, and prints what it measured for the parent.
 */
async function measure(
  writer: WriterName,
  work: () => Promise<{ bytes: number; archive?: ArchivePointer }>,
): Promise<void> {
  global.gc?.();
  const baselineRss = process.memoryUsage().rss;
  let peakRss = baselineRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const { bytes, archive } = await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const { user, system } = process.cpuUsage(cpu);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const result: RunResult = {
    writer,
    bytes,
    seconds,
    cpuSeconds: (user + system) / 1e6,
    baselineRss,
    peakRss,
    archive,
  };
  process.stdout.write(`${RUN_RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** `--assemble-run <spec>`: the assembler over the seeded request, into local S3. */
async function assembleRun(spec: AssembleSpec): Promise<void> {
  const s3 = localS3(spec.endpoint);
  const signer = new LocalSigner(spec.keysDir);
  await signer.keyId();
  await measure(spec.writer, async () => {
    const { archive } = await assembleExport(
      {
        s3,
        stagingBucket: orchestratorResources.stagingBucket,
        exportsBucket: orchestratorResources.exportsBucket,
        mediaBucket: platformStores.media.bucketName,
        signer,
        createWriter: createWriter(spec.writer),
      },
      { requestId: spec.requestId, stores: spec.stores },
    );
    return { bytes: archive.bytes, archive };
  });
  s3.destroy();
}

/** The benchmark's records, one JSON line each, as the staging area writes them. */
function* recordLines(records: number): Generator<string> {
  for (let i = 0; i < records; i++) {
    yield `${JSON.stringify({ key: `voice/u-bench/clip-${i}.ogg`, bytes: i * 7, at: new Date(i * 1000).toISOString(), tags: ['a', i] })}\n`;
  }
}

/** `--writer-run <spec>`: the writer alone, from generated sources, its output read and discarded. */
async function writerRun(spec: WriterSpec): Promise<void> {
  await measure(spec.writer, async () => {
    const writer = createWriter(spec.writer)({ date: new Date() });
    const discarded = pipeline(writer.output, new Writable({ write: (_chunk, _encoding, done) => done() }));
    for (let i = 0, left = spec.mediaMiB * MiB; left > 0; i++) {
      const bytes = Math.min(spec.fileMiB * MiB, left);
      await writer.add(`media/media/clip-${i}.ogg`, mediaStream(bytes, i), { store: true });
      left -= bytes;
    }
    // The records as the assembler writes them: a JSON array, in chunks of about 64 KiB.
    const lines = (async function* () {
      for (const line of recordLines(spec.records)) yield Buffer.from(line.slice(0, -1));
    })();
    const text = Readable.from(jsonArrayChunks(lines, { records: 0 }), { objectMode: false });
    await writer.add('data/media/objects.json', text, { store: false });
    await writer.finish();
    await discarded;
    return { bytes: writer.summary().bytes };
  });
}

/** Runs this script in a child process with `args` and returns what it reports. */
function spawnRun(writer: WriterName, args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', pathToFileURL(require.resolve('tsx')).href, __filename, ...args],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RUN_RESULT_PREFIX));
      if (code !== 0 || !line) return reject(new Error(`the ${writer} run failed (${signal ?? code})`));
      resolve(JSON.parse(line.slice(RUN_RESULT_PREFIX.length)) as RunResult);
    });
  });
}

/**
 * Runs `run` for each writer, --rounds times, alternating the order so that neither writer always
 * runs on a cooler (or warmer) machine; prints each run, and the medians when there are two writers.
 */
async function runRounds(
  writers: WriterName[],
  run: (writer: WriterName) => Promise<RunResult>,
  after: (result: RunResult) => Promise<void> = async () => undefined,
): Promise<void> {
  const rounds = Math.max(1, numberOption('rounds', 1));
  const maxRssMiB = numberOption('max-rss-mib', 300);
  const results: RunResult[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const writer of round % 2 === 0 ? writers : [...writers].reverse()) {
      const result = await run(writer);
      results.push(result);
      console.log(
        JSON.stringify({
          round: round + 1,
          writer,
          archiveMiB: Number(mibText(result.bytes)),
          files: result.archive?.files,
          seconds: Number(result.seconds.toFixed(1)),
          throughputMiBps: Number((result.bytes / MiB / result.seconds).toFixed(1)),
          cpuSeconds: Number(result.cpuSeconds.toFixed(1)),
          baselineRssMiB: Number(mibText(result.baselineRss)),
          peakRssMiB: Number(mibText(result.peakRss)),
          zip64: result.bytes > 0xffffffff,
        }),
      );
      await after(result);
      if (result.peakRss > maxRssMiB * MiB) {
        console.error(
          `${writer}: peak RSS ${mibText(result.peakRss)} MiB is over the ${maxRssMiB} MiB target`,
        );
        process.exitCode = 1;
      }
    }
  }
  if (writers.length > 1) printComparison(results);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Each writer's median throughput, CPU time per GiB and peak RSS, and yazl's as a ratio of ours. */
function printComparison(results: RunResult[]): void {
  const figures = (writer: WriterName) => {
    const mine = results.filter((r) => r.writer === writer);
    return {
      throughputMiBps: median(mine.map((r) => r.bytes / MiB / r.seconds)),
      cpuSecondsPerGiB: median(mine.map((r) => r.cpuSeconds / (r.bytes / (1024 * MiB)))),
      peakRssMiB: median(mine.map((r) => r.peakRss / MiB)),
    };
  };
  const ours = figures('ours');
  const yazl = figures('yazl');
  const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
  console.log(
    JSON.stringify(
      {
        medians: { ours, yazl },
        yazlOverOurs: {
          throughput: ratio(yazl.throughputMiBps, ours.throughputMiBps),
          cpuPerGiB: ratio(yazl.cpuSecondsPerGiB, ours.cpuSecondsPerGiB),
          peakRss: ratio(yazl.peakRssMiB, ours.peakRssMiB),
        },
      },
      (_key, value: unknown) => (typeof value === 'number' ? Number(value.toFixed(2)) : value),
      2,
    ),
  );
}

/** Downloads the archive and checks it with the verifier (and its SHA-256 against the run's). */
async function verifyRun(s3: S3Client, archive: ArchivePointer, work: string, jwks: Jwks): Promise<boolean> {
  const file = join(work, 'archive.zip');
  const body = (await s3.send(new GetObjectCommand({ Bucket: archive.bucket, Key: archive.key })))
    .Body as Readable;
  const hash = createHash('sha256');
  body.on('data', (chunk: Buffer) => hash.update(chunk));
  await pipeline(body, createWriteStream(file));
  const verdict = await verifyArchive(file, { jwks });
  const sha = hash.digest('hex');
  console.log(
    `verify: ${verdict.ok ? 'VALID' : 'INVALID'} (${verdict.filesChecked} files; sha256 ${sha === archive.sha256 ? 'matches' : 'DIFFERS'})`,
  );
  for (const e of verdict.errors) console.log(`  ${e.code} ${e.message}`);
  await rm(file, { force: true });
  return verdict.ok && sha === archive.sha256;
}

function writersOption(): WriterName[] {
  const at = process.argv.indexOf('--writer');
  const value = at === -1 ? 'ours' : process.argv[at + 1];
  if (value === 'both') return [...WRITERS];
  const writer = WRITERS.find((w) => w === value);
  if (!writer) throw new Error('--writer needs ours, yazl or both');
  return [writer];
}

const specOption = <T>(name: string): T | undefined => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : (JSON.parse(process.argv[at + 1] ?? '') as T);
};

async function main(): Promise<void> {
  if (flag('zip64-check')) return zip64Check();
  const assembleSpec = specOption<AssembleSpec>('assemble-run');
  if (assembleSpec) return assembleRun(assembleSpec);
  const writerSpec = specOption<WriterSpec>('writer-run');
  if (writerSpec) return writerRun(writerSpec);

  const mediaMiB = numberOption('media-mib', 1024);
  const fileMiB = numberOption('file-mib', 256);
  const records = numberOption('records', 100_000);
  const writers = writersOption();
  if (flag('writers-only')) {
    console.log(`writing ${mediaMiB} MiB of media and ${records} records, output discarded...`);
    return runRounds(writers, (writer) =>
      spawnRun(writer, ['--writer-run', JSON.stringify({ writer, mediaMiB, fileMiB, records })]),
    );
  }
  const work = await mkdtemp(join(tmpdir(), 'bench-assemble-'));
  const store = await startS3Local({ port: 0, dataDir: join(work, 's3') });
  const s3 = localS3(store.endpoint);
  const staging = orchestratorResources.stagingBucket;
  const exportsBucket = orchestratorResources.exportsBucket;
  const mediaBucket = platformStores.media.bucketName;
  try {
    for (const bucket of [staging, exportsBucket, mediaBucket])
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const requestId = `req_bench_${Date.now()}`;
    console.log(`seeding ${mediaMiB} MiB of media in ${fileMiB} MiB files and ${records} records...`);
    const seedStarted = Date.now();
    await s3.send(
      new PutObjectCommand({
        Bucket: staging,
        Key: stagingKeys.subject(requestId),
        Body: JSON.stringify({
          requestId,
          subjectHash: 'bench',
          found: true,
          identifiers: {},
          pseudonymSalt: 's',
        }),
      }),
    );
    const media: StoreIndex['media'] = [];
    for (let i = 0, left = mediaMiB * MiB; left > 0; i++) {
      const bytes = Math.min(fileMiB * MiB, left);
      const key = `voice/u-bench/2025-01-${String((i % 28) + 1).padStart(2, '0')}/clip-${i}.ogg`;
      await new Upload({
        client: s3,
        params: { Bucket: mediaBucket, Key: key, Body: mediaStream(bytes, i) },
        queueSize: 2,
      }).done();
      media.push({ archivePath: key, source: { bucket: mediaBucket, key }, bytes, contentType: 'audio/ogg' });
      left -= bytes;
    }
    const ndjsonKey = stagingKeys.collection(requestId, 'media', 'objects');
    const lines = Readable.from(recordLines(records));
    await new Upload({
      client: s3,
      params: { Bucket: staging, Key: ndjsonKey, Body: lines },
      queueSize: 2,
    }).done();
    const index: StoreIndex = {
      formatVersion: 1,
      store: 'media',
      collections: [
        {
          name: 'objects',
          description: 'Benchmark records',
          tabular: true,
          // A date, as real collections have: index.html's digest counts the records per month.
          recordSchema: { type: 'object', properties: { at: { type: 'string', format: 'date-time' } } },
          key: ndjsonKey,
          records,
          keys: ['key', 'bytes', 'at', 'tags'],
          bytes: 0,
        },
      ],
      media,
    };
    const indexKey = stagingKeys.storeIndex(requestId, 'media');
    await s3.send(new PutObjectCommand({ Bucket: staging, Key: indexKey, Body: JSON.stringify(index) }));
    const stores: CollectResult[] = [
      {
        store: 'media',
        index: { bucket: staging, key: indexKey },
        records,
        mediaFiles: media.length,
        bytes: mediaMiB * MiB,
      },
    ];
    console.log(`seeded in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);

    const keysDir = join(work, 'keys');
    const jwks = await new LocalSigner(keysDir).publicJwks();
    const spec = { endpoint: store.endpoint, requestId, stores, keysDir };
    await runRounds(
      writers,
      (writer) => spawnRun(writer, ['--assemble-run', JSON.stringify({ ...spec, writer })]),
      async ({ archive }) => {
        if (flag('verify') && archive && !(await verifyRun(s3, archive, work, jwks))) process.exitCode = 1;
      },
    );
  } finally {
    s3.destroy();
    await store.stop();
    if (!flag('keep')) await rm(work, { recursive: true, force: true });
    else console.log(`kept ${work}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
