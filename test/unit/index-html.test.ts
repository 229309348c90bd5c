import { aboutYourDataFor, type AboutYourData } from '../../functions/lib/export/about-your-data';
import { serviceProfile } from '../../functions/lib/services/profiles';
import { escapeHtml } from '../../functions/lib/runtime/html';
import {
  formatBytes,
  hrefFor,
  indexPages,
  renderIndexHtml,
  type IndexModel,
} from '../../functions/assemble-export/index-html';
import {
  AMOUNT_SPECS,
  CELL_CHARS,
  DigestBuilder,
  PREVIEW_COLUMNS,
  PREVIEW_ROWS,
  type CollectionDigest,
} from '../../functions/assemble-export/digest';
import type { JsonRecord } from '../../functions/assemble-export/ndjson';

const XSS = '<script>alert(1)</script>';

function digestOf(
  header: string[],
  records: JsonRecord[],
  dateField?: string,
  amounts?: (typeof AMOUNT_SPECS)[string],
): CollectionDigest {
  const builder = new DigestBuilder(header, dateField, amounts);
  for (const r of records) builder.add(r);
  return builder.result();
}

/** 25 purchases, two a month from January 2024, one hostile. */
const PURCHASES = Array.from({ length: 25 }, (_, i) => ({
  txnId: `t-${i}`,
  txnAt: new Date(Date.UTC(2024, Math.floor(i / 2), 5)).toISOString(),
  type: 'purchase',
  amountMajor: '1200',
  currency: 'JPY',
  itemTitle: i === 0 ? `${XSS}"><img src=x onerror=alert(2)>` : `Item ${i}`,
}));

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
      {
        store: 'payments',
        collections: [
          {
            name: 'transactions',
            description: 'Purchases',
            records: PURCHASES.length,
            jsonPath: 'data/payments/transactions.json',
            csvPath: 'data/payments/transactions.csv',
            schemaPath: 'schemas/payments/transactions.schema.json',
            digest: digestOf(
              ['txnId', 'txnAt', 'type', 'amountMajor', 'currency', 'itemTitle'],
              PURCHASES,
              'txnAt',
              AMOUNT_SPECS['payments/transactions'],
            ),
          },
        ],
        media: [],
      },
    ],
    about: aboutFor('cluster', ['accounts', 'media', 'payments']),
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
    // Inline SVG charts are drawn, but nothing in them loads or runs anything.
    for (const banned of [
      'script',
      'img',
      'link',
      'iframe',
      'object',
      'embed',
      'form',
      'base',
      'foreignobject',
      'image',
      'use',
      'animate',
      'set',
    ]) {
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
    // Records are hostile too: a purchase's title shows as text in the table.
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain(
      '<td>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;</td>',
    );
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
      expect(t).toContain('<th scope="col"');
    }
  });

  it('shows counts and sizes, and says when a store holds nothing', () => {
    expect(html).toContain('(1,234)');
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

describe('index.html in two languages', () => {
  const [page, other] = indexPages('ja');
  const ja = renderIndexHtml(model({ locale: page.locale, alternate: other }));
  const en = renderIndexHtml(model({ locale: other.locale, alternate: page }));

  it("is index.html in the person's language, with the other language beside it", () => {
    expect(indexPages('ja')).toEqual([
      { locale: 'ja', path: 'index.html' },
      { locale: 'en', path: 'index.en.html' },
    ]);
    expect(indexPages('en')).toEqual([
      { locale: 'en', path: 'index.html' },
      { locale: 'ja', path: 'index.ja.html' },
    ]);
  });

  it('writes each page in its language, linking to the other', () => {
    expect(ja).toMatch(/^<!doctype html>\n<html lang="ja">/);
    expect(ja).toContain('<h1>データのエクスポート</h1>');
    expect(ja).toContain('<a href="index.en.html" hreflang="en" lang="en">Read this page in English</a>');
    expect(ja).toContain('<h2 id="about">あなたのデータについて</h2>');
    expect(ja).toContain('月ごとの利用状況');
    expect(ja).toContain('<th scope="col" title="txnAt">取引日時</th>');
    expect(ja).toContain('2024年1月');
    expect(en).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(en).toContain('<h1>Your data export</h1>');
    expect(en).toContain('<a href="index.html" hreflang="ja" lang="ja">このページを日本語で読む</a>');
    expect(en).toContain('<th scope="col" title="txnAt">Date</th>');
    expect(en).toContain('Jan 2024');
    // The Japanese page speaks Japanese in its own words (not the English labels).
    for (const english of [
      'Your activity per month',
      'Contents',
      'Checking this archive',
      'About your data',
    ]) {
      expect(ja).not.toContain(`>${english}<`);
    }
  });

  it("names the service and its controller in the page's language", () => {
    const prism = aboutFor('prism-project', ['accounts']);
    const jaPrism = renderIndexHtml(model({ locale: 'ja', about: prism }));
    const enPrism = renderIndexHtml(model({ locale: 'en', about: prism }));
    const local = serviceProfile('prism-project').controller.localNames?.ja;
    expect(local).toBeDefined();
    expect(jaPrism).toContain(
      `data-field="controller">${escapeHtml(prism.service.name)}: ${escapeHtml(local!)}<`,
    );
    expect(enPrism).toContain(
      `data-field="controller">${escapeHtml(prism.service.name)}: ${escapeHtml(prism.controller.name)}<`,
    );
    expect(ja).toContain('data-field="controller">Cluster: Cluster, Inc.<');
  });

  it('shows the first rows of a collection, says how many more there are and links the full file', () => {
    for (const html of [ja, en]) {
      const table = /<caption>[^<]*(?:transactions|Transactions|取引)[^<]*<\/caption>[\s\S]*?<\/table>/.exec(
        html,
      )?.[0];
      expect(table).toBeDefined();
      expect(table!.match(/<tr>/g)).toHaveLength(PREVIEW_ROWS + 1);
      expect(table).toContain('Item 19');
      expect(table).not.toContain('Item 20');
    }
    expect(en).toContain('Transactions: the first 20 of 25 records');
    expect(en).toContain('All records are in transactions.json.');
    expect(ja).toContain('取引：全 25 件のうち最初の 20 件');
    expect(en).toContain('<a href="data/payments/transactions.json">transactions.json</a>');
  });

  it('draws the charts as inline SVG with a title, bars per month and the figures as a table', () => {
    const svgs = en.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(2);
    const [activity, purchases] = svgs as [string, string];
    expect(activity).toContain('role="img"');
    expect(activity).toContain('<title id="chart-activity-title">Your activity per month</title>');
    // 25 purchases over 13 months: 12 bars of 2 and one of 1.
    expect(activity.match(/<rect /g)).toHaveLength(13);
    expect(activity).toContain('<title>Payments, Jan 2024: 2</title>');
    expect(activity).toContain('<title>Payments, Jan 2025: 1</title>');
    expect(purchases).toContain('Your purchases per month (JPY)');
    expect(purchases).toContain('<title>JPY, Feb 2024: 2,400</title>');
    expect(en).toContain('<th scope="row">Jan 2025</th><td class="num">1,200</td>');
    expect(ja).toContain('<title>JPY, 2024年2月: 2,400</title>');
  });

  it('says when no record carries a date, and draws nothing', () => {
    const undated = renderIndexHtml(
      model({
        stores: [
          {
            store: 'chat',
            media: [],
            collections: [
              {
                name: 'rooms',
                description: 'Rooms',
                records: 1,
                jsonPath: 'data/chat/rooms.json',
                schemaPath: 'schemas/chat/rooms.schema.json',
                digest: digestOf(['roomId'], [{ roomId: 'r-1' }]),
              },
            ],
          },
        ],
      }),
    );
    expect(undated).not.toContain('<svg');
    expect(undated).toContain('None of your records carries a date to chart.');
  });

  it('shortens long values and leaves out columns past the limit, saying so', () => {
    const header = Array.from({ length: PREVIEW_COLUMNS + 3 }, (_, i) => `field${i}`);
    const record = Object.fromEntries(
      header.map((h) => [h, h === 'field0' ? 'x'.repeat(500) : { nested: [1, 2] }]),
    );
    const html = renderIndexHtml(
      model({
        locale: 'en',
        stores: [
          {
            store: 'chat',
            media: [],
            collections: [
              {
                name: 'messages',
                description: 'Messages',
                records: 1,
                jsonPath: 'data/chat/messages.json',
                schemaPath: 'schemas/chat/messages.schema.json',
                digest: digestOf(header, [record]),
              },
            ],
          },
        ],
      }),
    );
    expect(html).toContain(`<td>${'x'.repeat(CELL_CHARS)}…</td>`);
    expect(html).not.toContain('x'.repeat(CELL_CHARS + 1));
    expect(html).toContain('<td>{&quot;nested&quot;:[1,2]}</td>');
    expect(html).toContain('3 more columns in the files');
    expect(html).toContain('Long values are shortened here');
    expect(html).not.toContain('title="field10"');
    expect(html).toContain('<th scope="col" title="field9">Field9</th>');
  });
});
