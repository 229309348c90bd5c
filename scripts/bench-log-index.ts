/**
 * How fast the log indexer reads logs, against one gunzip pass over the same bytes, and how big its index
 * is against the gzip bytes it covers (docs/log-index.md, "Measured"):
 *
 *   npx tsx scripts/bench-log-index.ts [--gzip-mib 120] [--lines-per-object 100000] [--users 200000]
 *                                      [--signed-out 0.2] [--rounds 3] [--store-objects 3]
 *
 * Generates access-log objects (about 300-byte JSON lines: many users with a skewed activity, a share of
 * signed-out lines with device ids, varied addresses, paths and agents) until `--gzip-mib` of gzip, kept
 * in memory. Then, on one core, in rounds of alternating order: (1) one gunzip pass over every object;
 * (2) the indexer's read of the same objects: gunzip, the subject ids of every line, their keyed hashes.
 * Prints both throughputs (of the raw bytes), their ratio, and the index the objects would take (entries
 * and object records at DynamoDB's item size) as a share of their gzip bytes. Last, `--store-objects`
 * of them are indexed end to end on the local stack (S3 and DynamoDB Local), for what the writes cost.
 */
import '../local/polyfills';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { platformStores } from '../config/data-map';
import { LogIndexHasher } from '../functions/lib/logs/index-hash';
import { indexedObjectBytes, type IndexedObject } from '../functions/lib/logs/index-store';
import { gunzipStream } from '../functions/lib/logs/lines';
import { collectSubjectIds } from '../functions/lib/logs/subject-ids';
import { othersAccessLine } from '../local/others-log-lines';
import { seededRandom } from '../local/seed-data';
import { startScratchStack } from '../local/stack';
import { numberOption, stringOption } from './cli-options';

const MiB = 1024 * 1024;
interface Generated {
  key: string;
  gzip: Buffer;
  rawBytes: number;
}

interface GenerateOptions {
  gzipBytes: number;
  linesPerObject: number;
  users: number;
  signedOut: number;
}

/**
 * The generated objects, kept in `cacheDir` (one file per object, under a name of the options) so a
 * second run, or a profile, measures without generating them again.
 */
function generateCached(options: GenerateOptions, cacheDir: string): Generated[] {
  const dir = join(
    cacheDir,
    `v1-${options.gzipBytes}-${options.linesPerObject}-${options.users}-${options.signedOut}`,
  );
  const manifest = join(dir, 'manifest.json');
  if (existsSync(manifest)) {
    const entries = JSON.parse(readFileSync(manifest, 'utf8')) as { key: string; rawBytes: number }[];
    return entries.map((entry, n) => ({ ...entry, gzip: readFileSync(join(dir, `${n}.gz`)) }));
  }
  const objects = generate(options);
  mkdirSync(dir, { recursive: true });
  objects.forEach((object, n) => writeFileSync(join(dir, `${n}.gz`), object.gzip));
  writeFileSync(manifest, JSON.stringify(objects.map(({ key, rawBytes }) => ({ key, rawBytes }))));
  return objects;
}

function generate(options: GenerateOptions): Generated[] {
  const random = seededRandom(0x10601d);
  const objects: Generated[] = [];
  let total = 0;
  const start = Date.parse('2026-08-01T00:00:00Z');
  for (let n = 0; total < options.gzipBytes; n++) {
    const day = new Date(start + Math.floor(n / 4) * 86_400_000).toISOString().slice(0, 10);
    const lines: string[] = [];
    for (let i = 0; i < options.linesPerObject; i++) lines.push(othersAccessLine(random, day, options));
    const raw = Buffer.from(lines.join('\n') + '\n', 'utf8');
    const gzip = gzipSync(raw);
    objects.push({
      key: `${platformStores.logs.accessPrefix}dt=${day}/part-${String(n % 4).padStart(5, '0')}.jsonl.gz`,
      gzip,
      rawBytes: raw.length,
    });
    total += gzip.length;
  }
  return objects;
}

/** CPU milliseconds (this process, every thread: zlib's work included) and wall milliseconds of `run`. */
async function measure<T>(run: () => Promise<T>): Promise<{ cpuMs: number; wallMs: number; value: T }> {
  const cpu = process.cpuUsage();
  const wall = Date.now();
  const value = await run();
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs: Date.now() - wall, value };
}

async function gunzipOnly(objects: readonly Generated[]): Promise<number> {
  let bytes = 0;
  for (const object of objects) {
    await pipeline(Readable.from([object.gzip]), gunzipStream(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) bytes += chunk.length;
    });
  }
  return bytes;
}

