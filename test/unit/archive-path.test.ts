import fc from 'fast-check';
import { sanitizeArchivePath, sanitizeSegment, UniquePaths } from '../../functions/lib/export/archive-path';

// eslint-disable-next-line no-control-regex
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

/** What every sanitised path must satisfy, whatever went in: the list of rules it breaks. */
function violations(path: string): string[] {
  const broken: string[] = [];
  const check = (ok: boolean, rule: string) => {
    if (!ok) broken.push(rule);
  };
  check(path !== '', 'empty');
  check(!path.startsWith('/'), 'absolute');
  check(!path.includes('\\'), 'backslash');
  check(!/^[A-Za-z]:/.test(path), 'drive letter');
  check(!/[:<>"|?*]/.test(path), 'reserved character');
  check(!CONTROL_OR_BIDI.test(path), 'control or bidi');
  check(
    !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(path),
    'lone surrogate',
  );
  check(Buffer.byteLength(path, 'utf8') <= 400, 'path too long');
  for (const segment of path.split('/')) {
    check(segment !== '' && segment !== '.' && segment !== '..', `bad segment ${JSON.stringify(segment)}`);
    check(!segment.startsWith('.') && !/[.\s]$/.test(segment), 'leading or trailing dot/space');
    check(Buffer.byteLength(segment, 'utf8') <= 150, 'segment too long');
  }
  return broken;
}

function expectSafe(path: string): void {
  expect(violations(path)).toEqual([]);
}

describe('sanitizeArchivePath: traversal', () => {
  it('(the safety check used below does catch unsafe paths)', () => {
    for (const unsafe of ['a/../b', '/etc', 'C:/x', 'a\\b', 'x\u202e', '.hidden', 'a//b', 'x\ud800']) {
      expect(violations(unsafe)).not.toEqual([]);
    }
  });

  it.each([
    ['uploads/u1/f/../../etc/passwd', 'uploads/u1/f/etc/passwd'],
    ['..\\..\\etc\\passwd', 'etc/passwd'],
    ['%2e%2e%2f%2e%2e%2fetc%2fpasswd', 'etc/passwd'],
    ['%2E%2E%5C%2E%2E%5Cetc%5Cpasswd', 'etc/passwd'],
    ['%252e%252e%252fetc%252fpasswd', 'etc/passwd'],
    ['/etc/passwd', 'etc/passwd'],
    ['//etc//passwd', 'etc/passwd'],
    ['C:\\x', 'C_/x'],
    ['c:/Windows/system32', 'c_/Windows/system32'],
    ['\\\\server\\share\\file.txt', 'server/share/file.txt'],
    ['./a/./b', 'a/b'],
    ['\u2025/\u2025/etc', 'etc'], // two-dot leaders fold to `..` under NFKC
    ['\uff0e\uff0e/x', 'x'], // fullwidth dots
  ])('%j becomes %j', (raw, expected) => {
    const out = sanitizeArchivePath(raw);
    expect(out).toBe(expected);
    expectSafe(out);
  });

  it('keeps a Unicode slash look-alike from acting as (or passing for) a separator', () => {
    for (const raw of [
      'uploads\u2215..\u2215..\u2215etc\u2215passwd',
      'a\u2044..\u2044b',
      'x\uff0f..\uff0fy',
    ]) {
      const out = sanitizeArchivePath(raw);
      expect(out).not.toContain('/');
      expect(out).not.toMatch(/[\u2215\u2044\uff0f]/);
      expectSafe(out);
    }
    expect(sanitizeArchivePath('a\uff0fb')).toBe('a_b');
  });

  it('removes NUL and other control characters, raw or encoded', () => {
    expect(sanitizeArchivePath('photo\u0000.jpg')).toBe('photo.jpg');
    expect(sanitizeArchivePath('photo%00.jpg')).toBe('photo.jpg');
    expect(sanitizeArchivePath('a\r\nb\t.txt')).toBe('ab.txt');
  });

  it('removes bidi overrides that disguise an extension (U+202E)', () => {
    const out = sanitizeArchivePath('uploads/invoice\u202Egpj.exe');
    expect(out).toBe('uploads/invoicegpj.exe');
    expect(sanitizeArchivePath('a\u2066b\u2069c\u200fd.txt')).toBe('abcd.txt');
  });

  it('does not let an invisible character smuggle an encoding through', () => {
    // `%2\u200bF` only becomes `%2F` once the zero-width space is gone: it must still not split.
    const out = sanitizeArchivePath('..%2\u200bF..%2\u200bFetc');
    expectSafe(out);
    expect(out.split('/')).not.toContain('..');
  });

  it('cleans what the last round of a deeply nested encoding decodes, at any depth', () => {
    for (let depth = 0; depth <= 8; depth++) {
      let nested = '\u0000..%2F\u202E';
      for (let i = 0; i < depth; i++) nested = encodeURIComponent(nested);
      const out = sanitizeArchivePath(`x${nested}y.txt`);
      expectSafe(out);
      expect(sanitizeArchivePath(out)).toBe(out);
    }
  });

  it('keeps emoji, non-Latin names, spaces and percent signs that are not encodings', () => {
    expect(sanitizeArchivePath('uploads/f1/😀 休暇の写真.jpg')).toBe('uploads/f1/😀 休暇の写真.jpg');
    expect(sanitizeArchivePath('uploads/👨‍👩‍👧 family.png')).toBe('uploads/👨‍👩‍👧 family.png');
    expect(sanitizeArchivePath('100% real.txt')).toBe('100% real.txt');
    expect(sanitizeArchivePath('50%off%zz.txt')).toBe('50%off%zz.txt');
  });

  it('replaces characters Windows refuses and prefixes reserved device names', () => {
    expect(sanitizeArchivePath('a<b>c:d"e|f?g*h.txt')).toBe('a_b_c_d_e_f_g_h.txt');
    expect(sanitizeArchivePath('uploads/CON.txt')).toBe('uploads/_CON.txt');
    expect(sanitizeArchivePath('nul')).toBe('_nul');
    expect(sanitizeArchivePath('com1.log')).toBe('_com1.log');
    expect(sanitizeArchivePath('console.txt')).toBe('console.txt');
  });

  it('never returns an empty path', () => {
    for (const raw of ['', '/', '..', '../..', '...', ' . ', '\u202e', '%2e%2e']) {
      expect(sanitizeArchivePath(raw)).toBe('unnamed');
    }
  });

  it('bounds very long names in bytes, keeping the extension and whole characters', () => {
    const longAscii = sanitizeArchivePath(`${'a'.repeat(1000)}.png`);
    expect(longAscii.endsWith('.png')).toBe(true);
    expect(Buffer.byteLength(longAscii)).toBeLessThanOrEqual(150);

    const longEmoji = sanitizeArchivePath(`${'😀'.repeat(300)}.jpg`);
    expect(longEmoji.endsWith('.jpg')).toBe(true);
    expect(Buffer.byteLength(longEmoji)).toBeLessThanOrEqual(150);
    expect(Buffer.from(longEmoji, 'utf8').toString('utf8')).toBe(longEmoji); // no split code point
    expectSafe(longEmoji);

    const deep = sanitizeArchivePath(
      ['uploads', ...Array.from({ length: 40 }, (_, i) => `folder-${i}`), 'last.txt'].join('/'),
    );
    expect(deep.startsWith('uploads/')).toBe(true);
    expect(deep.endsWith('/last.txt')).toBe(true);
    expectSafe(deep);
  });

  it('is idempotent and always safe, for hostile fragments and for arbitrary Unicode', () => {
    const fragment = fc.constantFrom(
      '..',
      '.',
      '/',
      '\\',
      '%2e',
      '%2f',
      '%5c',
      '%25',
      '%',
      '2',
      'f',
      'e',
      '\u2215',
      '\uff0f',
      '\uff0e',
      '\u2025',
      '\u202e',
      '\u200b',
      '\u0000',
      'C:',
      'con',
      ' ',
      'a',
      '😀',
      '\ud83d',
      '\u0338',
    );
    const hostile = fc.array(fragment, { maxLength: 30 }).map((parts) => parts.join(''));
    // Any code point, lone surrogates included.
    const codePoint = fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp));
    for (const arbitrary of [hostile, fc.string({ unit: codePoint, maxLength: 60 })]) {
      fc.assert(
        fc.property(arbitrary, (raw) => {
          const once = sanitizeArchivePath(raw);
          return violations(once).length === 0 && sanitizeArchivePath(once) === once;
        }),
        { numRuns: 400 },
      );
    }
  });
});

