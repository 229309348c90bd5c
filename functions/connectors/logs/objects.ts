import type { S3Client } from '@aws-sdk/client-s3';
import { ConnectorError } from '../../lib/runtime/errors';
import { listDayObjects } from '../../lib/logs/day-objects';
import type { LineCandidates } from '../../lib/logs/line-candidates';
import type { LineStats, LineVerdict } from '../../lib/logs/lines';
import { LogObjectUnreadable, scanLogObject } from '../../lib/logs/rewrite';
import { isRecord, type Line } from '../../lib/logs/subject-lines';
import type { LogIndexReader, SubjectLogIds } from '../../lib/logs/subject-objects';
import type { LogsConfig } from './config';

/**
 * The day objects under `prefix` that collect, inventory and erase read for a subject: through the
 * subject index when there is one (always, deployed), else every object of the prefix, which is the full
 * scan the index is checked against (test/integration/log-index-property.test.ts).
 */
export function objectsToRead(
  s3: S3Client,
  config: LogsConfig,
  index: LogIndexReader | undefined,
  prefix: string,
  ids: SubjectLogIds,
): Promise<string[]> {
  return index ? index.objectsFor(s3, config.bucket, prefix, ids) : listDayObjects(s3, config.bucket, prefix);
}

export interface ScanStats extends LineStats {
  /** Candidate lines that are not JSON (not attributable to anyone: left out alike by every operation). */
  malformed: number;
  /** Objects gone between listing and reading (expired by the bucket's lifecycle). */
  missing: number;
}

export const emptyScanStats = (): ScanStats => ({ oversized: 0, malformed: 0, missing: 0 });

/**
 * Streams one object (GetObject -> gunzip -> lines, never held in memory) and hands each candidate line
 * that is a JSON object to `take`, as parsed. Nothing is written.
 */
export async function readCandidateLines(
  s3: S3Client,
  config: LogsConfig,
  key: string,
  candidates: LineCandidates | null,
  take: (line: Line) => void,
  stats: ScanStats,
): Promise<void> {
  const judge = (bytes: Buffer): LineVerdict => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      if (bytes.toString('utf8').trim() !== '') stats.malformed += 1;
      return 'keep';
    }
    if (isRecord(parsed)) take(parsed);
    return 'keep';
  };
  try {
    if (!(await scanLogObject(s3, config.bucket, key, { candidates, judge, stats }))) stats.missing += 1;
  } catch (error) {
    if (error instanceof LogObjectUnreadable) throw new ConnectorError('logs', error.message);
    throw error;
  }
}