/** What the indexer does with each object's bytes (functions/index-logs/core.ts), without the writes. */
async function indexRead(objects: readonly Generated[], hasher: LogIndexHasher) {
  const indexed: IndexedObject[] = [];
  for (const object of objects) {
    const subjects = await pipeline(
      Readable.from([object.gzip]),
      gunzipStream(),
      (s: AsyncIterable<Buffer>) => collectSubjectIds(s, 'access'),
    );
    const hashes = hasher.hashes(subjects);
    indexed.push({
      key: object.key,
      etag: 'd41d8cd98f00b204e9800998ecf8427e',
      size: object.gzip.length,
      indexedAt: new Date().toISOString(),
      lines: subjects.lines,
      hashes,
    });
  }
  return indexed;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  const generatedAt = Date.now();
  const objects = generateCached(
    {
      gzipBytes: numberOption('gzip-mib', 120) * MiB,
      linesPerObject: numberOption('lines-per-object', 100_000),
      users: numberOption('users', 200_000),
      signedOut: numberOption('signed-out', 0.2),
    },
    stringOption('cache-dir', '/tmp/dsr-bench-log-index'),
  );
  const gzipBytes = objects.reduce((sum, o) => sum + o.gzip.length, 0);
  const rawBytes = objects.reduce((sum, o) => sum + o.rawBytes, 0);
  console.log(
    `generated ${objects.length} objects: ${(gzipBytes / MiB).toFixed(1)} MiB gzip, ` +
      `${(rawBytes / MiB).toFixed(1)} MiB raw (${(rawBytes / gzipBytes).toFixed(1)}x) in ${((Date.now() - generatedAt) / 1000).toFixed(1)} s`,
  );

  const gunzipCpu: number[] = [];
  const indexCpu: number[] = [];
  let indexed: IndexedObject[] = [];
  const rounds = numberOption('rounds', 3);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['gunzip', 'index'] : ['index', 'gunzip'];
    for (const which of order) {
      if (which === 'gunzip') gunzipCpu.push((await measure(() => gunzipOnly(objects))).cpuMs);
      else {
        // A new hasher each round: its cache starts empty, as in a new container (the objects of a
        // round then share it, as a batch's objects do).
        const hasher = new LogIndexHasher(Buffer.alloc(32, 1));
        const run = await measure(() => indexRead(objects, hasher));
        indexCpu.push(run.cpuMs);
        indexed = run.value;
      }
    }
  }
  const rawMiB = rawBytes / MiB;
  const gunzipRate = rawMiB / (median(gunzipCpu) / 1000);
  const indexRate = rawMiB / (median(indexCpu) / 1000);
  console.log(
    `one core, median of ${rounds} (CPU time): gunzip ${gunzipRate.toFixed(0)} MiB/s raw ` +
      `(${(gzipBytes / MiB / (median(gunzipCpu) / 1000)).toFixed(0)} MiB/s gzip); indexer read ${indexRate.toFixed(0)} MiB/s raw ` +
      `(${(gzipBytes / MiB / (median(indexCpu) / 1000)).toFixed(0)} MiB/s gzip): ${(indexRate / gunzipRate).toFixed(2)}x of gunzip`,
  );
  const index = {
    entries: indexed.reduce((sum, o) => sum + o.hashes.length, 0),
    indexBytes: indexed.reduce((sum, o) => sum + indexedObjectBytes(o), 0),
  };
  console.log(
    `index: ${index.entries} entries (${(index.entries / objects.length).toFixed(0)} a object), ` +
      `${(index.indexBytes / MiB).toFixed(1)} MiB of items = ${((100 * index.indexBytes) / gzipBytes).toFixed(1)}% of the gzip bytes`,
  );

  // End to end on the local stack: S3 reads, DynamoDB Local writes.
  const storeObjects = objects.slice(0, numberOption('store-objects', 3));
  if (storeObjects.length === 0) return;
  const stack = await startScratchStack({ seed: false });
  try {
    for (const object of storeObjects) {
      await stack.s3.send(
        new PutObjectCommand({ Bucket: platformStores.logs.bucketName, Key: object.key, Body: object.gzip }),
      );
    }
    const run = await measure(() => stack.indexLogs());
    const stats = run.value[0]?.stats;
    if (!stats) throw new Error('no report');
    console.log(
      `local stack, ${stats.indexed} objects (${(stats.bytes / MiB).toFixed(1)} MiB gzip) indexed end to end in ` +
        `${(run.wallMs / 1000).toFixed(1)} s: ${stats.entries} entries written, ${(stats.indexBytes / MiB).toFixed(1)} MiB ` +
        `of items (${((100 * stats.indexBytes) / stats.bytes).toFixed(1)}% of the gzip bytes); ` +
        `${(stats.entries / (run.wallMs / 1000)).toFixed(0)} entries/s into DynamoDB Local`,
    );
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
