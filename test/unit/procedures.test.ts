/**
 * The procedures around a request as pure rules: which request waits for verification and for a fee
 * (never an erasure, never under the GDPR or the CCPA), who may ask about a minor, which legal grounds
 * stand under which law, the procedures document's own checks, and every outcome e-mail in Japanese and
 * English from one service only.
 */
import { feeRuleFor } from '../../functions/lib/procedures/fees';
import { guardianRefusal } from '../../functions/lib/procedures/guardians';
import {
  checkExclusions,
  checkGrounds,
  excludedCollection,
  GroundsProblem,
  storesAnswered,
} from '../../functions/lib/procedures/refusals';
import { procedureFaults, proceduresOf } from '../../functions/lib/procedures/service-procedures';
import { acceptsMethod, verificationRuleFor } from '../../functions/lib/procedures/verification';
import { renderNotice, restrictionNotice, type NoticeModel } from '../../functions/lib/notices/texts';
import { noticeItem } from '../../functions/lib/notices/outbox';
import { outcomeNoticeItems } from '../../functions/lib/notices/outcomes';
import { renderLinkEmail } from '../../functions/notify/email';
import { serviceProfile, shippedServiceProfiles } from '../../functions/lib/services/profiles';
import type { RequestRecord } from '../../functions/lib/requests/records';
import type { ErasurePlan } from '../../functions/lib/erasure/types';

/** The audit period the outbox items expire after. */
const clock = { auditPeriodDays: 1095 };

describe('verification', () => {
  test('Cluster verifies its users before it discloses or erases; klub-outside only its agents and guardians', () => {
    expect(verificationRuleFor('cluster', 'export', 'subject')?.methods).toContain('id_document');
    expect(verificationRuleFor('cluster', 'erasure', 'subject')).toBeDefined();
    expect(verificationRuleFor('klub-outside', 'export', 'subject')).toBeUndefined();
    expect(verificationRuleFor('klub-outside', 'erasure', 'guardian')?.methods).toEqual([
      'power_of_attorney_appendix11',
    ]);
    expect(verificationRuleFor('prism-project', 'erasure', 'agent')).toBeUndefined();
    // A type no procedure covers waits for nothing.
    expect(verificationRuleFor('cluster', 'objection-of-some-kind', 'subject')).toBeUndefined();
  });

  test('a method the service does not accept from that requester is refused', () => {
    const rule = verificationRuleFor('klub-outside', 'erasure', 'agent');
    expect(acceptsMethod(rule, 'power_of_attorney_appendix11')).toBe(true);
    expect(acceptsMethod(rule, 'confirmed_email')).toBe(false);
    expect(acceptsMethod(verificationRuleFor('audiostock', 'export', 'subject'), 'confirmed_email')).toBe(
      false,
    );
  });
});

describe('fees', () => {
  test('Cluster charges 1,000 JPY per disclosure in Japan; never for an erasure', () => {
    expect(feeRuleFor('cluster', 'export', 'JP')).toMatchObject({ amount: 1000, currency: 'JPY' });
    expect(feeRuleFor('cluster', 'erasure', 'JP')).toBeUndefined();
    expect(feeRuleFor('audiostock', 'erasure', 'JP')).toBeUndefined();
  });

  test('never under the GDPR or the CCPA', () => {
    for (const jurisdiction of ['DE', 'EU', 'GB', 'US-CA']) {
      expect(feeRuleFor('cluster', 'export', jurisdiction)).toBeUndefined();
      expect(feeRuleFor('audiostock', 'export', jurisdiction)).toBeUndefined();
    }
  });

  test("Audiostock's registered-mail cost has no amount until support records it", () => {
    const rule = feeRuleFor('audiostock', 'export', 'JP');
    expect(rule?.currency).toBe('JPY');
    expect(rule?.amount).toBeUndefined();
  });

  test('a procedures document that charges for an erasure does not load', () => {
    const cluster = proceduresOf('cluster');
    const bad = { ...cluster, fees: [{ ...cluster.fees[0]!, actions: ['erase' as const] }] };
    expect(procedureFaults(serviceProfile('cluster'), bad)).toEqual([
      'cluster/fees/0: an erasure is never charged',
    ]);
    const unfounded = { ...cluster, fees: [{ ...cluster.fees[0]!, basis: ['/procedures/99'] }] };
    expect(procedureFaults(serviceProfile('cluster'), unfounded)[0]).toMatch(
      /'\/procedures\/99' is not in the profile/,
    );
  });
});