describe('sanitizeArchivePath: adversarial lengths', () => {
  // A million characters: the former trim regex retried from every space of the run (quadratic, minutes
  // here); the loop finishes in milliseconds, so this would hit the test timeout on a regression.
  const run = 1_000_000;

  it('trims a name made of one long inner run of spaces and dots', () => {
    expect(sanitizeArchivePath(`a${' '.repeat(run)}b`)).toBe('a');
    expect(sanitizeArchivePath(`x${'. '.repeat(run / 2)}y.png`)).toBe('x.png');
  });

  it('trims a long run that ends the name', () => {
    expect(sanitizeArchivePath(`photos/${' .'.repeat(run / 2)}`)).toBe('photos');
    expect(sanitizeSegment(`${' '.repeat(run)}z`)).toBe('z');
  });
});

describe('sanitizeSegment', () => {
  it('turns an id or name into exactly one segment', () => {
    expect(sanitizeSegment('room/../x')).toBe('room_.._x');
    expect(sanitizeSegment('..')).toBe('unnamed');
    expect(sanitizeSegment('a%2Fb')).toBe('a_b');
    expect(sanitizeSegment('a\\b')).toBe('a_b');
    expect(sanitizeSegment('file\u202Etxt.exe')).toBe('filetxt.exe');
  });
});

