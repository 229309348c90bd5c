/**
 * What collect, inventory and erase agree on: which lines are the subject's. One definition, so that what
 * is exported, counted and erased is the same set of lines (which objects there are: lib/logs/day-objects.ts).
 */

export type Line = Record<string, unknown>;

export interface SubjectIds {
  userIds: ReadonlySet<string>;
  deviceIds: ReadonlySet<string>;
}

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
