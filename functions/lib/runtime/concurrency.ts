/**
 * Runs `task` over `items` with at most `limit` in flight. The first failure stops new tasks from
 * starting and is rethrown once the running ones have settled, so nothing keeps writing after a failure.
 */
export async function forEachLimited<T>(
  items: Iterable<T>,
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure) {
      const next = iterator.next();
      if (next.done) return;
      try {
        await task(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failure) throw failure.error;
}

/**
 * Like `forEachLimited`, but hands each result to `consume` in the order of `items`: results finishing
 * early wait (buffered) for the ones before them. A task only starts within `window` items of the oldest
 * unconsumed one, so at most `window` results are ever buffered.
 */
export async function mapOrderedLimited<T, R>(
  items: readonly T[],
  limit: number,
  produce: (item: T) => Promise<R>,
  consume: (result: R) => Promise<void>,
  window = Math.max(1, limit) * 2,
): Promise<void> {
  const results = new Map<number, R>();
  let next = 0;
  let consumed = 0;
  let failure: { error: unknown } | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let waiters: (() => void)[] = [];
  const wake = () => {
    const woken = waiters;
    waiters = [];
    for (const resolve of woken) resolve();
  };
  const flush = async (): Promise<void> => {
    while (!failure && results.has(consumed)) {
      const result = results.get(consumed) as R;
      results.delete(consumed);
      await consume(result);
      consumed += 1;
      wake();
    }
  };
  const worker = async (): Promise<void> => {
    while (!failure && next < items.length) {
      if (next >= consumed + Math.max(window, limit)) {
        await new Promise<void>((resolve) => waiters.push(resolve));
        continue;
      }
      const index = next++;
      try {
        results.set(index, await produce(items[index] as T));
        flushing = flushing.then(flush);
        await flushing;
      } catch (error) {
        failure ??= { error };
        wake();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failure) throw failure.error;
}

/**
 * Yields the results of `opens` in order, starting each one a step ahead of its use (the next object's
 * request overlaps the copy of the current one). A failed open is thrown in its turn. When the consumer
 * stops early (return or throw), what was opened ahead is handed to `discard`, never left hanging.
 */
export async function* oneAhead<T>(
  opens: readonly (() => Promise<T>)[],
  discard: (value: T) => void,
): AsyncGenerator<T, void, undefined> {
  let ahead = opens[0]?.();
  let finished = false;
  try {
    for (let i = 0; i < opens.length; i++) {
      const current = ahead as Promise<T>;
      ahead = opens[i + 1]?.();
      // Observed at once so a failure ahead is not an unhandled rejection; it is thrown in its turn.
      ahead?.catch(() => undefined);
      yield await current;
    }
    finished = true;
  } finally {
    if (!finished) void ahead?.then(discard, () => undefined);
  }
}
