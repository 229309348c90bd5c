/**
 * index.html: the page a person opens first, offline, in their own language (English and Japanese; the
 * archive holds the page in both, each linking to the other). It shows the data itself: per collection,
 * a table of its first records with the full files linked, and charts of activity per month and of
 * purchases, drawn as inline SVG. Self-contained (inline CSS, no scripts, no external requests: a
 * Content-Security-Policy forbids them), accessible (language, headings, table captions and header
 * scopes, chart titles and the same figures as tables, skip link, visible focus), and every link is
 * relative to a file in the archive. Everything shown comes from the person's data or from file names,
 * which are hostile input: all text is HTML-escaped and every href path segment is percent-encoded.
 */
import type { StoreName } from '../lib/connectors/contract';
import type { Locale } from '../lib/downloads/download-page';
import type { AboutYourData } from '../lib/export/about-your-data';
import { escapeHtml } from '../lib/runtime/html';
import { aboutSectionTitle, renderAboutSection, serviceLine } from './about-section';
import { periodsOf, renderBarChart, valuesIn, type ChartSeries, type ChartText } from './chart';
import type { CollectionDigest, PreviewCell } from './digest';
import {
  collectionDescription,
  collectionTitle,
  fieldLabel,
  formatNumber,
  formatPeriod,
  PAGE_TEXT,
  STORE_TEXT,
} from './index-text';

export interface IndexCollection {
  name: string;
  description: string;
  records: number;
  jsonPath: string;
  csvPath?: string;
  schemaPath: string;
  /** The first rows and the counts per month, gathered while the collection was written. */
  digest?: CollectionDigest;
}

export interface IndexMediaFile {
  /** Path in the archive. */
  path: string;
  /** Name shown to the person (the path under media/<store>/). */
  label: string;
  bytes: number;
  contentType?: string;
}

export interface IndexStore {
  store: StoreName;
  collections: IndexCollection[];
  media: IndexMediaFile[];
}

export interface IndexModel {
  requestId: string;
  generatedAt: string;
  subjectFound: boolean;
  stores: IndexStore[];
  about: AboutYourData;
  aboutPath: string;
  manifestPath: string;
  signaturePath: string;
  /** The page's language; English when not given. */
  locale?: Locale;
  /** The same page in the other language, in the archive. */
  alternate?: IndexPage;
}

/** One of the archive's pages: its language and path. */
export interface IndexPage {
  locale: Locale;
  path: string;
}

/** The archive's pages: index.html in the person's language, and the other language beside it. */
export function indexPages(locale: Locale): [IndexPage, IndexPage] {
  const other: Locale = locale === 'ja' ? 'en' : 'ja';
  return [
    { locale, path: 'index.html' },
    { locale: other, path: `index.${other}.html` },
  ];
}

