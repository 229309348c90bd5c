/**
 * A background round every so many ms, as a schedule runs it in AWS: rounds never overlap, a failed
 * one waits for the next, and stop() waits for the round under way.
 */
export function runPeriodically(
  round: () => Promise<unknown>,
  intervalMs: number,
): { stop(): Promise<void> } {
  if (intervalMs <= 0) return { stop: async () => undefined };
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => round().catch(() => undefined));
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
