/**
 * The "About your data" section of index.html, from about-your-data.json: who the controller is, the
 * categories, sources, purposes and recipients of the person's data, how long it is kept where they
 * live, and what the archive leaves out and why. Everything cites the service's own policy. All text is
 * HTML-escaped; the page passes its own link function, so every link stays relative to the archive.
 */
import type { AboutYourData } from '../lib/export/about-your-data';
import { escapeHtml } from '../lib/runtime/html';
import { controllerName, type Cite, type RecipientKind } from '../lib/services/profiles';

export type AboutLocale = 'en' | 'ja';

export interface AboutSectionOptions {
  /** Path of about-your-data.json in the archive. */
  aboutPath: string;
  /** The page's link to a file of the archive: `<a href="...">text</a>`. */
  fileLink: (path: string, text: string) => string;
  /** Language of the section's own labels (the policy's statements stay in the policy's language). */
  locale?: AboutLocale;
}

const LABELS = {
  en: {
    title: 'About your data',
    machineReadable: 'The same information, machine-readable:',
    controller: 'Who is responsible for your data',
    controllerCaption: 'The controller of your personal information',
    service: 'Service',
    controllerName: 'Controller',
    legalName: 'Legal name',
    address: 'Address',
    contact: 'Privacy contact',
    representative: 'Representative',
    notStated: 'Not stated in the policy',
    categories: 'Categories of personal information we hold about you',
    noCategories: 'None: this archive holds no personal information about you.',
    sources: 'Where it comes from',
    purposes: 'Why we use it',
    recipients: 'Who we share it with',
    recipientsCaption: 'Recipients of your personal information',
    recipient: 'Recipient',
    role: 'Role',
    receives: 'What they receive, and why',
    source: 'Policy',
    transfers: 'Transfers to other countries',
    transfersCaption: 'Where your personal information is transferred',
    to: 'To',
    countries: 'Countries',
    data: 'Data',
    notApplicable: 'Not applicable: we hold no personal information about you.',
    retention: 'How long we keep it',
    retentionCaption: 'Records the law requires us to keep after an erasure',
    records: 'Records',
    keptFor: 'Kept for',
    where: 'Where',
    basis: 'Legal basis',
    vault: 'Taken out of the service and kept apart',
    liveStore: 'Left in place in the logs, unused',
    withheld: 'What this archive leaves out',
    withheldIntro:
      'We hold the following about you but, as our policy says, do not disclose it. It is not in this archive.',
    found: (n: number) => `Records found about you: ${n.toLocaleString('en-US')}.`,
    policy: 'The policy this section follows',
    from: 'From',
    undated: 'no date given',
  },
  ja: {
    title: 'あなたのデータについて',
    machineReadable: '同じ内容の機械可読版:',
    controller: 'あなたのデータの管理者',
    controllerCaption: '個人情報の管理者',
    service: 'サービス',
    controllerName: '管理者',
    legalName: '正式名称',
    address: '所在地',
    contact: '個人情報に関する窓口',
    representative: '代理人',
    notStated: 'ポリシーに記載なし',
    categories: '当社が保有するあなたの個人情報の種類',
    noCategories: 'ありません。このアーカイブにはあなたの個人情報は含まれていません。',
    sources: '取得元',
    purposes: '利用目的',
    recipients: '提供先',
    recipientsCaption: 'あなたの個人情報の提供先',
    recipient: '提供先',
    role: '種別',
    receives: '提供する内容と目的',
    source: 'ポリシー',
    transfers: '外国への移転',
    transfersCaption: 'あなたの個人情報の移転先',
    to: '移転先',
    countries: '国',
    data: 'データ',
    notApplicable: '該当なし（あなたの個人情報を保有していません）。',
    retention: '保存期間',
    retentionCaption: '消去の後も法律により保存する記録',
    records: '記録',
    keptFor: '保存期間',
    where: '保存場所',
    basis: '法的根拠',
    vault: 'サービスから切り離して別に保管',
    liveStore: 'ログ内にそのまま（利用しない）',
    withheld: 'このアーカイブに含めていないもの',
    withheldIntro:
      '当社は次の情報を保有していますが、ポリシーのとおり開示していません。このアーカイブには含まれていません。',
    found: (n: number) => `あなたに関する記録: ${n.toLocaleString('ja-JP')} 件`,
    policy: 'このセクションの根拠となるポリシー',
    from: '出典',
    undated: '日付の記載なし',
  },
} as const;

