/**
 * Logs connector, erasure side: inventory (what verification counts too), and an erase step that only
 * reports what waits for the batched log-erasure job (functions/erase-logs).
 *
 * Which lines are the subject's is what collect exports (lib/logs/subject-lines.ts), so what is exported,
 * counted and erased is one set:
 * - `access-log`: lines with one of the subject's user ids, and signed-out lines (no user id) from one of
 *   their devices. Another signed-in user's line from a shared device is theirs and stays. A signed-out
 *   line from a shared device cannot be told apart; it is exported as the subject's, so it is erased too.
 *   Anchor `recordDate` = the line's `ts`.
 * - `voice-sessions`: sessions where a participant entry has one of the subject's user ids. Anchor
 *   `sessionDate` = `startedAt`.
 * A line without a usable date is dated by the end of its `dt=` day.
 *
 * The objects read are those collect reads (objects.ts: the ones the subject index names for the subject,
 * and the ones not indexed yet).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type {
  CategoryInventoryView,
  CategoryOutcome,
  EraseContext,
  ErasureContext,
  PlanEntryView,
} from '../../lib/connectors/contract';
import { zeroOutcome } from '../../lib/erasure/erasure-plan';
import { log } from '../../lib/runtime/logger';
import { forEachLimited } from '../../lib/runtime/concurrency';
import type { LogsConfig } from './config';
import { dayOfKey } from '../../lib/logs/day-objects';
import { lineCandidates, type LineCandidates } from '../../lib/logs/line-candidates';
import type { LogIndexReader, SubjectLogIds } from '../../lib/logs/subject-objects';
import { emptyScanStats, objectsToRead, readCandidateLines } from './objects';
import {
  accessLineMatch,
  isSubjectParticipant,
  lineAnchor,
  type Line,
  type SubjectIds,
} from '../../lib/logs/subject-lines';

type LogCategory = 'access-log' | 'voice-sessions';

interface CategorySource {
  category: LogCategory;
  prefix: string;
  anchor: 'recordDate' | 'sessionDate';
  /** The line field the anchor is read from. */
  field: 'ts' | 'startedAt';
  candidates: LineCandidates | null;
  /** The subject's ids its lines are found by (and its index entries named by). */
  ids: SubjectLogIds;
  isSubjects(line: Line): boolean;
}

interface ObjectJob {
  key: string;
  source: CategorySource;
}

function subjectIds(ctx: ErasureContext): SubjectIds {
  return {
    userIds: new Set(ctx.subject.identifiers.userIds),
    deviceIds: new Set(ctx.subject.identifiers.deviceIds),
  };
}

function sourcesFor(config: LogsConfig, ids: SubjectIds): CategorySource[] {
  const sources: CategorySource[] = [];
  if (ids.userIds.size > 0 || ids.deviceIds.size > 0) {
    sources.push({
      category: 'access-log',
      prefix: config.accessPrefix,
      anchor: 'recordDate',
      field: 'ts',
      candidates: lineCandidates([...ids.userIds, ...ids.deviceIds]),
      ids,
      isSubjects: (line) => accessLineMatch(line, ids) !== undefined,
    });
  }
  if (ids.userIds.size > 0) {
    sources.push({
      category: 'voice-sessions',
      prefix: config.voiceSessionsPrefix,
      anchor: 'sessionDate',
      field: 'startedAt',
      candidates: lineCandidates(ids.userIds),
      ids: { userIds: ids.userIds, deviceIds: [] },
      isSubjects: (line) =>
        Array.isArray(line.participants) && line.participants.some((p) => isSubjectParticipant(p, ids)),
    });
  }
  return sources;
}

async function jobsFor(
  s3: S3Client,
  config: LogsConfig,
  index: LogIndexReader | undefined,
  sources: CategorySource[],
): Promise<ObjectJob[]> {
  const jobs: ObjectJob[] = [];
  for (const source of sources) {
    for (const key of await objectsToRead(s3, config, index, source.prefix, source.ids))
      jobs.push({ key, source });
  }
  return jobs;
}

/** The anchor instant of a subject's line: its own date, else the end of its `dt=` day, else `fallback`. */
function anchorOf(line: Line, job: ObjectJob, fallback: number): number {
  return lineAnchor(line, job.source.field, dayOfKey(job.key, job.source.prefix), fallback);
}

interface Tally {
  count: number;
  /** UTC day -> latest anchor instant and count. */
  days: Map<string, { at: number; count: number }>;
}

/** Counts the subject's records per category, with their anchor dates grouped per UTC day. */
export async function inventoryLogs(
  s3: S3Client,
  config: LogsConfig,
  ctx: ErasureContext,
  index?: LogIndexReader,
): Promise<Record<string, CategoryInventoryView>> {
  const sources = sourcesFor(config, subjectIds(ctx));
  const jobs = await jobsFor(s3, config, index, sources);
  const fallback = ctx.now().getTime();
  const tallies = new Map<LogCategory, Tally>(
    sources.map((s) => [s.category, { count: 0, days: new Map() }]),
  );
  const stats = emptyScanStats();

  await forEachLimited(jobs, config.concurrency ?? 4, async (job) => {
    const tally = tallies.get(job.source.category);
    if (!tally) return;
    await readCandidateLines(
      s3,
      config,
      job.key,
      job.source.candidates,
      (line) => {
        if (!job.source.isSubjects(line)) return;
        const at = anchorOf(line, job, fallback);
        const day = new Date(at).toISOString().slice(0, 10);
        const group = tally.days.get(day);
        if (group) {
          group.count += 1;
          group.at = Math.max(group.at, at);
        } else tally.days.set(day, { at, count: 1 });
        tally.count += 1;
      },
      stats,
    );
  });
  if (stats.malformed + stats.oversized + stats.missing > 0) {
    log.warn('logs inventory: lines or objects skipped', { objects: jobs.length, ...stats });
  }

  const inventory: Record<string, CategoryInventoryView> = {};
  for (const source of sources) {
    const tally = tallies.get(source.category);
    if (!tally || tally.count === 0) continue;
    const groups = [...tally.days.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, g]) => ({ at: new Date(g.at).toISOString(), count: g.count }));
    inventory[source.category] = { count: tally.count, dates: { [source.anchor]: groups } };
  }
  return inventory;
}

/** The plan actions the log-erasure job carries out (held and none: nothing to do). */
export const LOG_JOB_ACTIONS: readonly PlanEntryView['action'][] = ['delete', 'anonymise', 'retain'];

/**
 * The erase step of the logs: nothing is rewritten here. Rewriting the shared day objects once per
 * subject would rewrite the logs once per erasure, so the log part of every erasure waits for the
 * batched log-erasure job (functions/erase-logs), which rewrites each object once for every subject
 * waiting. MarkDone queues this request for it (the plan's log entries) and the request stays
 * partially completed until the job has removed the lines and resumed it. What is reported here is
 * what waits: each category's lines, untouched for now.
 */
export function eraseLogs(ctx: EraseContext): Promise<Record<string, CategoryOutcome>> {
  const outcome: Record<string, CategoryOutcome> = {};
  for (const entry of ctx.plan) outcome[entry.category] = { ...zeroOutcome(), untouched: entry.count ?? 0 };
  log.info('logs erase: waiting for the log-erasure job', {
    categories: ctx.plan.filter((e) => LOG_JOB_ACTIONS.includes(e.action)).length,
  });
  return Promise.resolve(outcome);
}
