/** How long a webhook sender (status callbacks, processors' deletion requests) waits between attempts. */

export interface BackoffConfig {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Delay before attempt n+1 after n failures: exponential, capped, with full jitter on the upper half. */
export function retryDelayMs(failures: number, config: BackoffConfig, random: () => number): number {
  const ceiling = Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
