/**
 * Runs `pass` every `intervalMs`, one pass at a time, its failures ignored (the next pass retries): how
 * the local stack stands in for a schedule. `stop` waits for the pass under way.
 */
export function pollEvery(pass: () => Promise<unknown>, intervalMs: number): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(() => (stopped ? undefined : pass().catch(() => undefined)));
  }, intervalMs);
  timer.unref?.();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
