/**
 * A small sample of the fault-injection campaign (`npm run chaos`, docs/chaos.md): one export and one
 * erasure (with its log part, done by the log-erasure job), run on a clean stack and on a stack with
 * faults from a fixed seed (Tasks of the three workflows before and after their effects, connectors
 * between batches, throttling, 500s, held-back answers and resets from the proxies in front of the
 * stores). Both runs are processes of their own, side by side (the handlers read their configuration
 * once per process); the chaotic one must end as the clean one: every request terminal, the same
 * outcome, archive contents, certificate contents and stores, and no partial archive ever published.
 */
import { campaignChaos } from '../../scripts/chaos';
import { differences, runInChild, type RunSpec } from '../../scripts/chaos-run';
import { ERASURE_WAVE, EXPORT_WAVE, labelOf, TERMINAL } from '../support/campaign-requests';

const pick = (wave: typeof EXPORT_WAVE, label: string) => wave.filter((r) => labelOf(r) === label);
const SPEC: RunSpec = {
  waves: [pick(EXPORT_WAVE, 'export:u-bob'), pick(ERASURE_WAVE, 'erasure:u-dave')],
  waveTimeoutMs: 150_000,
};

test('faults at tasks, connectors and stores change nothing a clean run would show', async () => {
  expect(SPEC.waves.map((w) => w.length)).toEqual([1, 1]);
  const [clean, chaotic] = await Promise.all([
    runInChild(SPEC),
    runInChild({ ...SPEC, chaos: { ...campaignChaos(20261202), taskRate: 0.4, batchRate: 0.4 } }),
  ]);
  // The sample proves something only if faults of each family were injected.
  const count = (prefix: string) =>
    Object.entries(chaotic.faults)
      .filter(([kind]) => kind.startsWith(prefix))
      .reduce((sum, [, n]) => sum + (n ?? 0), 0);
  expect(count('task-')).toBeGreaterThan(0);
  expect(count('connector-')).toBeGreaterThan(0);
  expect(count('store-')).toBeGreaterThan(0);

  expect(clean.requests.map((r) => r.status).every((s) => TERMINAL.includes(s))).toBe(true);
  expect(chaotic.requests.filter((r) => !TERMINAL.includes(r.status))).toEqual([]);
  expect(chaotic.partialArchives).toEqual([]);
  // On a difference, what the handlers threw themselves tells a used-up retry budget from a bug.
  const different = differences(clean, chaotic);
  expect(
    different.length ? [...different, `handler errors: ${JSON.stringify(chaotic.taskErrors)}`] : [],
  ).toEqual([]);
  // The export's archive and the erasure's certificate were compared, not absent on both sides.
  expect(chaotic.requests.find((r) => r.label === 'export:u-bob')?.archive).toBeDefined();
  expect(chaotic.requests.find((r) => r.label === 'erasure:u-dave')?.certificate).toHaveProperty('type');
}, 300_000);
