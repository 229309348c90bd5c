/**
 * `npm run erase-logs`: runs the batched log-erasure job once on the running local stack (`npm start`), as
 * its schedule does in AWS: starts statemachines/log-erasure.asl.json, waits for it, and prints what it did
 * (erasures taken, objects read and written, lines removed and kept in the vault, erasures resumed).
 */
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { STATE_MACHINES } from '../functions/lib/connectors/catalog';
import { useRunningLocalStack } from './local-stack-env';

async function main(): Promise<void> {
  useRunningLocalStack();
  const sfn = new SFNClient({});
  const name = `logjob-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${Math.random().toString(16).slice(2, 8)}`;
  const started = Date.now();
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: `arn:aws:states:us-east-1:000000000000:stateMachine:${STATE_MACHINES.logErasure.localName}`,
      name,
      input: '{}',
    }),
  );
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING') {
      console.log(`Log-erasure job ${name}: ${execution.status} in ${Date.now() - started} ms`);
      if (execution.status !== 'SUCCEEDED') {
        console.log(`  ${execution.error ?? 'failed'}: nothing certified; the queue is unchanged.`);
        process.exit(1);
      }
      const out = JSON.parse(execution.output ?? '{}') as Record<string, unknown>;
      console.log(JSON.stringify(out, null, 2));
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

main().catch((error: unknown) => {
  console.error(`erase-logs failed: ${error instanceof Error ? `${error.name}: ${error.message}` : 'Error'}`);
  process.exit(1);
});
