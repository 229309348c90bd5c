/**
 * The vocabulary of erasure: the data categories each store's connector reports, the shape of the
 * policy file (config/policy/policy.v1.json, schema in policy.schema.json), legal holds as the planner
 * sees them, the inventory connectors return, and the plan. See docs/policy.md.
 */
import type { StoreName } from '../../../config/data-map';

export type { StoreName };

/**
 * Every data category, per store, in plan order. A category is a disjoint slice of the subject's data
 * (whole records, or a group of attributes of a record): no piece of data belongs to two categories.
 * Connectors report inventory under exactly these names; the policy must give each one an action.
 * Adding a category is a code change (its connector must produce it) and a policy change.
 */
export const STORE_CATEGORIES = {
  accounts: ['profile', 'linked-accounts', 'devices', 'bank-account', 'marketing-consents'],
  payments: ['transactions', 'payment-instruments'],
  chat: ['messages', 'complaints', 'mentions', 'room-memberships'],
  media: ['avatars', 'voice-recordings', 'uploads', 'behavior', 'chat-attachments'],
  logs: ['access-log', 'voice-sessions'],
  marketing: ['email-events', 'campaign-entries', 'survey-responses'],
} as const satisfies Record<StoreName, readonly string[]>;

export type CategoryName<S extends StoreName = StoreName> = (typeof STORE_CATEGORIES)[S][number];

/** What erasure does to a category in the live store when nothing requires keeping it. */
export type LiveAction = 'delete' | 'anonymise';
/** The policy's answer for a store/category in a jurisdiction. */
export type PolicyAction = LiveAction | 'retain';
/** The plan's answer: a hold wins over the policy; `none` when the subject has nothing there. */
export type PlanAction = PolicyAction | 'held' | 'none';

export const PLAN_ACTIONS = [
  'delete',
  'anonymise',
  'retain',
  'held',
  'none',
] as const satisfies readonly PlanAction[];

/** The date a retention period runs from. `accountDeletion` needs no record date: it is the erasure's. */
export type RetentionAnchor =
  'transactionDate' | 'sessionDate' | 'recordDate' | 'complaintDate' | 'accountDeletion';

/** Anchors read from the records themselves (connectors report them in the inventory). */
export type DatedAnchor = Exclude<RetentionAnchor, 'accountDeletion'>;

/** The policy profile used for a jurisdiction with none configured: no statutory retention. */
export const DEFAULT_JURISDICTION = 'default';

// ---------------------------------------------------------------------------------------------
// The policy file

export interface LegalBasis {
  /** The statute, by its name in English. */
  readonly law: string;
  /** Article / clause within it. */
  readonly provision: string;
  /** Where the platform states it, e.g. the privacy policy section this rule comes from. */
  readonly source: string;
}

export interface RetentionRule {
  /** The statute's words for the records kept. */
  readonly records: string;
  readonly basis: LegalBasis;
  /** ISO 8601 duration, e.g. P5Y, P6M. */
  readonly period: string;
  readonly from: RetentionAnchor;
  /**
   * The only fields the vault keeps (dot paths; `a[].b` for every element of list `a`,
   * `a[subject].b` for the subject's own element only). Everything else is destroyed.
   */
  readonly keep: readonly string[];
}

export interface CategoryPolicy {
  readonly description: string;
  /** Live-store action: alone when nothing is retained; after the vault copy when something is. */
  readonly action: LiveAction;
  /** Record dates the connector reports for this category (what a retention rule may run from). */
  readonly anchors: readonly DatedAnchor[];
}

export interface StorePolicy {
  readonly description: string;
  readonly categories: Readonly<Record<string, CategoryPolicy>>;
}

export interface JurisdictionProfile {
  readonly name: string;
  readonly description: string;
  /** store -> category -> rule. A category with a rule is retained in this jurisdiction. */
  readonly retention: Readonly<Record<string, Readonly<Record<string, RetentionRule>>>>;
}

export interface ProcessorPolicy {
  /** Stable id; deployments configure each processor's webhook URL under it. */
  readonly id: string;
  readonly name: string;
  readonly purpose: string;
  readonly source: string;
  readonly receives: readonly { readonly store: StoreName; readonly categories: readonly string[] }[];
}

export interface PolicyDocument {
  readonly $schema?: string;
  /** Semver-ish: MAJOR.MINOR.PATCH with an optional pre-release suffix. */
  readonly version: string;
  /** YYYY-MM-DD. */
  readonly effectiveFrom: string;
  readonly description: string;
  /** Field paths no retention rule may keep (card data, secrets). */
  readonly neverRetain: readonly string[];
  readonly stores: Readonly<Record<StoreName, StorePolicy>>;
  readonly jurisdictions: Readonly<Record<string, JurisdictionProfile>>;
  readonly processors: readonly ProcessorPolicy[];
}

/** A validated, frozen policy. */
export interface Policy {
  readonly version: string;
  /** `sha256:` + hex digest of the canonical JSON of the document (key order and spacing ignored). */
  readonly hash: string;
  readonly document: PolicyDocument;
}

