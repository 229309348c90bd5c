/**
 * What the person is told of each outcome of their request, in their language (English or Japanese),
 * from their own service and its controller only: waiting for verification or payment, refused,
 * answered in part, erasure done, restriction in place or lifted. The texts carry no personal data:
 * no identifier, no record, only what was (not) done and why.
 */
import type { ErasurePlan } from '../erasure/types';
import { formatDate } from '../downloads/download-page';
import { ruleFor } from '../requests/deadlines';
import { controllerName, serviceProfile, type ServiceProfile } from '../services/profiles';
import type { Exclusion, FeeRecord, Grounds, NoticeContact, VerificationMethod } from '../procedures/records';
import { APPEAL_ROUTES, legalGround } from '../procedures/refusals';
import { proceduresOf } from '../procedures/service-procedures';
import type { EmailContent } from './mime';

export type NoticeLanguage = NoticeContact['language'];

type Texts = { en: string; ja: string };

/** What the request asked for, as the person would say it. */
const TYPE_LABELS: Readonly<Record<string, Texts>> = {
  export: { en: 'a copy of your personal data (disclosure)', ja: '保有個人データの開示（写しの提供）' },
  erasure: { en: 'the deletion of your personal data', ja: '保有個人データの削除' },
  restriction: { en: 'a restriction of the use of your personal data', ja: '保有個人データの利用停止' },
};

const STORE_LABELS: Readonly<Record<string, Texts>> = {
  accounts: { en: 'Account information', ja: 'アカウント情報' },
  payments: { en: 'Payments', ja: '決済情報' },
  chat: { en: 'Messages and chat', ja: 'メッセージ・チャット' },
  media: { en: 'Avatars, voice and uploaded files', ja: 'アバター・音声・アップロードしたファイル' },
  logs: { en: 'Access and activity logs', ja: 'アクセス・利用ログ' },
  marketing: { en: 'Marketing and campaigns', ja: 'マーケティング・キャンペーン' },
};

const METHOD_LABELS: Readonly<Record<VerificationMethod, Texts>> = {
  confirmed_email: {
    en: 'a reply from the e-mail address of your account',
    ja: 'ご登録のメールアドレスからのご返信',
  },
  account_login: { en: 'signing in to your account', ja: 'アカウントへのログイン' },
  id_document: { en: 'a copy of an identity document', ja: '本人確認書類の写し' },
  agent_authority_document: {
    en: "a document showing the agent's authority",
    ja: '代理権を証明する書類',
  },
  guardianship_document: {
    en: 'a document showing parental authority',
    ja: '親権者・法定代理人であることを証明する書類',
  },
  power_of_attorney_appendix11: {
    en: 'a power of attorney in the form of Appendix 11 (PIPC notification)',
    ja: '委任状（個人情報保護委員会告示 別紙第11号様式）',
  },
};

const RESTRICTION_LABELS: Readonly<Record<string, Texts>> = {
  'stop-marketing': { en: 'marketing and advertising messages', ja: 'マーケティング・広告の送信' },
  'stop-personalised-ads': {
    en: 'personalised advertising and the sale or sharing of your data',
    ja: 'パーソナライズ広告及び個人情報の販売・共有',
  },
  'stop-third-party-provision': { en: 'provision of your data to third parties', ja: '第三者への提供' },
  'restrict-processing': { en: 'all processing of your data', ja: '個人データの取扱い全般' },
};

const label = (table: Readonly<Record<string, Texts>>, key: string, language: NoticeLanguage) =>
  table[key]?.[language] ?? key;

export type NoticeModel =
  | { kind: 'awaiting_verification'; requestType: string; methods: VerificationMethod[]; dueAt?: string }
  | { kind: 'awaiting_payment'; requestType: string; fee: FeeRecord; feeNote?: string; dueAt?: string }
  | { kind: 'refused'; requestType: string; grounds: Grounds; jurisdiction?: string }
  | { kind: 'partial'; requestType: string; exclusions: Exclusion[]; jurisdiction?: string }
  | { kind: 'erasure_done'; plan: Pick<ErasurePlan, 'entries'>; complete: boolean }
  | { kind: 'restriction'; state: 'in_place' | 'lifted'; restrictions: string[] };

export interface NoticeContext {
  service: string | undefined;
  language: NoticeLanguage;
}

