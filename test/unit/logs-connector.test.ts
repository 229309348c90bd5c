import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createLogsConnector, redactUrlSecrets } from '../../functions/connectors/logs/core';
import { forEachLimited, mapOrderedLimited } from '../../functions/lib/runtime/concurrency';
import { ConnectorError } from '../../functions/lib/runtime/errors';
import { pseudonymFor } from '../../functions/lib/crypto/pseudonym';
import type { SubjectIdentifiers } from '../../functions/lib/connectors/contract';
import { fakeCollect } from '../support/fake-collect';
import { fakeClient } from '../support/fake-client';

type Row = Record<string, unknown>;
const SALT = 'salt-0123456789abcdef';
const p = (id: string) => pseudonymFor(SALT, id);

const jsonl = (lines: unknown[], eol = '\n') =>
  lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join(eol);
const gz = (lines: unknown[], eol = '\n') => gzipSync(Buffer.from(jsonl(lines, eol), 'utf8'));

/** A fake S3 over in-memory objects: listing paged by 2, bodies streamed in small chunks, slowly. */
function fakeBucket(objects: Record<string, Buffer | 'missing'>, chunkSize = 7) {
  const keys = Object.keys(objects).sort();
  const calls: { command: string; input: Row }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const send = async (command: unknown) => {
    if (command instanceof ListObjectsV2Command) {
      const { Prefix = '', ContinuationToken } = command.input;
      calls.push({ command: 'List', input: { ...command.input } });
      const matching = keys.filter((k) => k.startsWith(Prefix));
      const start = ContinuationToken ? Number(ContinuationToken) : 0;
      const truncated = start + 2 < matching.length;
      return {
        Contents: matching.slice(start, start + 2).map((Key) => ({ Key })),
        IsTruncated: truncated,
        NextContinuationToken: truncated ? String(start + 2) : undefined,
      };
    }
    if (command instanceof GetObjectCommand) {
      calls.push({ command: 'Get', input: { ...command.input } });
      const body = objects[String(command.input.Key)];
      if (body === undefined || body === 'missing')
        throw Object.assign(new Error('gone'), { name: 'NoSuchKey' });
      const data: Buffer = body;
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      async function* chunks() {
        try {
          for (let i = 0; i < data.length; i += chunkSize) {
            await new Promise((resolve) => setImmediate(resolve));
            yield data.subarray(i, i + chunkSize);
          }
        } finally {
          inFlight -= 1;
        }
      }
      return { Body: Readable.from(chunks()) };
    }
    throw new Error(`unexpected command ${String(command)}`);
  };
  return { s3: fakeClient(S3Client, { send }), calls, maxInFlight: () => maxInFlight };
}

const config = { bucket: 'platform-logs', accessPrefix: 'access/', voiceSessionsPrefix: 'voice-sessions/' };

async function run(
  objects: Record<string, Buffer | 'missing'>,
  identifiers: Partial<SubjectIdentifiers>,
  concurrency = 4,
  chunkSize = 7,
) {
  const bucket = fakeBucket(objects, chunkSize);
  const fake = fakeCollect(identifiers, SALT);
  await createLogsConnector(bucket.s3, { ...config, concurrency }).collect(fake.ctx);
  const records = (name: string) =>
    JSON.parse(JSON.stringify(fake.collections.get(name)?.records ?? [])) as Row[];
  return { ...bucket, records, json: () => JSON.stringify([...fake.collections]) };
}

const SUBJECT = {
  userIds: ['user-alice', 'user-alice-2'],
  deviceIds: ['dev-alice-phone', 'dev-shared-tablet'],
};

const access = (extra: Row) => ({
  ts: '2024-01-01T10:00:00Z',
  userId: null,
  ip: '192.0.2.1',
  deviceId: 'dev-x',
  userAgent: 'App/1.0',
  method: 'GET',
  path: '/worlds',
  status: 200,
  referrer: null,
  country: 'KR',
  region: 'Seoul',
  ...extra,
});

const accessDay1 = gz(
  [
    access({
      userId: 'user-alice',
      ip: '10.0.0.1',
      path: '/login?token=abc123&next=/home',
      authToken: 'bearer-xyz',
    }),
    access({ userId: 'user-bob', ip: '203.0.113.77', deviceId: 'dev-shared-tablet' }), // bob, signed in, shared device
    access({ userId: null, ip: '10.0.0.2', deviceId: 'dev-alice-phone', userAgent: 'App/1.0 (Galaxy 😀)' }),
    access({ userId: null, ip: '203.0.113.78', deviceId: 'dev-carol' }), // someone else signed out
    'not json at all',
    '',
    access({ userId: 'user-alice-2', ip: '10.0.0.3', referrer: 'https://x.example/?code=secret-code&q=1' }),
  ],
  '\r\n',
);
const accessDay2 = gz([access({ ts: '2024-02-15T00:00:00Z', userId: 'user-alice', ip: '10.0.0.4' })]);

