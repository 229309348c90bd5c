/**
 * What the log indexer takes from a log object (functions/lib/logs/subject-ids.ts): every id under which
 * the logs connector could match a line, whatever the line's layout, escapes or chunking.
 */
import fc from 'fast-check';
import { SubjectIdCollector, type LogKind } from '../../functions/lib/logs/subject-ids';

function collect(text: string | Buffer, kind: LogKind, chunkSize = 1 << 20) {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const collector = new SubjectIdCollector(kind);
  for (let i = 0; i < bytes.length; i += chunkSize) collector.push(bytes.subarray(i, i + chunkSize));
  const result = collector.end();
  return { users: [...result.userIds].sort(), devices: [...result.deviceIds].sort(), lines: result.lines };
}

describe('access logs', () => {
  it('takes the user of a signed-in line and the device of a signed-out one only', () => {
    const text = [
      '{"ts":"t","userId":"u-1","deviceId":"d-1"}',
      '{"ts":"t","userId":null,"deviceId":"d-2"}',
      '{"ts":"t","userId":"","deviceId":"d-3"}',
      '{"ts":"t","deviceId":"d-4"}',
      '{"ts":"t","userId":7,"deviceId":"d-5"}',
    ].join('\n');
    expect(collect(text, 'access')).toEqual({
      users: ['u-1'],
      devices: ['d-2', 'd-3', 'd-4', 'd-5'],
      lines: 5,
    });
  });

  it('reads the top-level userId as JSON.parse does: nested ones do not sign a line in, the last one wins', () => {
    const text = [
      // Signed out at the top level; a nested userId is not the line's.
      '{"ts":"t","extra":{"userId":"u-nested"},"deviceId":"d-1"}',
      // Duplicate key: JSON.parse keeps the last, so this line is u-last's.
      '{"userId":"u-first","deviceId":"d-2","userId":"u-last"}',
      // The last top-level userId is null: signed out.
      '{"userId":"u-gone","deviceId":"d-3","userId":null}',
      // Spaces around the colon, a key only in a string value.
      '{ "path" : "/a/userId/b", "userId" :  "u-spaced" , "deviceId" : "d-4" }',
      '["userId","u-array"]',
    ].join('\n');
    const result = collect(text, 'access');
    expect(JSON.parse('{"userId":"u-first","deviceId":"d-2","userId":"u-last"}').userId).toBe('u-last');
    expect(result.users).toEqual(expect.arrayContaining(['u-last', 'u-spaced']));
    expect(result.devices).toEqual(expect.arrayContaining(['d-1', 'd-3']));
    expect(result.devices).not.toContain('d-2');
    expect(result.devices).not.toContain('d-4');
  });

  it('decodes escapes and non-ASCII ids exactly', () => {
    const lines = [
      { ts: 't', userId: 'u-"quoted"', deviceId: 'd-1' },
      { ts: 't', userId: null, deviceId: 'd-\\back' },
      { ts: 't', userId: 'ユーザー-1', deviceId: 'd-2' },
      { ts: 't', userId: null, deviceId: 'dévice-é' },
    ];
    const text = lines.map((l) => JSON.stringify(l)).join('\r\n');
    expect(collect(text, 'access')).toEqual({
      users: ['u-"quoted"', 'ユーザー-1'].sort(),
      devices: ['d-\\back', 'dévice-é'].sort(),
      lines: 4,
    });
    // \u escapes in keys and values.
    expect(collect('{"user\\u0049d":"u\\u002d9","deviceId":"d-9"}', 'access').users).toEqual(['u-9']);
  });

  it('finds the same ids however the bytes are chunked', () => {
    const text = Buffer.from(
      [
        '{"ts":"2026-01-01T00:00:00Z","userId":"u-ä","deviceId":"d-1"}',
        '{"ts":"2026-01-01T00:00:00Z","userId":null,"deviceId":"d-ü"}',
        'not json',
        '',
        '{"ts":"t","userId":"u-2","deviceId":"d-2"}',
      ].join('\n'),
      'utf8',
    );
    const whole = collect(text, 'access');
    for (let size = 1; size <= text.length; size++) expect(collect(text, 'access', size)).toEqual(whole);
  });

  it('skips a line longer than the limit and goes on after it', () => {
    const long = `{"userId":"u-long","pad":"${'x'.repeat(33 * 1024 * 1024)}"}`;
    const result = collect(`${long}\n{"userId":"u-after"}`, 'access', 1024 * 1024);
    expect(result.users).toEqual(['u-after']);
  });
});

