/**
 * Memory and throughput benchmark of the archive assembler against local S3:
 *
 *   npx tsx scripts/bench-assemble.ts --media-mib 1024 [--file-mib 256] [--records 100000] [--verify] [--keep]
 *
 * Seeds N MiB of media (files of --file-mib each) and a collection of --records records into a local
 * S3 (s3rver behind the local stack's proxy, in its own process as always, so its memory is not counted),
 * then assembles the archive and prints the assembling process's peak RSS (sampled every 20 ms) and
 * throughput. The target is a peak RSS under 300 MB at 1 GiB and 3 GiB of media. --verify downloads
 * the archive and checks it with the verifier. Exit status 1 if the peak exceeds --max-rss-mib (300).
 *
 *   npx tsx scripts/bench-assemble.ts --zip64-check
 *
 * writes (to a temporary file, not S3) a signed archive with one 4.1 GiB entry followed by a small
 * one, so both an entry and offsets pass 4 GiB, and checks that the verifier (yauzl), `unzip -t` and
 * Python's zipfile read it (needs about 4.2 GB of disk).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { orchestratorResources, platformStores } from '../config/data-map';
import { assembleExport } from '../functions/assemble-export/core';
import { serializeManifest, type ManifestFile } from '../functions/lib/export/manifest';
import { ZipWriter } from '../functions/assemble-export/zip-writer';
import { signDetached } from '../functions/lib/crypto/jws';
import type { CollectResult, StoreIndex } from '../functions/lib/connectors/contract';
import { stagingKeys } from '../functions/lib/aws/s3-objects';
import { LocalSigner } from '../functions/lib/crypto/signing';
import { verifyArchive } from '../functions/lib/export/verify-archive';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startS3Local } from '../local/stores';
import { flag, numberOption } from './cli-options';

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
    await writer.add('manifest.jws', Buffer.from(await signDetached(manifestBytes, signer)), {
      store: false,
    });
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

async function main(): Promise<void> {
  if (flag('zip64-check')) return zip64Check();

  const mediaMiB = numberOption('media-mib', 1024);
  const fileMiB = numberOption('file-mib', 256);
  const records = numberOption('records', 100_000);
  const maxRssMiB = numberOption('max-rss-mib', 300);
  const work = await mkdtemp(join(tmpdir(), 'bench-assemble-'));
  const store = await startS3Local({ port: 0, dataDir: join(work, 's3') });
  const s3 = new S3Client({
    endpoint: store.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
  });
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
    const lines = Readable.from(
      (function* () {
        for (let i = 0; i < records; i++) {
          yield `${JSON.stringify({ key: `voice/u-bench/clip-${i}.ogg`, bytes: i * 7, at: new Date(i * 1000).toISOString(), tags: ['a', i] })}\n`;
        }
      })(),
    );
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
          recordSchema: { type: 'object' },
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

    const signer = new LocalSigner(join(work, 'keys'));
    await signer.keyId();
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const started = Date.now();
    const out = await assembleExport(
      { s3, stagingBucket: staging, exportsBucket, mediaBucket, signer },
      { requestId, stores },
    );
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);

    const mib = mibText;
    console.log(
      JSON.stringify(
        {
          mediaMiB,
          fileMiB,
          records,
          archiveMiB: Number(mib(out.archive.bytes)),
          files: out.archive.files,
          seconds: Number(seconds.toFixed(1)),
          throughputMiBps: Number((out.archive.bytes / MiB / seconds).toFixed(1)),
          baselineRssMiB: Number(mib(baseline)),
          peakRssMiB: Number(mib(peak)),
          zip64: out.archive.bytes > 0xffffffff,
        },
        null,
        2,
      ),
    );

    if (flag('verify')) {
      const file = join(work, 'archive.zip');
      const body = (await s3.send(new GetObjectCommand({ Bucket: exportsBucket, Key: out.archive.key })))
        .Body as Readable;
      const hash = createHash('sha256');
      body.on('data', (chunk: Buffer) => hash.update(chunk));
      await pipeline(body, createWriteStream(file));
      const verdict = await verifyArchive(file, { jwks: await signer.publicJwks() });
      const sha = hash.digest('hex');
      console.log(
        `verify: ${verdict.ok ? 'VALID' : 'INVALID'} (${verdict.filesChecked} files; sha256 ${sha === out.archive.sha256 ? 'matches' : 'DIFFERS'})`,
      );
      for (const e of verdict.errors) console.log(`  ${e.code} ${e.message}`);
      if (!verdict.ok || sha !== out.archive.sha256) process.exitCode = 1;
    }
    if (peak > maxRssMiB * MiB) {
      console.error(`peak RSS ${mib(peak)} MiB is over the ${maxRssMiB} MiB target`);
      process.exitCode = 1;
    }
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
