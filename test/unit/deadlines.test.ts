import {
  daysLeft,
  dueAtFor,
  isOverdue,
  maxExtendedDueAt,
  recordOverdueMetric,
  ruleFor,
} from '../../functions/lib/requests/deadlines';
import { applicationMetrics } from '../../functions/lib/runtime/metrics';

const at = (iso: string) => new Date(iso);

test.each([
  ['EU', '2025-01-15T10:00:00.000Z', '2025-02-15T10:00:00.000Z'],
  ['DE', '2025-01-31T10:00:00.000Z', '2025-02-28T10:00:00.000Z'], // no 31 February: the month's last day
  ['GB', '2024-01-31T00:00:00.000Z', '2024-02-29T00:00:00.000Z'],
  ['US-CA', '2025-01-01T00:00:00.000Z', '2025-02-15T00:00:00.000Z'],
  ['KR', '2025-01-01T00:00:00.000Z', '2025-01-11T00:00:00.000Z'],
  ['JP', '2025-01-01T00:00:00.000Z', '2025-01-15T00:00:00.000Z'],
  ['BR', '2025-01-01T00:00:00.000Z', '2025-01-31T00:00:00.000Z'],
])('%s: created %s is due %s', (jurisdiction, created, due) => {
  expect(dueAtFor(jurisdiction, at(created)).toISOString()).toBe(due);
});

test('APPI days and the default are configurable', () => {
  expect(dueAtFor('JP', at('2025-01-01T00:00:00Z'), { appiDays: 3, defaultDays: 30 }).toISOString()).toBe(
    '2025-01-04T00:00:00.000Z',
  );
  expect(ruleFor('US').regime).toBe('DEFAULT');
});

test('extensions: GDPR two months, CCPA 45 days, none for PIPA and APPI', () => {
  expect(maxExtendedDueAt('FR', at('2025-02-15T00:00:00Z'))?.toISOString()).toBe('2025-04-15T00:00:00.000Z');
  expect(maxExtendedDueAt('US-CA', at('2025-02-15T00:00:00Z'))?.toISOString()).toBe(
    '2025-04-01T00:00:00.000Z',
  );
  expect(maxExtendedDueAt('KR', at('2025-02-15T00:00:00Z'))).toBeUndefined();
  expect(maxExtendedDueAt('JP', at('2025-02-15T00:00:00Z'))).toBeUndefined();
});

test('days left round up, go negative once past; only open requests are overdue', () => {
  const now = at('2025-01-10T12:00:00Z');
  expect(daysLeft('2025-01-11T00:00:00Z', now)).toBe(1);
  expect(daysLeft('2025-01-10T12:00:00Z', now)).toBe(0);
  expect(daysLeft('2025-01-08T12:00:00Z', now)).toBe(-2);
  expect(isOverdue('received', '2025-01-09T00:00:00Z', now)).toBe(true);
  expect(isOverdue('in_progress', '2025-01-09T00:00:00Z', now)).toBe(true);
  expect(isOverdue('completed', '2025-01-09T00:00:00Z', now)).toBe(false);
  expect(isOverdue('received', '2025-01-11T00:00:00Z', now)).toBe(false);
});

test('the overdue metric is an EMF line with a count and nothing else', () => {
  const metrics = applicationMetrics();
  recordOverdueMetric(metrics, 3);
  const line = JSON.parse(JSON.stringify(metrics.serializeMetrics())) as Record<string, unknown>;
  expect(line.OverdueRequests).toBe(3);
  expect(Object.keys(line).sort()).toEqual(['OverdueRequests', '_aws']);
  const aws = line._aws as { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] };
  expect(aws.CloudWatchMetrics[0]?.Namespace).toBe('DsrOrchestrator');
  expect(aws.CloudWatchMetrics[0]?.Metrics[0]?.Name).toBe('OverdueRequests');
});