const voiceDay1 = gz([
  {
    sessionId: 's1',
    worldId: 'w1',
    startedAt: '2024-01-01T20:00:00Z',
    endedAt: '2024-01-01T21:00:00Z',
    hostUserId: 'user-bob',
    participants: [
      {
        userId: 'user-alice',
        ip: '10.0.0.1',
        joinedAt: '2024-01-01T20:00:00Z',
        leftAt: '2024-01-01T20:30:00Z',
      },
      {
        userId: 'user-bob',
        ip: '198.51.100.23',
        joinedAt: '2024-01-01T20:01:00Z',
        leftAt: '2024-01-01T21:00:00Z',
      },
      { userId: 'user-carol', ip: '198.51.100.24', joinedAt: '2024-01-01T20:02:00Z', mic: 'on' },
      { ip: '198.51.100.25', joinedAt: '2024-01-01T20:03:00Z' }, // anonymous guest
      {
        userId: 'user-alice',
        ip: '10.0.0.5',
        joinedAt: '2024-01-01T20:40:00Z',
        leftAt: '2024-01-01T21:00:00Z',
      },
    ],
  },
  {
    sessionId: 's2',
    worldId: 'w1',
    startedAt: '2024-01-01T22:00:00Z',
    participants: [
      { userId: 'user-bob', ip: '198.51.100.23' },
      { userId: 'user-carol', ip: '198.51.100.24' },
    ],
  },
  { sessionId: 's3' }, // no participants at all
]);

const baseObjects: Record<string, Buffer | 'missing'> = {
  'access/dt=2024-01-01/part-00000.jsonl.gz': accessDay1,
  'access/dt=2024-02-15/part-00000.jsonl.gz': accessDay2,
  'access/README.txt': Buffer.from('not a log'),
  'voice-sessions/dt=2024-01-01/part-00000.jsonl.gz': voiceDay1,
};

describe('logs connector: access log', () => {
  it('keeps the subject’s lines by user id, and signed-out lines from their devices only', async () => {
    const { records } = await run(baseObjects, SUBJECT);
    const lines = records('access-log');
    expect(lines.map((l) => [l.ip, l.matchedBy])).toEqual([
      ['10.0.0.1', 'userId'],
      ['10.0.0.2', 'deviceId'],
      ['10.0.0.3', 'userId'],
      ['10.0.0.4', 'userId'],
    ]);
    expect(lines[1]).toEqual({
      ...access({}),
      ip: '10.0.0.2',
      deviceId: 'dev-alice-phone',
      userAgent: 'App/1.0 (Galaxy 😀)',
      matchedBy: 'deviceId',
    });
  });

  it('drops secret fields and redacts secret query parameters', async () => {
    const { records, json } = await run(baseObjects, SUBJECT);
    const [first, , third] = records('access-log');
    expect(first?.path).toBe('/login?token=[redacted]&next=/home');
    expect(first).not.toHaveProperty('authToken');
    expect(third?.referrer).toBe('https://x.example/?code=[redacted]&q=1');
    expect(json()).not.toMatch(/abc123|bearer-xyz|secret-code/);
  });

  it('lets no other person’s line in (not even one from a shared device)', async () => {
    const { json } = await run(baseObjects, SUBJECT);
    expect(json()).not.toMatch(/203\.0\.113\.|user-bob|dev-carol/);
  });

  it('lists every day under each prefix with paging and reads only log objects', async () => {
    const objects = { ...baseObjects };
    for (let day = 10; day < 17; day++) objects[`access/dt=2024-03-${day}/part-00000.jsonl.gz`] = accessDay2;
    const { calls, records } = await run(objects, SUBJECT);
    const gets = calls.filter((c) => c.command === 'Get').map((c) => String(c.input.Key));
    expect(gets.filter((k) => k.startsWith('access/'))).toHaveLength(9);
    expect(gets).not.toContain('access/README.txt');
    expect(calls.filter((c) => c.command === 'List' && c.input.Prefix === 'access/').length).toBeGreaterThan(
      1,
    );
    expect(records('access-log')).toHaveLength(3 + 8);
  });

  it('reads objects with bounded concurrency', async () => {
    const objects: Record<string, Buffer> = {};
    for (let day = 1; day <= 20; day++) {
      objects[`access/dt=2024-04-${String(day).padStart(2, '0')}/part-00000.jsonl.gz`] = accessDay2;
    }
    const limited = await run(objects, SUBJECT, 4);
    expect(limited.maxInFlight()).toBeLessThanOrEqual(4);
    expect(limited.maxInFlight()).toBeGreaterThan(1);
    expect(limited.records('access-log')).toHaveLength(20);
  });

  it('streams a large object and matches ids needing no pre-filter too', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) =>
      access({ userId: i % 1000 === 0 ? 'weird "id" ü' : `user-${i}`, ip: `10.1.${i % 250}.1` }),
    );
    const { records } = await run(
      { 'access/dt=2024-05-01/part-00000.jsonl.gz': gz(many) },
      { userIds: ['weird "id" ü'], deviceIds: [] },
      4,
      16 * 1024,
    );
    expect(records('access-log')).toHaveLength(20);
  });

  it('skips an object that expired since listing, and fails loudly on a corrupt one', async () => {
    const expired = await run(
      { ...baseObjects, 'access/dt=2023-12-31/part-00000.jsonl.gz': 'missing' },
      SUBJECT,
    );
    expect(expired.records('access-log')).toHaveLength(4);
    await expect(
      run({ 'access/dt=2024-01-01/part-00000.jsonl.gz': Buffer.from('definitely not gzip data') }, SUBJECT),
    ).rejects.toBeInstanceOf(ConnectorError);
  });

  it('reads nothing for a subject without user or device ids', async () => {
    const { calls } = await run(baseObjects, { userIds: [], deviceIds: [] });
    expect(calls.filter((c) => c.command === 'Get')).toHaveLength(0);
  });
});

