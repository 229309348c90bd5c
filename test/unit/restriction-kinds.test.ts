/**
 * The restriction kinds as data: each service offers only kinds its own policy names (with citations of
 * that policy), consents are withdrawn and given back as the kinds say, and the rights checks refuse what
 * the API must refuse, with the callbacks' address policy applied to transmitTo.
 */
import {
  affectedRecipients,
  consentTargets,
  offeredCitations,
  offeredKinds,
  RESTRICTION_KINDS,
} from '../../functions/lib/restrictions/kinds';
import { serviceIds, serviceProfile } from '../../functions/lib/services/profiles';
import { checkRightsFields } from '../../functions/api/rights-checks';
import { ApiError } from '../../functions/api/http';

describe('config/restrictions.json', () => {
  test.each(serviceIds())('%s: every offered kind cites its own policy', (service) => {
    const profile = serviceProfile(service);
    for (const entry of offeredCitations(service)) {
      expect(RESTRICTION_KINDS).toContain(entry.kind);
      expect(entry.cite.length).toBeGreaterThan(0);
      for (const cite of entry.cite) expect(cite.file).toBe(profile.policy.file);
    }
  });

  test('the kinds the policies name', () => {
    expect(Object.fromEntries(serviceIds().map((s) => [s, offeredKinds(s)]))).toEqual({
      'klub-outside': ['stop-marketing', 'restrict-processing'],
      'prism-project': [],
      cluster: [
        'stop-marketing',
        'stop-personalised-ads',
        'stop-third-party-provision',
        'restrict-processing',
      ],
      audiostock: [],
      metalive: ['stop-marketing', 'restrict-processing'],
    });
  });
});

describe('recipients told', () => {
  test('authorities are never told; processors only when processing is restricted', () => {
    const klub = serviceProfile('klub-outside');
    expect(affectedRecipients(klub, 'restrict-processing').map((r) => r.id)).toEqual([
      'sony-payment-services',
      'japan-post',
      'kuore',
      'business-transfer',
    ]);
    expect(affectedRecipients(klub, 'stop-marketing').map((r) => r.id)).toEqual(['business-transfer']);
    for (const kind of RESTRICTION_KINDS)
      for (const service of serviceIds())
        expect(affectedRecipients(serviceProfile(service), kind).some((r) => r.kind === 'authority')).toBe(
          false,
        );
  });
});

describe('consents', () => {
  test('apply withdraws; lift gives back what was before unless another restriction still withdraws it', () => {
    expect(consentTargets('stop-personalised-ads', 'apply', { stillInPlace: [] })).toEqual({
      personalizedAds: false,
    });
    expect(
      consentTargets('restrict-processing', 'lift', {
        stillInPlace: ['stop-personalised-ads'],
        previous: { marketingEmail: true, personalizedAds: true },
      }),
    ).toEqual({ marketingEmail: true });
    expect(consentTargets('stop-marketing', 'lift', { stillInPlace: [], previous: {} })).toEqual({});
  });
});

describe('rights checks', () => {
  const refused = (fn: () => unknown): { status: number; code: string } => {
    try {
      fn();
    } catch (error) {
      if (error instanceof ApiError) return { status: error.status, code: error.code };
      throw error;
    }
    throw new Error('not refused');
  };
  test.each([
    ['https://127.0.0.1/in', 'TRANSMIT_TO_PRIVATE'],
    ['https://169.254.169.254/latest', 'TRANSMIT_TO_PRIVATE'],
    ['https://localhost/in', 'TRANSMIT_TO_PRIVATE'],
    ['http://example.com/in', 'TRANSMIT_TO_NOT_HTTPS'],
    ['https://u:p@example.com/in', 'TRANSMIT_TO_HAS_CREDENTIALS'],
  ])('transmitTo %s is refused in AWS (%s)', (url, code) => {
    expect(
      refused(() => checkRightsFields({ type: 'export', service: 'cluster', transmitTo: url }, false)),
    ).toEqual({
      status: 400,
      code,
    });
  });

  test('an acceptable endpoint is stored with its host recorded', () => {
    expect(
      checkRightsFields(
        { type: 'export', service: 'cluster', transmitTo: 'https://inbox.example.org/dsr' },
        false,
      ),
    ).toEqual({
      transmitTo: 'https://inbox.example.org/dsr',
      transfer: { recipientHost: 'inbox.example.org' },
    });
  });

  test('a kind the service does not offer', () => {
    expect(
      refused(() =>
        checkRightsFields(
          { type: 'restriction', service: 'audiostock', restriction: { kind: 'stop-marketing' } },
          false,
        ),
      ),
    ).toEqual({ status: 422, code: 'RESTRICTION_NOT_OFFERED' });
  });
});