describe('guardians', () => {
  const minor = { userId: 'u-minnie', guardianUserId: 'u-dave' };
  const adult = { userId: 'u-alice' };

  test("a minor's own request needs the guardian; the guardian may ask; a guardian of someone else may not", () => {
    expect(guardianRefusal('klub-outside', minor, { kind: 'subject' })).toBe('GUARDIAN_REQUIRED');
    expect(guardianRefusal('klub-outside', minor, { kind: 'agent', evidenceRef: 'x' })).toBe(
      'GUARDIAN_REQUIRED',
    );
    expect(
      guardianRefusal('klub-outside', minor, { kind: 'guardian', evidenceRef: 'x', userId: 'u-dave' }),
    ).toBeUndefined();
    expect(
      guardianRefusal('klub-outside', minor, { kind: 'guardian', evidenceRef: 'x', userId: 'u-eve' }),
    ).toBe('NOT_GUARDIAN');
    expect(guardianRefusal('klub-outside', minor, { kind: 'guardian', evidenceRef: 'x' })).toBe(
      'NOT_GUARDIAN',
    );
  });

  test('a guardian request for an adult is refused; an adult asks for themself', () => {
    expect(guardianRefusal('cluster', adult, { kind: 'guardian', evidenceRef: 'x', userId: 'u-dave' })).toBe(
      'NOT_GUARDIAN',
    );
    expect(guardianRefusal('cluster', adult, { kind: 'subject' })).toBeUndefined();
  });

  test('a service whose policy states no age, or an account not found, is not judged', () => {
    expect(guardianRefusal('audiostock', minor, { kind: 'subject' })).toBeUndefined();
    expect(guardianRefusal('cluster', undefined, { kind: 'guardian', evidenceRef: 'x' })).toBeUndefined();
  });
});

describe('refusals and partial answers', () => {
  const problem = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      return error instanceof GroundsProblem ? error.code : 'OTHER';
    }
    return undefined;
  };

  test("a ground must be of the request's own law and cover its reason", () => {
    const jp = { service: 'cluster', jurisdiction: 'JP' };
    expect(
      problem(() => checkGrounds({ reasonCode: 'rights_of_others', legalGround: 'appi-art-33-2-i' }, jp)),
    ).toBeUndefined();
    expect(
      problem(() => checkGrounds({ reasonCode: 'rights_of_others', legalGround: 'gdpr-art-15-4' }, jp)),
    ).toBe('LEGAL_GROUND_NOT_APPLICABLE');
    expect(
      problem(() => checkGrounds({ reasonCode: 'legal_obligation', legalGround: 'appi-art-33-2-i' }, jp)),
    ).toBe('LEGAL_GROUND_NOT_APPLICABLE');
    expect(
      problem(() =>
        checkGrounds(
          { reasonCode: 'identity_not_verified', legalGround: 'pipa-identity' },
          { service: 'klub-outside', jurisdiction: 'KR' },
        ),
      ),
    ).toBeUndefined();
  });

  test("a service exception must be the service's own: METALIVE's access logs are not Cluster's", () => {
    const grounds = {
      reasonCode: 'service_exception',
      legalGround: 'service-policy',
      exception: 'access-logs',
    } as const;
    expect(problem(() => checkGrounds(grounds, { service: 'metalive', jurisdiction: 'JP' }))).toBeUndefined();
    expect(problem(() => checkGrounds(grounds, { service: 'cluster', jurisdiction: 'JP' }))).toBe(
      'UNKNOWN_EXCEPTION',
    );
  });

  test('parts left out must be of stores the service keeps; the rest is answered', () => {
    const part = {
      store: 'marketing',
      reasonCode: 'rights_of_others',
      legalGround: 'appi-art-33-2-i',
    } as const;
    expect(problem(() => checkExclusions([part], { service: 'audiostock', jurisdiction: 'JP' }))).toBe(
      'STORE_NOT_HELD',
    );
    expect(
      problem(() =>
        checkExclusions([{ ...part, store: 'chat', category: 'access-log' }], {
          service: 'cluster',
          jurisdiction: 'JP',
        }),
      ),
    ).toBe('UNKNOWN_CATEGORY');
    expect(storesAnswered(['accounts', 'chat', 'logs'], [{ ...part, store: 'chat' }])).toEqual([
      'accounts',
      'logs',
    ]);
    const category = [{ ...part, store: 'logs' as const, category: 'access-log' }];
    expect(storesAnswered(['accounts', 'logs'], category)).toEqual(['accounts', 'logs']);
    expect(excludedCollection(category, 'logs', 'access-log')).toBe(true);
    expect(excludedCollection(category, 'logs', 'voice-sessions')).toBe(false);
  });
});

