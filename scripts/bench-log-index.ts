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
 * (2) the indexer's read of the same objects: gunzip, the subject ids of every line, their keyed hashes,
 * the object file, by a new container (a new hasher: its readers start from nothing) and by a warm one
 * (its readers reused, their memory grown). Prints the
 * throughputs (of the raw bytes), their ratios to gunzip, and the index the objects would take (object
 * files, and the day files they merge into) as a share of their gzip bytes. Last, `--store-objects` of
 * them are indexed end to end on the local stack (s3rver), for what the writes cost.
 */
import '../local/polyfills';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { platformStores } from '../config/data-map';
import { LogIndexHasher } from '../functions/lib/logs/index-hash';
import { encodeDayFile, objectFileCount } from '../functions/lib/logs/index-files';
import { dayOfKey } from '../functions/lib/logs/day-objects';
import { gunzipStream } from '../functions/lib/logs/lines';
import { readObjectFile } from '../functions/index-logs/core';
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

/**
 * One gunzip pass, the cheaper of two ways: streamed (256 KiB chunks, as the indexer reads) or each
 * object inflated in one call: the baseline is the faster of the two.
 */
async function gunzipOnly(objects: readonly Generated[], whole: boolean): Promise<number> {
  let bytes = 0;
  for (const object of objects) {
    if (whole) {
      bytes += gunzipSync(object.gzip).length;
      continue;
    }
    await pipeline(Readable.from([object.gzip]), gunzipStream(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) bytes += chunk.length;
    });
  }
  return bytes;
}

/**
 * What the indexer does with each object's bytes (functions/index-logs/core.ts), without the writes: the
 * object file it would write included.
 */
async function indexRead(objects: readonly Generated[], hasher: LogIndexHasher) {
  const indexed: { key: string; file: Buffer }[] = [];
  for (const object of objects) {
    const { file } = await readObjectFile(Readable.from([object.gzip]), hasher, {
      gzipped: true,
      kind: 'access',
    });
    indexed.push({ key: object.key, file });
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

  const streamedCpu: number[] = [];
  const wholeCpu: number[] = [];
  const indexCpu: number[] = [];
  const warmCpu: number[] = [];
  let indexed: { key: string; file: Buffer }[] = [];
  const rounds = numberOption('rounds', 3);
  // A container that has indexed objects before: its readers (lib/logs/log-ids.ts) are made and grown.
  const warm = new LogIndexHasher(Buffer.alloc(32, 1));
  await indexRead(objects, warm);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['gunzip', 'index'] : ['index', 'gunzip'];
    for (const which of order) {
      if (which === 'gunzip') {
        streamedCpu.push((await measure(() => gunzipOnly(objects, false))).cpuMs);
        wholeCpu.push((await measure(() => gunzipOnly(objects, true))).cpuMs);
      } else {
        // A new hasher: its readers are made for the round's first object, as in a new container (the
        // objects of a round then reuse them, as a batch's objects do). Then the warm one.
        const hasher = new LogIndexHasher(Buffer.alloc(32, 1));
        const run = await measure(() => indexRead(objects, hasher));
        indexCpu.push(run.cpuMs);
        indexed = run.value;
        warmCpu.push((await measure(() => indexRead(objects, warm))).cpuMs);
      }
    }
  }
  const rawMiB = rawBytes / MiB;
  const gunzipCpu = median(streamedCpu) <= median(wholeCpu) ? streamedCpu : wholeCpu;
  console.log(
    `gunzip, one core, median CPU: streamed ${median(streamedCpu).toFixed(0)} ms, whole objects ` +
      `${median(wholeCpu).toFixed(0)} ms (the baseline below is the faster)`,
  );
  const gunzipRate = rawMiB / (median(gunzipCpu) / 1000);
  const indexRate = rawMiB / (median(indexCpu) / 1000);
  const warmRate = rawMiB / (median(warmCpu) / 1000);
  console.log(
    `one core, median of ${rounds} (CPU time): gunzip ${gunzipRate.toFixed(0)} MiB/s raw ` +
      `(${(gzipBytes / MiB / (median(gunzipCpu) / 1000)).toFixed(0)} MiB/s gzip); indexer read, new container ` +
      `${indexRate.toFixed(0)} MiB/s raw (${(gzipBytes / MiB / (median(indexCpu) / 1000)).toFixed(0)} MiB/s gzip): ` +
      `${(indexRate / gunzipRate).toFixed(2)}x of gunzip; warm container (its readers grown) ` +
      `${warmRate.toFixed(0)} MiB/s raw: ${(warmRate / gunzipRate).toFixed(2)}x of gunzip`,
  );
  // The index files these objects make: one object file each, and the day files their days merge into.
  const days = new Map<string, { key: string; etag: string; file: Buffer }[]>();
  for (const object of indexed) {
    const day = dayOfKey(object.key, platformStores.logs.accessPrefix) ?? '';
    // A day file lists each object's ETag: one of S3's length stands in.
    days.set(day, [...(days.get(day) ?? []), { ...object, etag: '0'.repeat(32) }]);
  }
  const merging = await measure(async () => [...days.values()].map((day) => encodeDayFile(day).length));
  const index = {
    entries: indexed.reduce((sum, o) => sum + objectFileCount(o.file), 0),
    objectBytes: indexed.reduce((sum, o) => sum + o.file.length, 0),
    dayBytes: merging.value.reduce((sum, bytes) => sum + bytes, 0),
  };
  const share = (bytes: number) => `${((100 * bytes) / gzipBytes).toFixed(1)}% of the gzip bytes`;
  console.log(
    `index: ${index.entries} entries (${(index.entries / objects.length).toFixed(0)} a object); object files ` +
      `${(index.objectBytes / MiB).toFixed(1)} MiB = ${share(index.objectBytes)}; ${days.size} day files ` +
      `${(index.dayBytes / MiB).toFixed(1)} MiB = ${share(index.dayBytes)}, merged in ${merging.cpuMs.toFixed(0)} ms CPU`,
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
        `${(run.wallMs / 1000).toFixed(1)} s: ${stats.entries} subject hashes in ${(stats.indexBytes / MiB).toFixed(1)} MiB ` +
        `of object files (${((100 * stats.indexBytes) / stats.bytes).toFixed(1)}% of the gzip bytes), ` +
        `${stats.daysMerged} day files (${(stats.dayBytes / MiB).toFixed(1)} MiB)`,
    );
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