/** A relative href to an archive path: each segment percent-encoded (so `?`, `#`, `%`, `:` stay literal), then escaped. */
export function hrefFor(path: string): string {
  return escapeHtml(path.split('/').map(encodeURIComponent).join('/'));
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const link = (path: string, text: string): string => `<a href="${hrefFor(path)}">${escapeHtml(text)}</a>`;
const fileName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #ffffff; --muted: #4a4a4a; --line: #c9c9c9; --accent: #0b5cad; --zebra: #f3f5f8;
  --s0: #0b5cad; --s1: #c2570c; --s2: #2e7d32; --s3: #8e24aa; --s4: #00838f; --s5: #6d4c41; }
@media (prefers-color-scheme: dark) { :root { --fg: #ececec; --bg: #16181b; --muted: #c2c2c2; --line: #4a4f57; --accent: #8cc4ff; --zebra: #1f2328;
  --s0: #6fb1ff; --s1: #ffa25c; --s2: #7bd17f; --s3: #d59cf0; --s4: #5fd6e0; --s5: #d2a892; } }
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Hiragino Sans", "Noto Sans JP", sans-serif; color: var(--fg); background: var(--bg); }
.wrap { max-width: 68rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.9rem; margin: 1rem 0 .25rem; }
h2 { font-size: 1.45rem; margin: 2.5rem 0 .5rem; padding-top: .5rem; border-top: 2px solid var(--line); }
h3 { font-size: 1.15rem; margin: 1.5rem 0 .4rem; }
h4 { font-size: 1rem; margin: 1.1rem 0 .2rem; }
p, li { max-width: 48rem; }
a { color: var(--accent); text-underline-offset: .15em; }
a:focus-visible, .scroll:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999rem; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; }
.lang { text-align: right; margin: 0; max-width: none; }
.muted, .cite { color: var(--muted); }
.cite { font-size: .9rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border: 1px solid var(--line); padding: .4rem .55rem; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
tbody tr:nth-child(even) { background: var(--zebra); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.scroll { overflow-x: auto; margin: .5rem 0 1rem; }
.scroll table { margin: 0; font-size: .9rem; }
.scroll th, .scroll td { min-width: 7rem; max-width: 24rem; }
ul.files { margin: 0; padding-left: 1.1rem; }
ul.inline { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
figure { margin: 1rem 0 1.5rem; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
svg.chart { width: 100%; max-width: 46rem; height: auto; display: block; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .base { stroke: var(--fg); stroke-width: 1; }
svg.chart .axis { fill: var(--muted); font-size: 12px; }
.s0 { fill: var(--s0); background: var(--s0); } .s1 { fill: var(--s1); background: var(--s1); }
.s2 { fill: var(--s2); background: var(--s2); } .s3 { fill: var(--s3); background: var(--s3); }
.s4 { fill: var(--s4); background: var(--s4); } .s5 { fill: var(--s5); background: var(--s5); }
.swatch { display: inline-block; width: .9em; height: .9em; margin-right: .35em; vertical-align: -.1em; border-radius: 2px; }
details { margin: .25rem 0 1rem; }
@media print { a { color: inherit; } .skip, nav, .lang { display: none; } .scroll { overflow: visible; } }
`;

type Text = (typeof PAGE_TEXT)[Locale];

const ISO_UTC = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?Z$/;

/** A cell's text: dates in UTC without the `T`, booleans in words, nothing for null. */
function cellHtml(value: PreviewCell, t: Text): string {
  if (value === null) return '<td></td>';
  if (typeof value === 'boolean') return `<td>${value ? t.yes : t.no}</td>`;
  if (typeof value === 'number') return `<td class="num">${escapeHtml(String(value))}</td>`;
  const date = ISO_UTC.exec(value);
  return `<td>${escapeHtml(date ? `${date[1]} ${date[2]} UTC` : value)}</td>`;
}

function previewTable(store: StoreName, c: IndexCollection, locale: Locale, t: Text): string {
  const d = c.digest;
  if (c.records === 0) return `<p class="muted">${t.noRecords}</p>`;
  if (!d || d.rows.length === 0 || d.columns.length === 0) return '';
  const title = collectionTitle(store, c.name, locale);
  const caption = t.previewCaption(
    title,
    formatNumber(d.rows.length, locale),
    formatNumber(c.records, locale),
  );
  const head = d.columns
    .map((col) => `<th scope="col" title="${escapeHtml(col)}">${escapeHtml(fieldLabel(col, locale))}</th>`)
    .join('');
  const rows = d.rows.map((row) => `<tr>${row.map((cell) => cellHtml(cell, t)).join('')}</tr>`).join('\n');
  const notes = [
    d.rows.length < c.records ? t.fullFile(fileName(c.jsonPath)) : '',
    d.hiddenColumns > 0 ? t.hiddenColumns(d.hiddenColumns) : '',
    d.rows.some((row) => row.some((cell) => typeof cell === 'string' && cell.endsWith('…'))) ? t.cutNote : '',
  ].filter(Boolean);
  return (
    `<div class="scroll" role="region" aria-label="${escapeHtml(caption)}" tabindex="0"><table><caption>${escapeHtml(caption)}</caption>` +
    `<thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table></div>` +
    (notes.length > 0 ? `<p class="muted">${notes.map(escapeHtml).join(' ')}</p>` : '')
  );
}

function collectionPart(store: StoreName, c: IndexCollection, locale: Locale, t: Text): string {
  const id = `data-${store}-${c.name}`;
  const files = [link(c.jsonPath, fileName(c.jsonPath))];
  if (c.csvPath) files.push(link(c.csvPath, fileName(c.csvPath)));
  files.push(link(c.schemaPath, t.schema));
  return [
    `<h3 id="${escapeHtml(id)}">${escapeHtml(collectionTitle(store, c.name, locale))} <span class="muted">(${escapeHtml(formatNumber(c.records, locale))})</span></h3>`,
    `<p>${escapeHtml(collectionDescription(store, c.name, c.description, locale))}</p>`,
    `<ul class="inline"><li>${t.collectionFiles}</li>${files.map((f) => `<li>${f}</li>`).join('')}</ul>`,
    previewTable(store, c, locale, t),
  ].join('\n');
}

function storeSection(store: IndexStore, locale: Locale, t: Text): string {
  const meta = STORE_TEXT[locale][store.store];
  const id = `store-${store.store}`;
  const parts = [`<section aria-labelledby="${id}"><h2 id="${id}">${escapeHtml(meta.title)}</h2>`];
  parts.push(`<p class="muted">${escapeHtml(meta.blurb)}</p>`);
  if (store.collections.length === 0 && store.media.length === 0) {
    parts.push(`<p>${t.nothingHeld}</p></section>`);
    return parts.join('\n');
  }
  for (const c of store.collections) parts.push(collectionPart(store.store, c, locale, t));
  if (store.media.length > 0) {
    parts.push(`<h3>${escapeHtml(t.mediaFiles(formatNumber(store.media.length, locale)))}</h3>`);
    parts.push(
      `<table><caption>${escapeHtml(t.mediaCaption(meta.title))}</caption><thead><tr>` +
        `<th scope="col">${t.file}</th><th scope="col">${t.type}</th><th scope="col">${t.size}</th></tr></thead><tbody>`,
    );
    for (const m of store.media) {
      parts.push(
        `<tr><td>${link(m.path, m.label)}</td><td>${escapeHtml(m.contentType ?? '')}</td>` +
          `<td class="num">${escapeHtml(formatBytes(m.bytes))}</td></tr>`,
      );
    }
    parts.push('</tbody></table>');
  }
  parts.push('</section>');
  return parts.join('\n');
}

/** The activity chart's series: records per month of each store's dated collections (accounts are states, not activity). */
export function activitySeries(stores: readonly IndexStore[], locale: Locale): ChartSeries[] {
  const series: ChartSeries[] = [];
  for (const s of stores) {
    if (s.store === 'accounts') continue;
    const values: Record<string, number> = {};
    for (const c of s.collections) {
      for (const [month, n] of Object.entries(c.digest?.perMonth ?? {}))
        values[month] = (values[month] ?? 0) + n;
    }
    if (Object.keys(values).length > 0) series.push({ label: STORE_TEXT[locale][s.store].title, values });
  }
  return series;
}

/** Purchase amounts per month, one series a currency (most purchases first, at most three). */
export function purchaseSeries(
  stores: readonly IndexStore[],
): { currency: string; values: Record<string, number> }[] {
  const byCurrency = new Map<string, Record<string, number>>();
  for (const c of stores.flatMap((s) => s.collections)) {
    for (const [currency, months] of Object.entries(c.digest?.amounts ?? {})) {
      const values = byCurrency.get(currency) ?? {};
      for (const [month, amount] of Object.entries(months)) values[month] = (values[month] ?? 0) + amount;
      byCurrency.set(currency, values);
    }
  }
  return [...byCurrency]
    .map(([currency, values]) => ({ currency, values }))
    .sort(
      (a, b) =>
        Object.keys(b.values).length - Object.keys(a.values).length || a.currency.localeCompare(b.currency),
    )
    .slice(0, 3);
}

function figureTable(series: readonly ChartSeries[], text: ChartText, t: Text): string {
  const periods = periodsOf(series);
  const columns = series.map((s) => valuesIn(s, periods));
  const multi = series.length > 1;
  const head =
    `<th scope="col">${t.period}</th>` +
    series.map((s) => `<th scope="col" class="num">${escapeHtml(s.label)}</th>`).join('') +
    (multi ? `<th scope="col" class="num">${t.total}</th>` : '');
  const rows = periods.periods.map((p, i) => {
    const values = columns.map((col) => col[i] ?? 0);
    const cells = values.map((v) => `<td class="num">${escapeHtml(text.formatValue(v))}</td>`).join('');
    const total = multi
      ? `<td class="num">${escapeHtml(text.formatValue(values.reduce((a, b) => a + b, 0)))}</td>`
      : '';
    return `<tr><th scope="row">${escapeHtml(text.formatPeriod(p, periods.unit))}</th>${cells}${total}</tr>`;
  });
  return `<details><summary>${t.asTable}</summary><table><caption>${escapeHtml(text.title)}</caption><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></details>`;
}

function chartFigure(id: string, series: readonly ChartSeries[], text: ChartText, t: Text): string {
  const legend =
    series.length > 1
      ? `<ul class="inline">${series.map((s, i) => `<li><span class="swatch s${i}"></span>${escapeHtml(s.label)}</li>`).join('')}</ul>`
      : '';
  return (
    `<figure aria-labelledby="${id}-caption"><figcaption id="${id}-caption">${escapeHtml(text.title)}</figcaption>` +
    `${renderBarChart(id, series, text)}${legend}</figure>${figureTable(series, text, t)}`
  );
}

function glanceSection(model: IndexModel, locale: Locale, t: Text): string {
  const parts = [`<section aria-labelledby="glance"><h2 id="glance">${t.glance}</h2>`];
  parts.push(
    `<table><caption>${t.summaryCaption}</caption><thead><tr><th scope="col">${t.part}</th>` +
      `<th scope="col" class="num">${t.records}</th><th scope="col" class="num">${t.files}</th></tr></thead><tbody>`,
  );
  for (const s of model.stores) {
    const records = s.collections.reduce((sum, c) => sum + c.records, 0);
    const files = s.collections.reduce((sum, c) => sum + (c.csvPath ? 3 : 2), 0) + s.media.length;
    parts.push(
      `<tr><th scope="row"><a href="#store-${s.store}">${escapeHtml(STORE_TEXT[locale][s.store].title)}</a></th>` +
        `<td class="num">${escapeHtml(formatNumber(records, locale))}</td><td class="num">${escapeHtml(formatNumber(files, locale))}</td></tr>`,
    );
  }
  parts.push('</tbody></table>');

  const activity = activitySeries(model.stores, locale);
  const period = (p: string, unit: 'month' | 'year') => formatPeriod(p, unit, locale);
  if (activity.length === 0) {
    parts.push(`<p class="muted">${t.noDated}</p>`);
  } else {
    const { unit, periods } = periodsOf(activity);
    const total = activity.reduce((sum, s) => sum + Object.values(s.values).reduce((a, b) => a + b, 0), 0);
    parts.push(
      chartFigure(
        'chart-activity',
        activity,
        {
          title: unit === 'month' ? t.activityTitle : t.activityTitleYear,
          description: t.activityDesc(
            formatNumber(total, locale),
            period(periods[0] ?? '', unit),
            period(periods[periods.length - 1] ?? '', unit),
          ),
          formatPeriod: period,
          formatValue: (v) => formatNumber(v, locale),
        },
        t,
      ),
    );
    const undated = model.stores
      .filter((s) => s.store !== 'accounts')
      .flatMap((s) => s.collections)
      .reduce((sum, c) => sum + (c.digest?.dateField ? c.digest.undated : 0), 0);
    if (undated > 0)
      parts.push(`<p class="muted">${escapeHtml(t.undated(formatNumber(undated, locale)))}</p>`);
  }

  purchaseSeries(model.stores).forEach(({ currency, values }, i) => {
    const series = [{ label: currency, values }];
    const { unit } = periodsOf(series);
    const digits = Number.isInteger(Object.values(values).reduce((a, b) => a + b, 0)) ? 0 : 2;
    const total = Object.values(values).reduce((a, b) => a + b, 0);
    parts.push(
      chartFigure(
        `chart-purchases-${i}`,
        series,
        {
          title: unit === 'month' ? t.purchasesTitle(currency) : t.purchasesTitleYear(currency),
          description: t.purchasesDesc(formatNumber(total, locale, digits), currency),
          formatPeriod: period,
          formatValue: (v) => formatNumber(v, locale, Number.isInteger(v) ? 0 : digits),
        },
        t,
      ),
    );
  });
  parts.push('</section>');
  return parts.join('\n');
}

export function renderIndexHtml(model: IndexModel): string {
  const locale = model.locale ?? 'en';
  const t = PAGE_TEXT[locale];
  const generated = new Date(model.generatedAt);
  const generatedText = Number.isNaN(generated.getTime())
    ? model.generatedAt
    : `${generated
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, '')} UTC`;
  const nav = [
    ...(model.subjectFound ? [`<li><a href="#glance">${t.glance}</a></li>`] : []),
    ...model.stores.map(
      (s) => `<li><a href="#store-${s.store}">${escapeHtml(STORE_TEXT[locale][s.store].title)}</a></li>`,
    ),
    `<li><a href="#about">${escapeHtml(aboutSectionTitle(locale))}</a></li>`,
    `<li><a href="#checking">${t.checking}</a></li>`,
  ];
  const alternate = model.alternate
    ? `<p class="lang"><a href="${hrefFor(model.alternate.path)}" hreflang="${model.alternate.locale}" lang="${model.alternate.locale}">${escapeHtml(PAGE_TEXT[locale].otherLanguage)}</a></p>`
    : '';
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<title>${t.title}: ${escapeHtml(model.about.service.name)}</title>
<style>${STYLE}</style>
</head>
<body>
<a class="skip" href="#main">${t.skip}</a>
<div class="wrap">
<header>
${alternate}
<h1>${t.title}</h1>
${serviceLine(model.about, locale)}
<p class="muted">${escapeHtml(t.created(generatedText, model.requestId))}</p>
</header>
<nav aria-labelledby="contents"><h2 id="contents">${t.contents}</h2><ul>${nav.join('')}</ul></nav>
<main id="main">
<p>${model.subjectFound ? t.intro : t.notFound}</p>
${model.subjectFound ? glanceSection(model, locale, t) : ''}
${model.stores.map((s) => storeSection(s, locale, t)).join('\n')}
${t.policyLanguage ? `<p class="muted">${t.policyLanguage}</p>` : ''}
${renderAboutSection(model.about, { aboutPath: model.aboutPath, fileLink: link, locale })}
<section aria-labelledby="checking"><h2 id="checking">${t.checking}</h2>
<p>${t.checkingText(link(model.manifestPath, model.manifestPath), link(model.signaturePath, model.signaturePath))}</p>
</section>
</main>
</div>
</body>
</html>
`;
}