// ---------------------------------------------------------------------------------------------
// Planner input

/** An active legal hold on the subject. No stores (or an empty list) = every store; likewise categories. */
export interface HoldScope {
  readonly holdId: string;
  readonly caseReference: string;
  readonly stores?: readonly StoreName[];
  readonly categories?: readonly string[];
}

/**
 * Records sharing a retention date. `at` is the LATEST anchor instant among the group's records, so
 * the group's `until` is never earlier than any of its records' own expiry. Connectors group per UTC
 * day (a log partition) or report one group per record; the vault stamps each item with its own
 * expiry using the same rule (`retentionUntil`).
 */
export interface DatedGroup {
  readonly at: string;
  readonly count: number;
}

export interface CategoryInventory {
  /** The subject's records in this category. */
  readonly count: number;
  /** Per anchor the category declares: groups whose counts sum to `count`. */
  readonly dates?: Readonly<Partial<Record<DatedAnchor, readonly DatedGroup[]>>>;
}

/** What every connector holds, per store and category (counts and dates only, no identifiers). */
export type Inventory = Readonly<Partial<Record<StoreName, Readonly<Record<string, CategoryInventory>>>>>;

export interface PlanInput {
  readonly policy: Policy;
  /** ISO 3166-1 alpha-2 or ISO 3166-2 code of the subject's jurisdiction, or `default`. */
  readonly jurisdiction: string;
  readonly inventory: Inventory;
  readonly holds: readonly HoldScope[];
  readonly now: Date;
  /** When the account was deleted, for `accountDeletion` rules; defaults to `now` (a resumed erasure passes the original). */
  readonly accountDeletedAt?: Date;
  /**
   * The processors of the subject's service (its profile's recipients): only they are told to erase.
   * Absent: every processor of the policy that received an erased category.
   */
  readonly processorIds?: readonly string[];
  /**
   * The stores the run covers: those the subject's service keeps (its profile's `holds`). Each must
   * report; no other may. Absent: every store.
   */
  readonly stores?: readonly StoreName[];
}

// ---------------------------------------------------------------------------------------------
// The plan

export interface HoldRef {
  readonly holdId: string;
  readonly caseReference: string;
}

export interface PlannedRetention {
  readonly jurisdiction: string;
  readonly records: string;
  readonly basis: LegalBasis;
  readonly period: string;
  readonly from: RetentionAnchor;
  readonly keep: readonly string[];
  /** Latest expiry among the records going to the vault (absent when all had already expired). */
  readonly until?: string;
  /** Earliest such expiry. */
  readonly earliestUntil?: string;
  /** Records moving to the vault. */
  readonly retained: number;
  /** Records whose period had already ended: they get the live action now. */
  readonly expired: number;
  /** Vault records by expiry, ascending. */
  readonly schedule: readonly { readonly until: string; readonly count: number }[];
}

export interface PlanEntry {
  readonly store: StoreName;
  readonly category: string;
  readonly action: PlanAction;
  readonly count: number;
  /** What happens in the live store to the records not held (retained ones: after the vault copy). */
  readonly liveAction: LiveAction;
  /** Present whenever a retention rule applied (action `retain`, or the live action if all had expired). */
  readonly rule?: PlannedRetention;
  /** Held entries: the first hold (by id) and every hold covering this category. */
  readonly holdId?: string;
  readonly caseReference?: string;
  readonly holds?: readonly HoldRef[];
  /** Held entries: what the policy would do today; the erasure re-plans when the last hold is released. */
  readonly onRelease?: PolicyAction;
}

export interface ProcessorNotice {
  readonly processorId: string;
  readonly name: string;
  /** Categories this processor received and the erasure covers now. */
  readonly categories: readonly { readonly store: StoreName; readonly category: string }[];
  /** Categories it received that are held: told when the hold is released. */
  readonly deferred: readonly { readonly store: StoreName; readonly category: string }[];
}

export interface PlanSummary {
  /** Entries per plan action. */
  readonly categories: Readonly<Record<PlanAction, number>>;
  /** Records by fate. `delete`/`anonymise` include `expired`. */
  readonly records: {
    readonly delete: number;
    readonly anonymise: number;
    readonly retain: number;
    readonly held: number;
    readonly expired: number;
  };
  /** Ids of the holds that hold something, sorted. */
  readonly holds: readonly string[];
  /** False while something is held: the erasure resumes for that part on release. */
  readonly complete: boolean;
}

export interface ErasurePlan {
  readonly formatVersion: 1;
  readonly policyVersion: string;
  readonly policyHash: string;
  readonly jurisdiction: { readonly requested: string; readonly applied: string };
  readonly plannedAt: string;
  readonly entries: readonly PlanEntry[];
  /** Earliest vault expiry (when the sweep next has something of this subject to destroy), or null. */
  readonly nextStepAt: string | null;
  readonly processors: readonly ProcessorNotice[];
  readonly summary: PlanSummary;
}