describe('logs connector: voice sessions', () => {
  it('exports sessions the subject was in: their own entries in full, others as pseudonyms with times only', async () => {
    const { records } = await run(baseObjects, SUBJECT);
    expect(records('voice-sessions')).toEqual([
      {
        sessionId: 's1',
        worldId: 'w1',
        startedAt: '2024-01-01T20:00:00Z',
        endedAt: '2024-01-01T21:00:00Z',
        yourParticipation: [
          {
            userId: 'user-alice',
            ip: '10.0.0.1',
            joinedAt: '2024-01-01T20:00:00Z',
            leftAt: '2024-01-01T20:30:00Z',
          },
          {
            userId: 'user-alice',
            ip: '10.0.0.5',
            joinedAt: '2024-01-01T20:40:00Z',
            leftAt: '2024-01-01T21:00:00Z',
          },
        ],
        otherParticipants: [
          { participant: p('user-bob'), joinedAt: '2024-01-01T20:01:00Z', leftAt: '2024-01-01T21:00:00Z' },
          { participant: p('user-carol'), joinedAt: '2024-01-01T20:02:00Z', leftAt: null },
          { participant: null, joinedAt: '2024-01-01T20:03:00Z', leftAt: null },
        ],
        participantCount: 5,
        hostUserId: p('user-bob'),
      },
    ]);
  });

  it('never lets another participant’s IP or user id out', async () => {
    const { json } = await run(baseObjects, SUBJECT);
    expect(json()).not.toMatch(/198\.51\.100\.|user-bob|user-carol/);
  });
});

describe('line splitting and helpers', () => {
  it('redacts only secret-looking query parameters', () => {
    expect(redactUrlSecrets('/a?access_token=t&x=1#sig=s')).toBe(
      '/a?access_token=[redacted]&x=1#sig=[redacted]',
    );
    expect(redactUrlSecrets('/worlds/123?page=2')).toBe('/worlds/123?page=2');
  });

  it('forEachLimited stops starting tasks after a failure and rethrows it', async () => {
    const started: number[] = [];
    const task = async (n: number) => {
      started.push(n);
      await new Promise((resolve) => setImmediate(resolve));
      if (n === 1) throw new Error('boom');
    };
    await expect(forEachLimited([0, 1, 2, 3, 4, 5, 6, 7], 2, task)).rejects.toThrow('boom');
    expect(started.length).toBeLessThan(8);
  });

  it('mapOrderedLimited consumes in input order whatever finishes first, within its limit', async () => {
    let running = 0;
    let peak = 0;
    const consumed: number[] = [];
    const delays = [30, 1, 20, 1, 5, 1, 1, 10, 1, 1];
    await mapOrderedLimited(
      delays.map((_, i) => i),
      3,
      async (i) => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, delays[i]));
        running -= 1;
        return i;
      },
      async (i) => void consumed.push(i),
    );
    expect(consumed).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1);
  });
});
