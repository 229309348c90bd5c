/**
 * What collect, inventory and erase agree on: which lines are the subject's. One definition, so that what
 * is exported, counted and erased is the same set of lines (which objects there are: lib/logs/day-objects.ts).
 */

export type Line = Record<string, unknown>;

export interface SubjectIds {
  userIds: ReadonlySet<string>;
  deviceIds: ReadonlySet<string>;
}

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
  if (signedOut(line) && typeof deviceId === 'string' && ids.deviceIds.has(deviceId)) return 'deviceId';
  return undefined;
}

/** True when one of a voice session's participant entries is the subject's. */
export function isSubjectParticipant(entry: unknown, ids: SubjectIds): boolean {
  return isRecord(entry) && typeof entry.userId === 'string' && ids.userIds.has(entry.userId);
}

/** True when an access-log line was made signed out (its own user id absent, null or empty). */
function signedOut(line: Line): boolean {
  return line.userId === null || line.userId === undefined || line.userId === '';
}

/**
 * Several subjects at once (the log-erasure job): which of them an access-log line belongs to, by the
 * same rule as `accessLineMatch` (their user id; signed out, their device). Owners are indexes into the
 * caller's subject list.
 */
export class SubjectOwners {
  private readonly users = new Map<string, number[]>();
  private readonly devices = new Map<string, number[]>();

  add(owner: number, ids: { userIds: Iterable<string>; deviceIds: Iterable<string> }): void {
    for (const id of ids.userIds) this.users.set(id, [...(this.users.get(id) ?? []), owner]);
    for (const id of ids.deviceIds) this.devices.set(id, [...(this.devices.get(id) ?? []), owner]);
  }

  get size(): number {
    return this.users.size + this.devices.size;
  }

  /** Every id, for the line pre-filter (line-candidates.ts). */
  ids(): string[] {
    return [...this.users.keys(), ...this.devices.keys()];
  }

  ofAccessLine(line: Line): readonly number[] {
    const { userId, deviceId } = line;
    if (typeof userId === 'string' && userId !== '') return this.users.get(userId) ?? [];
    if (signedOut(line) && typeof deviceId === 'string') return this.devices.get(deviceId) ?? [];
    return [];
  }

  /** The owners of one voice-session participant entry (by its user id). */
  ofParticipant(entry: unknown): readonly number[] {
    return isRecord(entry) && typeof entry.userId === 'string' ? (this.users.get(entry.userId) ?? []) : [];
  }
}

/**
 * The instant a subject's line is dated by (its retention runs from it): its own `field`, else the end of
 * its object's `dt=` day, else `fallback`.
 */
export function lineAnchor(
  line: Line,
  field: string,
  dayOfObject: string | undefined,
  fallback: number,
): number {
  const own = line[field];
  const at = typeof own === 'string' ? Date.parse(own) : NaN;
  if (!Number.isNaN(at)) return at;
  const endOfDay = dayOfObject ? Date.parse(`${dayOfObject}T23:59:59.999Z`) : NaN;
  return Number.isNaN(endOfDay) ? fallback : endOfDay;
}
