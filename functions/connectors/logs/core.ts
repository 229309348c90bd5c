/**
 * Logs connector. Inventory and erase live in erasure.ts; which lines are the subject's is defined once,
 * in subject-lines.ts, for all three operations.
 *
 * Collect: the subject's lines from the access-log and voice-session objects that may hold them: those
 * the subject index names for the subject's ids, and those not indexed yet (objects.ts; without an index,
 * every `dt=YYYY-MM-DD/` object under each prefix). A user's lines sit among everyone else's, so each
 * object is streamed (GetObject body -> gunzip -> lines), never held in memory, a few objects at a time.
 *
 * - `access-log`: lines whose `userId` is one of the subject's user ids, and signed-out lines (no
 *   `userId`) from one of the subject's devices. A line of another signed-in user on a shared device is
 *   theirs, not the subject's, and stays out.
 * - `voice-sessions`: sessions the subject took part in: their own participant entries in full (with
 *   their IP), everyone else only as a pseudonym with join and leave times, never their IP or user id.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type {
  CollectContext,
  CollectionSpec,
  CollectionWriter,
  Connector,
} from '../../lib/connectors/contract';
import { log } from '../../lib/runtime/logger';
import { looksLikePersonKey, People } from '../../lib/crypto/pseudonym';
import { mapOrderedLimited } from '../../lib/runtime/concurrency';
import { lineCandidates, type LineCandidates } from '../../lib/logs/line-candidates';
import { eraseLogs, inventoryLogs } from './erasure';
import { accessLineMatch, isRecord, type Line } from '../../lib/logs/subject-lines';
import type { LogIndexReader } from '../../lib/logs/subject-objects';
import { emptyScanStats, objectsToRead, readCandidateLines, type ScanStats } from './objects';
import type { LogsConfig } from './config';

export type { LogsConfig };

export const accessLogSpec: CollectionSpec = {
  name: 'access-log',
  description:
    'Requests from your account, and from your devices while signed out: time, address, device, page and country.',
  tabular: true,
  recordSchema: {
    type: 'object',
    properties: {
      ts: { type: 'string', format: 'date-time' },
      userId: { type: ['string', 'null'] },
      ip: { type: 'string' },
      deviceId: { type: ['string', 'null'] },
      userAgent: { type: 'string' },
      method: { type: 'string' },
      path: { type: 'string', description: 'Secret-looking query parameters are shown as [redacted]' },
      status: { type: ['integer', 'string'] },
      referrer: { type: ['string', 'null'] },
      country: { type: 'string' },
      region: { type: 'string' },
      matchedBy: {
        enum: ['userId', 'deviceId'],
        description: 'userId: made while signed in; deviceId: made signed out, from one of your devices',
      },
    },
    additionalProperties: true,
  },
};

const participantSchema = {
  type: 'object',
  properties: {
    userId: { type: 'string' },
    ip: { type: 'string' },
    joinedAt: { type: 'string', format: 'date-time' },
    leftAt: { type: ['string', 'null'] },
  },
  additionalProperties: true,
};

export const voiceSessionsSpec: CollectionSpec = {
  name: 'voice-sessions',
  description:
    'Voice sessions you took part in: when, in which world, your own connection, and the other participants as pseudonyms.',
  tabular: false,
  recordSchema: {
    type: 'object',
    properties: {
      sessionId: { type: 'string' },
      worldId: { type: 'string' },
      startedAt: { type: 'string', format: 'date-time' },
      endedAt: { type: ['string', 'null'] },
      yourParticipation: { type: 'array', items: participantSchema },
      otherParticipants: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            participant: { type: ['string', 'null'], description: 'Pseudonym (null for an anonymous guest)' },
            joinedAt: { type: ['string', 'null'] },
            leftAt: { type: ['string', 'null'] },
          },
          additionalProperties: false,
        },
      },
      participantCount: { type: 'integer' },
    },
    additionalProperties: true,
  },
};

const SECRET_FIELD = /token|secret|password|passwd|cookie|authorization|apikey|privatekey|credential/i;
const SECRET_QUERY =
  /([?&;#](?:access_token|id_token|refresh_token|token|code|state|password|passwd|pwd|secret|sig|signature|api_?key|key|auth|session|sessionid|jwt|otp)=)[^&;#\s]*/gi;

export function redactUrlSecrets(url: string): string {
  return url.replace(SECRET_QUERY, '$1[redacted]');
}

/** Field names repeat on every line: each is judged once (bounded, as a log can carry odd names). */
const secretFieldVerdicts = new Map<string, boolean>();
function isSecretField(key: string): boolean {
  let verdict = secretFieldVerdicts.get(key);
  if (verdict === undefined) {
    verdict = SECRET_FIELD.test(key);
    if (secretFieldVerdicts.size < 10_000) secretFieldVerdicts.set(key, verdict);
  }
  return verdict;
}

