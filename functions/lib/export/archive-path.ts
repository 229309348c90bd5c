/**
 * Turns untrusted object keys and user-supplied file names into safe, relative archive paths.
 *
 * What comes out: segments joined by `/` only; no empty, `.` or `..` segments; no absolute paths, drive
 * letters or UNC prefixes; no control, format (bidi overrides, zero-width) or lone-surrogate characters;
 * no characters Windows refuses; no reserved device names; bounded length in UTF-8 bytes; never empty.
 * The function is idempotent, so sanitising an already sanitised path changes nothing. The original name
 * is never lost: connectors keep it in their data files next to the archive path.
 */

/** Bytes per segment: below the usual 255-byte file-name limit, leaving room for a ` (n)` suffix. */
const MAX_SEGMENT_BYTES = 150;
/** Bytes per path: extractors and Windows tools struggle past a few hundred characters. */
const MAX_PATH_BYTES = 400;
/** How many rounds of percent-decoding we undo (`%252e` is `%2e` is `.`). */
const MAX_DECODE_ROUNDS = 5;

/** Characters that only look like a separator: shown as `_` so that no name impersonates a path. */
const SLASH_LOOKALIKES = /[\u2044\u2215\u2216\u2571\u2572\u29f5\u29f8\u29f9\u3033\u3035\ufe68\uff0f\uff3c]/g;
/** Combining slash overlays: they draw a slash through the previous character. */
const SLASH_OVERLAYS = /\u0337|\u0338|\u20e5|\u20eb/g;
// Controls (C0, C1, DEL), format characters (bidi overrides and isolates, zero-width, BOM, soft hyphen),
// line/paragraph separators and private-use characters: invisible or misleading in a file name.
// The zero-width joiner stays, as emoji sequences need it.
const UNSAFE_CHARS = /(?!\u200d)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}]/gu;
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const RESERVED_CHARS = /[<>:"|?*]/g;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)(\..*)?$/i;
const ENCODED_RUN = /(?:%[0-9a-fA-F]{2})+/g;

function decodeOnce(value: string): string {
  return value.replace(ENCODED_RUN, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run; // malformed UTF-8: left literal, harmless as a name
    }
  });
}

/** Folds look-alikes and drops invisible characters (no decoding). */
function clean(value: string): string {
  return (
    value
      .replace(LONE_SURROGATES, '')
      .replace(SLASH_LOOKALIKES, '_')
      .replace(SLASH_OVERLAYS, '')
      .replace(UNSAFE_CHARS, '')
      // NFKC folds compatibility forms (fullwidth letters, dots and percent signs, `‥`) into the plain
      // characters, so they meet the same checks as the real ones.
      .normalize('NFKC')
      .replace(UNSAFE_CHARS, '')
  );
}

/**
 * Cleans and undoes percent-encoding, repeatedly, until nothing changes: each step can expose work for
 * the other (`%EF%BC%8F` decodes to a fullwidth slash, `%2\u200bF` becomes `%2F` once the zero-width
 * space goes), and reaching the fixed point keeps the sanitiser idempotent.
 */
function normalizeRaw(raw: string): string {
  let current = raw;
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    const next = decodeOnce(clean(current));
    if (next === current) return current;
    current = next;
  }
  // Still changing after several rounds: a deliberately nested encoding. No more decoding: the
  // remaining `%` become `_`, and what the last round decoded is cleaned like everything else.
  current = current.replace(/%/g, '_');
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    const next = clean(current);
    if (next === current) break;
    current = next;
  }
  return current;
}

