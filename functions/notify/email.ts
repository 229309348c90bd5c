/**
 * The "your data is ready" email, in the subject's locale, from the subject's own service and its
 * controller. It carries the link and its expiry, never the archive nor any data from it; the recipient
 * address goes only into the message's To header.
 */
import { formatDate, type Locale } from '../lib/downloads/download-page';
import { controllerName, serviceProfile } from '../lib/services/profiles';
import type { EmailContent } from '../lib/notices/mime';

export { toMime, type EmailContent } from '../lib/notices/mime';

export interface LinkEmailModel {
  locale: Locale;
  url: string;
  expiresAt: string;
  maxDownloads: number;
  /** The service the archive belongs to (config/services/); the deployment's default when absent. */
  service?: string;
}

export function renderLinkEmail(model: LinkEmailModel): EmailContent {
  const expires = formatDate(model.expiresAt, model.locale);
  const profile = serviceProfile(model.service);
  const controller = controllerName(profile, model.locale);
  if (model.locale === 'ja') {
    return {
      subject: `${profile.name}: データのエクスポートの準備ができました`,
      text: [
        `${profile.name}のご利用に関して${controller}にご請求いただいた個人データの写しの準備ができました。`,
        '',
        '次のリンクからダウンロードページを開いてください。',
        model.url,
        '',
        `有効期限: ${expires}`,
        `ダウンロードできる回数: ${model.maxDownloads} 回`,
        '',
        'データそのものはメールに添付していません。このリンクはあなた専用です。他の人に転送しないでください。',
        `お心当たりがない場合は、${profile.name}のサポートページにお問い合わせください。`,
        '',
        `${controller}（${profile.name}）`,
      ].join('\n'),
    };
  }
  return {
    subject: `${profile.name}: your data export is ready`,
    text: [
      `The copy of the personal data you asked ${controller} for, as a user of ${profile.name}, is ready.`,
      '',
      'Open the download page at this link:',
      model.url,
      '',
      `The link expires: ${expires}`,
      `Downloads allowed: ${model.maxDownloads}`,
      '',
      'Your data is never attached to an email. This link is for you alone: please do not forward it.',
      `If you did not ask for this, contact ${profile.name}'s support page.`,
      '',
      `${controller} (${profile.name})`,
    ].join('\n'),
  };
}
