/**
 * The download page: plain server-rendered HTML in English and Japanese, with no script, no external
 * asset and a strict Content-Security-Policy (the one style block is allowed by its hash). It shows
 * counts, sizes, dates and the archive's SHA-256 only: never a name, address or any other personal data.
 */
import { createHash } from 'node:crypto';
import { escapeHtml } from '../runtime/html';
import { controllerName, serviceProfile, type ServiceProfile } from '../services/profiles';
import type { ArchiveSummary } from './download-links';

export type Locale = 'en' | 'ja';
const LOCALES: readonly Locale[] = ['en', 'ja'];

/** `?lang=` wins (the page's language switch); then the best `Accept-Language` match; then English. */
export function negotiateLocale(acceptLanguage: string | undefined, override?: string): Locale {
  if (override && (LOCALES as readonly string[]).includes(override)) return override as Locale;
  let best: { locale: Locale; q: number } | undefined;
  for (const part of (acceptLanguage ?? '').split(',')) {
    const [tag = '', ...params] = part.trim().split(';');
    const q = Number(/^\s*q=([0-9.]+)\s*$/.exec(params.join(';'))?.[1] ?? '1');
    const primary = tag.trim().toLowerCase().split('-')[0] ?? '';
    const locale = LOCALES.find((l) => l === primary);
    if (locale && Number.isFinite(q) && q > 0 && (!best || q > best.q)) best = { locale, q };
  }
  return best?.locale ?? 'en';
}

/**
 * The language to address an account's owner in (the e-mail, the archive's index.html): the account's
 * `locale` tag (`ja-JP`, `en_US`) when it has one, else its service's own language.
 */
export function accountLocale(tag: string | undefined, profile: Pick<ServiceProfile, 'languages'>): Locale {
  return tag ? negotiateLocale(tag.replace('_', '-')) : profile.languages.default;
}

const STYLE = `
:root{color-scheme:light}
body{font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",sans-serif;margin:0;background:#fff;color:#1a1a1a;line-height:1.6}
main{max-width:44rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.75rem;margin:0.5rem 0 1rem}
h2{font-size:1.25rem;margin:2rem 0 0.5rem;border-bottom:1px solid #c4c4c4}
nav{text-align:right}
a{color:#0b4fa8}
a:focus,.button:focus{outline:3px solid #1a1a1a;outline-offset:2px}
table{border-collapse:collapse;width:100%}
caption{text-align:left;font-weight:600;padding-bottom:0.25rem}
th,td{border:1px solid #c4c4c4;padding:0.4rem 0.6rem;text-align:left}
td.num,th.num{text-align:right}
dl{display:grid;grid-template-columns:max-content 1fr;gap:0.25rem 1rem}
dt{font-weight:600}
dd{margin:0}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;background:#f2f2f2;color:#1a1a1a}
code.hash{word-break:break-all}
pre{padding:0.75rem;overflow-x:auto}
.button{display:inline-block;background:#0b4fa8;color:#fff;font-weight:700;text-decoration:none;padding:0.75rem 1.5rem;border-radius:0.375rem;margin:1rem 0}
.note{color:#444}
`;
const STYLE_HASH = createHash('sha256').update(STYLE, 'utf8').digest('base64');

/** The headers every download page (and every error page) carries. */
export const PAGE_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

const STORE_NAMES: Record<Locale, Record<string, string>> = {
  en: {
    accounts: 'Account and profile',
    payments: 'Purchases and payments',
    chat: 'Chat messages',
    media: 'Avatars, voice, photos and other files',
    logs: 'Access and voice-session logs',
  },
  ja: {
    accounts: 'アカウントとプロフィール',
    payments: '購入と支払い',
    chat: 'チャットのメッセージ',
    media: 'アバター、音声、写真などのファイル',
    logs: 'アクセスとボイスセッションの記録',
  },
};

