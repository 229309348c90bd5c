/**
 * Fees: a service's procedures may charge for an action (Cluster: 1,000 JPY per disclosure; Audiostock:
 * the registered-mail cost). Never for an erasure (the procedures refuse to load one), and never where
 * the person's law makes the answer free: the GDPR (Art. 12(5): free of charge) and the CCPA (Cal. Civ.
 * Code § 1798.130(a)(2): free of charge).
 */
import { ruleFor, type DeadlineConfig, type Regime } from '../requests/deadlines';
import type { FeeRecord } from './records';
import { actionOf, proceduresOf, type FeeRule } from './service-procedures';

/** Regimes under which no fee may be asked for an answer. */
const FREE_REGIMES: readonly Regime[] = ['GDPR', 'CCPA'];

/** The fee rule a request is under, or undefined: none for the action, or the law forbids one. */
export function feeRuleFor(
  service: string | undefined,
  type: string,
  jurisdiction: string,
  config?: DeadlineConfig,
): FeeRule | undefined {
  const action = actionOf(type);
  if (!action || action === 'erase') return undefined;
  if (FREE_REGIMES.includes(ruleFor(jurisdiction, config).regime)) return undefined;
  return proceduresOf(service).fees.find((fee) => fee.actions.includes(action));
}

/** The fee a request opens owing. */
export function dueFee(rule: FeeRule): FeeRecord {
  return {
    status: 'due',
    currency: rule.currency,
    ...(rule.amount !== undefined ? { amount: rule.amount } : {}),
  };
}
