/**
 * Checks that an export archive is genuine and complete, or that an erasure certificate is genuine:
 *
 *   npm run verify -- <archive.zip | certificate.jws | certificate.json> [--jwks <file|url>] [--key <public.pem>]
 *
 * What it was given is told by its content: a compact JWS (as `GET /v1/requests/{id}/certificate`
 * answers with `Accept: application/jose`), or that route's JSON answer (its `certificate` field), is a
 * certificate; anything else is checked as an archive. Both are checked against the same keys: without
 * --jwks or --key, the local stack's signing keys (SIGNING_KEY_DIR, else .local/keys/signing).
 * Exit status: 0 valid, 1 invalid, 2 usage or key problems.
 */
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { VerificationKeys } from '../functions/lib/crypto/jws';
import { localPublicJwks } from '../functions/lib/crypto/signing';
import { CERTIFICATE_JWS_TYPE, verifyCertificate } from '../functions/lib/erasure/certificate';
import type { CertificateCategory, CertificatePayload } from '../functions/lib/erasure/certificate';
import { loadJwks, verifyArchive } from '../functions/lib/export/verify-archive';

const USAGE =
  'Usage: npm run verify -- <archive.zip | certificate.jws | certificate.json> [--jwks <file|url>] [--key <public.pem>]';

/** A certificate is a few kilobytes; anything this large that is not a ZIP is not one. */
const MAX_CERTIFICATE_BYTES = 1024 * 1024;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

interface Args {
  file: string;
  jwks?: string;
  key?: string;
}

function parseArgs(argv: string[]): Args {
  let file: string | undefined;
  let jwks: string | undefined;
  let key: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--jwks') jwks = value();
    else if (arg === '--key') key = value();
    else if (arg === '--help' || arg === '-h') throw new Error('help');
    else if (arg.startsWith('--')) throw new Error(`Unknown option ${arg}`);
    else if (file === undefined) file = arg;
    else throw new Error('Give exactly one file');
  }
  if (!file) throw new Error('Give the archive or certificate to check');
  if (jwks && key) throw new Error('Give either --jwks or --key, not both');
  return { file, jwks, key };
}

async function keysFor(args: Args): Promise<{ keys: VerificationKeys; from: string }> {
  if (args.key) return { keys: { publicKey: await readFile(args.key, 'utf8') }, from: args.key };
  if (args.jwks) return { keys: { jwks: await loadJwks(args.jwks) }, from: args.jwks };
  const dir = resolve(process.env.SIGNING_KEY_DIR ?? '.local/keys/signing');
  if (!existsSync(dir)) {
    throw new Error(`No key given, and no local signing keys at ${dir}: use --jwks or --key`);
  }
  return { keys: { jwks: await localPublicJwks(dir) }, from: `local keys in ${dir}` };
}

/**
 * The certificate in `file`, when it holds one: a compact JWS, or the JSON answer of the certificate route.
 * Anything else (a ZIP starts with `PK`) is checked as an archive, which reports what is wrong with it.
 */
async function certificateIn(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r');
  let head: Buffer;
  try {
    const { size } = await handle.stat();
    if (size > MAX_CERTIFICATE_BYTES) return undefined;
    head = Buffer.alloc(size);
    await handle.read(head, 0, size, 0);
  } finally {
    await handle.close();
  }
  const text = head.toString('utf8').trim();
  if (COMPACT_JWS.test(text)) return text;
  if (!text.startsWith('{')) return undefined;
  try {
    const certificate = (JSON.parse(text) as { certificate?: unknown }).certificate;
    return typeof certificate === 'string' && COMPACT_JWS.test(certificate.trim())
      ? certificate.trim()
      : undefined;
  } catch {
    return undefined;
  }
}

