/**
 * ZipWriter, for real: archives are written to temporary files and read back with yauzl, and their
 * headers, data descriptors and end records are checked byte by byte against PKWARE's APPNOTE.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import { ArchiveAssemblyError } from '../../functions/assemble-export/errors';
import { ZipWriter, type WrittenFile } from '../../functions/assemble-export/zip-writer';

// A writer that hangs instead of failing should fail the test sooner than the default 2 minutes; a
// minute leaves room for the 64 MiB cases on a busy 2-core machine (they take 2-3 s when it is idle).
jest.setTimeout(60_000);

const MiB = 1024 * 1024;
const DATE = new Date('2025-01-15T10:20:31Z');
const UTF8_NAME = 'media/写真/😀 שלום עולם 🇯🇵.txt';

let work: string;
let counter = 0;
const fresh = (name: string) => join(work, `${counter++}-${name}`);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'zip-writer-test-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Input {
  path: string;
  data: Buffer;
  store: boolean;
  /** How the source is given: a Buffer, or a stream of chunks of these sizes. */
  chunks?: number[];
  size?: number;
}

function streamOf(data: Buffer, sizes: number[]): Readable {
  const parts: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    parts.push(data.subarray(at, at + size));
    at += size;
  }
  if (at < data.length) parts.push(data.subarray(at));
  return Readable.from(parts, { objectMode: false });
}

async function writeArchive(inputs: Input[], options: { forceZip64?: boolean } = {}) {
  const path = fresh('archive.zip');
  const writer = new ZipWriter({ date: DATE, forceZip64: options.forceZip64 });
  const out = createWriteStream(path);
  writer.output.pipe(out);
  const written: WrittenFile[] = [];
  for (const input of inputs) {
    const source = input.chunks ? streamOf(input.data, input.chunks) : input.data;
    written.push(await writer.add(input.path, source, { store: input.store, size: input.size }));
  }
  await writer.finish();
  await finished(out);
  return {
    path,
    written,
    summary: writer.summary(),
    fileCount: writer.fileCount,
    bytes: await readFile(path),
  };
}

interface ReadEntry {
  entry: yauzl.Entry;
  data: Buffer;
}

async function readArchive(path: string): Promise<ReadEntry[]> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true, strictFileNames: true });
  const entries: ReadEntry[] = [];
  for await (const entry of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
    entries.push({ entry, data: Buffer.concat(chunks) });
  }
  zip.close();
  return entries;
}

const zip64Extra = (entry: yauzl.Entry) => entry.extraFields.find((field) => field.id === 0x0001);

/**
 * Checks what yauzl does not: each entry's local header (signature, flags, method, name, ZIP64 extra)
 * and its data descriptor (signature, CRC-32, sizes: 8 bytes each when the entry has a ZIP64 extra).
 */
function checkLocalRecords(
  archive: Buffer,
  entries: ReadEntry[],
  localZip64: (name: string) => boolean,
): void {
  for (const { entry, data } of entries) {
    const at = entry.relativeOffsetOfLocalHeader;
    expect(archive.readUInt32LE(at)).toBe(0x04034b50);
    const zip64 = localZip64(entry.fileName);
    expect(archive.readUInt16LE(at + 4)).toBe(zip64 ? 45 : 20);
    expect(archive.readUInt16LE(at + 6)).toBe(0x0808); // bit 3 (data descriptor), bit 11 (UTF-8)
    expect(archive.readUInt16LE(at + 8)).toBe(entry.compressionMethod);
    expect(archive.readUInt16LE(at + 10)).toBe(entry.lastModFileTime);
    expect(archive.readUInt16LE(at + 12)).toBe(entry.lastModFileDate);
    expect(archive.readUInt32LE(at + 14)).toBe(0); // CRC-32: in the data descriptor
    expect(archive.readUInt32LE(at + 18)).toBe(zip64 ? 0xffffffff : 0);
    expect(archive.readUInt32LE(at + 22)).toBe(zip64 ? 0xffffffff : 0);
    const nameLength = archive.readUInt16LE(at + 26);
    const extraLength = archive.readUInt16LE(at + 28);
    expect(archive.subarray(at + 30, at + 30 + nameLength).toString('utf8')).toBe(entry.fileName);
    if (zip64) {
      // A ZIP64 extra field with both sizes, 0 (they follow the data).
      expect(extraLength).toBe(20);
      expect(archive.readUInt16LE(at + 30 + nameLength)).toBe(0x0001);
      expect(archive.readUInt16LE(at + 32 + nameLength)).toBe(16);
      expect(archive.subarray(at + 34 + nameLength, at + 50 + nameLength).equals(Buffer.alloc(16))).toBe(
        true,
      );
    } else {
      expect(extraLength).toBe(0);
    }
    const descriptor = at + 30 + nameLength + extraLength + entry.compressedSize;
    expect(archive.readUInt32LE(descriptor)).toBe(0x08074b50);
    expect(archive.readUInt32LE(descriptor + 4)).toBe(crc32(data));
    if (zip64Extra(entry)) {
      expect(Number(archive.readBigUInt64LE(descriptor + 8))).toBe(entry.compressedSize);
      expect(Number(archive.readBigUInt64LE(descriptor + 16))).toBe(data.length);
    } else {
      expect(archive.readUInt32LE(descriptor + 8)).toBe(entry.compressedSize);
      expect(archive.readUInt32LE(descriptor + 12)).toBe(data.length);
    }
  }
}