const RECIPIENT_KINDS: Record<AboutLocale, Record<RecipientKind, string>> = {
  en: {
    processor: 'Processor (acts on our behalf)',
    affiliate: 'Affiliate partner',
    group: 'Group companies and partners',
    'service-providers': 'Service providers',
    advertising: 'Advertising',
    'business-transfer': 'Business transfer',
    authority: 'Authorities (when required)',
  },
  ja: {
    processor: '委託先',
    affiliate: '提携先',
    group: 'グループ会社・提携先',
    'service-providers': '業務委託先',
    advertising: '広告',
    'business-transfer': '事業承継',
    authority: '官公庁など（必要な場合）',
  },
};

const text = (value: string): string => escapeHtml(value);

/** The sections of the policy a statement comes from. */
function citeText(cites: readonly Cite[]): string {
  return cites.map((c) => text(c.section)).join('; ');
}

function citeLine(about: AboutYourData, cites: readonly Cite[], from: string): string {
  if (cites.length === 0) return '';
  return `<p class="cite">${from}: <cite>${text(about.policy.title)}</cite>, ${citeText(cites)}.</p>`;
}

function term(label: string, value: string | null, notStated: string): string {
  return `<dt>${text(label)}</dt><dd>${value === null ? `<em>${text(notStated)}</em>` : text(value)}</dd>`;
}

function controllerPart(about: AboutYourData, t: (typeof LABELS)[AboutLocale]): string[] {
  const c = about.controller;
  const terms = [
    term(t.service, about.service.name, t.notStated),
    term(t.controllerName, c.name, t.notStated),
    term(t.legalName, c.legalName, t.notStated),
    term(t.address, c.address, t.notStated),
    term(t.contact, c.privacyContact, t.notStated),
    ...(c.representatives ?? []).map((r) =>
      term(
        `${t.representative} (${r.for})`,
        [r.name, r.role, r.address, r.contact].filter(Boolean).join(', '),
        t.notStated,
      ),
    ),
  ];
  return [
    `<h3 id="about-controller">${t.controller}</h3>`,
    `<dl aria-label="${t.controllerCaption}">${terms.join('')}</dl>`,
    c.note ? `<p>${text(c.note)}</p>` : '',
    citeLine(about, [...c.cite, ...(c.representatives ?? []).flatMap((r) => r.cite)], t.from),
  ];
}

function recipientsPart(
  about: AboutYourData,
  t: (typeof LABELS)[AboutLocale],
  locale: AboutLocale,
): string[] {
  const p = [`<h3 id="about-recipients">${t.recipients}</h3>`];
  if (about.recipients.length === 0) {
    p.push(`<p>${t.notApplicable}</p>`);
  } else {
    p.push(
      `<table><caption>${t.recipientsCaption}</caption><thead><tr>` +
        `<th scope="col">${t.recipient}</th><th scope="col">${t.role}</th><th scope="col">${t.receives}</th><th scope="col">${t.source}</th></tr></thead><tbody>`,
    );
    for (const r of about.recipients) {
      p.push(
        `<tr><th scope="row">${text(r.name)}</th><td>${text(RECIPIENT_KINDS[locale][r.kind])}</td>` +
          `<td>${text(r.receives)} ${text(r.purpose)}${r.countries?.length ? ` (${text(r.countries.join(', '))})` : ''}</td>` +
          `<td class="cite">${citeText(r.cite)}</td></tr>`,
      );
    }
    p.push('</tbody></table>');
  }
  if (about.internationalTransfers.length > 0) {
    p.push(`<h4 id="about-transfers">${t.transfers}</h4>`);
    p.push(
      `<table><caption>${t.transfersCaption}</caption><thead><tr>` +
        `<th scope="col">${t.to}</th><th scope="col">${t.countries}</th><th scope="col">${t.data}</th><th scope="col">${t.source}</th></tr></thead><tbody>`,
    );
    for (const x of about.internationalTransfers) {
      const details = [x.data, x.purpose, x.method, x.period, x.safeguards].filter(Boolean).join(' ');
      const countries = [x.countries.join(', '), x.countriesNote].filter(Boolean).join(' ');
      p.push(
        `<tr><th scope="row">${text(x.to)}${x.appliesTo ? ` <span class="muted">(${text(x.appliesTo)})</span>` : ''}</th>` +
          `<td>${text(countries)}</td><td>${text(details)}</td><td class="cite">${citeText(x.cite)}</td></tr>`,
      );
    }
    p.push('</tbody></table>');
  }
  return p;
}

