/** Helpers every connector's erase uses to read its part of the plan and report what it did. */
import type { StoreName } from '../../../config/data-map';
import { STORE_CATEGORIES, type CategoryName } from './types';
import type { CategoryOutcome, PlanEntryView, VaultRecord } from '../connectors/contract';
import { ContractError } from '../runtime/errors';
import { retentionUntil } from './policy';

export function zeroOutcome(): CategoryOutcome {
  return { deleted: 0, anonymised: 0, retained: 0, untouched: 0 };
}

/**
 * This store's plan entries by category, checked against what the store can do: a plan naming an
 * unknown category, asking a delete-only store to anonymise, retaining without a rule, or retaining
 * what must never be retained is a contract violation, refused before anything is touched.
 */
export function planByCategory<S extends StoreName>(
  store: S,
  plan: readonly PlanEntryView[],
  limits: { canAnonymise: boolean; neverRetained?: readonly string[] },
): Map<CategoryName<S>, PlanEntryView> {
  const known: readonly string[] = STORE_CATEGORIES[store];
  const byCategory = new Map<CategoryName<S>, PlanEntryView>();
  for (const entry of plan) {
    if (!known.includes(entry.category)) {
      throw new ContractError(`The plan names unknown category '${store}/${entry.category}'`);
    }
    const anonymises =
      entry.action === 'anonymise' || (entry.action !== 'held' && entry.liveAction !== 'delete');
    if (anonymises && !limits.canAnonymise) {
      throw new ContractError(`${store} cannot anonymise '${entry.category}'`);
    }
    if (entry.action === 'retain' && !entry.rule) {
      throw new ContractError(`The plan retains '${store}/${entry.category}' without a rule`);
    }
    if (entry.action === 'retain' && limits.neverRetained?.includes(entry.category)) {
      throw new ContractError(`'${store}/${entry.category}' is never retained`);
    }
    byCategory.set(entry.category as CategoryName<S>, entry);
  }
  return byCategory;
}

/**
 * The vault copy of a record its plan entry retains, expiring when the rule's period counted from
 * `anchorAt` ends; undefined when that period has already ended (nothing is kept, the record goes).
 * `data` picks the fields the rule keeps from the record; it is called only for a copy.
 */
export function vaultCopy(
  rule: NonNullable<PlanEntryView['rule']>,
  anchorAt: Date | string,
  now: Date,
  record: Pick<VaultRecord, 'store' | 'category' | 'recordId'> & {
    data: (keep: readonly string[]) => VaultRecord['data'];
  },
): VaultRecord | undefined {
  const until = retentionUntil(rule, anchorAt);
  if (until.getTime() <= now.getTime()) return undefined;
  return {
    ...record,
    until: until.toISOString(),
    basis: `${rule.basis.law}, ${rule.basis.provision}`,
    data: record.data(rule.keep),
  };
}
