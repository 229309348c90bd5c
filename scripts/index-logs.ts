/**
 * `npm run index-logs [-- --from-watermark]`: brings the subject index of the logs up to date on the
 * running local stack (`npm start`: its .local/ data directory and ports), as the S3 events and the
 * schedule do in AWS, and prints each prefix's watermark with what the run read and wrote. By default it
 * lists every object (late or changed objects in partitions the watermark has passed are found too);
 * `--from-watermark` lists only after the watermark, as the scheduled run does (docs/log-index.md).
 */
import { flag } from './cli-options';
import { useRunningLocalStack } from './local-stack-env';

const MiB = 1024 * 1024;

async function main(): Promise<void> {
  useRunningLocalStack();
  process.env.LOG_LEVEL ??= 'silent';
  const { indexerDeps } = await import('../functions/index-logs/handler');
  const { advanceWatermarks } = await import('../functions/index-logs/core');
  const started = Date.now();
  const reports = await advanceWatermarks(indexerDeps(), { fromStart: !flag('from-watermark') });
  for (const { prefix, watermark, stats } of reports) {
    const seconds = stats.ms / 1000;
    console.log(
      `${prefix} watermark ${watermark ?? '(none yet)'}: ${stats.objects} objects listed, ${stats.indexed} indexed ` +
        `(${stats.unchanged} already up to date, ${stats.missing} gone), ${(stats.bytes / MiB).toFixed(1)} MiB gzip ` +
        `(${(stats.rawBytes / MiB).toFixed(1)} MiB raw, ${stats.lines} lines) read, ${stats.entries} subject hashes in ` +
        `${(stats.indexBytes / MiB).toFixed(2)} MiB of object files, ${stats.daysMerged} day files merged ` +
        `(${(stats.dayBytes / MiB).toFixed(2)} MiB), in ${seconds.toFixed(1)} s`,
    );
  }
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(`Indexing failed: ${error instanceof Error ? error.name : 'Error'}`);
  process.exit(1);
});
