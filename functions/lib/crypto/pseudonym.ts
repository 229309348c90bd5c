import { createHmac } from 'node:crypto';
import { ContractError } from '../runtime/errors';

/**
 * Pseudonyms for other people in a subject's archive: a keyed hash under a per-request salt,
 * so the same person gets the same pseudonym throughout one archive and a different one in any other.
 * Without the salt (which lives only in staging and is deleted with it) a pseudonym cannot be linked back
 * to a user id, even by someone who can list every user id.
 */
const MIN_SALT_LENGTH = 8;

export function pseudonymFor(salt: string, otherUserId: string): string {
  // An empty or short salt would make pseudonyms reversible by hashing every known user id.
  if (salt.length < MIN_SALT_LENGTH) throw new ContractError('Pseudonym salt is missing or too short');
  const digest = createHmac('sha256', salt).update(otherUserId, 'utf8').digest();
  return `person-${digest.subarray(0, 6).toString('hex')}`;
}

/** Attribute names whose string values name a person (`userId`, `senderId`, `members`, `reportedBy`...). */
const PERSON_WORD =
  '(?:user|sender|member|author|owner|participant|recipient|reporter|moderator|host|friend|invitee|inviter|follower|mention)';
const PERSON_KEY = new RegExp(`${PERSON_WORD}(?:_?ids?|s)?$`, 'i');
const BY_KEY = /(?:[a-z0-9]By|_by)$/;

export function looksLikePersonKey(name: string): boolean {
  return PERSON_KEY.test(name) || BY_KEY.test(name);
}

/**
 * Names people in a subject's records: the subject's own ids stay as they are (their own data), anyone
 * else's id becomes a pseudonym. `scrub` applies this to values the connector does not know the
 * meaning of (attributes the store added later): strings equal to a known other person's id, and strings
 * under attribute names that look like a person reference, are pseudonymised wherever they are nested.
 */
export class People {
  private readonly subjectIds: ReadonlySet<string>;
  private readonly knownOthers = new Set<string>();

  constructor(
    subjectIds: Iterable<string>,
    private readonly pseudonym: (otherUserId: string) => string,
  ) {
    this.subjectIds = new Set(subjectIds);
  }

  isSubject(userId: unknown): boolean {
    return typeof userId === 'string' && this.subjectIds.has(userId);
  }

  /** Remembers ids of other people seen in the store, so `scrub` can catch them in unknown attributes. */
  learn(userIds: Iterable<unknown>): void {
    for (const id of userIds) {
      if (typeof id === 'string' && id !== '' && !this.subjectIds.has(id)) this.knownOthers.add(id);
    }
  }

  /** The subject's id as is; another person's id as their pseudonym; anything not a string as null. */
  ref(userId: unknown): string | null {
    if (typeof userId !== 'string' || userId === '') return null;
    if (this.subjectIds.has(userId)) return userId;
    this.knownOthers.add(userId);
    return this.pseudonym(userId);
  }

  /** Only another person's pseudonym (null for the subject or a missing id). */
  other(userId: unknown): string | null {
    if (typeof userId !== 'string' || userId === '' || this.subjectIds.has(userId)) return null;
    this.knownOthers.add(userId);
    return this.pseudonym(userId);
  }

  scrub(value: unknown, personKey = false): unknown {
    if (typeof value === 'string') {
      if (value === '' || this.subjectIds.has(value)) return value;
      return personKey || this.knownOthers.has(value) ? this.pseudonym(value) : value;
    }
    if (Array.isArray(value)) return value.map((entry) => this.scrub(entry, personKey));
    if (value instanceof Set) return [...value].map((entry: unknown) => this.scrub(entry, personKey));
    if (typeof value === 'object' && value !== null && isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(value)) out[key] = this.scrub(entry, looksLikePersonKey(key));
      return out;
    }
    return value;
  }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
