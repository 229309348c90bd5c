/**
 * Compiles the log indexer's WebAssembly (wasm/log-ids.ts, AssemblyScript) into the module the functions
 * import (functions/lib/logs/log-ids-wasm.ts: the binary as base64, so every bundle carries it):
 *
 *   npm run build:wasm            writes the module
 *   npm run build:wasm -- --check fails if the module is not what the source compiles to
 *
 * The binary is committed (a fresh clone runs without building it); test/unit/log-ids-wasm.test.ts checks
 * it against its source.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flag } from './cli-options';

const ROOT = join(__dirname, '..');
export const LOG_IDS_SOURCE = join(ROOT, 'wasm', 'log-ids.ts');
export const LOG_IDS_MODULE = join(ROOT, 'functions', 'lib', 'logs', 'log-ids-wasm.ts');

/** The binary wasm/log-ids.ts compiles to: optimized for speed, SIMD, the stub runtime (never frees). */
export function compileLogIds(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'log-ids-'));
  try {
    const out = join(dir, 'log-ids.wasm');
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'assemblyscript', 'bin', 'asc.js'),
        LOG_IDS_SOURCE,
        '-O3',
        '--runtime',
        'stub',
        '--enable',
        'simd',
        '--outFile',
        out,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The TypeScript module that carries `wasm`. */
export function logIdsModule(wasm: Buffer): string {
  return [
    '/** Built by `npm run build:wasm` from wasm/log-ids.ts: do not edit (see functions/lib/logs/log-ids.ts). */',
    'export const LOG_IDS_WASM =',
    `  '${wasm.toString('base64')}';`,
    '',
  ].join('\n');
}

if (require.main === module) {
  const source = logIdsModule(compileLogIds());
  if (flag('check')) {
    if (readFileSync(LOG_IDS_MODULE, 'utf8') !== source) {
      console.error(`${LOG_IDS_MODULE} is not what wasm/log-ids.ts compiles to: run npm run build:wasm`);
      process.exit(1);
    }
    console.log('log-ids-wasm.ts matches its source');
  } else {
    writeFileSync(LOG_IDS_MODULE, source);
    console.log(`wrote ${LOG_IDS_MODULE}`);
  }
}
