/**
 * Identity verification: whether a request must wait for it, and whether a method support recorded is
 * one its service accepts from this kind of requester. Pure: the rules are the service's procedures.
 */
import type { Requester } from '../requests/records';
import type { VerificationMethod } from './records';
import { actionOf, proceduresOf, type VerificationRule } from './service-procedures';

/** The rule a request of `type` by `requester` at `service` is under, or undefined when none is. */
export function verificationRuleFor(
  service: string | undefined,
  type: string,
  requester: Requester['kind'],
): VerificationRule | undefined {
  const action = actionOf(type);
  if (!action) return undefined;
  return proceduresOf(service).verification.find(
    (rule) => rule.actions.includes(action) && rule.requesters.includes(requester),
  );
}

/** Whether `method` satisfies the rule the request is under (a request under none needs none). */
export function acceptsMethod(rule: VerificationRule | undefined, method: VerificationMethod): boolean {
  return rule === undefined || rule.methods.includes(method);
}