function withoutSecrets(entry: Line): Line {
  const out: Line = {};
  for (const key in entry) if (Object.hasOwn(entry, key) && !isSecretField(key)) out[key] = entry[key];
  return out;
}

/** A subject's access-log line as exported, or undefined when the line is not theirs. */
function toAccessRecord(
  line: Line,
  userIds: ReadonlySet<string>,
  deviceIds: ReadonlySet<string>,
): Line | undefined {
  const matchedBy = accessLineMatch(line, { userIds, deviceIds });
  if (!matchedBy) return undefined;
  const out = withoutSecrets(line);
  if (typeof out.path === 'string') out.path = redactUrlSecrets(out.path);
  if (typeof out.referrer === 'string') out.referrer = redactUrlSecrets(out.referrer);
  out.matchedBy = matchedBy;
  return out;
}

const SESSION_KNOWN = new Set(['sessionId', 'worldId', 'startedAt', 'endedAt', 'participants']);

/** A voice session as exported, or undefined when the subject did not take part. */
function toVoiceSessionRecord(line: Line, people: People): Line | undefined {
  const participants = Array.isArray(line.participants) ? line.participants.filter(isRecord) : [];
  const own = participants.filter((p) => people.isSubject(p.userId));
  if (own.length === 0) return undefined;
  people.learn(participants.map((p) => p.userId));
  const record: Line = {
    sessionId: line.sessionId,
    worldId: line.worldId,
    startedAt: line.startedAt,
    endedAt: line.endedAt,
    yourParticipation: own.map(withoutSecrets),
    // Only who (pseudonym) and when: another participant's IP, user id and anything else stay out.
    otherParticipants: participants
      .filter((p) => !people.isSubject(p.userId))
      .map((p) => ({
        participant: people.other(p.userId),
        joinedAt: p.joinedAt ?? null,
        leftAt: p.leftAt ?? null,
      })),
    participantCount: participants.length,
  };
  for (const [key, value] of Object.entries(line)) {
    if (SESSION_KNOWN.has(key) || isSecretField(key)) continue;
    record[key] = people.scrub(value, looksLikePersonKey(key));
  }
  for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
  return record;
}

interface ScanJob {
  key: string;
  candidates: LineCandidates | null;
  handle: (line: Line) => Line | undefined;
  writer: CollectionWriter;
}

/** The subject's records in one object (only theirs are kept: a small part of the object). */
async function scanObject(s3: S3Client, config: LogsConfig, job: ScanJob, stats: ScanStats): Promise<Line[]> {
  const found: Line[] = [];
  const take = (line: Line) => {
    const record = job.handle(line);
    if (record) found.push(record);
  };
  await readCandidateLines(s3, config, job.key, job.candidates, take, stats);
  return found;
}

/** The logs connector; `index` is the subject index (deployed always; without it, every object is read). */
export function createLogsConnector(s3: S3Client, config: LogsConfig, index?: LogIndexReader): Connector {
  return {
    store: 'logs',
    erasedByLogJob: true,
    inventory: (ctx) => inventoryLogs(s3, config, ctx, index),
    erase: (ctx) => eraseLogs(ctx),
    async collect(ctx: CollectContext): Promise<void> {
      const accessLog = ctx.collection(accessLogSpec);
      const voiceSessions = ctx.collection(voiceSessionsSpec);
      const userIds = new Set(ctx.subject.identifiers.userIds);
      const deviceIds = new Set(ctx.subject.identifiers.deviceIds);
      const people = new People(userIds, (id) => ctx.pseudonym(id));

      const jobs: ScanJob[] = [];
      if (userIds.size > 0 || deviceIds.size > 0) {
        const accessCandidates = lineCandidates([...userIds, ...deviceIds]);
        const ids = { userIds, deviceIds };
        for (const key of await objectsToRead(s3, config, index, config.accessPrefix, ids)) {
          jobs.push({
            key,
            candidates: accessCandidates,
            handle: (line) => toAccessRecord(line, userIds, deviceIds),
            writer: accessLog,
          });
        }
      }
      if (userIds.size > 0) {
        const voiceCandidates = lineCandidates(userIds);
        const ids = { userIds, deviceIds: [] };
        for (const key of await objectsToRead(s3, config, index, config.voiceSessionsPrefix, ids)) {
          jobs.push({
            key,
            candidates: voiceCandidates,
            handle: (line) => toVoiceSessionRecord(line, people),
            writer: voiceSessions,
          });
        }
      }

      const stats = emptyScanStats();
      // Objects are read a few at a time; their records are written in key (day) order, so the output
      // is chronological and the same on every run.
      await mapOrderedLimited(
        jobs,
        config.concurrency ?? 4,
        async (job) => ({ writer: job.writer, records: await scanObject(s3, config, job, stats) }),
        async ({ writer, records }) => {
          for (const record of records) await writer.write(record);
        },
      );
      if (stats.malformed + stats.oversized + stats.missing > 0) {
        log.warn('logs: lines or objects skipped', { objects: jobs.length, ...stats });
      }
    },
  };
}
