/**
 * The erasure planner: a pure function from (policy, jurisdiction, inventory, holds, now) to the plan
 * the erasure then executes, before anything is mutated. Per store and category, in catalogue order:
 * `held` when any active hold covers it (a hold wins over everything: held data is not touched),
 * `none` when the subject has nothing there, `retain` when the jurisdiction's rule keeps records whose
 * period has not yet run out (those move to the vault with their expiry; already expired ones get
 * the live action now), else the category's live action (`delete` or `anonymise`).
 * An inventory or hold that does not match the policy is a contract violation and fails loudly:
 * planning around missing data could delete what must be kept, or keep what must go.
 */
import { ContractError } from '../runtime/errors';
import { addDuration, isJurisdictionCode, resolveJurisdiction, retentionFor } from './policy';
import {
  DEFAULT_JURISDICTION,
  PLAN_ACTIONS,
  STORE_CATEGORIES,
  type CategoryInventory,
  type DatedGroup,
  type ErasurePlan,
  type HoldRef,
  type HoldScope,
  type Inventory,
  type LiveAction,
  type PlanAction,
  type PolicyAction,
  type PlanEntry,
  type PlanInput,
  type PlanSummary,
  type PlannedRetention,
  type Policy,
  type ProcessorNotice,
  type RetentionRule,
  type StoreName,
} from './types';

/** The inputs do not fit the policy. Messages name stores, categories and hold ids only. */
export class PlanError extends ContractError {
  override name = 'PlanError';
}

const STORES = Object.keys(STORE_CATEGORIES) as StoreName[];
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function checkInventory(policy: Policy, inventory: Inventory, stores: readonly StoreName[]): void {
  for (const store of Object.keys(inventory)) {
    if (!Object.hasOwn(STORE_CATEGORIES, store))
      throw new PlanError(`Inventory names unknown store '${store}'`);
    if (!stores.includes(store as StoreName))
      throw new PlanError(`Inventory names store '${store}', which the run does not cover`);
  }
  for (const store of stores) {
    const inv = inventory[store];
    if (!inv) throw new PlanError(`Inventory lacks store '${store}': every connector must report`);
    const known: readonly string[] = STORE_CATEGORIES[store];
    for (const category of Object.keys(inv)) {
      if (!known.includes(category))
        throw new PlanError(`Inventory names unknown category '${store}/${category}'`);
    }
    for (const category of known) {
      const ci = inv[category];
      if (!ci) throw new PlanError(`Inventory lacks category '${store}/${category}'`);
      checkCategory(policy, store, category, ci);
    }
  }
}

function checkCategory(policy: Policy, store: StoreName, category: string, ci: CategoryInventory): void {
  const name = `${store}/${category}`;
  if (!isCount(ci.count)) throw new PlanError(`Inventory count of '${name}' must be a whole number`);
  const anchors: readonly string[] = policy.document.stores[store].categories[category]?.anchors ?? [];
  for (const [anchor, groups] of Object.entries(ci.dates ?? {})) {
    if (!anchors.includes(anchor))
      throw new PlanError(`Inventory of '${name}' reports undeclared dates '${anchor}'`);
    let sum = 0;
    for (const g of groups ?? []) {
      if (typeof g.at !== 'string' || !ISO_INSTANT.test(g.at) || Number.isNaN(Date.parse(g.at))) {
        throw new PlanError(
          `Inventory of '${name}' has a '${anchor}' group without a valid ISO 8601 instant`,
        );
      }
      if (!isCount(g.count) || g.count === 0) {
        throw new PlanError(
          `Inventory of '${name}' has a '${anchor}' group whose count is not a positive whole number`,
        );
      }
      sum += g.count;
    }
    if (sum !== ci.count) {
      throw new PlanError(
        `Inventory of '${name}': '${anchor}' groups count ${sum} records, the category ${ci.count}`,
      );
    }
  }
}

function checkHolds(holds: readonly HoldScope[]): void {
  const seen = new Set<string>();
  for (const hold of holds) {
    if (typeof hold.holdId !== 'string' || hold.holdId === '') throw new PlanError('A hold has no holdId');
    if (seen.has(hold.holdId)) throw new PlanError(`Hold '${hold.holdId}' is listed twice`);
    seen.add(hold.holdId);
    if (typeof hold.caseReference !== 'string' || hold.caseReference === '') {
      throw new PlanError(`Hold '${hold.holdId}' has no case reference`);
    }
    for (const store of hold.stores ?? []) {
      if (!Object.hasOwn(STORE_CATEGORIES, store))
        throw new PlanError(`Hold '${hold.holdId}' names unknown store '${store}'`);
    }
    const scope = hold.stores?.length ? hold.stores : STORES;
    for (const category of hold.categories ?? []) {
      if (!scope.some((s) => (STORE_CATEGORIES[s] as readonly string[]).includes(category))) {
        // A hold that matches nothing would silently protect nothing: refuse it.
        throw new PlanError(
          `Hold '${hold.holdId}' names category '${category}', which none of its stores has`,
        );
      }
    }
  }
}

