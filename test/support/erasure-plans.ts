/**
 * A real erasure plan for a connector's unit tests: the connector's own inventory, every other store
 * (and any category it leaves out) empty, planned by the planner under the default policy.
 */
import { loadDefaultPolicy } from '../../functions/lib/erasure/policy';
import { buildPlan } from '../../functions/lib/erasure/planner';
import {
  STORE_CATEGORIES,
  type HoldScope,
  type Inventory,
  type StoreName,
} from '../../functions/lib/erasure/types';
import type { CategoryInventoryView, PlanEntryView } from '../../functions/lib/connectors/contract';

const policy = loadDefaultPolicy();

/** The `store` entries of the plan built from `inventory` for that store. */
export function planEntriesFor(
  store: StoreName,
  inventory: Record<string, CategoryInventoryView>,
  options: { jurisdiction: string; now: Date; holds?: readonly HoldScope[] },
): PlanEntryView[] {
  const all = {} as Record<StoreName, Record<string, CategoryInventoryView>>;
  for (const name of Object.keys(STORE_CATEGORIES) as StoreName[]) {
    all[name] = Object.fromEntries(STORE_CATEGORIES[name].map((c) => [c, { count: 0 }]));
  }
  all[store] = { ...all[store], ...inventory };
  const plan = buildPlan({
    policy,
    jurisdiction: options.jurisdiction,
    inventory: all as unknown as Inventory,
    holds: [...(options.holds ?? [])],
    now: options.now,
  });
  return plan.entries.filter((e) => e.store === store) as unknown as PlanEntryView[];
}
