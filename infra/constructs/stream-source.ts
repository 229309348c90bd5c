/**
 * A table's DynamoDB stream as the event source of a function, the shape every stream reader of the stack
 * shares: the function's role reads the stream (the mapping polls with it); a batch the mapping gives up
 * on, after its retries, leaves its metadata (shard and sequence numbers, never data) on an on-failure SQS
 * queue, encrypted and TLS only, whose alarm tells an operator.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { grantQueueSend, grantStreamRead } from './access';
import { alarmWhenAny } from './alarms';
import type { TableRef } from './storage';
import type { DsrFunction } from './task-function';

export interface StreamSourceProps {
  fn: DsrFunction;
  /** The table whose stream feeds the function. */
  table: TableRef;
  /** Construct ids, in the scope given, of the queue, the mapping and the queue's alarm. */
  ids: { queue: string; mapping: string; alarm: string };
  /** Encrypts the on-failure queue. */
  queueKey: kms.IKey;
  /** Why the queue needs no dead-letter queue of its own (cdk-nag's SQS3). */
  queueReason: string;
  alarmTopic: sns.ITopic;
  alarmDescription: string;
  mapping: Omit<lambda.EventSourceMappingOptions, 'eventSourceArn' | 'onFailure'>;
}

export function streamEventSource(
  scope: Construct,
  props: StreamSourceProps,
): { queue: sqs.Queue; mapping: lambda.EventSourceMapping } {
  const streamArn = props.table.table.tableStreamArn;
  if (!streamArn) throw new Error(`The table of ${props.ids.mapping} has no stream`);
  grantStreamRead(props.fn, props.table);

  const queue = new sqs.Queue(scope, props.ids.queue, {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: props.queueKey,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: props.queueReason });
  grantQueueSend(props.fn, queue);

  const mapping = new lambda.EventSourceMapping(scope, props.ids.mapping, {
    ...props.mapping,
    target: props.fn.function,
    eventSourceArn: streamArn,
    // Our own destination binding: CDK's SqsDlq would grant in the role's default policy, with
    // wildcard KMS actions; grantQueueSend above grants exactly what sending needs.
    onFailure: { bind: () => ({ destination: queue.queueArn }) },
  });
  // The mapping is validated against the role when created: the grants must exist first.
  mapping.node.addDependency(props.fn.access);

  alarmWhenAny(
    scope,
    props.ids.alarm,
    props.alarmTopic,
    queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
    props.alarmDescription,
  );
  return { queue, mapping };
}
