/**
 * What AWS removes by itself, done on the local stack: DynamoDB Local does not implement TTL and s3rver
 * has no lifecycle rules. The rules are the ones CDK deploys (config/data-map.ts: each table's
 * `ttlAttribute`, `orchestratorBucketExpiry`), so a test that moves the clock past a period and runs
 * the reaper sees what a deployment would see once AWS got round to it.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  ALL_ORCHESTRATOR_TABLES,
  orchestratorBucketExpiry,
  type ExpiryRule,
  type RetentionPeriods,
  type TableSpec,
} from '../config/data-map';
import { batchWriteAll } from '../functions/lib/aws/dynamo-batch';
import { scanPages } from '../functions/lib/aws/dynamo-paging';
import { deleteUnder } from '../functions/lib/aws/s3-objects';
import { intEnv } from '../functions/lib/runtime/config';
import { runPeriodically } from './periodic';
import { AUDIT_PERIOD_ENV, DEFAULT_AUDIT_PERIOD_DAYS } from '../functions/lib/requests/request-table';

/** The export retention unless EXPORT_RETENTION_DAYS says otherwise (CDK's `dsr:exportRetentionDays` default). */
export const DEFAULT_EXPORT_RETENTION_DAYS = 30;

export interface ReapReport {
  /** Items removed, by table. */
  items: Record<string, number>;
  /** Objects removed, by bucket. */
  objects: Record<string, number>;
}

export interface ReaperTarget {
  doc: DynamoDBDocumentClient;
  s3: S3Client;
  tables?: readonly TableSpec[];
  periods?: RetentionPeriods;
}

export function periodsFromEnv(env: NodeJS.ProcessEnv = process.env): RetentionPeriods {
  return {
    exportRetentionDays: intEnv('EXPORT_RETENTION_DAYS', DEFAULT_EXPORT_RETENTION_DAYS, env),
    auditPeriodDays: intEnv(AUDIT_PERIOD_ENV, DEFAULT_AUDIT_PERIOD_DAYS, env),
  };
}

/**
 * Deletes every item whose TTL attribute is a number of seconds at or before `now`, as DynamoDB TTL
 * does (an attribute of another type, e.g. an ISO string, is not an expiry and keeps the item).
 */
async function reapTable(doc: DynamoDBDocumentClient, spec: TableSpec, now: Date): Promise<number> {
  const attribute = spec.ttlAttribute;
  if (!attribute) return 0;
  const keys: Record<string, unknown>[] = [];
  for await (const page of scanPages(doc, {
    TableName: spec.tableName,
    FilterExpression: 'attribute_type(#ttl, :n) AND #ttl <= :now',
    ExpressionAttributeNames: { '#ttl': attribute },
    ExpressionAttributeValues: { ':n': 'N', ':now': Math.floor(now.getTime() / 1000) },
    ConsistentRead: true,
  })) {
    for (const item of page) {
      const key: Record<string, unknown> = { [spec.partitionKey]: item[spec.partitionKey] };
      if (spec.sortKey) key[spec.sortKey] = item[spec.sortKey];
      keys.push(key);
    }
  }
  await batchWriteAll(
    doc,
    spec.tableName,
    keys.map((Key) => ({ DeleteRequest: { Key } })),
  );
  return keys.length;
}

/** Deletes every object an expiry rule of its bucket has passed (written `days` or more before `now`). */
async function reapBucket(s3: S3Client, bucket: string, rules: readonly ExpiryRule[], now: Date) {
  let removed = 0;
  for (const rule of rules) {
    const cutoff = now.getTime() - rule.days * 86_400_000;
    removed += await deleteUnder(
      s3,
      bucket,
      rule.prefix ?? '',
      (o) => o.LastModified === undefined || o.LastModified.getTime() > cutoff,
    );
  }
  return removed;
}

/** One round: every table with a TTL attribute and every bucket with expiry rules, as of `now`. */
export async function reapExpired(target: ReaperTarget, now: Date = new Date()): Promise<ReapReport> {
  const report: ReapReport = { items: {}, objects: {} };
  for (const spec of target.tables ?? ALL_ORCHESTRATOR_TABLES) {
    if (spec.ttlAttribute) report.items[spec.tableName] = await reapTable(target.doc, spec, now);
  }
  const rules = orchestratorBucketExpiry(target.periods ?? periodsFromEnv());
  for (const [bucket, bucketRules] of Object.entries(rules)) {
    report.objects[bucket] = await reapBucket(target.s3, bucket, bucketRules, now);
  }
  return report;
}

/** Runs `reapExpired` every `intervalMs` (as AWS does in the background) until stopped. */
export function startReaper(target: ReaperTarget, intervalMs: number): { stop(): Promise<void> } {
  return runPeriodically(() => reapExpired(target), intervalMs);
}
