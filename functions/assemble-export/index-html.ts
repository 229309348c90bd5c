/**
 * index.html: the page a person opens first, offline. Self-contained (inline CSS, no scripts, no
 * external requests: a Content-Security-Policy forbids them), accessible (language, headings, table
 * captions and header scopes, skip link, visible focus), and every link is relative to a file in the
 * archive. File names are hostile input: everything is HTML-escaped and every href path segment is
 * percent-encoded.
 */
import type { StoreName } from '../lib/connectors/contract';
import type { AboutYourData } from '../lib/export/about-your-data';
import { escapeHtml } from '../lib/runtime/html';
import { renderAboutSection, serviceLine } from './about-section';

export interface IndexCollection {
  name: string;
  description: string;
  records: number;
  jsonPath: string;
  csvPath?: string;
  schemaPath: string;
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
}

const STORE_TITLES: Record<StoreName, { title: string; blurb: string }> = {
  accounts: { title: 'Your account', blurb: 'Your profile, linked accounts and devices.' },
  payments: { title: 'Payments', blurb: 'Purchases, refunds, subscriptions and payouts.' },
  chat: { title: 'Chat', blurb: 'Messages you sent and the conversations they belong to.' },
  media: { title: 'Media files', blurb: 'Avatars, voice recordings, uploads and behaviour data.' },
  logs: { title: 'Activity logs', blurb: 'Access logs and voice-session records.' },
  marketing: {
    title: 'Marketing',
    blurb: 'E-mails delivered and opened, sweepstakes and campaigns you entered, and your survey answers.',
  },
};

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

const count = (n: number): string => n.toLocaleString('en-US');
const link = (path: string, text: string): string => `<a href="${hrefFor(path)}">${escapeHtml(text)}</a>`;

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #ffffff; --muted: #4a4a4a; --line: #c9c9c9; --accent: #0b5cad; --zebra: #f3f5f8; }
@media (prefers-color-scheme: dark) { :root { --fg: #ececec; --bg: #16181b; --muted: #c2c2c2; --line: #4a4f57; --accent: #8cc4ff; --zebra: #1f2328; } }
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Hiragino Sans", sans-serif; color: var(--fg); background: var(--bg); }
.wrap { max-width: 62rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.9rem; margin: 1rem 0 .25rem; }
h2 { font-size: 1.45rem; margin: 2.5rem 0 .5rem; padding-top: .5rem; border-top: 2px solid var(--line); }
h3 { font-size: 1.15rem; margin: 1.5rem 0 .4rem; }
h4 { font-size: 1rem; margin: 1.1rem 0 .2rem; }
p, li { max-width: 48rem; }
a { color: var(--accent); text-underline-offset: .15em; }
a:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999rem; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; }
.muted, .cite { color: var(--muted); }
.cite { font-size: .9rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border: 1px solid var(--line); padding: .4rem .55rem; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
tbody tr:nth-child(even) { background: var(--zebra); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
ul.files { margin: 0; padding-left: 1.1rem; }
@media print { a { color: inherit; } .skip, nav { display: none; } }
`;

function storeSection(store: IndexStore): string {
  const meta = STORE_TITLES[store.store];
  const id = `store-${store.store}`;
  const parts = [`<section aria-labelledby="${id}"><h2 id="${id}">${escapeHtml(meta.title)}</h2>`];
  parts.push(`<p class="muted">${escapeHtml(meta.blurb)}</p>`);
  if (store.collections.length === 0 && store.media.length === 0) {
    parts.push('<p>We hold no data about you in this part of our service.</p></section>');
    return parts.join('\n');
  }
  if (store.collections.length > 0) {
    parts.push(`<h3>Data</h3>`);
    parts.push(
      `<table><caption>Data files: ${escapeHtml(meta.title)}</caption><thead><tr>` +
        '<th scope="col">Data</th><th scope="col">What it is</th><th scope="col">Records</th><th scope="col">Files</th>' +
        '</tr></thead><tbody>',
    );
    for (const c of store.collections) {
      const files = [link(c.jsonPath, `${c.name}.json`)];
      if (c.csvPath) files.push(link(c.csvPath, `${c.name}.csv`));
      files.push(link(c.schemaPath, 'schema'));
      parts.push(
        `<tr><th scope="row">${escapeHtml(c.name)}</th><td>${escapeHtml(c.description)}</td>` +
          `<td class="num">${count(c.records)}</td><td><ul class="files">${files.map((f) => `<li>${f}</li>`).join('')}</ul></td></tr>`,
      );
    }
    parts.push('</tbody></table>');
  }
  if (store.media.length > 0) {
    parts.push(`<h3>Files (${count(store.media.length)})</h3>`);
    parts.push(
      `<table><caption>Original files: ${escapeHtml(meta.title)}</caption><thead><tr>` +
        '<th scope="col">File</th><th scope="col">Type</th><th scope="col">Size</th></tr></thead><tbody>',
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

export function renderIndexHtml(model: IndexModel): string {
  const generated = new Date(model.generatedAt);
  const generatedText = Number.isNaN(generated.getTime())
    ? model.generatedAt
    : `${generated
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, '')} UTC`;
  const nav = [
    ...model.stores.map(
      (s) => `<li><a href="#store-${s.store}">${escapeHtml(STORE_TITLES[s.store].title)}</a></li>`,
    ),
    '<li><a href="#about">About your data</a></li>',
    '<li><a href="#checking">Checking this archive</a></li>',
  ];
  const intro = model.subjectFound
    ? '<p>This archive holds a copy of the personal data we hold about you, in structured, machine-readable files (JSON, and CSV for tables you can open in a spreadsheet), together with the original files you uploaded or that we recorded. Each data file has a JSON Schema describing its fields.</p>'
    : '<p>We found no account matching the details in your request, so this archive holds no personal data about you. If you think we hold data about you under other details (another email address, phone number or account), please make a new request with those details.</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<title>Your data export</title>
<style>${STYLE}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<div class="wrap">
<header>
<h1>Your data export</h1>
${serviceLine(model.about)}
<p class="muted">Created ${escapeHtml(generatedText)}. Request ${escapeHtml(model.requestId)}.</p>
</header>
<nav aria-labelledby="contents"><h2 id="contents">Contents</h2><ul>${nav.join('')}</ul></nav>
<main id="main">
${intro}
${model.stores.map(storeSection).join('\n')}
${renderAboutSection(model.about, { aboutPath: model.aboutPath, fileLink: link })}
<section aria-labelledby="checking"><h2 id="checking">Checking this archive</h2>
<p>${link(model.manifestPath, model.manifestPath)} lists every file in this archive with its size and SHA-256 fingerprint, and ${link(model.signaturePath, model.signaturePath)} is our digital signature over it (ES256, a detached JSON Web Signature). Anyone with our published public key can check, offline, that the archive came from us and that no file was changed, added or removed.</p>
</section>
</main>
</div>
</body>
</html>
`;
}