function utf8Length(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

/** Cuts to at most `maxBytes` of UTF-8 without splitting a code point. */
function truncateBytes(value: string, maxBytes: number): string {
  let out = '';
  let used = 0;
  for (const char of value) {
    const size = utf8Length(char);
    if (used + size > maxBytes) break;
    out += char;
    used += size;
  }
  return out;
}

const DOT_OR_SPACE = /^[\s.]$/;

/**
 * Strips leading and trailing dots and white space. A loop, not `/[\s.]+$/`: that regex retries from
 * every position of a long inner run of spaces and is quadratic on names an uploader chooses.
 */
function trimDotsAndSpaces(value: string, leading: boolean): string {
  let start = 0;
  let end = value.length;
  // `\s` matches only BMP characters, so a code unit test is exact.
  while (leading && start < end && DOT_OR_SPACE.test(value.charAt(start))) start++;
  while (end > start && DOT_OR_SPACE.test(value.charAt(end - 1))) end--;
  return value.slice(start, end);
}

function cleanSegment(segment: string): string {
  let cleaned = segment.replace(RESERVED_CHARS, '_');
  // Windows drops trailing dots and spaces; leading dots would hide a file or form `..`.
  cleaned = trimDotsAndSpaces(cleaned, true);
  if (WINDOWS_DEVICE.test(cleaned)) cleaned = `_${cleaned}`;
  if (utf8Length(cleaned) > MAX_SEGMENT_BYTES) {
    const dot = cleaned.lastIndexOf('.');
    const ext = dot > 0 && cleaned.length - dot <= 12 ? cleaned.slice(dot) : '';
    cleaned = truncateBytes(
      cleaned.slice(0, cleaned.length - ext.length),
      MAX_SEGMENT_BYTES - utf8Length(ext),
    );
    cleaned = trimDotsAndSpaces(cleaned, false) + ext;
  }
  return cleaned;
}

function cleanSegments(raw: string): string[] {
  // Decode first so that encoded separators and dots (%2F, %5C, %2e) are split and dropped like real ones.
  return normalizeRaw(raw)
    .split(/[/\\]+/)
    .map(cleanSegment)
    .filter((s) => s !== '' && s !== '.' && s !== '..');
}

/** A relative path using only `/`, with every unsafe segment removed; never empty. */
export function sanitizeArchivePath(raw: string): string {
  const segments = cleanSegments(raw);
  // Too long: drop middle segments first, keeping the top folder (the kind of file) and the file name.
  while (segments.length > 2 && utf8Length(segments.join('/')) > MAX_PATH_BYTES) segments.splice(1, 1);
  const joined = segments.join('/');
  return joined === '' ? 'unnamed' : joined;
}

/**
 * One safe path segment from an untrusted id or file name: separators inside it become `_`, so an id
 * or a name never adds folders of its own. Use it when composing a suggested path from parts.
 */
export function sanitizeSegment(raw: string): string {
  const cleaned = cleanSegment(normalizeRaw(raw).replace(/[/\\]/g, '_'));
  return cleaned === '' ? 'unnamed' : cleaned;
}

function withSuffix(segment: string, n: number): string {
  const dot = segment.lastIndexOf('.');
  return dot > 0 ? `${segment.slice(0, dot)} (${n})${segment.slice(dot)}` : `${segment} (${n})`;
}

/**
 * Hands out unique paths: a second `a/b.png` becomes `a/b (2).png`. Comparison is case-insensitive (as
 * on Windows and macOS), and a path never clashes with a folder of another path (`a/b` as a file and
 * `a/b/c.png` cannot both exist in a file system).
 */
export class UniquePaths {
  private readonly files = new Set<string>();
  private readonly folders = new Set<string>();

  claim(path: string): string {
    const segments = path.split('/');
    const fileName = segments.pop() ?? 'unnamed';
    const out: string[] = [];
    for (const folder of segments) {
      let candidate = folder;
      for (let n = 2; this.files.has(key([...out, candidate])); n++) candidate = `${folder} (${n})`;
      out.push(candidate);
      this.folders.add(key(out));
    }
    let candidate = fileName;
    for (
      let n = 2;
      this.files.has(key([...out, candidate])) || this.folders.has(key([...out, candidate]));
      n++
    ) {
      candidate = withSuffix(fileName, n);
    }
    out.push(candidate);
    this.files.add(key(out));
    return out.join('/');
  }
}

function key(segments: string[]): string {
  return segments.join('/').toLowerCase();
}