function groundsLines(grounds: Grounds, ctx: NoticeContext): string[] {
  const ja = ctx.language === 'ja';
  const ground = legalGround(grounds.legalGround);
  const exception = proceduresOf(ctx.service).exceptions.find((e) => e.id === grounds.exception);
  const lines = [`${ja ? '根拠' : 'Ground'}: ${ground?.text[ctx.language] ?? grounds.legalGround}`];
  if (exception) lines.push(`${ja ? '例外' : 'Exception'}: ${exception.name[ctx.language]}`);
  return lines;
}

function appealLines(jurisdiction: string | undefined, ctx: NoticeContext): string[] {
  const regime = ruleFor(jurisdiction ?? '').regime;
  return [
    '',
    ctx.language === 'ja' ? '不服申立ての方法' : 'How to appeal',
    APPEAL_ROUTES[regime][ctx.language],
  ];
}

function dueLine(dueAt: string | undefined, ctx: NoticeContext): string {
  if (ctx.language === 'ja') {
    return dueAt ? `回答期限: ${formatDate(dueAt, 'ja')}` : '回答期限は、確認が済んだ時点から起算されます。';
  }
  return dueAt
    ? `We will answer by: ${formatDate(dueAt, 'en')}`
    : 'The time we have to answer starts once this is done.';
}

function exclusionLine(exclusion: Exclusion, ctx: NoticeContext): string {
  const store = label(STORE_LABELS, exclusion.store, ctx.language);
  return `- ${exclusion.category ? `${store} (${exclusion.category})` : store}`;
}

function body(
  model: NoticeModel,
  profile: ServiceProfile,
  ctx: NoticeContext,
): { subject: Texts; lines: string[] } {
  const ja = ctx.language === 'ja';
  const what = (type: string) => label(TYPE_LABELS, type, ctx.language);
  switch (model.kind) {
    case 'awaiting_verification':
      return {
        subject: { en: 'we need to confirm it is you', ja: 'ご本人確認のお願い' },
        lines: [
          ja
            ? `${what(model.requestType)}のご請求を受け付けました。ご請求に対応する前に、ご本人（又は代理人）であることを確認させていただきます。次のいずれかでご確認いただけます。`
            : `We have received your request for ${what(model.requestType)}. Before we act on it, we must confirm that it comes from you (or your representative), by one of:`,
          ...model.methods.map((m) => `- ${label(METHOD_LABELS, m, ctx.language)}`),
          '',
          ja
            ? '確認が済むまで、ご請求の処理は開始されません。サポート担当者からご案内します。'
            : 'Until then, nothing is done with your request. Our support team will tell you how.',
          dueLine(model.dueAt, ctx),
        ],
      };
    case 'awaiting_payment': {
      const amount =
        model.fee.amount !== undefined
          ? `${model.fee.amount.toLocaleString(ja ? 'ja-JP' : 'en-US')} ${model.fee.currency}`
          : undefined;
      return {
        subject: { en: 'a fee is due for your request', ja: '手数料のお支払いのお願い' },
        lines: [
          ja
            ? `${what(model.requestType)}のご請求には手数料がかかります。${amount ? `手数料: ${amount}` : '手数料（書留郵便による回答の送料）の金額は、サポート担当者からお知らせします。'}`
            : `A fee is charged for ${what(model.requestType)}. ${amount ? `The fee: ${amount}.` : 'Our support team will tell you the amount (the cost of sending our written answer by registered mail).'}`,
          '',
          ja
            ? 'お支払いが確認できるまで、ご請求の処理は開始されません。'
            : 'We start on your request once the payment is recorded.',
          dueLine(model.dueAt, ctx),
        ],
      };
    }
    case 'refused':
      return {
        subject: { en: 'we cannot act on your request', ja: 'ご請求にお応えできません' },
        lines: [
          ja
            ? `${what(model.requestType)}のご請求について、検討の結果、対応しないことといたしました。理由は次のとおりです。`
            : `We have decided not to act on your request for ${what(model.requestType)}, for this reason:`,
          ...groundsLines(model.grounds, ctx),
          ...appealLines(model.jurisdiction, ctx),
        ],
      };
    case 'partial':
      return {
        subject: { en: 'part of your request was not answered', ja: 'ご請求の一部にお応えできませんでした' },
        lines: [
          ja
            ? `${what(model.requestType)}のご請求にお応えしましたが、次のものは含めていません。`
            : `We have answered your request for ${what(model.requestType)}, but left out:`,
          ...model.exclusions.flatMap((e) => [
            exclusionLine(e, ctx),
            ...groundsLines(e, ctx).map((l) => `  ${l}`),
          ]),
          ...appealLines(model.jurisdiction, ctx),
        ],
      };
    case 'erasure_done':
      return {
        subject: { en: 'your data has been deleted', ja: '個人データを削除しました' },
        lines: erasureLines(model, ctx),
      };
    case 'restriction': {
      const items = model.restrictions.map((r) => `- ${label(RESTRICTION_LABELS, r, ctx.language)}`);
      const inPlace = model.state === 'in_place';
      return {
        subject: inPlace
          ? { en: 'we have stopped using your data as you asked', ja: 'ご請求のとおり利用を停止しました' }
          : { en: 'the restriction you asked for has been lifted', ja: '利用停止を解除しました' },
        lines: [
          inPlace
            ? ja
              ? 'ご請求のとおり、次の利用を停止しました。'
              : 'As you asked, we have stopped:'
            : ja
              ? 'ご請求のとおり、次の利用停止を解除しました。'
              : 'As you asked, we have lifted the restriction of:',
          ...items,
        ],
      };
    }
  }
}

