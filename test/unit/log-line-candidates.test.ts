/**
 * The line pre-filter (functions/lib/logs/line-candidates.ts): a JSON line is a candidate exactly when one
 * of its strings (a key or a value, at any depth) is one of the ids, whatever else surrounds it (escaped
 * quotes, backslashes, non-JSON lines before it) and wherever the search starts. Both searches: the fast
 * one (a regular expression, then the exact one on the lines it points at) for a few ids, the exact one
 * alone for thousands (`FILLER`, ids no line holds, makes the expression too long for the fast one).
 */
import fc from 'fast-check';
import { isCandidate, lineCandidates } from '../../functions/lib/logs/line-candidates';

const ID_CHARS = 'abcdu-0123456789_.:@+';
const idArb = fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 1, maxLength: 10 });
/** 2,000 ids of 11 to 14 characters: more than the fast search is built for (16,000 characters). */
const FILLER = Array.from({ length: 2000 }, (_, n) => `ZZ-filler-${n}`);
const SEARCHES = [
  { name: 'fast', extra: [] as string[] },
  { name: 'exact', extra: FILLER },
];

/** Every string of a JSON value: keys and values, at any depth. */
function stringsOf(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) stringsOf(item, into);
  else if (value !== null && typeof value === 'object')
    for (const [key, item] of Object.entries(value)) {
      into.push(key);
      stringsOf(item, into);
    }
  return into;
}

describe('lineCandidates', () => {
  it('finds exactly the JSON lines holding an id as one of their strings (property)', () => {
    // Strings drawn from the ids themselves, near misses of them, and text with quotes and backslashes.
    const stringArb = (ids: string[]) =>
      fc.oneof(
        fc.constantFrom(...ids),
        fc.constantFrom(...ids).map((id) => `${id}x`),
        fc.constantFrom(...ids).map((id) => `"${id}"`),
        fc.constantFrom(...ids).map((id) => `\\${id}`),
        fc.string({ unit: fc.constantFrom('a', '"', '\\', 'u', '-', '0', ' ', 'é', '\n'), maxLength: 8 }),
      );
    const lineArb = (ids: string[]) =>
      fc.oneof(
        fc
          .letrec((tie) => ({
            value: fc.oneof(
              { depthSize: 'small' },
              stringArb(ids),
              fc.integer(),
              fc.constant(null),
              fc.array(tie('value'), { maxLength: 3 }),
              fc.dictionary(stringArb(ids), tie('value'), { maxKeys: 3 }),
            ),
          }))
          .value.map((value) => ({ json: true, text: JSON.stringify(value), value })),
        // Not JSON: an unbalanced quote or a trailing backslash must not hide the next line's ids.
        fc
          .string({ unit: fc.constantFrom('"', '\\', 'a', ...ids), maxLength: 6 })
          .map((text) => ({ json: false, text, value: undefined })),
      );
    fc.assert(
      fc.property(
        fc.uniqueArray(idArb, { minLength: 1, maxLength: 6 }),
        fc.nat(5),
        fc.constantFrom(...SEARCHES),
        (ids, extra, { extra: filler }) =>
          fc.assert(
            fc.property(fc.array(lineArb(ids), { maxLength: 12 }), (lines) => {
              const candidates = lineCandidates([...ids, ...filler]);
              if (candidates === null) return false;
              const text = Buffer.from(lines.map((l) => l.text).join('\n') + '\n', 'utf8');
              // Walk the lines as filterLines does: from each line start, the next candidate's line.
              const search = candidates.search(text, text.length);
              const found = new Set<number>();
              const starts: number[] = [];
              for (let at = 0; at < text.length; at = text.indexOf(0x0a, at) + 1) starts.push(at);
              let from = 0;
              while (from < text.length) {
                const hit = search.next(from);
                if (hit === -1) break;
                const line = starts.filter((s) => s <= hit).length - 1;
                found.add(line);
                from = text.indexOf(0x0a, hit) + 1;
              }
              lines.forEach((line, i) => {
                if (!line.json) return;
                const expected = stringsOf(line.value).some((s) => ids.includes(s));
                expect([i, found.has(i)]).toEqual([i, expected]);
                // One line alone, as a line carried across chunks is tested.
                expect(isCandidate(candidates, Buffer.from(line.text, 'utf8'))).toBe(expected);
              });
              return true;
            }),
            { numRuns: 10 + extra },
          ),
      ),
      { numRuns: 30 },
    );
  });

  it.each(SEARCHES)(
    '$name: a line left inside a string, or ending on a backslash, hides nothing of the next line',
    ({ extra }) => {
      const candidates = lineCandidates(['u-1', ...extra]);
      for (const broken of ['"\\', '"abc', '{"a":"\\', '\\']) {
        const text = Buffer.from(`${broken}\n{"u-1":1}\n`, 'utf8');
        expect(candidates?.search(text, text.length).next(0)).toBe(text.indexOf('{"u-1"') + 5);
      }
    },
  );

  it('fast: a quoted id that is not a string of its line is passed over, and the search goes on', () => {
    // `":"` is in the bytes of any key and value, and `"u-1"` inside an escaped string is not a string.
    const candidates = lineCandidates([':', 'u-1']);
    const text = Buffer.from('{"a":"b"}\n{"note":"x\\"u-1"}\n{"b":[":"]}\n', 'utf8');
    const search = candidates?.search(text, text.length);
    const hit = search?.next(0) ?? -1;
    expect(hit).toBeGreaterThan(text.indexOf('{"b"'));
    expect(search?.next(text.indexOf('\n', hit) + 1)).toBe(-1);
  });

  it('judges every line when an id could be written escaped, and none when there are no ids', () => {
    expect(lineCandidates(['u-1', 'dev "quoted"'])).toBeNull();
    expect(lineCandidates(['é'])).toBeNull();
    const none = lineCandidates([]);
    expect(none && isCandidate(none, Buffer.from('{"userId":"u-1"}'))).toBe(false);
  });

  it.each(SEARCHES)(
    '$name: finds one id among a hundred, and not a longer string starting with one',
    ({ extra }) => {
      const ids = [...Array.from({ length: 100 }, (_, n) => `u-${n}`), ...extra];
      const candidates = lineCandidates(ids);
      const line = Buffer.from(JSON.stringify({ userId: 'u-77', deviceId: 'dev-1', path: '/a"b' }));
      expect(candidates && isCandidate(candidates, line)).toBe(true);
      expect(candidates && isCandidate(candidates, Buffer.from('{"userId":"u-770"}'))).toBe(false);
    },
  );
});
