/** The sweep's decisions, over fakes of its ports. */
import { runSweep, type ResumeStarter, type SweepDeps } from '../../functions/sweep/core';
import type { Hold } from '../../functions/lib/holds/holds';
import type { RequestEvent } from '../../functions/lib/requests/event-log';
import type { RequestRecord } from '../../functions/lib/requests/records';
import type { RequestRepository } from '../../functions/lib/requests/requests';
import type { DueVaultItem, VaultKey } from '../../functions/lib/erasure/vault';

const NOW = new Date('2031-12-01T00:00:00.000Z');

function request(id: string, over: Partial<RequestRecord>): RequestRecord {
  return {
    requestId: id,
    type: 'erasure',
    status: 'partially_completed',
    createdAt: '2026-11-23T00:00:00.000Z',
    updatedAt: '2026-11-23T00:00:00.000Z',
    subjectHash: 'h',
    subject: { userId: 'x' },
    erasureRuns: [{ run: 0, executionName: id, startedAt: '', asOf: '', trigger: 'request' }],
    ...over,
  };
}

function setup(records: RequestRecord[], holds: Hold[] = [], due: DueVaultItem[] = []) {
  const events: { requestId: string; event: Omit<RequestEvent, 'at'> }[] = [];
  const started: { name: string; input: { requestId: string; asOf: string } }[] = [];
  const removed: string[] = [];
  const destroyed: VaultKey[] = [];
  let remaining = [...due];
  const existing = new Set<string>();
  const recorded = new Set<string>();
  const starter: ResumeStarter = {
    start: async (name, input) => {
      if (existing.has(name)) return false;
      existing.add(name);
      started.push({ name, input });
      return true;
    },
  };
  const deps: SweepDeps = {
    requests: {
      get: async (id: string) => records.find((r) => r.requestId === id),
    } as unknown as RequestRepository,
    events: {
      // Keyed like the table's EVENTID# markers: a second call with the same id records nothing.
      appendOnce: async (requestId: string, eventId: string, batch: readonly Omit<RequestEvent, 'at'>[]) => {
        if (recorded.has(`${requestId}#${eventId}`)) return false;
        recorded.add(`${requestId}#${eventId}`);
        events.push(...batch.map((event) => ({ requestId, event })));
        return true;
      },
    },
    holds: { get: async (id: string) => holds.find((h) => h.holdId === id) },
    schedule: {
      list: async () =>
        records.map((r) => ({
          requestId: r.requestId,
          nextStepAt: r.nextStepAt ?? null,
          heldBy: r.heldBy ?? [],
        })),
      remove: async (id: string) => {
        removed.push(id);
      },
    },
    vault: {
      listDue: async (now: Date, limit: number) =>
        remaining.filter((d) => d.until <= now.toISOString()).slice(0, limit),
      destroy: async (items: readonly VaultKey[]) => {
        destroyed.push(...items);
        remaining = remaining.filter((d) => !items.some((i) => i.pk === d.pk));
        return items.length;
      },
    },
    starter,
    batchSize: 2,
  };
  return { deps, events, started, removed, destroyed };
}

const hold = (holdId: string, status: Hold['status']): Hold => ({
  holdId,
  status,
  subjectHash: 'h',
  caseReference: 'C',
  reason: 'r',
  placedBy: 'legal-client',
  placedAt: '2026-11-23T00:00:00.000Z',
});

test('destroys every vault item due (in batches), and only those', async () => {
  const item = (n: number, until: string): DueVaultItem => ({
    pk: `VAULT#payments#transactions#t${n}`,
    sk: 'RECORD',
    until,
    store: 'payments',
    category: 'transactions',
  });
  const t = setup(
    [],
    [],
    [
      item(1, '2030-01-01T00:00:00.000Z'),
      item(2, '2031-01-01T00:00:00.000Z'),
      item(3, '2031-06-01T00:00:00.000Z'),
      item(4, '2040-01-01T00:00:00.000Z'),
    ],
  );
  const report = await runSweep(t.deps, NOW);
  expect(report.vaultDestroyed).toBe(3);
  expect(report.destroyedByCategory).toEqual({ 'payments/transactions': 3 });
  expect(t.destroyed.map((d) => d.pk)).not.toContain('VAULT#payments#transactions#t4');
});

test('resumes a request whose next step has come, with asOf = now, as run N+1, recorded on it', async () => {
  const r = request('req_a', {
    nextStepAt: '2031-10-27T00:00:00.000Z',
    erasureLedger: [
      {
        store: 'payments',
        category: 'transactions',
        state: 'retained',
        liveAction: 'delete',
        deleted: 3,
        anonymised: 0,
        run: 0,
        retained: {
          location: 'vault',
          jurisdiction: 'KR',
          records: 'r',
          basis: { law: 'l', provision: 'p', source: 's' },
          period: 'P5Y',
          from: 'transactionDate',
          keep: [],
          schedule: [
            { until: '2031-10-27T00:00:00.000Z', count: 2 },
            { until: '2032-10-27T00:00:00.000Z', count: 1 },
          ],
          destroyed: 0,
        },
      },
    ],
  });
  const t = setup([r, request('req_b', { nextStepAt: '2032-01-01T00:00:00.000Z' })]);
  const report = await runSweep(t.deps, NOW);
  expect(report.resumed).toEqual([{ requestId: 'req_a', run: 1, reasons: ['retention-ended'] }]);
  expect(t.started).toEqual([{ name: 'req_a-r1', input: { requestId: 'req_a', asOf: NOW.toISOString() } }]);
  expect(
    t.events.map((e) => [e.requestId, e.event.type, e.event.detail?.count ?? e.event.detail?.run]),
  ).toEqual([
    ['req_a', 'vault.destroyed', 2],
    ['req_a', 'erasure.resumed', 1],
  ]);
  // A second sweep before the run moves the request does not start it twice, nor record it twice.
  expect((await runSweep(t.deps, NOW)).resumed).toEqual([]);
  expect(t.events).toHaveLength(2);
});

test('a start that fails is retried by the next sweep as the same run, its events recorded once', async () => {
  const r = request('req_a', { nextStepAt: '2031-01-01T00:00:00.000Z' });
  const t = setup([r]);
  const start = t.deps.starter.start.bind(t.deps.starter);
  let failures = 1;
  t.deps.starter = {
    start: async (name, input) => {
      if (failures-- > 0) throw Object.assign(new Error('injected'), { name: 'ServiceUnavailable' });
      return start(name, input);
    },
  };
  expect((await runSweep(t.deps, NOW)).resumed).toEqual([]);
  const second = await runSweep(t.deps, NOW);
  expect(second.resumed).toEqual([{ requestId: 'req_a', run: 1, reasons: ['retention-ended'] }]);
  expect(t.started.map((s) => s.name)).toEqual(['req_a-r1']);
  expect(t.events.map((e) => e.event.type)).toEqual(['erasure.resumed']);
});

test('resumes on a released hold, waits while holds are active, and drops finished requests', async () => {
  const t = setup(
    [
      request('req_held', { heldBy: ['hold_1'], nextStepAt: null }),
      request('req_released', { heldBy: ['hold_2'], nextStepAt: null }),
      request('req_done', { status: 'completed' }),
      request('req_running', { status: 'in_progress', heldBy: ['hold_2'] }),
    ],
    [hold('hold_1', 'active'), hold('hold_2', 'released')],
  );
  const report = await runSweep(t.deps, NOW);
  expect(report.resumed).toEqual([{ requestId: 'req_released', run: 1, reasons: ['hold-released'] }]);
  expect(t.removed).toEqual(['req_done']);
});
