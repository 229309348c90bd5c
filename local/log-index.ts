/**
 * The log indexer on the local stack: what S3 events and the schedule do in AWS, the stack does by
 * running the same core over the whole listing (every object not indexed at its ETag) when it starts and
 * every `intervalMs`; `npm run index-logs` runs it once (docs/log-index.md, "Kept current").
 */
import type { WatermarkReport } from '../functions/index-logs/core';

export interface LocalLogIndexing {
  /** Brings the index up to date now (after any run in progress). */
  runNow(): Promise<WatermarkReport[]>;
  stop(): Promise<void>;
}

/** Imports the indexer after the stack has set the environment its handler reads, as in Lambda. */
export async function startLogIndexing(intervalMs: number, atStart = true): Promise<LocalLogIndexing> {
  const { indexerDeps } = await import('../functions/index-logs/handler');
  const { advanceWatermarks } = await import('../functions/index-logs/core');
  const deps = indexerDeps();
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const runNow = () => {
    const run = running.then(() => advanceWatermarks(deps, { fromStart: true }));
    running = run.catch(() => undefined);
    return run;
  };
  if (atStart) await runNow();
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          if (!stopped) void runNow().catch(() => undefined);
        }, intervalMs)
      : undefined;
  timer?.unref?.();
  return {
    runNow,
    stop: async () => {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