const TEXT = {
  en: {
    title: 'Your data export',
    intro: (controller: string, service: string) =>
      `This page lets you download a copy of the personal data ${controller} holds about you as a user of ${service}, in a ZIP archive you can open offline.`,
    contents: 'What the archive contains',
    caption: 'Data by service',
    store: 'Data',
    records: 'Records',
    files: 'Files',
    total: 'Total',
    size: 'Size',
    link: 'This link',
    expires: 'Expires',
    remaining: 'Downloads left',
    remainingValue: (n: number, max: number) => `${n} of ${max}`,
    download: 'Download the archive',
    downloadNote:
      'Each download counts towards the limit. The download starts at once; if it is interrupted, you can start it again while downloads are left.',
    verify: 'Check that it is genuine',
    sha: 'SHA-256 of the ZIP file',
    shaHow: 'Compare it with the value your computer computes for the downloaded file:',
    signature: (listed: string, total: string) =>
      `The archive holds ${total} files: the ${listed} listed in manifest.json with their SHA-256, plus manifest.json itself and manifest.jws, our signature over it (JWS, ES256). Check the signature with the public keys published at:`,
    signatureHow:
      'Any JWS library can verify it offline. Open index.html in the archive to browse your data without a network connection.',
    language: 'Language',
    expiredTitle: 'This download link has expired',
    expiredBody:
      'Links work for a limited time, and the archive is then deleted. To get your data, ask for a new copy through the support page of the service you use.',
    notFoundTitle: 'This download link is not valid',
    notFoundBody:
      'The link may have been mistyped, or it was withdrawn. If you asked for a copy of your data, contact the support page of the service you use.',
    exhaustedTitle: 'This link has been used as many times as allowed',
    exhaustedBody:
      'For your protection, each link allows a limited number of downloads. To get another copy, ask through the support page of the service you use.',
  },
  ja: {
    title: 'データのエクスポート',
    intro: (controller: string, service: string) =>
      `このページから、${controller}が${service}のご利用に関して保有するあなたの個人データの写しをダウンロードできます。ZIP アーカイブはオフラインで開けます。`,
    contents: 'アーカイブの内容',
    caption: 'サービスごとのデータ',
    store: 'データ',
    records: '件数',
    files: 'ファイル数',
    total: '合計',
    size: 'サイズ',
    link: 'このリンクについて',
    expires: '有効期限',
    remaining: '残りのダウンロード回数',
    remainingValue: (n: number, max: number) => `${max} 回中 ${n} 回`,
    download: 'アーカイブをダウンロード',
    downloadNote:
      'ダウンロードするたびに回数が減ります。ダウンロードはすぐに始まります。中断した場合は、回数が残っていればもう一度始められます。',
    verify: '本物であることを確認する',
    sha: 'ZIP ファイルの SHA-256',
    shaHow: 'ダウンロードしたファイルについて、お使いのコンピューターで計算した値と比べてください。',
    signature: (listed: string, total: string) =>
      `アーカイブには ${total} 個のファイルがあります。manifest.json に SHA-256 とともに記載された ${listed} 個のファイルと、manifest.json 自体、およびそれに対する当社の署名 manifest.jws（JWS、ES256）です。署名は次の公開鍵で確認できます。`,
    signatureHow:
      'JWS ライブラリを使えばオフラインで検証できます。アーカイブ内の index.html を開くと、ネットワークに接続せずにデータを閲覧できます。',
    language: '言語',
    expiredTitle: 'このダウンロードリンクは有効期限が切れています',
    expiredBody:
      'リンクの有効期間は限られており、期限後にアーカイブは削除されます。データが必要な場合は、ご利用のサービスのサポートページから改めて請求してください。',
    notFoundTitle: 'このダウンロードリンクは無効です',
    notFoundBody:
      'リンクが正しく入力されていないか、取り消された可能性があります。データの写しを請求された場合は、ご利用のサービスのサポートページにお問い合わせください。',
    exhaustedTitle: 'このリンクは上限回数まで使用されました',
    exhaustedBody:
      '安全のため、各リンクでダウンロードできる回数には上限があります。もう一度必要な場合は、ご利用のサービスのサポートページから請求してください。',
  },
} as const;

const INTL_LOCALE: Record<Locale, string> = { en: 'en-GB', ja: 'ja-JP' };

export function formatDate(iso: string, locale: Locale): string {
  const formatted = new Intl.DateTimeFormat(INTL_LOCALE[locale], {
    dateStyle: 'long',
    timeStyle: 'short',
    timeZone: 'UTC',
  }).format(new Date(iso));
  return `${formatted} UTC`;
}

