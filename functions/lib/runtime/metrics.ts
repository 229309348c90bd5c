/**
 * CloudWatch metrics with Powertools Metrics: Embedded Metric Format lines on stdout (no API call),
 * published by the `logMetrics` middleware when an invocation ends. The namespace and service come
 * from POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_SERVICE_NAME.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { metricsNamespace, serviceName } from './service';

export function applicationMetrics(): Metrics {
  const metrics = new Metrics({ namespace: metricsNamespace(), serviceName: serviceName() });
  // Our metrics have no dimensions, as the alarms that watch them expect: Powertools would add
  // `service` to every one, which makes a different metric.
  metrics.clearDefaultDimensions();
  return metrics;
}