describe('outcome e-mails', () => {
  const plan: Pick<ErasurePlan, 'entries'> = {
    entries: [
      { store: 'accounts', category: 'profile', action: 'delete', count: 1, liveAction: 'delete' },
      {
        store: 'payments',
        category: 'transactions',
        action: 'retain',
        count: 2,
        liveAction: 'delete',
        rule: {
          jurisdiction: 'JP',
          records: 'payment records',
          basis: { law: 'Corporation Tax Act', provision: 'Art. 126', source: 'policy' },
          period: 'P7Y',
          from: 'recordDate',
          keep: ['amount'],
          until: '2033-04-01T00:00:00.000Z',
          retained: 2,
          expired: 0,
          schedule: [],
        },
      },
      {
        store: 'chat',
        category: 'messages',
        action: 'held',
        count: 3,
        liveAction: 'delete',
        holdId: 'hold_secret',
        caseReference: 'CASE-4711-SECRET',
      },
    ],
  };
  const models: NoticeModel[] = [
    {
      kind: 'awaiting_verification',
      requestType: 'export',
      methods: ['id_document', 'confirmed_email'],
      dueAt: '2026-12-16T00:00:00.000Z',
    },
    {
      kind: 'awaiting_payment',
      requestType: 'export',
      fee: { status: 'due', amount: 1000, currency: 'JPY' },
    },
    {
      kind: 'refused',
      requestType: 'export',
      grounds: { reasonCode: 'identity_not_verified', legalGround: 'appi-art-37' },
      jurisdiction: 'JP',
    },
    {
      kind: 'partial',
      requestType: 'export',
      exclusions: [{ store: 'chat', reasonCode: 'rights_of_others', legalGround: 'appi-art-33-2-i' }],
      jurisdiction: 'JP',
    },
    { kind: 'erasure_done', plan, complete: false },
    { kind: 'restriction', state: 'in_place', restrictions: ['stop-marketing'] },
    { kind: 'restriction', state: 'lifted', restrictions: ['stop-marketing'] },
  ];
  const others = [...shippedServiceProfiles().values()].filter((p) => p.id !== 'cluster');
  const otherNames = others.flatMap((p) => [
    p.name,
    p.controller.name,
    ...Object.values(p.controller.localNames ?? {}),
  ]);

  test.each(['ja', 'en'] as const)('every outcome in %s names Cluster and no other service', (language) => {
    const mails = models.map((model) => renderNotice(model, { service: 'cluster', language }));
    mails.push(
      renderLinkEmail({
        locale: language,
        url: 'https://dsr.example/d/x',
        expiresAt: '2026-12-09T00:00:00.000Z',
        maxDownloads: 3,
        service: 'cluster',
      }),
    );
    for (const mail of mails) {
      expect(mail.subject.startsWith('Cluster: ')).toBe(true);
      expect(mail.text).toContain('Cluster, Inc.');
      for (const name of otherNames) expect(`${mail.subject}\n${mail.text}`).not.toContain(name);
      // Japanese mails are in Japanese: kana in the text; English ones have none.
      expect(/[\u3040-\u30ff]/.test(mail.text)).toBe(language === 'ja');
    }
  });

  test('refusal and partial answer say what was not done, why, and how to appeal', () => {
    const refused = renderNotice(models[2]!, { service: 'cluster', language: 'en' });
    expect(refused.text).toContain('APPI Article 37');
    expect(refused.text).toContain('How to appeal');
    const partial = renderNotice(models[3]!, { service: 'cluster', language: 'ja' });
    expect(partial.text).toContain('メッセージ・チャット');
    expect(partial.text).toContain('個人情報保護法第33条第2項第1号');
    expect(partial.text).toContain('不服申立ての方法');
    const korea = renderNotice(
      {
        kind: 'refused',
        requestType: 'erasure',
        grounds: { reasonCode: 'legal_obligation', legalGround: 'pipa-art-36-1' },
        jurisdiction: 'KR',
      },
      { service: 'klub-outside', language: 'en' },
    );
    expect(korea.text).toContain('You may object to this decision');
  });

  test('the erasure notice says what was erased, what is kept until when and why, and what is held without the case', () => {
    const mail = renderNotice(models[4]!, { service: 'cluster', language: 'en' });
    expect(mail.text).toContain('Account information (profile)');
    expect(mail.text).toMatch(/Payments \(transactions\): Corporation Tax Act Art\. 126, until 1 April 2033/);
    expect(mail.text).toContain('Messages and chat (messages)');
    expect(mail.text).not.toContain('CASE-4711-SECRET');
    expect(mail.text).not.toContain('hold_secret');
  });

  test('restrictionNotice names the restriction, in place or lifted', () => {
    expect(
      restrictionNotice({ service: 'metalive', language: 'en' }, 'in_place', ['restrict-processing']).text,
    ).toContain('all processing of your data');
    expect(
      restrictionNotice({ service: 'metalive', language: 'ja' }, 'lifted', ['stop-marketing']).subject,
    ).toBe('METALIVE: 利用停止を解除しました');
  });

  test('a restriction put in place, then lifted, is told to the person each time', () => {
    const base = {
      requestId: 'req_00000000000000000000000000000002',
      type: 'restriction',
      service: 'cluster',
      subjectHash: 'h',
      createdAt: '2026-12-01T00:00:00.000Z',
      updatedAt: '2026-12-01T00:00:00.000Z',
      requester: { kind: 'subject' },
      noticeContact: { email: 'haruto@example.jp', language: 'en' },
    } satisfies Partial<RequestRecord>;
    const running = { ...base, status: 'in_progress' } as RequestRecord;
    for (const [action, outcome] of [
      ['apply', 'in_place'],
      ['lift', 'lifted'],
    ] as const) {
      const done = {
        ...base,
        status: 'completed',
        restriction: { kind: 'stop-personalised-ads', action, outcome },
      } as RequestRecord;
      const [item] = outcomeNoticeItems(clock, done, running, '2026-12-01T00:00:00.000Z');
      expect(item).toMatchObject({ notice: 'restriction', to: 'haruto@example.jp' });
      expect(String(item?.text)).toMatch(/personalised advertising/);
    }
    // A lift with nothing to lift tells nothing.
    const nothing = {
      ...base,
      status: 'completed',
      restriction: { kind: 'stop-marketing', action: 'lift', outcome: 'not_in_place' },
    } as RequestRecord;
    expect(outcomeNoticeItems(clock, nothing, running, '2026-12-01T00:00:00.000Z')).toEqual([]);
  });

  test('a notice goes only where there is an address, and only on the change it is about', () => {
    const base = {
      requestId: 'req_00000000000000000000000000000001',
      type: 'export',
      service: 'cluster',
      subjectHash: 'h',
      createdAt: '2026-12-01T00:00:00.000Z',
      updatedAt: '2026-12-01T00:00:00.000Z',
      requester: { kind: 'subject' },
      noticeContact: { email: 'haruto@example.jp', language: 'ja' },
    } satisfies Partial<RequestRecord>;
    const waiting = { ...base, status: 'awaiting_verification' } as RequestRecord;
    const [item] = outcomeNoticeItems(clock, waiting, undefined, '2026-12-01T00:00:00.000Z');
    expect(item).toMatchObject({
      kind: 'notice-pending',
      notice: 'awaiting_verification',
      to: 'haruto@example.jp',
    });
    expect(outcomeNoticeItems(clock, waiting, waiting, '2026-12-01T00:00:01.000Z')).toEqual([]);
    expect(
      outcomeNoticeItems(clock, { ...base, status: 'in_progress' } as RequestRecord, waiting, 'x'),
    ).toEqual([]);
    expect(
      noticeItem(
        clock,
        { ...base, noticeContact: { language: 'en' } },
        models[0]!,
        '2026-12-01T00:00:00.000Z',
      ),
    ).toBeUndefined();
  });
});