/** The classic end of central directory record: the archive's last 22 bytes (no comment). */
function endRecord(archive: Buffer) {
  const at = archive.length - 22;
  expect(archive.readUInt32LE(at)).toBe(0x06054b50);
  return {
    at,
    entries: archive.readUInt16LE(at + 10),
    centralSize: archive.readUInt32LE(at + 12),
    centralOffset: archive.readUInt32LE(at + 16),
  };
}

/** A deterministic stream of `total` bytes in 64 KiB chunks; counts what has been pulled from it. */
function generated(total: number) {
  const hash = createHash('sha256');
  const state = { pulled: 0, sha256: '' };
  let n = 0;
  const stream = new Readable({
    read() {
      if (state.pulled >= total) {
        state.sha256 = hash.digest('hex');
        this.push(null);
        return;
      }
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, total - state.pulled)).fill(n++ % 251);
      chunk.writeUInt32LE(n, 0);
      hash.update(chunk);
      state.pulled += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, state };
}

/** Resolves once `read()` reports the same number twice, 20 ms apart: the writer is waiting. */
async function settled(read: () => number): Promise<number> {
  let last = -1;
  for (;;) {
    const now = read();
    if (now === last) return now;
    last = now;
    await sleep(20);
  }
}

describe('ZipWriter archives', () => {
  const text = Buffer.from('{"userId":"u1","name":"Ada"}\n'.repeat(2000));
  const media = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 256));
  const inputs: Input[] = [
    { path: 'data/accounts/profile.json', data: text, store: false },
    { path: 'data/accounts/profile.csv', data: text, store: false, chunks: [1, 100, 5000] },
    { path: 'media/uploads/photo.jpg', data: media, store: true, chunks: [65536, 65536, 1] },
    { path: 'media/uploads/raw.bin', data: media, store: true },
    { path: UTF8_NAME, data: Buffer.from('مرحبا 👋 こんにちは'), store: false, chunks: [3] },
    { path: 'empty-deflated.txt', data: Buffer.alloc(0), store: false },
    { path: 'empty-stored.txt', data: Buffer.alloc(0), store: true, chunks: [] },
    { path: 'index.html', data: Buffer.from('<!doctype html>'), store: false },
    // Buffers over 1 MiB are streamed rather than written in one piece.
    { path: 'media/large.bin', data: Buffer.concat(Array<Buffer>(9).fill(media)), store: true },
    { path: 'data/large.json', data: Buffer.concat(Array<Buffer>(30).fill(text)), store: false },
  ];

  it('writes every file (stored or deflated) with its name, content, CRC-32 and date; hashes match', async () => {
    const { path, written, summary, fileCount, bytes } = await writeArchive(inputs);
    const entries = await readArchive(path);

    expect(entries.map((e) => e.entry.fileName)).toEqual(inputs.map((i) => i.path));
    expect(fileCount).toBe(inputs.length);
    entries.forEach(({ entry, data }, i) => {
      const input = inputs[i]!;
      expect(data.equals(input.data)).toBe(true);
      expect(entry.compressionMethod).toBe(input.store ? 0 : 8);
      // yauzl does not check CRC-32s: compare the central directory's with the content's.
      expect(entry.crc32).toBe(crc32(input.data));
      expect(entry.uncompressedSize).toBe(input.data.length);
      expect(entry.generalPurposeBitFlag).toBe(0x0808);
      expect(entry.versionMadeBy >> 8).toBe(3); // UNIX
      expect(entry.versionNeededToExtract).toBe(20);
      expect(entry.externalFileAttributes >>> 16).toBe(0o100644);
      expect(zip64Extra(entry)).toBeUndefined();
      // DOS times have a 2-second resolution, and are the date's UTC fields.
      expect(entry.getLastModDate({ timezone: 'UTC', forceDosFormat: true }).toISOString()).toBe(
        '2025-01-15T10:20:30.000Z',
      );
      expect(written[i]).toEqual({ path: input.path, sha256: sha256(input.data), bytes: input.data.length });
    });
    // Text is compressed; media are stored as they are.
    expect(entries[0]!.entry.compressedSize).toBeLessThan(text.length / 10);
    expect(entries[2]!.entry.compressedSize).toBe(media.length);

    checkLocalRecords(bytes, entries, () => false);
    const end = endRecord(bytes);
    expect(end.entries).toBe(inputs.length);
    expect(end.centralOffset + end.centralSize).toBe(end.at);
    expect(bytes.readUInt32LE(end.at - 20)).not.toBe(0x07064b50); // no ZIP64 locator
    expect(summary).toEqual({ sha256: sha256(bytes), bytes: bytes.length });
  });

  it('is reproducible: the same files and date give the same bytes', async () => {
    const [a, b] = [await writeArchive(inputs), await writeArchive(inputs)];
    expect(a.summary).toEqual(b.summary);
  });

  it('writes a valid empty archive', async () => {
    const { path, summary, fileCount, bytes } = await writeArchive([]);
    expect(bytes.length).toBe(22);
    expect(endRecord(bytes)).toMatchObject({ entries: 0, centralSize: 0, centralOffset: 0 });
    expect(await readArchive(path)).toEqual([]);
    expect(fileCount).toBe(0);
    expect(summary).toEqual({ sha256: sha256(bytes), bytes: 22 });
  });

  it('writes ZIP64 records for every entry and for the archive under forceZip64', async () => {
    const { path, written, summary, bytes } = await writeArchive(inputs, { forceZip64: true });
    const entries = await readArchive(path);

    expect(entries.map((e) => e.entry.fileName)).toEqual(inputs.map((i) => i.path));
    entries.forEach(({ entry, data }, i) => {
      expect(data.equals(inputs[i]!.data)).toBe(true);
      expect(entry.crc32).toBe(crc32(data));
      expect(entry.versionNeededToExtract).toBe(45);
      // All three fields, in APPNOTE order: uncompressed size, compressed size, local header offset.
      const extra = zip64Extra(entry)!.data;
      expect(extra.length).toBe(24);
      expect(Number(extra.readBigUInt64LE(0))).toBe(data.length);
      expect(Number(extra.readBigUInt64LE(8))).toBe(entry.compressedSize);
      expect(Number(extra.readBigUInt64LE(16))).toBe(entry.relativeOffsetOfLocalHeader);
      expect(written[i]!.sha256).toBe(sha256(data));
    });
    checkLocalRecords(bytes, entries, () => true);

    const end = endRecord(bytes);
    expect(end).toMatchObject({ entries: 0xffff, centralSize: 0xffffffff, centralOffset: 0xffffffff });
    const locator = end.at - 20;
    expect(bytes.readUInt32LE(locator)).toBe(0x07064b50);
    expect(bytes.readUInt32LE(locator + 16)).toBe(1); // disks
    const zip64End = Number(bytes.readBigUInt64LE(locator + 8));
    expect(zip64End).toBe(locator - 56);
    expect(bytes.readUInt32LE(zip64End)).toBe(0x06064b50);
    expect(Number(bytes.readBigUInt64LE(zip64End + 4))).toBe(44);
    expect(Number(bytes.readBigUInt64LE(zip64End + 32))).toBe(inputs.length);
    const centralSize = Number(bytes.readBigUInt64LE(zip64End + 40));
    const centralOffset = Number(bytes.readBigUInt64LE(zip64End + 48));
    expect(centralOffset + centralSize).toBe(zip64End);
    expect(bytes.readUInt32LE(centralOffset)).toBe(0x02014b50);
    expect(summary).toEqual({ sha256: sha256(bytes), bytes: bytes.length });
  });

  it('writes an empty ZIP64 archive that yauzl reads', async () => {
    const { path, bytes } = await writeArchive([], { forceZip64: true });
    expect(bytes.length).toBe(56 + 20 + 22);
    expect(bytes.readUInt32LE(0)).toBe(0x06064b50);
    expect(await readArchive(path)).toEqual([]);
  });

  it('announces ZIP64 in the local header when the size hint is 4 GiB or more', async () => {
    const data = Buffer.from('small after all');
    const { path, bytes } = await writeArchive([
      { path: 'a.txt', data, store: true, size: data.length },
      { path: 'big.bin', data, store: true, chunks: [4], size: 0x100000000 },
      { path: 'c.txt', data, store: false },
    ]);
    const entries = await readArchive(path);
    expect(entries.map((e) => e.data.toString())).toEqual([data, data, data].map(String));
    checkLocalRecords(bytes, entries, (name) => name === 'big.bin');
    // Its data descriptor has 8-byte sizes, so its central header has a ZIP64 extra field (the sizes).
    expect(zip64Extra(entries[1]!.entry)!.data.length).toBe(16);
    expect(zip64Extra(entries[0]!.entry)).toBeUndefined();
    expect(zip64Extra(entries[2]!.entry)).toBeUndefined();
  });
});

