/**
 * The sweep (an EventBridge schedule in AWS; `npm run sweep` locally):
 * (a) destroys retention-vault items whose period has ended;
 * (b) resumes partially completed erasures whose next step (a retention end) has come, and
 * (c) those holding data under a legal hold that has since been released,
 * each resumed run being the erasure workflow again on the same request (execution `<requestId>-r<N>`,
 * input `{requestId, asOf}`), which re-plans with `asOf` and re-issues the certificate. Everything is
 * recorded on the original request. Safe to run any number of times: a run already started is not
 * started twice (the execution name), its events are recorded once (keyed by the run), and destroying
 * a vault item twice is harmless.
 */
import { resumedExecutionName } from '../lib/erasure/certificate';
import type { ResumeStarter } from '../lib/erasure/resume';
import type { HoldRepository } from '../lib/holds/holds';
import { errorFields, log } from '../lib/runtime/logger';
import type { RequestRecord } from '../lib/requests/records';
import type { EventLog } from '../lib/requests/event-log';
import type { RequestRepository } from '../lib/requests/requests';
import type { VaultSweeper } from '../lib/erasure/vault';
import type { ErasureSchedule } from '../lib/erasure/schedule';

export { StepFunctionsResumeStarter, type ResumeStarter } from '../lib/erasure/resume';

export interface SweepDeps {
  requests: RequestRepository;
  events: Pick<EventLog, 'appendOnce'>;
  holds: Pick<HoldRepository, 'get'>;
  schedule: Pick<ErasureSchedule, 'list' | 'remove'>;
  vault: VaultSweeper;
  starter: ResumeStarter;
  /** Vault items listed per round. */
  batchSize?: number;
}

export type ResumeReason = 'retention-ended' | 'hold-released';

export interface SweepReport {
  now: string;
  vaultDestroyed: number;
  /** Destroyed vault items by `store/category`. */
  destroyedByCategory: Record<string, number>;
  pending: number;
  resumed: { requestId: string; run: number; reasons: ResumeReason[] }[];
}

const FINISHED: readonly string[] = ['completed', 'failed', 'cancelled'];

async function destroyDueVaultItems(deps: SweepDeps, now: Date, report: SweepReport): Promise<void> {
  const batch = deps.batchSize ?? 500;
  for (let round = 0; round < 10_000; round++) {
    const due = await deps.vault.listDue(now, batch);
    if (due.length === 0) return;
    report.vaultDestroyed += await deps.vault.destroy(due);
    for (const item of due) {
      const key = `${item.store}/${item.category}`;
      report.destroyedByCategory[key] = (report.destroyedByCategory[key] ?? 0) + 1;
    }
    if (due.length < batch) return;
  }
}

/** The request's vault retention that ended by `now`, by store/category (from its ledger). */
function endedRetention(
  record: RequestRecord,
  now: Date,
): { store: string; category: string; count: number }[] {
  const out: { store: string; category: string; count: number }[] = [];
  for (const e of record.erasureLedger ?? []) {
    if (e.retained?.location !== 'vault') continue;
    const count = e.retained.schedule
      .filter((s) => Date.parse(s.until) <= now.getTime())
      .reduce((n, s) => n + s.count, 0);
    if (count > 0) out.push({ store: e.store, category: e.category, count });
  }
  return out;
}

async function resumeReasons(deps: SweepDeps, record: RequestRecord, now: Date): Promise<ResumeReason[]> {
  const reasons: ResumeReason[] = [];
  if (record.nextStepAt && Date.parse(record.nextStepAt) <= now.getTime()) reasons.push('retention-ended');
  // Any released hold: the resumed run re-plans, and what other holds still cover stays held.
  for (const holdId of record.heldBy ?? []) {
    const hold = await deps.holds.get(holdId);
    if (!hold || hold.status === 'released') {
      reasons.push('hold-released');
      break;
    }
  }
  return reasons;
}

export async function runSweep(deps: SweepDeps, now: Date): Promise<SweepReport> {
  const report: SweepReport = {
    now: now.toISOString(),
    vaultDestroyed: 0,
    destroyedByCategory: {},
    pending: 0,
    resumed: [],
  };
  await destroyDueVaultItems(deps, now, report);

  const pending = await deps.schedule.list();
  report.pending = pending.length;
  for (const item of pending) {
    try {
      const record = await deps.requests.get(item.requestId);
      if (!record || FINISHED.includes(record.status)) {
        await deps.schedule.remove(item.requestId);
        continue;
      }
      // in_progress: a resumed run is under way already.
      if (record.status !== 'partially_completed') continue;
      const reasons = await resumeReasons(deps, record, now);
      if (reasons.length === 0) continue;
      const run = Math.max(0, ...(record.erasureRuns ?? []).map((r) => r.run)) + 1;
      // Recorded once per run, before the start: a start that fails is retried by the next sweep with
      // the same run number, which finds these events already there instead of adding them again.
      await deps.events.appendOnce(record.requestId, `erasure.resumed#${run}`, [
        ...endedRetention(record, now).map((ended) => ({
          type: 'vault.destroyed',
          detail: { ...ended, asOf: now.toISOString() },
        })),
        { type: 'erasure.resumed', detail: { run, reasons: reasons.join(','), asOf: now.toISOString() } },
      ]);
      const started = await deps.starter.start(resumedExecutionName(record.requestId, run), {
        requestId: record.requestId,
        asOf: now.toISOString(),
      });
      if (!started) continue;
      report.resumed.push({ requestId: record.requestId, run, reasons });
    } catch (error) {
      // One request's trouble must not stop the others; the next sweep tries again.
      log.error('sweep failed for a request', { requestId: item.requestId, ...errorFields(error) });
    }
  }
  return report;
}