function erasureLines(model: Extract<NoticeModel, { kind: 'erasure_done' }>, ctx: NoticeContext): string[] {
  const ja = ctx.language === 'ja';
  const name = (store: string, category: string) =>
    `${label(STORE_LABELS, store, ctx.language)} (${category})`;
  const erased = model.plan.entries.filter(
    (e) => (e.action === 'delete' || e.action === 'anonymise') && e.count > 0,
  );
  const kept = model.plan.entries.filter((e) => e.action === 'retain');
  const held = model.plan.entries.filter((e) => e.action === 'held');
  const lines = [
    ja ? 'ご請求のとおり、個人データを削除しました。' : 'As you asked, we have deleted your personal data.',
    '',
  ];
  lines.push(ja ? '削除したもの' : 'What was deleted');
  lines.push(
    ...(erased.length
      ? erased.map((e) => `- ${name(e.store, e.category)}`)
      : [ja ? '- なし' : '- nothing was found']),
  );
  if (kept.length) {
    lines.push(
      '',
      ja
        ? '法令により保存するもの（期間の満了後に削除します）'
        : 'What the law requires us to keep (deleted when the period ends)',
    );
    for (const e of kept) {
      const until = e.rule?.until ? formatDate(e.rule.until, ctx.language) : undefined;
      const basis = e.rule ? `${e.rule.basis.law} ${e.rule.basis.provision}` : '';
      lines.push(
        ja
          ? `- ${name(e.store, e.category)}: ${basis}${until ? `、${until}まで` : ''}`
          : `- ${name(e.store, e.category)}: ${basis}${until ? `, until ${until}` : ''}`,
      );
    }
  }
  if (held.length) {
    lines.push(
      '',
      ja
        ? '法的手続のため一時的に保全しているもの（保全の終了後に削除します）'
        : 'What is held for a legal matter for now (deleted once the hold ends)',
      ...held.map((e) => `- ${name(e.store, e.category)}`),
    );
  }
  if (!model.complete) {
    lines.push(
      '',
      ja
        ? '残りの削除が終わりましたら、あらためてお知らせします。'
        : 'We will tell you again when the rest is done.',
    );
  }
  return lines;
}

/** The notice of an outcome, in the person's language, from their service and its controller only. */
export function renderNotice(model: NoticeModel, ctx: NoticeContext): EmailContent {
  const profile = serviceProfile(ctx.service);
  const controller = controllerName(profile, ctx.language);
  const { subject, lines } = body(model, profile, ctx);
  const ja = ctx.language === 'ja';
  return {
    subject: `${profile.name}: ${subject[ctx.language]}`,
    text: [
      ja ? `${profile.name}をご利用いただきありがとうございます。` : `Thank you for using ${profile.name}.`,
      '',
      ...lines,
      '',
      ja
        ? `ご不明な点は${profile.name}のサポート窓口にお問い合わせください。`
        : `If you have questions, contact ${profile.name}'s support.`,
      '',
      ja ? `${controller}（${profile.name}）` : `${controller} (${profile.name})`,
    ].join('\n'),
  };
}

/**
 * The notice of a restriction put in place or lifted, for the restriction workflow to write with its
 * status change (noticeItem in ./outbox.ts): `restrictions` are its kinds (RESTRICTION_KINDS of
 * lib/restrictions/kinds.ts).
 */
export function restrictionNotice(
  ctx: NoticeContext,
  state: 'in_place' | 'lifted',
  restrictions: string[],
): EmailContent {
  return renderNotice({ kind: 'restriction', state, restrictions }, ctx);
}