describe('ZipWriter refusals', () => {
  it('refuses an empty name, a name over 65535 bytes or with a lone surrogate, and stays usable', async () => {
    const writer = new ZipWriter({ date: DATE });
    const collected: Buffer[] = [];
    writer.output.on('data', (chunk: Buffer) => collected.push(chunk));
    for (const name of ['', 'é'.repeat(32768), 'bad\ud800name']) {
      const source = Readable.from([Buffer.from('x')]);
      await expect(writer.add(name, source, { store: false })).rejects.toBeInstanceOf(ArchiveAssemblyError);
      expect(source.destroyed).toBe(true);
    }
    await expect(writer.add('ok.txt', Buffer.from('x'), { store: false, size: -1 })).rejects.toBeInstanceOf(
      ArchiveAssemblyError,
    );
    // A name of exactly 65535 bytes is fine.
    const longest = `${'a'.repeat(65535 - 4)}.txt`;
    await writer.add(longest, Buffer.from('x'), { store: false });
    await writer.finish();
    await finished(writer.output);
    const path = fresh('names.zip');
    const out = createWriteStream(path);
    out.end(Buffer.concat(collected));
    await finished(out);
    expect((await readArchive(path)).map((e) => e.entry.fileName)).toEqual([longest]);
  });

  it('writes one file at a time: a second add while one is running is refused, its source closed', async () => {
    const writer = new ZipWriter({ date: DATE });
    writer.output.resume();
    const first = generated(4 * MiB);
    const adding = writer.add('first.bin', first.stream, { store: true });
    const second = Readable.from([Buffer.from('x')]);
    await expect(writer.add('second.bin', second, { store: true })).rejects.toThrow(/another file/);
    expect(second.destroyed).toBe(true);
    await expect(writer.finish()).rejects.toThrow(/being written/);
    await expect(adding).resolves.toMatchObject({ bytes: 4 * MiB });
    await writer.finish();
    await expect(writer.add('late.txt', Buffer.from('x'), { store: false })).rejects.toThrow(/after finish/);
  });

  it('throws from summary() until the output has been read to its end', async () => {
    const writer = new ZipWriter({ date: DATE });
    await writer.add('a.txt', Buffer.from('a'), { store: false });
    await writer.finish();
    expect(() => writer.summary()).toThrow(ArchiveAssemblyError);
    const chunks: Buffer[] = [];
    for await (const chunk of writer.output) chunks.push(chunk as Buffer);
    const archive = Buffer.concat(chunks);
    expect(writer.summary()).toEqual({ sha256: sha256(archive), bytes: archive.length });
  });
});

