/**
 * Refusals and partial answers: the fixed list of legal grounds support may give, which regime each
 * belongs to and which reasons it covers, the appeal route each regime gives the person, and the
 * checks of what support asks for (a ground of the request's own law, an exception of its own service,
 * a store its service keeps). Pure: no I/O.
 */
import { ruleFor, type DeadlineConfig, type Regime } from '../requests/deadlines';
import { STORE_CATEGORIES, type StoreName } from '../erasure/types';
import { heldStores, serviceProfile } from '../services/profiles';
import type { Exclusion, Grounds, ReasonCode } from './records';
import { proceduresOf } from './service-procedures';

export interface LegalGround {
  id: string;
  /** Regimes it belongs to; undefined: any (the service's own policy). */
  regimes?: readonly Regime[];
  reasons: readonly ReasonCode[];
  /** The provision, as the person is told it. */
  text: { en: string; ja: string };
}

export const LEGAL_GROUNDS: readonly LegalGround[] = [
  {
    id: 'gdpr-art-12-5',
    regimes: ['GDPR'],
    reasons: ['manifestly_unfounded', 'manifestly_excessive'],
    text: {
      en: 'GDPR Article 12(5)(b): the request is manifestly unfounded or excessive',
      ja: 'GDPR第12条第5項(b)：明らかに根拠がない、または過剰な請求',
    },
  },
  {
    id: 'gdpr-art-15-4',
    regimes: ['GDPR'],
    reasons: ['rights_of_others'],
    text: {
      en: 'GDPR Article 15(4): a copy must not adversely affect the rights and freedoms of others',
      ja: 'GDPR第15条第4項：写しの提供が他者の権利及び自由を害してはならない',
    },
  },
  {
    id: 'gdpr-art-17-3-b',
    regimes: ['GDPR'],
    reasons: ['legal_obligation'],
    text: {
      en: 'GDPR Article 17(3)(b): processing is necessary to comply with a legal obligation',
      ja: 'GDPR第17条第3項(b)：法的義務の遵守のために処理が必要',
    },
  },
  {
    id: 'gdpr-art-12-2',
    regimes: ['GDPR'],
    reasons: ['identity_not_verified'],
    text: {
      en: 'GDPR Articles 11(2) and 12(2): we are not in a position to identify you',
      ja: 'GDPR第11条第2項・第12条第2項：ご本人であることを確認できない',
    },
  },
  {
    id: 'ccpa-1798-145-h',
    regimes: ['CCPA'],
    reasons: ['manifestly_unfounded', 'manifestly_excessive'],
    text: {
      en: 'Cal. Civ. Code § 1798.145(h): the request is manifestly unfounded or excessive',
      ja: 'カリフォルニア州民法典第1798.145条(h)：明らかに根拠がない、または過剰な請求',
    },
  },
  {
    id: 'ccpa-1798-145-k',
    regimes: ['CCPA'],
    reasons: ['rights_of_others'],
    text: {
      en: 'Cal. Civ. Code § 1798.145(k): the rights of other natural persons must not be adversely affected',
      ja: 'カリフォルニア州民法典第1798.145条(k)：他の自然人の権利を害してはならない',
    },
  },
  {
    id: 'ccpa-1798-105-d',
    regimes: ['CCPA'],
    reasons: ['legal_obligation'],
    text: {
      en: 'Cal. Civ. Code § 1798.105(d): the information is needed to comply with a legal obligation',
      ja: 'カリフォルニア州民法典第1798.105条(d)：法的義務の遵守に必要な情報',
    },
  },
  {
    id: 'ccpa-unverifiable',
    regimes: ['CCPA'],
    reasons: ['identity_not_verified'],
    text: {
      en: 'Cal. Civ. Code §§ 1798.100–1798.106 and 1798.140(ak): we could not verify the request',
      ja: 'カリフォルニア州民法典第1798.100条〜第1798.106条・第1798.140条(ak)：請求を検証できない',
    },
  },
  {
    id: 'appi-art-33-2-i',
    regimes: ['APPI'],
    reasons: ['rights_of_others'],
    text: {
      en: 'APPI Article 33(2)(i): disclosure could harm the life, body, property or other rights and interests of you or a third party',
      ja: '個人情報保護法第33条第2項第1号：本人又は第三者の生命、身体、財産その他の権利利益を害するおそれ',
    },
  },
  {
    id: 'appi-art-33-2-ii',
    regimes: ['APPI'],
    reasons: ['manifestly_unfounded', 'manifestly_excessive'],
    text: {
      en: 'APPI Article 33(2)(ii): disclosure could seriously interfere with the proper conduct of our business',
      ja: '個人情報保護法第33条第2項第2号：業務の適正な実施に著しい支障を及ぼすおそれ',
    },
  },
  {
    id: 'appi-art-33-2-iii',
    regimes: ['APPI'],
    reasons: ['legal_obligation'],
    text: {
      en: 'APPI Article 33(2)(iii): disclosure would violate other laws and regulations',
      ja: '個人情報保護法第33条第2項第3号：他の法令に違反することとなる',
    },
  },
  {
    id: 'appi-art-37',
    regimes: ['APPI'],
    reasons: ['identity_not_verified'],
    text: {
      en: 'APPI Article 37: the procedure we set requires confirming that you are the person concerned',
      ja: '個人情報保護法第37条：当社の定める手続による本人確認ができない',
    },
  },
  {
    id: 'pipa-art-35-4',
    regimes: ['PIPA'],
    reasons: ['legal_obligation', 'rights_of_others'],
    text: {
      en: 'PIPA Article 35(4): access is prohibited by law, or could harm the life or body of another person or unfairly infringe their property or other interests',
      ja: '韓国個人情報保護法第35条第4項：法律による禁止、又は他人の生命・身体を害し若しくは財産その他の利益を不当に侵害するおそれ',
    },
  },
  {
    id: 'pipa-art-36-1',
    regimes: ['PIPA'],
    reasons: ['legal_obligation'],
    text: {
      en: 'PIPA Article 36(1): other laws require the information to be collected and kept',
      ja: '韓国個人情報保護法第36条第1項：他の法令により収集・保存が定められている',
    },
  },
  {
    id: 'pipa-identity',
    regimes: ['PIPA'],
    reasons: ['identity_not_verified'],
    text: {
      en: 'PIPA Enforcement Decree Article 46: we could not confirm that the request comes from you or your representative',
      ja: '韓国個人情報保護法施行令第46条：ご本人又は代理人であることを確認できない',
    },
  },
  {
    id: 'service-policy',
    reasons: ['service_exception'],
    text: {
      en: "An exception stated in the service's privacy policy",
      ja: 'サービスのプライバシーポリシーに定める例外',
    },
  },
];

