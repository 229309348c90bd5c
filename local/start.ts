/**
 * `npm start`: the whole system on 127.0.0.1, in the foreground. Ctrl-C stops everything it started.
 * Flags: --reset (start from empty data), --no-seed (no demo users). Ports: PORT, DDB_PORT, S3_PORT, SFN_PORT
 * (0: any free port; the ready line names the ones bound).
 * LOG_INDEX_INTERVAL_MS: how often the log index is brought up to date (default 30 s; 0: at start only).
 * WATCHDOG_INTERVAL_MS: how often the watchdog re-drives lost workflows (default 15 s; 0: at start only).
 * TTL_REAPER_INTERVAL_MS: how often expired items and objects are removed, as DynamoDB TTL and S3
 * lifecycle rules do in AWS (default 60 s; 0: never).
 * DSR_CHAOS: fault injection once ready (JSON of local/faults.ts's ChaosOptions; docs/chaos.md). Unset: none.
 *
 * It stops, and stops what it started (DynamoDB Local's JVM, the S3 process), on SIGINT, SIGTERM or
 * SIGHUP, and when the process that started it goes away: `npm start` runs it with `exec`, so that is npm
 * itself, and npm passes SIGINT and SIGTERM on to it.
 */
import './polyfills';
import { join } from 'node:path';
import { orchestratorResources } from '../config/data-map';
import { intEnv } from '../functions/lib/runtime/config';
import { chaosFromEnv } from './faults';
import { resetLocalData } from './reset';
import { startLocalStack } from './stack';
import { startStatusFeed } from './status-feed';

const PARENT_CHECK_MS = 1000;
const REPEAT_SIGNAL_MS = 1000;

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  const dataDir = process.env.DSR_LOCAL_DIR ?? join(__dirname, '..', '.local');
  if (args.has('--reset')) resetLocalData(dataDir);
  process.env.LOG_LEVEL ??= 'silent';
  // A terminal that went away must not turn the shutdown's own output into a crash that skips it.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);

  const started = Date.now();
  const chaos = chaosFromEnv();
  const starting = startLocalStack({
    dataDir,
    apiPort: intEnv('PORT', 3000),
    ddbPort: intEnv('DDB_PORT', 8000),
    s3Port: intEnv('S3_PORT', 4569),
    sfnPort: intEnv('SFN_PORT', 8083),
    persist: true,
    seed: !args.has('--no-seed'),
    logIndexIntervalMs: intEnv('LOG_INDEX_INTERVAL_MS', 30_000),
    watchdogIntervalMs: intEnv('WATCHDOG_INTERVAL_MS', 15_000),
    reaperIntervalMs: intEnv('TTL_REAPER_INTERVAL_MS', 60_000),
    ...(chaos ? { chaos } : {}),
  });
  let feed: { stop(): Promise<void> } | undefined = undefined;

  // Listening from the start: a signal during start-up still stops what has started by then.
  let stopping = false;
  let stoppingSince = 0;
  const stop = async (why: string) => {
    if (stopping) {
      // Ctrl-C reaches this process twice at once (from the terminal, and passed on by npm): only a
      // later one means "now", without waiting for running workflows; the children go with this process.
      if (Date.now() - stoppingSince > REPEAT_SIGNAL_MS) process.exit(1);
      return;
    }
    stopping = true;
    stoppingSince = Date.now();
    console.log(`Stopping (${why}; again to stop at once)...`);
    await feed?.stop();
    // A stack that failed to start has stopped what it started itself.
    await starting.then((stack) => stack.stop()).catch(() => undefined);
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));
  const parent = process.ppid;
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      void stop('its parent process is gone');
    }
  }, PARENT_CHECK_MS).unref();

  const stack = await starting;
  if (stopping) return;
  stack.chaos?.setEnabled(true);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `ready: API ${stack.apiUrl} (DynamoDB ${stack.ddbEndpoint}, S3 ${stack.s3Endpoint}, Step Functions ${stack.sfnEndpoint}) in ${seconds}s`,
  );
  console.log(`${stack.seeded ? 'Seeded demo users' : 'Kept existing data'} under ${dataDir}.`);
  const torn = stack.s3Repair?.quarantined.length ?? 0;
  if (torn > 0) {
    console.log(
      `Set aside ${torn} torn local S3 files a crash left, under ${stack.s3Repair?.quarantineDir}.`,
    );
  }
  console.log("Next, in another terminal: the README's walk-through, by copy and paste.");
  // The walk-through's commands (and `npm run token`, `npm run sweep`) read the same variables.
  // The ports bound, not the ones asked for (0 asks for any free one).
  const portOf = (url: string) => new URL(url).port;
  const values: Record<string, string> = {
    PORT: portOf(stack.apiUrl),
    DDB_PORT: portOf(stack.ddbEndpoint),
    S3_PORT: portOf(stack.s3Endpoint),
    SFN_PORT: portOf(stack.sfnEndpoint),
    DSR_LOCAL_DIR: dataDir,
  };
  const settings = Object.keys(values).filter((name) => process.env[name] !== undefined);
  if (settings.length > 0) {
    console.log(`  There, first: export ${settings.map((name) => `${name}=${values[name]}`).join(' ')}`);
  }
  console.log('Ctrl-C stops everything.');
  console.log('Each request status change is printed below: time, request id, type, status.');
  feed = startStatusFeed({
    doc: stack.doc,
    tableName: orchestratorResources.requestsTable.tableName,
    print: (line) => console.log(line),
  });
}

main().catch((error: unknown) => {
  console.error(`Could not start the local stack: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