describe('ZipWriter failures', () => {
  it('a source that fails part-way rejects add, errors the output, and fails the writer', async () => {
    const writer = new ZipWriter({ date: DATE });
    const outputError = new Promise<Error>((resolve) => writer.output.once('error', resolve));
    writer.output.resume();
    await writer.add('before.txt', Buffer.from('ok'), { store: false });

    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent >= 256 * 1024) return void this.destroy(reset);
        sent += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024, 1));
      },
    });
    await expect(writer.add('broken.bin', source, { store: false })).rejects.toBe(reset);
    expect(await outputError).toBe(reset);
    expect(writer.output.destroyed).toBe(true);

    const next = Readable.from([Buffer.from('x')]);
    await expect(writer.add('after.txt', next, { store: true })).rejects.toBe(reset);
    expect(next.destroyed).toBe(true);
    await expect(writer.finish()).rejects.toBe(reset);
    expect(() => writer.summary()).toThrow(ArchiveAssemblyError);
    expect(writer.fileCount).toBe(1);
  });

  const uploadFailed = new Error('upload failed');
  it.each<[string, (output: Readable) => Promise<void>, (adding: Promise<WrittenFile>) => Promise<void>]>([
    [
      'destroys it with an error (a failed upload)',
      async (output) => void output.destroy(uploadFailed),
      (adding) => expect(adding).rejects.toBe(uploadFailed),
    ],
    [
      'destroys it without an error',
      async (output) => void output.destroy(),
      (adding) => expect(adding).rejects.toThrow(/closed before its end/),
    ],
    [
      "stops iterating over it (as lib-storage's Upload does when a part fails)",
      async (output) => {
        for await (const _chunk of output) break;
      },
      (adding) => expect(adding).rejects.toMatchObject({ name: 'AbortError' }),
    ],
  ])('a consumer that %s while add waits rejects add rather than hanging', async (_, stop, rejected) => {
    const writer = new ZipWriter({ date: DATE });
    writer.output.on('error', () => undefined);
    const { stream, state } = generated(64 * MiB);
    // Nobody reads the output: the writer stops reading the source once the buffers are full.
    const adding = writer.add('big.bin', stream, { store: true });
    const pulled = await settled(() => state.pulled);
    expect(pulled).toBeLessThan(4 * MiB);

    await stop(writer.output);
    await rejected(adding);
    expect(stream.destroyed).toBe(true);
    expect(writer.output.destroyed).toBe(true);
    // The writer stays failed with that same error.
    const failure: unknown = await adding.catch((e: unknown) => e);
    await expect(writer.finish()).rejects.toBe(failure);
    expect(() => writer.summary()).toThrow(ArchiveAssemblyError);
  });

  it('fail() is idempotent: the first error wins, and the pending add and the output see it', async () => {
    const writer = new ZipWriter({ date: DATE });
    const errors: Error[] = [];
    writer.output.on('error', (e: Error) => errors.push(e));
    const { stream } = generated(64 * MiB);
    const adding = writer.add('big.bin', stream, { store: false });
    await sleep(20);
    const first = new Error('first');
    writer.fail(first);
    writer.fail(new Error('second'));
    writer.fail('not even an error');
    await expect(adding).rejects.toBe(first);
    expect(stream.destroyed).toBe(true);
    await expect(writer.add('x', Buffer.from('x'), { store: true })).rejects.toBe(first);
    await expect(writer.finish()).rejects.toBe(first);
    await sleep(10);
    expect(errors).toEqual([first]);
  });
});