describe('voice sessions', () => {
  it('takes every participant, and ignores devices', () => {
    const text = [
      JSON.stringify({
        sessionId: 's1',
        participants: [{ userId: 'u-1', ip: '1' }, { userId: 'u-2' }, { ip: 'guest' }],
        deviceId: 'd-x',
      }),
      JSON.stringify({ sessionId: 's2', participants: [{ userId: 'u-"3"' }] }),
    ].join('\n');
    expect(collect(text, 'voice-sessions')).toEqual({
      users: ['u-"3"', 'u-1', 'u-2'],
      devices: [],
      lines: 2,
    });
  });
});

describe('never misses what the connector matches', () => {
  const id = fc.oneof(fc.constantFrom('u-1', 'u-2', 'ü-3', 'u "4"', 'u\\5', ''), fc.string({ maxLength: 6 }));
  const value = fc.oneof(id, fc.constant(null), fc.integer(), fc.constant(undefined));
  const line = fc.record(
    {
      ts: fc.constant('2026-01-01T00:00:00Z'),
      userId: value,
      deviceId: value,
      nested: fc.option(fc.record({ userId: id, deviceId: id }), { nil: undefined }),
      path: fc.string({ maxLength: 12 }),
    },
    { requiredKeys: ['ts'] },
  );

  it('covers every signed-in user and every signed-out device (fast path and escapes alike)', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.integer({ min: 1, max: 64 }), (lines, chunk) => {
        const text = lines.map((l) => JSON.stringify(l)).join('\n');
        const found = collect(text, 'access', chunk);
        for (const l of lines) {
          const { userId, deviceId } = l;
          if (typeof userId === 'string' && userId !== '') expect(found.users).toContain(userId);
          else if ((userId === null || userId === undefined || userId === '') && typeof deviceId === 'string')
            expect(found.devices).toContain(deviceId);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('distinct ids', () => {
  it('names each id once however often it repeats, through table growth, same-hash neighbours and UTF-8', () => {
    // 5,000 distinct ids (several growths of the table), each on three lines, with ids that differ
    // in one byte only, prefixes of one another and non-ASCII ones.
    const ids = Array.from({ length: 5000 }, (_, i) =>
      i % 7 === 0 ? `사용자-${i}` : i % 11 === 0 ? `u-${i}x` : `u-${i}`,
    );
    ids.push('u-1', 'u-10', 'u-100', 'u-');
    const lines: string[] = [];
    for (let round = 0; round < 3; round++)
      for (const id of ids) lines.push(`{"ts":"t","userId":${JSON.stringify(id)},"deviceId":"d"}`);
    // Chunks of 4 KiB: ids also repeat across chunks.
    const result = collect(lines.join('\n'), 'access', 4096);
    expect(result.users).toEqual([...new Set(ids)].sort());
    expect(result.lines).toBe(lines.length);
  });
});

describe('ids read from bytes', () => {
  it('names an empty device id once, like any other', () => {
    const result = collect('{"deviceId":""}\n{"userId":null,"deviceId":""}\n{"deviceId":"d"}', 'access', 5);
    expect(result.devices).toEqual(['', 'd']);
  });

  it('reads every case of the layout through any chunking: escapes, nesting, CRLF, participants', () => {
    const access = [
      '{"ts":"t","userId":"u-1","deviceId":"d-1"}',
      '{"ts":"t","extra":{"userId":"u-nested","deviceId":"d-nested"},"userId":null,"deviceId":"d-2"}',
      '{"ts":"t","userId":"u\\"q","deviceId":"d-3"}',
      '{"ts":"t","userId":null,"deviceId":"d\\\\4"}',
      '{ "ts" : "t" , "deviceId" : "d-5" }',
      '{"ts":"t","userId":"ü-6","deviceId":"d-6"}',
    ].join('\r\n');
    const voice = [
      JSON.stringify({ participants: [{ userId: 'u-7' }, { userId: 'u-"8"' }], deviceId: 'd-7' }),
      JSON.stringify({ participants: [{ userId: 'u-7' }, { ip: 'x' }] }),
    ].join('\r\n');
    for (const chunk of [1, 2, 3, 5, 8, 13, 64, 1 << 20]) {
      expect(collect(access, 'access', chunk)).toEqual({
        users: ['u-1', 'u-nested', 'u"q', 'ü-6'].sort(),
        devices: ['d-2', 'd-5', 'd-nested', 'd\\4'].sort(),
        lines: 6,
      });
      expect(collect(voice, 'voice-sessions', chunk)).toEqual({
        users: ['u-"8"', 'u-7'],
        devices: [],
        lines: 2,
      });
    }
  });
});