/** Absent or empty lists mean "all": an ambiguous hold holds more, never less. */
export function covers(hold: HoldScope, store: StoreName, category: string): boolean {
  const inStores = !hold.stores?.length || hold.stores.includes(store);
  const inCategories = !hold.categories?.length || hold.categories.includes(category);
  return inStores && inCategories;
}

function byString<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

/**
 * The entry as held when any of `holds` covers it (every covering hold, and the first by id, listed),
 * else undefined. `onRelease` is what the policy would do once no hold is left.
 */
function heldBy(
  entry: PlanEntry,
  holds: readonly HoldScope[],
  onRelease: PolicyAction,
): PlanEntry | undefined {
  const holding: HoldRef[] = holds
    .filter((h) => covers(h, entry.store, entry.category))
    .map((h) => ({ holdId: h.holdId, caseReference: h.caseReference }))
    .sort(byString((h) => h.holdId));
  const first = holding[0];
  if (!first) return undefined;
  const { rule: _rule, ...rest } = entry;
  return {
    ...rest,
    action: 'held',
    holdId: first.holdId,
    caseReference: first.caseReference,
    holds: holding,
    onRelease,
  };
}

function planRetention(
  rule: RetentionRule,
  jurisdiction: string,
  name: string,
  ci: CategoryInventory,
  now: Date,
  accountDeletedAt: Date,
): PlannedRetention {
  let groups: readonly DatedGroup[];
  if (rule.from === 'accountDeletion') {
    groups = [{ at: accountDeletedAt.toISOString(), count: ci.count }];
  } else {
    const dated = ci.dates?.[rule.from];
    if (!dated) {
      throw new PlanError(
        `Inventory of '${name}' lacks the '${rule.from}' dates the ${jurisdiction} retention rule runs from`,
      );
    }
    groups = dated;
  }
  const schedule = new Map<string, number>();
  let expired = 0;
  for (const g of groups) {
    const until = addDuration(g.at, rule.period);
    if (until.getTime() <= now.getTime()) {
      expired += g.count;
    } else {
      const key = until.toISOString();
      schedule.set(key, (schedule.get(key) ?? 0) + g.count);
    }
  }
  const sorted = [...schedule.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const retained = ci.count - expired;
  return {
    jurisdiction,
    records: rule.records,
    basis: rule.basis,
    period: rule.period,
    from: rule.from,
    keep: rule.keep,
    ...(sorted.length > 0 ? { until: sorted[sorted.length - 1]?.[0], earliestUntil: sorted[0]?.[0] } : {}),
    retained,
    expired,
    schedule: sorted.map(([until, count]) => ({ until, count })),
  };
}

function planEntry(
  input: PlanInput,
  applied: string,
  store: StoreName,
  category: string,
  ci: CategoryInventory,
): PlanEntry {
  const policy = retentionFor(input.policy, applied, store, category);
  const liveAction: LiveAction = policy.liveAction;
  const entry = (action: PlanAction, extra: Partial<PlanEntry> = {}): PlanEntry => ({
    store,
    category,
    action,
    count: ci.count,
    liveAction,
    ...extra,
  });
  if (ci.count === 0) return entry('none');

  const held = heldBy(entry(policy.action), input.holds, policy.action);
  if (held) return held;

  if (!policy.rule) return entry(liveAction);
  const rule = planRetention(
    policy.rule,
    applied,
    `${store}/${category}`,
    ci,
    input.now,
    input.accountDeletedAt ?? input.now,
  );
  return entry(rule.retained > 0 ? 'retain' : liveAction, { rule });
}

function processorNotices(
  policy: Policy,
  entries: readonly PlanEntry[],
  processorIds: readonly string[] | undefined,
): ProcessorNotice[] {
  const notices: ProcessorNotice[] = [];
  for (const proc of policy.document.processors) {
    // Another service's processor never received this subject's data: it is not told anything.
    if (processorIds && !processorIds.includes(proc.id)) continue;
    const categories: { store: StoreName; category: string }[] = [];
    const deferred: { store: StoreName; category: string }[] = [];
    for (const r of proc.receives) {
      for (const category of r.categories) {
        const entry = entries.find((e) => e.store === r.store && e.category === category);
        if (!entry || entry.action === 'none') continue;
        (entry.action === 'held' ? deferred : categories).push({ store: r.store, category });
      }
    }
    if (categories.length > 0 || deferred.length > 0) {
      notices.push({ processorId: proc.id, name: proc.name, categories, deferred });
    }
  }
  return notices;
}

/** Builds the erasure plan. Pure and deterministic: the same input always gives the same plan. */
export function buildPlan(input: PlanInput): ErasurePlan {
  const { policy, inventory, holds, now } = input;
  if (Number.isNaN(now.getTime())) throw new PlanError('now is not a valid date');
  if (input.accountDeletedAt && Number.isNaN(input.accountDeletedAt.getTime())) {
    throw new PlanError('accountDeletedAt is not a valid date');
  }
  const upper = input.jurisdiction.trim().toUpperCase();
  const requested = upper === DEFAULT_JURISDICTION.toUpperCase() ? DEFAULT_JURISDICTION : upper;
  if (requested !== DEFAULT_JURISDICTION && !isJurisdictionCode(requested)) {
    throw new PlanError('Jurisdiction must be an ISO 3166-1 alpha-2 or ISO 3166-2 code');
  }
  const applied = resolveJurisdiction(policy, requested);
  const stores = input.stores ?? STORES;
  for (const store of stores)
    if (!STORES.includes(store)) throw new PlanError(`The run names unknown store '${store}'`);
  checkInventory(policy, inventory, stores);
  checkHolds(holds);

  const entries: PlanEntry[] = [];
  for (const store of stores) {
    for (const category of STORE_CATEGORIES[store]) {
      const ci = inventory[store]?.[category];
      if (ci) entries.push(planEntry(input, applied, store, category, ci));
    }
  }

  const { summary, nextStepAt } = summarise(entries);
  return {
    formatVersion: 1,
    policyVersion: policy.version,
    policyHash: policy.hash,
    jurisdiction: { requested, applied },
    plannedAt: now.toISOString(),
    entries,
    nextStepAt,
    processors: processorNotices(policy, entries, input.processorIds),
    summary,
  };
}

/** What a plan's entries add up to, and when the sweep next has work (the earliest vault expiry). */
function summarise(entries: readonly PlanEntry[]): { summary: PlanSummary; nextStepAt: string | null } {
  const categories = Object.fromEntries(PLAN_ACTIONS.map((a) => [a, 0])) as Record<PlanAction, number>;
  const records = { delete: 0, anonymise: 0, retain: 0, held: 0, expired: 0 };
  const holdIds = new Set<string>();
  let nextStepAt: string | null = null;
  for (const e of entries) {
    categories[e.action] += 1;
    if (e.action === 'held') {
      records.held += e.count;
      for (const h of e.holds ?? []) holdIds.add(h.holdId);
    } else if (e.action !== 'none') {
      const retained = e.rule?.retained ?? 0;
      records.retain += retained;
      records.expired += e.rule?.expired ?? 0;
      records[e.liveAction] += e.count - retained;
      const earliest = e.rule?.earliestUntil;
      if (earliest && (nextStepAt === null || earliest < nextStepAt)) nextStepAt = earliest;
    }
  }

  return {
    summary: { categories, records, holds: [...holdIds].sort(), complete: records.held === 0 },
    nextStepAt,
  };
}

/**
 * The plan with `holds` applied to one store's entries at erase time: a hold placed after the plan was
 * built wins like one known then (same matching, same held entries), so the store leaves the held scope
 * untouched, verification skips it, the ledger and certificate say held, and processors hear of it only
 * after the release (their categories move to `deferred`). Entries already held gain the new holds.
 */
export function applyLateHolds(
  plan: ErasurePlan,
  store: StoreName,
  holds: readonly HoldScope[],
): ErasurePlan {
  if (holds.length === 0) return plan;
  checkHolds(holds);
  const entries = plan.entries.map((e) => {
    if (e.store !== store || e.action === 'none') return e;
    const known = e.action === 'held' ? (e.holds ?? []) : [];
    const all = [...known, ...holds.filter((h) => !known.some((k) => k.holdId === h.holdId))];
    const onRelease: PolicyAction = e.action === 'held' ? (e.onRelease ?? e.liveAction) : e.action;
    return heldBy(e, all, onRelease) ?? e;
  });
  const { summary, nextStepAt } = summarise(entries);
  const isHeld = (s: StoreName, c: string) =>
    entries.some((e) => e.store === s && e.category === c && e.action === 'held');
  const processors = plan.processors.map((p) => ({
    ...p,
    categories: p.categories.filter((c) => !isHeld(c.store, c.category)),
    deferred: [...p.deferred, ...p.categories.filter((c) => isHeld(c.store, c.category))],
  }));
  return { ...plan, entries, nextStepAt, processors, summary };
}
