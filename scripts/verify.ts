/**
 * Checks that an export archive is genuine and complete:
 *
 *   npm run verify -- <archive.zip> [--jwks <file|url>] [--key <public.pem>]
 *
 * Without --jwks or --key it uses the local stack's signing keys (SIGNING_KEY_DIR, else
 * .local/keys/signing). Exit status: 0 valid, 1 invalid, 2 usage or key problems.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { VerificationKeys } from '../functions/lib/crypto/jws';
import { localPublicJwks } from '../functions/lib/crypto/signing';
import { loadJwks, verifyArchive } from '../functions/lib/export/verify-archive';

const USAGE = 'Usage: npm run verify -- <archive.zip> [--jwks <file|url>] [--key <public.pem>]';

interface Args {
  archive: string;
  jwks?: string;
  key?: string;
}

function parseArgs(argv: string[]): Args {
  let archive: string | undefined;
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
    else if (archive === undefined) archive = arg;
    else throw new Error('Give exactly one archive');
  }
  if (!archive) throw new Error('Give the archive to check');
  if (jwks && key) throw new Error('Give either --jwks or --key, not both');
  return { archive, jwks, key };
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

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(message === 'help' ? USAGE : `${message}\n${USAGE}`);
    return message === 'help' ? 0 : 2;
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
  const result = await verifyArchive(args.archive, keys);
  if (result.ok) {
    console.log(`OK  signature valid (key ${result.kid ?? '?'})`);
    console.log(`OK  all ${result.filesChecked} files match the manifest`);
    console.log(`VALID: ${args.archive} is genuine and complete.`);
    return 0;
  }
  for (const issue of result.errors) {
    console.error(`${issue.code.toUpperCase().padEnd(18)} ${issue.message}`);
  }
  console.error(`INVALID: ${args.archive} failed ${result.errors.length} check(s).`);
  return 1;
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
