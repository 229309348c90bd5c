import { aboutYourDataFor, type AboutYourData } from '../../functions/lib/export/about-your-data';
import { serviceProfile } from '../../functions/lib/services/profiles';
import { escapeHtml } from '../../functions/lib/runtime/html';
import {
  formatBytes,
  hrefFor,
  renderIndexHtml,
  type IndexModel,
} from '../../functions/assemble-export/index-html';

const HOSTILE = [
  '<img src=x onerror=alert(1)>.png',
  'a "quoted" & \'single\'.txt',
  'why?#fragment%20.pdf',
  'spaces and 日本語 ファイル.ogg',
  '%2e%2e/evil.vrm',
  'javascript:alert(1).png',
];

/** The about section of a service's user in Korea, whose data lies in the given stores. */
function aboutFor(service: string, stores: string[]): AboutYourData {
  return aboutYourDataFor({ profile: serviceProfile(service), stores, jurisdiction: 'KR' });
}

function model(overrides: Partial<IndexModel> = {}): IndexModel {
  return {
    requestId: 'req-<b>1</b>',
    generatedAt: '2025-01-15T10:00:00.000Z',
    subjectFound: true,
    stores: [
      {
        store: 'accounts',
        collections: [
          {
            name: 'profile',
            description: 'Your profile <script>alert(1)</script>',
            records: 1,
            jsonPath: 'data/accounts/profile.json',
            schemaPath: 'schemas/accounts/profile.schema.json',
          },
          {
            name: 'devices',
            description: 'Devices',
            records: 1234,
            jsonPath: 'data/accounts/devices.json',
            csvPath: 'data/accounts/devices.csv',
            schemaPath: 'schemas/accounts/devices.schema.json',
          },
        ],
        media: [],
      },
      {
        store: 'media',
        collections: [],
        media: HOSTILE.map((label, i) => ({
          path: `media/media/uploads/${label}`,
          label: `uploads/${label}`,
          bytes: 1000 * (i + 1) ** 5,
          contentType: i === 0 ? 'image/png"><script>' : undefined,
        })),
      },
      { store: 'logs', collections: [], media: [] },
    ],
    about: aboutFor('cluster', ['accounts', 'media']),
    aboutPath: 'about-your-data.json',
    manifestPath: 'manifest.json',
    signaturePath: 'manifest.jws',
    ...overrides,
  };
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function archiveFiles(m: IndexModel): Set<string> {
  const files = new Set([m.aboutPath, m.manifestPath, m.signaturePath, 'index.html']);
  for (const s of m.stores) {
    for (const c of s.collections) {
      files.add(c.jsonPath);
      files.add(c.schemaPath);
      if (c.csvPath) files.add(c.csvPath);
    }
    for (const f of s.media) files.add(f.path);
  }
  return files;
}

describe('index.html', () => {
  const m = model();
  const html = renderIndexHtml(m);

  it('declares its language, charset, viewport and title', () => {
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<meta name="viewport"');
    expect(html).toMatch(/<title>[^<]+<\/title>/);
  });

  it('is self-contained: no scripts, no external resources, a CSP forbidding them', () => {
    // Text never contains a raw '<' (it is escaped), so every '<' starts a real tag.
    const tags = [...html.matchAll(/<[^>]*>/g)].map((x) => x[0]);
    const names = new Set(tags.map((t) => /^<\/?([a-z0-9!]+)/i.exec(t)?.[1]?.toLowerCase()));
    for (const banned of ['script', 'img', 'link', 'iframe', 'object', 'embed', 'svg', 'form', 'base']) {
      expect(names.has(banned)).toBe(false);
    }
    for (const tag of tags) {
      expect(tag).not.toMatch(/\son[a-z]+\s*=/i); // no event-handler attributes
      expect(tag).not.toMatch(/\s(src|srcset|action|formaction|style)\s*=/i);
    }
    expect(html).not.toMatch(/url\(|@import/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'`);
  });

  it('links only to files in the archive (relative, segment-encoded) or to anchors on the page', () => {
    const files = archiveFiles(m);
    const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((x) => x[1]));
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((x) => unescapeHtml(x[1] ?? ''));
    expect(hrefs.length).toBeGreaterThan(10);
    const linked = new Set<string>();
    for (const href of hrefs) {
      if (href.startsWith('#')) {
        expect(ids.has(href.slice(1))).toBe(true);
        continue;
      }
      expect(href).not.toMatch(/^[a-z][a-z0-9+.-]*:/i); // no scheme: not http:, not javascript:
      expect(href).not.toMatch(/^\/|[?#]/); // relative, no query or fragment: those characters are encoded
      const path = href.split('/').map(decodeURIComponent).join('/');
      expect(files.has(path)).toBe(true);
      linked.add(path);
    }
    // Every data, schema and media file is reachable from the page.
    for (const f of files) if (f !== 'index.html') expect(linked.has(f)).toBe(true);
  });

  it('escapes hostile file names, descriptions and types (shown as text, never as markup)', () => {
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;.png');
    expect(html).toContain('Your profile &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('image/png&quot;&gt;&lt;script&gt;');
    expect(html).toContain('req-&lt;b&gt;1&lt;/b&gt;');
    expect(html).toContain('spaces and 日本語 ファイル.ogg');
    expect(html).toContain(`href="media/media/uploads/why%3F%23fragment%2520.pdf"`);
    expect(html).toContain(`href="media/media/uploads/javascript%3Aalert(1).png"`);
  });

  it('has one h1 and never skips a heading level', () => {
    const levels = [...html.matchAll(/<h([1-6])[\s>]/g)].map((x) => Number(x[1]));
    expect(levels.filter((l) => l === 1)).toHaveLength(1);
    expect(levels[0]).toBe(1);
    for (let i = 1; i < levels.length; i++) expect(levels[i]!).toBeLessThanOrEqual(levels[i - 1]! + 1);
  });

  it('gives every table a caption and column headers with scope', () => {
    const tables = html.split('<table>').slice(1);
    expect(tables.length).toBeGreaterThan(2);
    for (const t of tables) {
      expect(t).toMatch(/^<caption>/);
      expect(t).toContain('<th scope="col">');
    }
  });

  it('shows counts and sizes, and says when a store holds nothing', () => {
    expect(html).toContain('>1,234<');
    expect(html).toContain('Files (6)');
    expect(html).toMatch(/id="store-logs"[\s\S]*We hold no data about you in this part of our service/);
  });

  it('says plainly when no account matched', () => {
    const empty = renderIndexHtml(model({ subjectFound: false, stores: [], about: aboutFor('cluster', []) }));
    expect(empty).toContain('We found no account matching the details in your request');
    expect(empty).toContain('None: this archive holds no personal information about you.');
  });

  it('includes the about section with categories, sources, purposes, recipients, retention and citations', () => {
    expect(html).toContain('id="about"');
    for (const id of [
      'about-categories',
      'about-sources',
      'about-purposes',
      'about-recipients',
      'about-retention',
    ]) {
      expect(html).toContain(`id="${id}"`);
    }
    expect(html).toContain('Identifiers');
    expect(html).toContain('Audio, electronic, visual, or similar information');
    // One controller and its own policy only (service profiles): Cluster's archive names Cluster, Inc.
    // and cites Cluster's policy, and no other service's processors or controllers.
    expect(html).toContain('id="about-controller"');
    expect(html).toContain('Cluster, Inc.');
    expect(html).toContain('<cite>Privacy Policy (Cluster)</cite>');
    expect(html).not.toContain('JAPAN POST');
    expect(html).not.toContain('Sony Music Solutions');
  });

  it('leaves out categories and recipients of stores that hold nothing about the person', () => {
    const mediaOnly = renderIndexHtml(model({ about: aboutFor('cluster', ['media', 'logs']) }));
    expect(mediaOnly).toContain('Audio, electronic, visual, or similar information');
    // No payments or account data: no financial category, no payment processor or delivery company.
    expect(mediaOnly).not.toContain('Financial information');
    expect(mediaOnly).not.toContain('5 years');
    // klub-outside names its processors: they appear only when their stores hold data.
    expect(renderIndexHtml(model({ about: aboutFor('klub-outside', ['accounts', 'payments']) }))).toContain(
      'Sony Payment Services',
    );
    const klubMediaOnly = renderIndexHtml(model({ about: aboutFor('klub-outside', ['media', 'logs']) }));
    expect(klubMediaOnly).not.toContain('Sony Payment Services');
    expect(klubMediaOnly).not.toContain('JAPAN POST');
  });
});

describe('helpers', () => {
  it('escapes all five HTML metacharacters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('percent-encodes each path segment but keeps the separators', () => {
    expect(hrefFor('media/x/a b/c?d#e%f.png')).toBe('media/x/a%20b/c%3Fd%23e%25f.png');
  });

  it('formats sizes for people', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GB');
  });
});