describe('ZipWriter backpressure', () => {
  it('streams 64 MiB to a slow reader with bounded memory, reading the source only as fast', async () => {
    // Measure what is still referenced, not garbage waiting for a collection.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    // Freed buffers can be accounted for a little after a collection: take the least of a few readings.
    const retained = () =>
      Math.min(
        ...[0, 1, 2].map(() => {
          gc();
          return process.memoryUsage().arrayBuffers - baseline;
        }),
      );

    const total = 64 * MiB;
    const writer = new ZipWriter({ date: DATE });
    const { stream, state } = generated(total);
    const adding = writer.add('big.bin', stream, { store: true, size: total });

    // Not read at all: the source is read no further than the buffers' size.
    const stalled = await settled(() => state.pulled);
    expect(stalled).toBeLessThan(4 * MiB);

    let read = 0;
    let maxAhead = 0;
    let maxBuffered = 0;
    let maxRetained = 0;
    const archiveHash = createHash('sha256');
    const slowReader = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        archiveHash.update(chunk);
        const before = Math.floor(read / MiB);
        read += chunk.length;
        maxAhead = Math.max(maxAhead, state.pulled - read);
        maxBuffered = Math.max(maxBuffered, writer.output.readableLength);
        if (Math.floor(read / MiB) === before) return void setImmediate(callback);
        // Every MiB, a pause; every 8 MiB, a look at how much memory is retained.
        if (read % (8 * MiB) < chunk.length) maxRetained = Math.max(maxRetained, retained());
        setTimeout(callback, 1);
      },
    });
    writer.output.pipe(slowReader);

    const written = await adding;
    await writer.finish();
    await finished(slowReader);

    expect(written).toEqual({ path: 'big.bin', sha256: state.sha256, bytes: total });
    expect(writer.summary()).toEqual({ sha256: archiveHash.digest('hex'), bytes: read });
    // The writer holds about its output buffer (1 MiB) and a few stream buffers, never the file.
    expect(maxBuffered).toBeLessThanOrEqual(MiB + 64 * 1024);
    expect(maxAhead).toBeLessThan(4 * MiB);
    expect(maxRetained).toBeLessThan(8 * MiB);
  });
});