describe('UniquePaths', () => {
  it('makes two equal names unique, keeping the extension', () => {
    const paths = new UniquePaths();
    expect(paths.claim('uploads/a/photo.jpg')).toBe('uploads/a/photo.jpg');
    expect(paths.claim('uploads/a/photo.jpg')).toBe('uploads/a/photo (2).jpg');
    expect(paths.claim('uploads/a/photo.jpg')).toBe('uploads/a/photo (3).jpg');
    expect(paths.claim('uploads/a/README')).toBe('uploads/a/README');
    expect(paths.claim('uploads/a/README')).toBe('uploads/a/README (2)');
  });

  it('treats names differing only in case as colliding', () => {
    const paths = new UniquePaths();
    const first = paths.claim('uploads/Report.PDF');
    const second = paths.claim('uploads/report.pdf');
    expect(first).toBe('uploads/Report.PDF');
    expect(second).toBe('uploads/report (2).pdf');
    expect(first.toLowerCase()).not.toBe(second.toLowerCase());
  });

  it('does not let a file and a folder share a name', () => {
    const paths = new UniquePaths();
    expect(paths.claim('a/b')).toBe('a/b');
    expect(paths.claim('a/b/c.png')).toBe('a/b (2)/c.png');
    expect(paths.claim('x/y/z.png')).toBe('x/y/z.png');
    expect(paths.claim('x/Y')).toBe('x/Y (2)');
  });

  it('keeps hostile names that sanitise to the same path apart', () => {
    const paths = new UniquePaths();
    const a = paths.claim(sanitizeArchivePath('uploads/f/../../etc/passwd'));
    const b = paths.claim(sanitizeArchivePath('uploads/f/%2e%2e/etc/passwd'));
    expect(a).toBe('uploads/f/etc/passwd');
    expect(b).toBe('uploads/f/etc/passwd (2)');
  });

  it('never hands out the same path twice, case-insensitively', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'A', 'a/b', 'a/B', 'a/b/c', 'x.txt', 'X.TXT', 'a/b.txt'), {
          maxLength: 40,
        }),
        (names) => {
          const paths = new UniquePaths();
          const claimed = names.map((name) => paths.claim(name).toLowerCase());
          expect(new Set(claimed).size).toBe(claimed.length);
          const files = new Set(claimed);
          for (const path of claimed) {
            const segments = path.split('/');
            for (let i = 1; i < segments.length; i++)
              expect(files.has(segments.slice(0, i).join('/'))).toBe(false);
          }
        },
      ),
    );
  });
});