/** Where the person can turn when we refuse (in whole or in part), by regime. */
export const APPEAL_ROUTES: Readonly<Record<Regime, { en: string; ja: string }>> = {
  GDPR: {
    en: 'You may lodge a complaint with a data protection supervisory authority, in particular in the EU or EEA state where you live or work (GDPR Article 77), and seek a judicial remedy (Article 79).',
    ja: 'データ保護監督機関（特にお住まい又は勤務先のEU・EEA加盟国の機関）に苦情を申し立てること（GDPR第77条）、及び司法上の救済を求めること（第79条）ができます。',
  },
  CCPA: {
    en: 'You may file a complaint with the California Privacy Protection Agency or the California Attorney General.',
    ja: 'カリフォルニア州プライバシー保護庁又はカリフォルニア州司法長官に苦情を申し立てることができます。',
  },
  PIPA: {
    en: 'You may object to this decision: reply to this e-mail with your grounds. You may also apply to the Personal Information Dispute Mediation Committee or report to the Personal Information Infringement Report Center (privacy.kisa.or.kr, dial 118).',
    ja: 'この決定に対して異議を申し立てることができます。理由を添えてこのメールにご返信ください。個人情報紛争調停委員会への調停申請、個人情報侵害申告センター（privacy.kisa.or.kr、電話118）への申告もできます。',
  },
  APPI: {
    en: 'You may ask us to reconsider by replying to this e-mail, and consult the Personal Information Protection Commission of Japan (PPC Consultation Dial).',
    ja: 'このメールにご返信いただくことで再検討を求めることができます。また、個人情報保護委員会（個人情報保護法相談ダイヤル）にご相談いただけます。',
  },
  DEFAULT: {
    en: 'You may ask us to reconsider by replying to this e-mail, or contact the data protection authority where you live.',
    ja: 'このメールにご返信いただくことで再検討を求めることができます。お住まいの地域のデータ保護機関にご相談いただくこともできます。',
  },
};