function retentionPart(about: AboutYourData, t: (typeof LABELS)[AboutLocale]): string[] {
  const p = [`<h3 id="about-retention">${t.retention}</h3>`, `<p>${text(about.retentionNote)}</p>`];
  if (about.retention.length > 0) {
    p.push(
      `<table><caption>${t.retentionCaption}</caption><thead><tr>` +
        `<th scope="col">${t.records}</th><th scope="col">${t.keptFor}</th><th scope="col">${t.where}</th>` +
        `<th scope="col">${t.basis}</th><th scope="col">${t.source}</th></tr></thead><tbody>`,
    );
    for (const r of about.retention) {
      p.push(
        `<tr><th scope="row">${text(r.records)}</th><td>${text(`${r.periodText} ${r.fromText}`)}</td>` +
          `<td>${r.location === 'vault' ? t.vault : t.liveStore}</td><td>${text(r.basis)}</td>` +
          `<td class="cite">${citeText(r.cite)}</td></tr>`,
      );
    }
    p.push('</tbody></table>');
  }
  p.push('<ul>');
  for (const s of [...about.retentionGeneral, about.onErasure]) {
    p.push(`<li>${text(s.text)}${citeLine(about, s.cite, t.from)}</li>`);
  }
  p.push('</ul>');
  return p;
}

function withheldPart(about: AboutYourData, t: (typeof LABELS)[AboutLocale]): string[] {
  if (about.withheld.length === 0) return [];
  const p = [`<h3 id="about-withheld">${t.withheld}</h3>`, `<p>${t.withheldIntro}</p>`, '<ul>'];
  for (const w of about.withheld) {
    p.push(
      `<li><strong>${text(w.what)}</strong>${w.records === undefined ? '' : ` ${text(t.found(w.records))}`}` +
        `<blockquote><p>${text(`“${w.reason}”`)}</p></blockquote>${citeLine(about, w.cite, t.from)}</li>`,
    );
  }
  p.push('</ul>');
  return p;
}

/** The section, `<section id="about">` with h2 and h3/h4 below. */
export function renderAboutSection(about: AboutYourData, options: AboutSectionOptions): string {
  const locale = options.locale ?? 'en';
  const t = LABELS[locale];
  const p: string[] = [`<section aria-labelledby="about"><h2 id="about">${t.title}</h2>`];
  p.push(`<p>${text(about.intro)}</p>`);
  p.push(`<p>${t.machineReadable} ${options.fileLink(options.aboutPath, options.aboutPath)}.</p>`);
  p.push(...controllerPart(about, t));

  p.push(`<h3 id="about-categories">${t.categories}</h3>`);
  if (about.categories.length === 0) p.push(`<p>${t.noCategories}</p>`);
  for (const c of about.categories) {
    p.push(
      `<h4>${text(c.name)}${c.ccpaCategory ? ` <span class="muted">(${text(c.ccpaCategory)})</span>` : ''}</h4>`,
    );
    p.push(`<p>${text(c.description)}</p>`);
    if (c.examples.length > 0) p.push(`<ul>${c.examples.map((e) => `<li>${text(e)}</li>`).join('')}</ul>`);
    if (c.note) p.push(`<p>${text(c.note)}</p>`);
    p.push(citeLine(about, c.cite, t.from));
  }

  p.push(`<h3 id="about-sources">${t.sources}</h3>`);
  if (about.sources.length === 0) p.push(`<p>${t.notApplicable}</p>`);
  else
    p.push(
      `<ul>${about.sources.map((s) => `<li>${text(s.description)}${citeLine(about, s.cite, t.from)}</li>`).join('')}</ul>`,
    );

  p.push(`<h3 id="about-purposes">${t.purposes}</h3>`);
  p.push(
    `<ul>${about.purposes
      .map(
        (x) =>
          `<li><strong>${text(x.name)}.</strong> ${text(x.description)}${citeLine(about, x.cite, t.from)}</li>`,
      )
      .join('')}</ul>`,
  );

  p.push(...recipientsPart(about, t, locale));
  p.push(...retentionPart(about, t));
  p.push(...withheldPart(about, t));

  const policy = about.policy;
  p.push(
    `<h3 id="about-policies">${t.policy}</h3>` +
      `<p><cite>${text(policy.title)}</cite>, ${text(about.controller.name)} (${text(policy.date ?? t.undated)}). ` +
      `${policy.dateNote ? `${text(policy.dateNote)} ` : ''}<span class="muted">${text(policy.file)}</span></p></section>`,
  );
  return p.filter((part) => part !== '').join('\n');
}

/** The section's heading, for the page's table of contents. */
export function aboutSectionTitle(locale: AboutLocale = 'en'): string {
  return LABELS[locale].title;
}

/** One line naming the service and its controller (by its name in that language, if it has one), for the page's header. */
export function serviceLine(about: AboutYourData, locale: AboutLocale = 'en'): string {
  return `<p class="muted" data-field="controller">${text(about.service.name)}: ${text(controllerName(about, locale))}</p>`;
}