async function checkArchive(file: string, keys: VerificationKeys): Promise<number> {
  console.log(`Checking an export archive: ${file}`);
  const result = await verifyArchive(file, keys);
  if (result.ok) {
    console.log(`OK  signature over manifest.json valid (ES256, key ${result.kid ?? '?'})`);
    // The same two numbers the download page gives: the manifest lists every file but itself and its signature.
    console.log(
      `OK  all ${result.filesChecked} files listed in manifest.json match it ` +
        `(${result.filesChecked + 2} files in the archive, with manifest.json and manifest.jws)`,
    );
    console.log(`VALID: ${file} is genuine and complete.`);
    return 0;
  }
  for (const issue of result.errors) {
    console.error(`${issue.code.toUpperCase().padEnd(18)} ${issue.message}`);
  }
  if (result.errors.some((issue) => issue.code === 'unreadable-archive')) {
    console.error(
      'An erasure certificate is checked too: give the compact JWS, or the JSON of GET /v1/requests/{id}/certificate.',
    );
  }
  console.error(`INVALID: ${file} failed ${result.errors.length} check(s).`);
  return 1;
}

function describeCategory(c: CertificateCategory): string {
  const parts = [`${c.category} ${c.state}`];
  if (c.deleted) parts.push(`${c.deleted} deleted`);
  if (c.anonymised) parts.push(`${c.anonymised} anonymised`);
  if (c.retained) {
    const where = c.retained.location === 'vault' ? 'in the vault' : 'in place';
    parts.push(`${c.retained.records} retained ${where} until ${c.retained.until ?? '?'}`);
  }
  if (c.held?.length) parts.push(`held by ${c.held.map((h) => h.holdId).join(', ')}`);
  return parts.join(', ');
}

function printStatement(payload: CertificatePayload): void {
  console.log(
    `    certificate ${payload.certificateId} of request ${payload.requestId}, issued ${payload.issuedAt} by ${payload.issuer}`,
  );
  console.log(
    `    status ${payload.status}; jurisdiction ${payload.jurisdiction.applied}; policy ${payload.policy.version}; ` +
      `subject named by keyed hash only (found: ${payload.subject.found})`,
  );
  console.log(
    `    verification ${payload.verification.result}: ${payload.verification.categoriesChecked} categories counted again after erasing`,
  );
  for (const store of payload.stores) {
    console.log(`    ${store.store}: ${store.categories.map(describeCategory).join('; ')}`);
  }
  if (payload.supersedes) console.log(`    supersedes certificate ${payload.supersedes.number}`);
}

async function checkCertificate(file: string, jws: string, keys: VerificationKeys): Promise<number> {
  console.log(`Checking an erasure certificate: ${file}`);
  const result = await verifyCertificate(jws, keys);
  if (!result.ok) {
    console.error(`BAD-CERTIFICATE    ${result.reason}`);
    console.error(`INVALID: ${file} is not a genuine erasure certificate.`);
    return 1;
  }
  const { payload } = result;
  console.log(`OK  signature valid (ES256, key ${result.kid})`);
  console.log(
    `OK  an erasure certificate (typ ${CERTIFICATE_JWS_TYPE}, format ${payload.formatVersion}); it states:`,
  );
  printStatement(payload);
  console.log(`VALID: ${file} is a genuine erasure certificate.`);
  return 0;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(message === 'help' ? USAGE : `${message}\n${USAGE}`);
    return message === 'help' ? 0 : 2;
  }
  let certificate: string | undefined;
  try {
    certificate = await certificateIn(args.file);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    console.error(`Cannot read ${args.file}${typeof code === 'string' ? ` (${code})` : ''}`);
    return 2;
  }
  let keys: VerificationKeys;
  try {
    const loaded = await keysFor(args);
    keys = loaded.keys;
    console.log(`Key: ${loaded.from}`);
  } catch (error) {
    console.error(`Cannot load the public key: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  return certificate === undefined
    ? checkArchive(args.file, keys)
    : checkCertificate(args.file, certificate, keys);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  },
);
