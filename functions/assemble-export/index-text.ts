/**
 * The words of index.html in each language it is written in: the page's own labels, what each store
 * and collection is, and column names. Connectors describe their collections in English; the Japanese
 * here is keyed by `store/collection` and falls back to the connector's English for one it does not
 * know, so a new collection is never left without words. Field names without a label are split at
 * their capitals (`userAgent`: "User agent").
 */
import type { StoreName } from '../lib/connectors/contract';
import type { Locale } from '../lib/downloads/download-page';
import type { PeriodUnit } from './chart';

export const STORE_TEXT: Record<Locale, Record<StoreName, { title: string; blurb: string }>> = {
  en: {
    accounts: { title: 'Your account', blurb: 'Your profile, linked accounts and devices.' },
    payments: { title: 'Payments', blurb: 'Purchases, refunds, subscriptions and payouts.' },
    chat: { title: 'Chat', blurb: 'Messages you sent and the conversations they belong to.' },
    media: { title: 'Media files', blurb: 'Avatars, voice recordings, uploads and behaviour data.' },
    logs: { title: 'Activity logs', blurb: 'Access logs and voice-session records.' },
    marketing: {
      title: 'Marketing',
      blurb: 'E-mails delivered and opened, sweepstakes and campaigns you entered, and your survey answers.',
    },
  },
  ja: {
    accounts: { title: 'アカウント', blurb: 'プロフィール、連携したアカウント、利用した端末。' },
    payments: { title: 'お支払い', blurb: '購入、返金、定期購入、支払い（ペイアウト）。' },
    chat: { title: 'チャット', blurb: '送信したメッセージと、その会話。' },
    media: { title: 'メディアファイル', blurb: 'アバター、音声、アップロードしたファイル、行動データ。' },
    logs: { title: '利用記録', blurb: 'アクセスログとボイスセッションの記録。' },
    marketing: {
      title: 'マーケティング',
      blurb: '配信・開封されたメール、応募した懸賞やキャンペーン、アンケートの回答。',
    },
  },
};

/** Collection names and Japanese descriptions, by `store/collection`. */
const COLLECTIONS: Record<string, { en: string; ja: string; jaDescription: string }> = {
  'accounts/profile': {
    en: 'Profile',
    ja: 'プロフィール',
    jaDescription: 'アカウントのプロフィール：氏名、連絡先、設定、同意の状況。',
  },
  'accounts/linked-accounts': {
    en: 'Linked accounts',
    ja: '連携アカウント',
    jaDescription: '連携した外部アカウント（提供元とそこでのID。アクセストークンは含みません）。',
  },
  'accounts/devices': {
    en: 'Devices',
    ja: '端末',
    jaDescription: '利用した端末と、最初と最後に利用を確認した日時。',
  },
  'payments/transactions': {
    en: 'Transactions',
    ja: '取引',
    jaDescription:
      '購入、返金、定期購入、支払い（ペイアウト）。カードはブランド、下4桁、有効期限のみを表示します。',
  },
  'chat/messages': {
    en: 'Messages',
    ja: 'メッセージ',
    jaDescription: '送信したメッセージと添付ファイル。他の人は仮名（person-…）で表示します。',
  },
  'chat/rooms': {
    en: 'Rooms',
    ja: 'ルーム',
    jaDescription: '書き込んだチャットルーム。他のメンバーは仮名でのみ表示します。',
  },
  'chat/mentions': {
    en: 'Mentions',
    ja: 'メンション',
    jaDescription: '書き込んだルームで他の人があなたに言及したメッセージ：日時、場所、相手（仮名）。',
  },
  'chat/complaints': {
    en: 'Reports',
    ja: '通報',
    jaDescription: 'あなたのメッセージへの通報と、あなたが他の人のメッセージにした通報。',
  },
  'media/files': {
    en: 'Files',
    ja: 'ファイル',
    jaDescription:
      '保存したファイル：アバター、音声、アップロード、行動データ。それぞれ media/media/ に入っています。',
  },
  'logs/access-log': {
    en: 'Access log',
    ja: 'アクセスログ',
    jaDescription:
      'あなたのアカウントからのアクセスと、ログアウト中のあなたの端末からのアクセス：日時、IPアドレス、端末、ページ、国。',
  },
  'logs/voice-sessions': {
    en: 'Voice sessions',
    ja: 'ボイスセッション',
    jaDescription: '参加したボイスセッション：日時、ワールド、あなたの接続、他の参加者（仮名）。',
  },
  'marketing/email-events': {
    en: 'E-mail events',
    ja: 'メールの配信と開封',
    jaDescription:
      'お送りしたメールの配信、開封、クリック。開封したときのIPアドレスとメールソフトを含みます。',
  },
  'marketing/campaign-entries': {
    en: 'Sweepstakes and campaign entries',
    ja: '懸賞・キャンペーンへの応募',
    jaDescription: '応募した懸賞やキャンペーン、賞品とその送付先。',
  },
  'marketing/survey-responses': {
    en: 'Survey answers',
    ja: 'アンケートの回答',
    jaDescription: 'アンケートへの回答（質問ごと）。',
  },
};

