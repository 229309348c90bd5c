import { oneAhead } from '../../functions/lib/runtime/concurrency';

/** Opens that record when each starts, resolving (or failing) when the test says. */
function opens(count: number, failAt?: number) {
  const started: number[] = [];
  const list = Array.from({ length: count }, (_, i) => async () => {
    started.push(i);
    await Promise.resolve();
    if (i === failAt) throw new Error(`open ${i} failed`);
    return `value-${i}`;
  });
  return { started, list };
}

describe('oneAhead', () => {
  it('yields every value in order, opening each one step ahead of its use', async () => {
    const { started, list } = opens(3);
    const seen: string[] = [];
    for await (const value of oneAhead(list, () => undefined)) {
      // When value i is handed over, i + 1 has started and nothing further.
      seen.push(`${value}:${started.length}`);
    }
    expect(seen).toEqual(['value-0:2', 'value-1:3', 'value-2:3']);
  });

  it('discards what it opened ahead when the consumer stops early', async () => {
    const { started, list } = opens(4);
    const discarded: string[] = [];
    const values = oneAhead(list, (value) => discarded.push(value));
    expect((await values.next()).value).toBe('value-0');
    await values.return(undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(discarded).toEqual(['value-1']);
    expect(started).toEqual([0, 1]);
  });

  it('throws a failed open in its turn, after the values before it, and discards the one ahead', async () => {
    const { list } = opens(4, 1);
    const discarded: string[] = [];
    const values = oneAhead(list, (value) => discarded.push(value));
    expect((await values.next()).value).toBe('value-0');
    await expect(values.next()).rejects.toThrow('open 1 failed');
    await new Promise((resolve) => setImmediate(resolve));
    expect(discarded).toEqual(['value-2']);
  });

  it('does nothing for no sources', async () => {
    const values = oneAhead<string>([], () => undefined);
    expect(await values.next()).toEqual({ done: true, value: undefined });
  });
});