function formatBytes(bytes: number, locale: Locale): string {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return new Intl.NumberFormat(INTL_LOCALE[locale], {
    style: 'unit',
    unit: units[unit],
    unitDisplay: unit === 0 ? 'long' : 'short',
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}

function formatCount(value: number, locale: Locale): string {
  return new Intl.NumberFormat(INTL_LOCALE[locale]).format(value);
}

function languageSwitch(locale: Locale): string {
  const t = TEXT[locale];
  const link = (target: Locale, label: string) =>
    target === locale
      ? `<span lang="${target}" aria-current="true">${label}</span>`
      : `<a href="?lang=${target}" hreflang="${target}" lang="${target}">${label}</a>`;
  return `<nav aria-label="${t.language}">${link('en', 'English')} | ${link('ja', '日本語')}</nav>`;
}

function layout(locale: Locale, title: string, body: string): string {
  return (
    `<!doctype html>\n<html lang="${locale}"><head><meta charset="utf-8">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex, nofollow">' +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>` +
    `<body><main>${languageSwitch(locale)}${body}</main></body></html>\n`
  );
}

/** manifest.json and manifest.jws: in the archive, and in its file count, but not listed in the manifest. */
const UNLISTED_FILES = 2;

export interface DownloadPageModel {
  locale: Locale;
  summary: ArchiveSummary;
  expiresAt: string;
  downloadsRemaining: number;
  maxDownloads: number;
  /** Where the download button points, relative to the page (so it works behind any base path). */
  archiveHref: string;
  /** The name the browser saves the archive under: the checksum commands name it. */
  fileName: string;
  jwksUrl: string;
}

export function renderDownloadPage(model: DownloadPageModel): string {
  const { locale, summary } = model;
  const t = TEXT[locale];
  const names = STORE_NAMES[locale];
  const rows = summary.stores
    .map(
      (s) =>
        `<tr><th scope="row">${escapeHtml(names[s.store] ?? s.store)}</th>` +
        `<td class="num">${formatCount(s.records, locale)}</td><td class="num">${formatCount(s.files, locale)}</td></tr>`,
    )
    .join('');
  const size = formatBytes(summary.bytes, locale);
  const file = escapeHtml(model.fileName);
  // The manifest lists every file but itself and its signature.
  const listed = Math.max(0, summary.files - UNLISTED_FILES);
  // The archive names the service whose controller issued it; an older one belongs to the default service.
  const profile = serviceProfile(summary.service);
  const controller = controllerName(profile, locale);
  const body =
    `<h1>${t.title}</h1>` +
    `<p data-field="controller">${escapeHtml(t.intro(controller, profile.name))}</p>` +
    `<h2 id="contents">${t.contents}</h2>` +
    `<table><caption>${t.caption}</caption>` +
    `<thead><tr><th scope="col">${t.store}</th><th scope="col" class="num">${t.records}</th><th scope="col" class="num">${t.files}</th></tr></thead>` +
    `<tbody>${rows}</tbody>` +
    `<tfoot><tr><th scope="row">${t.total}</th><td class="num" data-field="records">${formatCount(summary.records, locale)}</td>` +
    `<td class="num" data-field="files">${formatCount(summary.files, locale)}</td></tr></tfoot></table>` +
    `<dl><dt>${t.size}</dt><dd data-field="size">${escapeHtml(size)}</dd></dl>` +
    `<h2>${t.link}</h2><dl>` +
    `<dt>${t.expires}</dt><dd data-field="expires"><time datetime="${escapeHtml(model.expiresAt)}">${escapeHtml(formatDate(model.expiresAt, locale))}</time></dd>` +
    `<dt>${t.remaining}</dt><dd data-field="remaining">${escapeHtml(t.remainingValue(model.downloadsRemaining, model.maxDownloads))}</dd></dl>` +
    `<p><a class="button" id="download" href="${escapeHtml(model.archiveHref)}" aria-describedby="download-note">${t.download} (ZIP, ${escapeHtml(size)})</a></p>` +
    `<p class="note" id="download-note">${t.downloadNote}</p>` +
    `<h2>${t.verify}</h2>` +
    `<p>${t.sha}: <code class="hash" data-field="sha256">${escapeHtml(summary.sha256)}</code></p>` +
    `<p>${t.shaHow}</p>` +
    `<pre>Linux:   sha256sum ${file}\nmacOS:   shasum -a 256 ${file}\nWindows: certutil -hashfile ${file} SHA256</pre>` +
    `<p>${t.signature(formatCount(listed, locale), formatCount(summary.files, locale))} <a href="${escapeHtml(model.jwksUrl)}">${escapeHtml(model.jwksUrl)}</a></p>` +
    `<p>${t.signatureHow}</p>`;
  return layout(locale, t.title, body);
}

export type PageErrorKind = 'expired' | 'not_found' | 'exhausted';

export function renderErrorPage(kind: PageErrorKind, locale: Locale): string {
  const t = TEXT[locale];
  const [title, body] =
    kind === 'expired'
      ? [t.expiredTitle, t.expiredBody]
      : kind === 'exhausted'
        ? [t.exhaustedTitle, t.exhaustedBody]
        : [t.notFoundTitle, t.notFoundBody];
  return layout(locale, title, `<h1>${title}</h1><p>${body}</p>`);
}

/** A page as the HTTP API answers it (the shape of an API Gateway result). */
export interface HtmlResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export function htmlResponse(statusCode: number, html: string, locale: Locale): HtmlResponse {
  return {
    statusCode,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-language': locale,
      vary: 'Accept, Accept-Language',
      ...PAGE_SECURITY_HEADERS,
    },
    body: html,
  };
}