/** Column names; others are split at their capitals. */
const FIELDS: Record<string, { en: string; ja: string }> = {
  userId: { en: 'User ID', ja: 'ユーザーID' },
  email: { en: 'E-mail', ja: 'メールアドレス' },
  phone: { en: 'Phone', ja: '電話番号' },
  name: { en: 'Name', ja: '氏名' },
  nickname: { en: 'Nickname', ja: 'ニックネーム' },
  address: { en: 'Address', ja: '住所' },
  postalCode: { en: 'Postal code', ja: '郵便番号' },
  birthday: { en: 'Birthday', ja: '誕生日' },
  gender: { en: 'Gender', ja: '性別' },
  country: { en: 'Country', ja: '国' },
  locale: { en: 'Language', ja: '言語' },
  createdAt: { en: 'Created', ja: '作成日時' },
  deletedAt: { en: 'Deleted', ja: '削除日時' },
  status: { en: 'Status', ja: '状態' },
  provider: { en: 'Provider', ja: '提供元' },
  providerUserId: { en: 'Your ID there', ja: '提供元でのID' },
  linkedAt: { en: 'Linked', ja: '連携日時' },
  deviceId: { en: 'Device', ja: '端末ID' },
  platform: { en: 'Platform', ja: 'プラットフォーム' },
  firstSeen: { en: 'First seen', ja: '初回確認' },
  lastSeen: { en: 'Last seen', ja: '最終確認' },
  txnId: { en: 'Transaction', ja: '取引ID' },
  txnAt: { en: 'Date', ja: '取引日時' },
  type: { en: 'Type', ja: '種類' },
  amount: { en: 'Amount (minor units)', ja: '金額（最小単位）' },
  amountMajor: { en: 'Amount', ja: '金額' },
  currency: { en: 'Currency', ja: '通貨' },
  itemSku: { en: 'Item code', ja: '商品コード' },
  itemTitle: { en: 'Item', ja: '商品' },
  cardBrand: { en: 'Card', ja: 'カード' },
  cardLast4: { en: 'Card, last 4 digits', ja: 'カード下4桁' },
  cardExpMonth: { en: 'Card expiry month', ja: 'カード有効期限（月）' },
  cardExpYear: { en: 'Card expiry year', ja: 'カード有効期限（年）' },
  cardNumberMasked: { en: 'Card number (masked)', ja: 'カード番号（マスク済み）' },
  processor: { en: 'Payment processor', ja: '決済代行会社' },
  processorRef: { en: "Processor's reference", ja: '決済代行会社の参照番号' },
  billingAddress: { en: 'Billing address', ja: '請求先住所' },
  roomId: { en: 'Room', ja: 'ルーム' },
  messageId: { en: 'Message', ja: 'メッセージID' },
  sentAt: { en: 'Sent', ja: '送信日時' },
  senderId: { en: 'Sender', ja: '送信者' },
  body: { en: 'Text', ja: '本文' },
  attachments: { en: 'Attachments', ja: '添付ファイル' },
  mentionedUserId: { en: 'Mentioned', ja: 'メンション先' },
  messageSentAt: { en: 'Message sent', ja: 'メッセージ送信日時' },
  memberCount: { en: 'Members', ja: 'メンバー数' },
  otherMembers: { en: 'Other members', ja: '他のメンバー' },
  reason: { en: 'Reason', ja: '理由' },
  ts: { en: 'Time', ja: '日時' },
  at: { en: 'Time', ja: '日時' },
  ip: { en: 'IP address', ja: 'IPアドレス' },
  userAgent: { en: 'Browser or app', ja: 'ブラウザ・アプリ' },
  method: { en: 'Method', ja: 'メソッド' },
  path: { en: 'Page', ja: 'ページ' },
  referrer: { en: 'Came from', ja: '参照元' },
  region: { en: 'Region', ja: '地域' },
  matchedBy: { en: 'Matched by', ja: '照合方法' },
  sessionId: { en: 'Session', ja: 'セッション' },
  worldId: { en: 'World', ja: 'ワールド' },
  startedAt: { en: 'Started', ja: '開始日時' },
  endedAt: { en: 'Ended', ja: '終了日時' },
  joinedAt: { en: 'Joined', ja: '参加日時' },
  leftAt: { en: 'Left', ja: '退出日時' },
  yourParticipation: { en: 'Your connection', ja: 'あなたの接続' },
  otherParticipants: { en: 'Other participants', ja: '他の参加者' },
  participantCount: { en: 'Participants', ja: '参加人数' },
  archivePath: { en: 'File in this archive', ja: 'アーカイブ内のファイル' },
  kind: { en: 'Kind', ja: '種類' },
  objectKey: { en: 'Stored as', ja: '保存場所' },
  fileId: { en: 'File ID', ja: 'ファイルID' },
  originalFileName: { en: 'Original file name', ja: '元のファイル名' },
  bytes: { en: 'Size (bytes)', ja: 'サイズ（バイト）' },
  lastModified: { en: 'Last modified', ja: '最終更新日時' },
  contentType: { en: 'File type', ja: 'ファイル形式' },
  eventId: { en: 'Event', ja: 'イベントID' },
  campaignId: { en: 'Campaign', ja: 'キャンペーン' },
  url: { en: 'Link', ja: 'リンク' },
  prize: { en: 'Prize', ja: '賞品' },
  shippingName: { en: 'Ship to', ja: '送付先の氏名' },
  shippingAddress: { en: 'Shipping address', ja: '送付先の住所' },
  shippingPhone: { en: 'Shipping phone', ja: '送付先の電話番号' },
  answers: { en: 'Answers', ja: '回答' },
  consents: { en: 'Consents', ja: '同意' },
  devices: { en: 'Devices', ja: '端末' },
  externalAccounts: { en: 'Linked accounts', ja: '連携アカウント' },
  bankAccount: { en: 'Bank account', ja: '銀行口座' },
  guardianUserId: { en: 'Guardian', ja: '保護者' },
};

