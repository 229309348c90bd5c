/**
 * The fault injector's budget (local/faults.ts): an invocation meets injected faults only while it has
 * failed fewer than `maxPerInvocation` times, its own failures included, so a campaign's faults never
 * use up a Retry's attempts that the stores' faults already took.
 */
import { FaultInjector } from '../../local/faults';
import { TransientError } from '../../functions/lib/runtime/errors';

function injector(rates = { taskRate: 1, batchRate: 1 }) {
  const faults = new FaultInjector({ seed: 7, ...rates, proxy: {}, requestTimeoutMs: 100 });
  faults.enabled = true;
  return faults;
}

/** Calls the intercepted task until it succeeds (at most 10 attempts); the errors seen, by message. */
async function retried(
  intercept: ReturnType<FaultInjector['taskInterceptor']>,
  handler: () => Promise<unknown>,
) {
  const errors: string[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      await intercept('fn', { requestId: 'r1' }, handler);
      return errors;
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  throw new Error('never succeeded');
}

test('injects at most two faults into an invocation that never fails by itself', async () => {
  const errors = await retried(injector().taskInterceptor(), async () => 'ok');
  expect(errors).toHaveLength(2);
  expect(errors.every((m) => /injected/i.test(m))).toBe(true);
});

test("an invocation's own failures use the budget: none is injected after two of them", async () => {
  const faults = injector();
  const intercept = faults.taskInterceptor();
  let own = 2;
  const handler = async () => {
    if (own-- > 0) throw new TransientError('store answered 500');
    return 'ok';
  };
  // Its first two attempts fail by themselves (nothing injected yet); then, at a rate of 1, nothing more.
  faults.enabled = false;
  for (let attempt = 0; attempt < 2; attempt++)
    await expect(intercept('fn', { requestId: 'r1' }, handler)).rejects.toThrow('store answered 500');
  faults.enabled = true;
  expect(await retried(intercept, handler)).toEqual([]);
  expect(faults.total()).toBe(0);
});

test('a fault between batches uses one unit of the budget, not two', async () => {
  const faults = injector({ taskRate: 0, batchRate: 1 });
  const between = faults.betweenBatchesHook();
  const errors = await retried(faults.taskInterceptor(), async () => {
    await between({ requestId: 'r1', store: 'chat', operation: 'erase' });
    return 'ok';
  });
  expect(errors).toEqual(['Injected fault between batches', 'Injected fault between batches']);
  expect(faults.counts.get('connector-between-batches')).toBe(2);
});
