/**
 * `npm start`: the whole system on 127.0.0.1, in the foreground. Ctrl-C stops everything it started.
 * Flags: --reset (start from empty data), --no-seed (no demo users). Ports: PORT, DDB_PORT, S3_PORT, SFN_PORT.
 * LOG_INDEX_INTERVAL_MS: how often the log index is brought up to date (default 30 s; 0: at start only).
 */
import './polyfills';
import { join } from 'node:path';
import { intEnv } from '../functions/lib/runtime/config';
import { resetLocalData } from './reset';
import { startLocalStack } from './stack';

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  const dataDir = process.env.DSR_LOCAL_DIR ?? join(__dirname, '..', '.local');
  if (args.has('--reset')) resetLocalData(dataDir);
  process.env.LOG_LEVEL ??= 'silent';
  const started = Date.now();
  const stack = await startLocalStack({
    dataDir,
    apiPort: intEnv('PORT', 3000),
    ddbPort: intEnv('DDB_PORT', 8000),
    s3Port: intEnv('S3_PORT', 4569),
    sfnPort: intEnv('SFN_PORT', 8083),
    persist: true,
    seed: !args.has('--no-seed'),
    logIndexIntervalMs: intEnv('LOG_INDEX_INTERVAL_MS', 30_000),
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `ready: API ${stack.apiUrl} (DynamoDB ${stack.ddbEndpoint}, S3 ${stack.s3Endpoint}) in ${seconds}s`,
  );
  console.log(`${stack.seeded ? 'Seeded demo users' : 'Kept existing data'} under ${dataDir}.`);
  console.log('Try next (in another terminal):');
  console.log(`  TOKEN=$(npm run --silent token -- support)`);
  console.log(
    `  curl -s -X POST ${stack.apiUrl}/v1/requests -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\\n` +
      `       -d '{"type":"export","subject":{"userId":"u-alice"}}'`,
  );
  console.log(`  curl -s ${stack.apiUrl}/v1/requests/<requestId> -H "authorization: Bearer $TOKEN"`);
  console.log('  The README walks through the rest. Ctrl-C stops everything.');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('Stopping...');
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`Could not start the local stack: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