/** `userAgent` -> `User agent`, `ip_address` -> `Ip address`. */
export function humanizeField(name: string): string {
  const words = name
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim()
    .toLowerCase();
  return words === '' ? name : words.charAt(0).toUpperCase() + words.slice(1);
}

export function fieldLabel(name: string, locale: Locale): string {
  return Object.hasOwn(FIELDS, name) ? (FIELDS[name]?.[locale] ?? name) : humanizeField(name);
}

export function collectionTitle(store: StoreName, name: string, locale: Locale): string {
  const known = COLLECTIONS[`${store}/${name}`];
  return known ? known[locale] : humanizeField(name);
}

export function collectionDescription(
  store: StoreName,
  name: string,
  english: string,
  locale: Locale,
): string {
  return locale === 'ja' ? (COLLECTIONS[`${store}/${name}`]?.jaDescription ?? english) : english;
}

const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `2024-03` as `Mar 2024` / `2024年3月`; `2024` as `2024` / `2024年`. */
export function formatPeriod(period: string, unit: PeriodUnit, locale: Locale): string {
  const year = period.slice(0, 4);
  if (unit === 'year') return locale === 'ja' ? `${year}年` : year;
  const month = Number(period.slice(5, 7));
  return locale === 'ja' ? `${year}年${month}月` : `${MONTHS_EN[month - 1] ?? period.slice(5, 7)} ${year}`;
}

export function formatNumber(n: number, locale: Locale, fractionDigits = 0): string {
  return n.toLocaleString(locale === 'ja' ? 'ja-JP' : 'en-US', {
    minimumFractionDigits: fractionDigits,
    maximumFractionDigits: fractionDigits,
  });
}

