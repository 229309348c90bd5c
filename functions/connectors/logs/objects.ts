import type { S3Client } from '@aws-sdk/client-s3';
import { listDayObjects } from '../../lib/logs/day-objects';
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