/** A ground support gave that cannot stand: the code the API answers with. */
export class GroundsProblem extends Error {
  override name = 'GroundsProblem';
  constructor(
    readonly code:
      'LEGAL_GROUND_NOT_APPLICABLE' | 'UNKNOWN_EXCEPTION' | 'STORE_NOT_HELD' | 'UNKNOWN_CATEGORY',
    message: string,
  ) {
    super(message);
  }
}

export function legalGround(id: string): LegalGround | undefined {
  return LEGAL_GROUNDS.find((g) => g.id === id);
}

/** Checks a reason and ground against the request's law and service; throws GroundsProblem. */
export function checkGrounds(
  grounds: Grounds,
  request: { service?: string; jurisdiction?: string },
  config?: DeadlineConfig,
): void {
  const ground = legalGround(grounds.legalGround);
  const regime = ruleFor(request.jurisdiction ?? '', config).regime;
  if (!ground || !ground.reasons.includes(grounds.reasonCode)) {
    throw new GroundsProblem(
      'LEGAL_GROUND_NOT_APPLICABLE',
      `legalGround ${grounds.legalGround} does not cover reasonCode ${grounds.reasonCode}`,
    );
  }
  if (ground.regimes && !ground.regimes.includes(regime)) {
    throw new GroundsProblem(
      'LEGAL_GROUND_NOT_APPLICABLE',
      `legalGround ${grounds.legalGround} is not a ground under ${regime}`,
    );
  }
  if (grounds.reasonCode === 'service_exception') {
    const known = proceduresOf(request.service).exceptions.some((e) => e.id === grounds.exception);
    if (!known)
      throw new GroundsProblem('UNKNOWN_EXCEPTION', "exception is not one of the service's own exceptions");
  } else if (grounds.exception !== undefined) {
    throw new GroundsProblem('UNKNOWN_EXCEPTION', 'exception goes only with reasonCode service_exception');
  }
}

/** Checks the parts an export is to leave out: stores the service keeps, categories of those stores. */
export function checkExclusions(
  exclusions: readonly Exclusion[],
  request: { service?: string; jurisdiction?: string },
  config?: DeadlineConfig,
): void {
  const held = heldStores(serviceProfile(request.service));
  for (const exclusion of exclusions) {
    checkGrounds(exclusion, request, config);
    if (!held.includes(exclusion.store))
      throw new GroundsProblem('STORE_NOT_HELD', `store ${exclusion.store} is not kept by this service`);
    const categories = STORE_CATEGORIES[exclusion.store] as readonly string[];
    if (exclusion.category !== undefined && !categories.includes(exclusion.category)) {
      throw new GroundsProblem(
        'UNKNOWN_CATEGORY',
        `${exclusion.store}/${exclusion.category} is not a category of the store`,
      );
    }
  }
}

/** The stores an export collects from: the held ones, less those left out whole. */
export function storesAnswered<S extends StoreName>(
  stores: readonly S[],
  exclusions: readonly Exclusion[] | undefined,
): S[] {
  const whole = new Set((exclusions ?? []).filter((e) => e.category === undefined).map((e) => e.store));
  return stores.filter((store) => !whole.has(store));
}

/** Whether a collection of a store is left out by one of the exclusions. */
export function excludedCollection(
  exclusions: readonly Exclusion[] | undefined,
  store: string,
  collection: string,
): boolean {
  return (exclusions ?? []).some((e) => e.store === store && (e.category ?? collection) === collection);
}