/** The page's own words. */
export const PAGE_TEXT = {
  en: {
    title: 'Your data export',
    skip: 'Skip to content',
    otherLanguage: 'このページを日本語で読む',
    created: (when: string, requestId: string) => `Created ${when}. Request ${requestId}.`,
    contents: 'Contents',
    glance: 'At a glance',
    checking: 'Checking this archive',
    intro:
      'This archive holds a copy of the personal data we hold about you, in structured, machine-readable files (JSON, and CSV for tables you can open in a spreadsheet), together with the original files you uploaded or that we recorded. Each data file has a JSON Schema describing its fields. Below, each collection shows its first records; the files hold them all.',
    notFound:
      'We found no account matching the details in your request, so this archive holds no personal data about you. If you think we hold data about you under other details (another email address, phone number or account), please make a new request with those details.',
    nothingHeld: 'We hold no data about you in this part of our service.',
    summaryCaption: 'What this archive holds',
    part: 'Part of our service',
    records: 'Records',
    files: 'Files',
    activityTitle: 'Your activity per month',
    activityTitleYear: 'Your activity per year',
    activityDesc: (total: string, first: string, last: string) =>
      `Records with a date, by part of our service: ${total} in all, from ${first} to ${last}.`,
    purchasesTitle: (currency: string) => `Your purchases per month (${currency})`,
    purchasesTitleYear: (currency: string) => `Your purchases per year (${currency})`,
    purchasesDesc: (total: string, currency: string) =>
      `Purchases and subscriptions, summed per period: ${total} ${currency} in all.`,
    asTable: 'The same figures as a table',
    period: 'Period',
    total: 'Total',
    undated: (n: string) => `${n} records have no date and are not in the chart.`,
    noDated: 'None of your records carries a date to chart.',
    whatItIs: 'What it is',
    collectionFiles: 'Files:',
    schema: 'schema',
    previewCaption: (title: string, shown: string, total: string) =>
      shown === total ? `${title}: all ${total} records` : `${title}: the first ${shown} of ${total} records`,
    fullFile: (file: string) => `All records are in ${file}.`,
    hiddenColumns: (n: number) =>
      `${n} more column${n === 1 ? '' : 's'} in the files (not shown here to keep the table readable).`,
    cutNote: 'Long values are shortened here (…); the files hold them in full.',
    noRecords: 'No records.',
    mediaFiles: (n: string) => `Files (${n})`,
    mediaCaption: (title: string) => `Original files: ${title}`,
    file: 'File',
    type: 'Type',
    size: 'Size',
    yes: 'yes',
    no: 'no',
    checkingText: (manifest: string, signature: string) =>
      `${manifest} lists every file in this archive with its size and SHA-256 fingerprint, and ${signature} is our digital signature over it (ES256, a detached JSON Web Signature). Anyone with our published public key can check, offline, that the archive came from us and that no file was changed, added or removed.`,
    policyLanguage: '',
  },
  ja: {
    title: 'データのエクスポート',
    skip: '本文へ移動',
    otherLanguage: 'Read this page in English',
    created: (when: string, requestId: string) => `作成日時 ${when}。リクエスト ${requestId}。`,
    contents: '目次',
    glance: '概要',
    checking: 'このアーカイブの確認方法',
    intro:
      'このアーカイブには、当社が保有するあなたの個人データの写しが、構造化された機械可読のファイル（JSON と、表計算ソフトで開ける表は CSV）で入っています。アップロードしたファイルや当社が記録した元のファイルも含まれます。各データファイルには項目を説明する JSON Schema があります。以下では各データの最初の記録を表示しています。すべての記録はファイルに入っています。',
    notFound:
      'リクエストの内容に一致するアカウントが見つからなかったため、このアーカイブにはあなたの個人データは含まれていません。別の情報（別のメールアドレス、電話番号、アカウント）で当社がデータを保有しているとお考えの場合は、その情報で改めてリクエストしてください。',
    nothingHeld: 'このサービスのこの部分には、あなたに関するデータはありません。',
    summaryCaption: 'このアーカイブの内容',
    part: '区分',
    records: '件数',
    files: 'ファイル',
    activityTitle: '月ごとの利用状況',
    activityTitleYear: '年ごとの利用状況',
    activityDesc: (total: string, first: string, last: string) =>
      `日付のある記録の件数（区分別）：合計 ${total} 件、${first}から${last}まで。`,
    purchasesTitle: (currency: string) => `月ごとの購入金額（${currency}）`,
    purchasesTitleYear: (currency: string) => `年ごとの購入金額（${currency}）`,
    purchasesDesc: (total: string, currency: string) =>
      `購入と定期購入の金額の合計（期間ごと）：総額 ${total} ${currency}。`,
    asTable: '同じ数値を表で見る',
    period: '期間',
    total: '合計',
    undated: (n: string) => `日付のない記録 ${n} 件はグラフに含まれていません。`,
    noDated: 'グラフにできる日付のある記録はありません。',
    whatItIs: '内容',
    collectionFiles: 'ファイル：',
    schema: 'スキーマ',
    previewCaption: (title: string, shown: string, total: string) =>
      shown === total ? `${title}：全 ${total} 件` : `${title}：全 ${total} 件のうち最初の ${shown} 件`,
    fullFile: (file: string) => `すべての記録は ${file} にあります。`,
    hiddenColumns: (n: number) => `ほかに ${n} 列がファイルにあります（読みやすさのため、ここでは省略）。`,
    cutNote: '長い値はここでは省略しています（…）。ファイルには全文が入っています。',
    noRecords: '記録はありません。',
    mediaFiles: (n: string) => `ファイル（${n}）`,
    mediaCaption: (title: string) => `元のファイル：${title}`,
    file: 'ファイル',
    type: '形式',
    size: 'サイズ',
    yes: 'はい',
    no: 'いいえ',
    checkingText: (manifest: string, signature: string) =>
      `${manifest} はこのアーカイブのすべてのファイルとそのサイズ、SHA-256 フィンガープリントの一覧で、${signature} はそれに対する当社のデジタル署名（ES256、分離型 JSON Web Signature）です。公開鍵を使えば、このアーカイブが当社のものであり、ファイルの変更・追加・削除がないことを、誰でもオフラインで確認できます。`,
    policyLanguage: 'ポリシーからの引用（各項目の説明）は、ポリシーの原文の言語のまま掲載しています。',
  },
} as const;
