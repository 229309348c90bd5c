/**
 * `npm run sweep -- [--now ISO]`: runs the erasure sweep once against the running local stack
 * (`npm start`: its .local/ data directory and ports), as the EventBridge schedule does in AWS.
 * `--now` moves the sweep's clock (e.g. past a retention period) and is passed to resumed runs as `asOf`.
 */
import { join } from 'node:path';
import { defaultResourceEnv } from '../config/data-map';
import { STATE_MACHINES } from '../functions/lib/connectors/catalog';
import { intEnv } from '../functions/lib/runtime/config';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/stores';

function parseNow(args: string[]): Date {
  const i = args.indexOf('--now');
  if (i < 0) return new Date();
  const now = new Date(args[i + 1] ?? '');
  if (Number.isNaN(now.getTime())) {
    console.error('Usage: npm run sweep -- [--now <ISO 8601 date-time>]');
    process.exit(2);
  }
  return now;
}

async function main(): Promise<void> {
  const now = parseNow(process.argv.slice(2));
  const dataDir = process.env.DSR_LOCAL_DIR ?? join(__dirname, '..', '.local');
  // The same environment the local stack gives its handlers (local/stack.ts).
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${intEnv('DDB_PORT', 8000)}`,
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${intEnv('S3_PORT', 4569)}`,
    AWS_ENDPOINT_URL_SFN: `http://127.0.0.1:${intEnv('SFN_PORT', 8083)}`,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    ...defaultResourceEnv(),
    ERASURE_STATE_MACHINE_ARN: `arn:aws:states:us-east-1:000000000000:stateMachine:${STATE_MACHINES.erasure.localName}`,
    DSR_LOCAL_DIR: dataDir,
  });
  const { deps } = await import('../functions/sweep/handler');
  const { runSweep } = await import('../functions/sweep/core');
  const report = await runSweep(deps, now);
  console.log(JSON.stringify(report, null, 2));
}

main().catch((error: unknown) => {
  console.error(`Sweep failed: ${error instanceof Error ? error.name : 'Error'}`);
  process.exit(1);
});
