/**
 * `npm run sweep -- [--now ISO]`: runs the erasure sweep once against the running local stack
 * (`npm start`: its .local/ data directory and ports), as the EventBridge schedule does in AWS.
 * `--now` moves the sweep's clock (e.g. past a retention period) and is passed to resumed runs as `asOf`.
 */
import { STATE_MACHINES } from '../functions/lib/connectors/catalog';
import { useRunningLocalStack } from './local-stack-env';

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
  useRunningLocalStack();
  process.env.ERASURE_STATE_MACHINE_ARN = `arn:aws:states:us-east-1:000000000000:stateMachine:${STATE_MACHINES.erasure.localName}`;
  const { deps } = await import('../functions/sweep/handler');
  const { runSweep } = await import('../functions/sweep/core');
  const report = await runSweep(deps, now);
  console.log(JSON.stringify(report, null, 2));
}

main().catch((error: unknown) => {
  console.error(`Sweep failed: ${error instanceof Error ? error.name : 'Error'}`);
  process.exit(1);
});
