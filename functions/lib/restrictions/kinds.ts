/**
 * The restrictions of use a person can ask for, what each one changes, and which services offer which
 * (config/restrictions.json, each entry citing the service's own policy). A restriction sets the
 * account's consents and tells the recipients that receive the affected data; it never deletes.
 */
import restrictionConfig from '../../../config/restrictions.json';
import type { Recipient, RecipientKind, ServiceProfile } from '../services/profiles';

export const RESTRICTION_KINDS = [
  'stop-marketing',
  'stop-personalised-ads',
  'stop-third-party-provision',
  'restrict-processing',
] as const;
export type RestrictionKind = (typeof RESTRICTION_KINDS)[number];

export const RESTRICTION_ACTIONS = ['apply', 'lift'] as const;
export type RestrictionAction = (typeof RESTRICTION_ACTIONS)[number];

/** The consents an account keeps (stores.md, accounts `consents`). */
export const CONSENT_NAMES = ['marketingEmail', 'personalizedAds'] as const;
export type ConsentName = (typeof CONSENT_NAMES)[number];
export type Consents = Partial<Record<ConsentName, boolean>>;

interface KindSpec {
  /** Consents the restriction withdraws while it is in place. */
  consents: readonly ConsentName[];
  /** Recipient kinds whose processing the restriction stops (they are told). */
  recipientKinds: readonly RecipientKind[];
  /** Recipients of other kinds that receive one of these stores are told too. */
  stores?: readonly string[];
  /** The law's name for it, for notices and docs. */
  basis: string;
}

/** Authorities receive what the law requires whatever the person asks; a restriction never stops that. */
export const KIND_SPECS: Readonly<Record<RestrictionKind, KindSpec>> = {
  'stop-marketing': {
    consents: ['marketingEmail', 'personalizedAds'],
    recipientKinds: ['advertising'],
    stores: ['marketing'],
    basis: 'Objection to direct marketing (GDPR Art. 21(2)); opt-out of promotions',
  },
  'stop-personalised-ads': {
    consents: ['personalizedAds'],
    recipientKinds: ['advertising'],
    basis: 'Opt-out of the sale and sharing of personal information (CCPA §1798.120)',
  },
  'stop-third-party-provision': {
    consents: ['personalizedAds'],
    recipientKinds: ['affiliate', 'group', 'advertising'],
    basis: 'Cessation of provision to third parties (APPI Art. 35(3))',
  },
  'restrict-processing': {
    consents: ['marketingEmail', 'personalizedAds'],
    recipientKinds: [
      'processor',
      'affiliate',
      'group',
      'service-providers',
      'advertising',
      'business-transfer',
    ],
    basis: 'Restriction of processing (GDPR Art. 18); cessation of use (APPI Art. 35(1))',
  },
};

interface OfferedEntry {
  kind: string;
  cite: { file: string; section: string }[];
}

const OFFERED = restrictionConfig.services as Readonly<Record<string, readonly OfferedEntry[]>>;

export function isRestrictionKind(value: unknown): value is RestrictionKind {
  return typeof value === 'string' && (RESTRICTION_KINDS as readonly string[]).includes(value);
}

/** The kinds a service's policy names, in RESTRICTION_KINDS order. */
export function offeredKinds(service: string): RestrictionKind[] {
  const named = new Set((OFFERED[service] ?? []).map((e) => e.kind));
  return RESTRICTION_KINDS.filter((kind) => named.has(kind));
}

/** Where a service's policy offers a kind (the config's citations), for docs and checks. */
export function offeredCitations(service: string): readonly OfferedEntry[] {
  return OFFERED[service] ?? [];
}

/** The recipients of a service that a restriction of this kind concerns, in the profile's order. */
export function affectedRecipients(
  profile: Pick<ServiceProfile, 'recipients'>,
  kind: RestrictionKind,
): Recipient[] {
  const spec = KIND_SPECS[kind];
  return profile.recipients.filter(
    (r) =>
      r.kind !== 'authority' &&
      (spec.recipientKinds.includes(r.kind) || r.stores.some((s) => spec.stores?.includes(s))),
  );
}

/**
 * The consents to write: on apply, every consent of the kind is withdrawn; on lift, a consent goes back
 * to what it was before the restriction, unless another restriction still in place withdraws it too.
 */
export function consentTargets(
  kind: RestrictionKind,
  action: RestrictionAction,
  context: { stillInPlace: readonly RestrictionKind[]; previous?: Consents },
): Consents {
  const out: Consents = {};
  for (const name of KIND_SPECS[kind].consents) {
    if (action === 'apply') out[name] = false;
    else if (!context.stillInPlace.some((other) => KIND_SPECS[other].consents.includes(name))) {
      const before = context.previous?.[name];
      if (before !== undefined) out[name] = before;
    }
  }
  return out;
}
