/**
 * Legal deadlines by jurisdiction. Each request gets `dueAt` when it is created; one extension (with a
 * recorded reason) may push it back where the law allows. Pure functions: no I/O, the clock is passed in.
 *
 * | regime | jurisdictions | deadline | extension |
 * |---|---|---|---|
 * | GDPR / UK GDPR (Art. 12(3)) | `EU`, EU and EEA member states, `GB` | one month | two more months |
 * | CCPA (Cal. Civ. Code 1798.130) | `US-CA` | 45 days | 45 more days |
 * | PIPA (Korea, Enforcement Decree Art. 41) | `KR` | 10 days | none |
 * | APPI (Japan, Art. 33: "without delay") | `JP` | configured days (default 14) | none |
 * | anything else | | configured days (default 30) | none |
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { POWERTOOLS_DEFAULTS } from '../runtime/service';

export type Regime = 'GDPR' | 'CCPA' | 'PIPA' | 'APPI' | 'DEFAULT';

export interface DeadlineConfig {
  /** APPI says "without delay": the number of days we hold ourselves to. */
  appiDays: number;
  /** Jurisdictions no rule names. */
  defaultDays: number;
}

export const DEFAULT_DEADLINE_CONFIG: DeadlineConfig = { appiDays: 14, defaultDays: 30 };

/** EU member states and the EEA states that apply the GDPR. */
const GDPR_COUNTRIES = new Set([
  'AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU',
  'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'IS', 'LI', 'NO', 'GB', 'EU',
]); // prettier-ignore

/** `EU`, an ISO 3166-1 alpha-2 country, or an ISO 3166-2 subdivision such as `US-CA`. */
export const JURISDICTION_PATTERN = '^(?:EU|[A-Z]{2}(?:-[A-Z0-9]{1,3})?)$';

export interface DeadlineRule {
  regime: Regime;
  /** The initial period: months (calendar) or days. */
  period: { months: number } | { days: number };
  /** The longest extension allowed, or undefined when none is. */
  extension?: { months: number } | { days: number };
}

export function ruleFor(
  jurisdiction: string,
  config: DeadlineConfig = DEFAULT_DEADLINE_CONFIG,
): DeadlineRule {
  if (GDPR_COUNTRIES.has(jurisdiction)) {
    return { regime: 'GDPR', period: { months: 1 }, extension: { months: 2 } };
  }
  if (jurisdiction === 'US-CA') return { regime: 'CCPA', period: { days: 45 }, extension: { days: 45 } };
  if (jurisdiction === 'KR') return { regime: 'PIPA', period: { days: 10 } };
  if (jurisdiction === 'JP') return { regime: 'APPI', period: { days: config.appiDays } };
  return { regime: 'DEFAULT', period: { days: config.defaultDays } };
}

/** Adds calendar months the GDPR way: the same day of the month, or the month's last day if it has none. */
function addMonths(from: Date, months: number): Date {
  const target = new Date(from.getTime());
  const day = from.getUTCDate();
  target.setUTCDate(1);
  target.setUTCMonth(target.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return target;
}

function addPeriod(from: Date, period: { months: number } | { days: number }): Date {
  if ('months' in period) return addMonths(from, period.months);
  return new Date(from.getTime() + period.days * 86_400_000);
}

export function dueAtFor(jurisdiction: string, createdAt: Date, config?: DeadlineConfig): Date {
  return addPeriod(createdAt, ruleFor(jurisdiction, config).period);
}

/** The latest date an extension may move the deadline to, or undefined where none is allowed. */
export function maxExtendedDueAt(
  jurisdiction: string,
  originalDueAt: Date,
  config?: DeadlineConfig,
): Date | undefined {
  const { extension } = ruleFor(jurisdiction, config);
  return extension ? addPeriod(originalDueAt, extension) : undefined;
}

/** Waiting requests count: their deadline runs unless the jurisdiction pauses it (then it has none yet). */
const OPEN_STATUSES = new Set(['received', 'in_progress', 'awaiting_verification', 'awaiting_payment']);

/**
 * Whether the clock stops while a request waits for the identity verification or the fee: under the
 * GDPR the period runs from when the controller can act on it (the ICO: from receipt of the ID or fee);
 * CCPA (Cal. Code Regs. tit. 11, § 7021(a): regardless of the time needed to verify), PIPA and APPI
 * count from receipt, as does a jurisdiction no rule names.
 */
export function clockPausedWhileWaiting(jurisdiction: string, config?: DeadlineConfig): boolean {
  return ruleFor(jurisdiction, config).regime === 'GDPR';
}

/** Whole days left until `dueAt` (negative once past), rounded up so "due later today" is 1. */
export function daysLeft(dueAt: string, now: Date): number {
  return Math.ceil((Date.parse(dueAt) - now.getTime()) / 86_400_000);
}

/** Overdue: still open (not finished, failed or cancelled) and past its deadline. */
export function isOverdue(status: string, dueAt: string | undefined, now: Date): boolean {
  return dueAt !== undefined && OPEN_STATUSES.has(status) && Date.parse(dueAt) < now.getTime();
}

/** Statuses a request is still being worked on in (the deadline still runs). */
export function isOpenStatus(status: string): boolean {
  return OPEN_STATUSES.has(status);
}

export const OVERDUE_METRIC = {
  namespace: POWERTOOLS_DEFAULTS.metricsNamespace,
  name: 'OverdueRequests',
} as const;

/**
 * Records the overdue count as the metric the overdue alarm watches, published as an Embedded Metric
 * Format line. It carries a count only (no request ids, no subjects), in one empty dimension set: the
 * metric has no dimensions.
 */
export function recordOverdueMetric(metrics: Metrics, count: number): void {
  metrics.addDimensions({});
  metrics.addMetric(OVERDUE_METRIC.name, 'Count', count);
}
