/**
 * `npm run index-identifiers`: indexes every account of the running local stack (`npm start`) in the
 * identifier index, as the backfill does in AWS (docs/deploy.md), and prints the counts. Entries the
 * accounts stream already wrote are left as they are; the stack's stream poller keeps the index current
 * from then on. In AWS the stream and the same backfill run in the indexer Lambda.
 */
import { numberOption } from './cli-options';
import { useRunningLocalStack } from './local-stack-env';

async function main(): Promise<void> {
  useRunningLocalStack();
  // The summary below is the output; the backfill's own log lines would repeat it per segment.
  process.env.LOG_LEVEL ??= 'silent';
  const totalSegments = numberOption('segments', 1);
  const { deps } = await import('../functions/index-identifiers/handler');
  const { backfillIdentifierIndex } = await import('../functions/index-identifiers/core');
  // Segments of a parallel scan, as an operator would invoke them in AWS.
  const results = await Promise.all(
    Array.from({ length: totalSegments }, (_, segment) =>
      backfillIdentifierIndex(deps, { segment, totalSegments }),
    ),
  );
  const sum = (field: 'accounts' | 'identifiers' | 'linked') => results.reduce((n, r) => n + r[field], 0);
  console.log(
    JSON.stringify(
      {
        segments: totalSegments,
        accounts: sum('accounts'),
        identifiers: sum('identifiers'),
        linked: sum('linked'),
      },
      null,
      2,
    ),
  );
}

main().catch((error: unknown) => {
  console.error(`Indexing failed: ${error instanceof Error ? error.name : 'Error'}`);
  process.exit(1);
});
