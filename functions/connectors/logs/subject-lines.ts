/**
 * What collect, inventory and erase agree on: which log objects there are, and which lines are the
 * subject's. One definition, so that what is exported, counted and erased is the same set of lines.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { listPages } from '../../lib/aws/s3-objects';

export type Line = Record<string, unknown>;

export interface SubjectIds {
  userIds: ReadonlySet<string>;
  deviceIds: ReadonlySet<string>;
}

const DAY_OBJECT = /^dt=(\d{4}-\d{2}-\d{2})\/.+\.jsonl(\.gz)?$/;
/** Ids that appear verbatim in JSON (no character a writer might escape): safe to pre-filter lines on. */
const PLAIN_ID = /^[A-Za-z0-9_.:@+-]+$/;

export function isRecord(value: unknown): value is Line {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * How an access-log line is the subject's, or undefined when it is not: made signed in with one of
 * their user ids, or signed out (no user id) from one of their devices. A line of another signed-in
 * user on a shared device is that user's, never the subject's.
 */
export function accessLineMatch(line: Line, ids: SubjectIds): 'userId' | 'deviceId' | undefined {
  const { userId, deviceId } = line;
  if (typeof userId === 'string' && ids.userIds.has(userId)) return 'userId';
  if (
    (userId === null || userId === undefined || userId === '') &&
    typeof deviceId === 'string' &&
    ids.deviceIds.has(deviceId)
  )
    return 'deviceId';
  return undefined;
}

/** True when one of a voice session's participant entries is the subject's. */
export function isSubjectParticipant(entry: unknown, ids: SubjectIds): boolean {
  return isRecord(entry) && typeof entry.userId === 'string' && ids.userIds.has(entry.userId);
}

/** JSON-encoded forms of the ids a line must contain to be a candidate, or null to parse every line. */
export function needlesFor(ids: Iterable<string>): string[] | null {
  const needles: string[] = [];
  for (const id of ids) {
    if (!PLAIN_ID.test(id)) return null;
    needles.push(JSON.stringify(id));
  }
  return needles;
}

/** Every day object (`dt=YYYY-MM-DD/....jsonl[.gz]`) under `prefix`, in key order. */
export async function listDayObjects(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of listPages(s3, bucket, prefix)) {
    for (const entry of page) if (DAY_OBJECT.test(entry.Key.slice(prefix.length))) keys.push(entry.Key);
  }
  return keys.sort();
}

/** The `dt=` day of a day object's key (as listed under `prefix`), or undefined. */
export function dayOfKey(key: string, prefix: string): string | undefined {
  return DAY_OBJECT.exec(key.startsWith(prefix) ? key.slice(prefix.length) : '')?.[1];
}
