/**
 * `npm run fuzz`: the API contract test, long. Generates calls from the OpenAPI document (every
 * operation, valid and broken, every role, bad tokens), runs them against the API harness (DynamoDB
 * Local and the local S3) and prints what does not match the document, summarised. Options: --runs N
 * (default 5000), --seed N (default: random, printed). Exit code 1 when anything was found.
 */
import fc from 'fast-check';
import { ContractChecker, anyCall, summarise, type Finding } from '../test/support/api-contract';
import { startContractTarget } from '../test/support/api-contract-harness';
import { numberOption } from './cli-options';

async function main(): Promise<void> {
  process.env.LOG_LEVEL ??= 'silent';
  const runs = numberOption('runs', 5000);
  const seed = numberOption('seed', Math.floor(Math.random() * 2 ** 31));
  const target = await startContractTarget();
  const findings: Finding[] = [];
  const statuses = new Map<number, number>();
  const started = Date.now();
  try {
    const checker = new ContractChecker(target.document);
    const calls = fc.sample(anyCall(target.document, target.fixtures), { numRuns: runs, seed });
    for (const [index, call] of calls.entries()) {
      const answer = await target.send(call);
      if (answer.status === 0) console.log(`call ${index}: ${call.method} ${call.path} ${answer.text}`);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      findings.push(...checker.check(call, answer));
    }
  } finally {
    await target.stop();
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${runs} calls in ${seconds} s (seed ${seed})`);
  console.log(
    `statuses: ${[...statuses]
      .sort(([a], [b]) => a - b)
      .map(([status, n]) => `${status}: ${n}`)
      .join(', ')}`,
  );
  console.log(`findings: ${findings.length}`);
  console.log(summarise(findings));
  process.exitCode = findings.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});
