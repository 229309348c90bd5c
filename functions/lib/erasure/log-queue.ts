/**
 * The log-erasure queue: the log part of each erasure waiting for the batched log-erasure job
 * (functions/erase-logs, docs/erasure.md "Batched log erasure"). Items of the requests table:
 *
 *   queued part  pk `LOG_ERASURE#<requestId>`, sk `QUEUED`, kind `log-erasure-queued` (the byKind index
 *                lists them by `createdAt` = `<queuedAt>#<requestId>`): requestId, subjectHash (the
 *                request's keyed hash), queuedAt, run, categories (the plan's log entries: category,
 *                action, live action, retention rule). No identifier of anyone.
 *   job lock     pk `LOG_ERASURE_JOB`, sk `LOCK`: jobId, until. One job at a time: two jobs rewriting the
 *                same objects would each count (and certify) part of the same lines.
 *   job tallies  pk `LOG_ERASURE_JOB#<jobId>`, sk `TALLIES#<sha256 of the object key>`: what one rewrite
 *                of the object removed, per request id and category (counts and expiry dates), written
 *                before the object is; they expire with the job's staged files. One write unit, where
 *                an S3 record was a PUT at eight times the price (docs/cost.md).
 *
 * Which lines are the subject's is not stored here: the job reads the identifier set the erasure's first
 * run kept on the request (`resolvedSubject`, in the KMS-encrypted requests table until the request
 * completes), so no raw identifier is copied anywhere, and the lines are matched exactly as the connector
 * matches them. Written by MarkDone (certify-erasure) once the request is partially completed; removed by
 * the job when it has done the part, or by MarkDone when nothing waits any more.
 */
import { createHash } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { STAGING_EXPIRY_DAYS } from '../../../config/data-map';
import { queryPages } from '../aws/dynamo-paging';
import { AppError, classifyAwsError } from '../runtime/errors';
import { itemsOf, REQUESTS_TTL_ATTRIBUTE, type RequestTable } from '../requests/request-table';
import type { LiveAction, PlanEntry, PlannedRetention } from './types';

const QUEUED_KIND = 'log-erasure-queued';
const queuedKey = (requestId: string) => ({ pk: `LOG_ERASURE#${requestId}`, sk: 'QUEUED' });
const LOCK_KEY = { pk: 'LOG_ERASURE_JOB', sk: 'LOCK' };
const jobPartition = (jobId: string) => `LOG_ERASURE_JOB#${jobId}`;
/** One record per object (a digest of its key: keys may hold any character, up to 1,024 bytes). */
const talliesKey = (jobId: string, objectKey: string) => ({
  pk: jobPartition(jobId),
  sk: `TALLIES#${createHash('sha256').update(objectKey).digest('hex')}`,
});

/** A queued log category: what the plan said to do with the subject's lines in it. */
export interface QueuedLogCategory {
  category: string;
  action: 'delete' | 'anonymise' | 'retain';
  liveAction: LiveAction;
  rule?: Pick<PlannedRetention, 'jurisdiction' | 'records' | 'basis' | 'period' | 'from' | 'keep'>;
}

/** Per category: lines that left the live logs, and vault copies by expiry. */
export type LogErasureTallies = Record<string, { removed: number; vaulted: Record<string, number> }>;

export interface QueuedLogErasure {
  requestId: string;
  subjectHash: string;
  queuedAt: string;
  /** The erasure run that queued it. */
  run: number;
  categories: QueuedLogCategory[];
  /**
   * What failed jobs already did for it (objects rewritten before another failed): the job that
   * completes the part adds it, so the certificate counts every line, whichever job removed it.
   */
  carried?: LogErasureTallies;
  /** The failed jobs whose work is in `carried` (each is carried once). */
  carriedJobs?: string[];
}

/** What one rewrite of an object removes, per request id: recorded before the object is written. */
export interface ObjectTallies {
  key: string;
  /** The version the rewrite read: an object still at it was never written. */
  fromEtag: string;
  subjects: Record<string, LogErasureTallies>;
}

/** Adds tallies together (per category: removed, and vault copies per expiry). */
export function addTallies(a: LogErasureTallies, b: LogErasureTallies): LogErasureTallies {
  const out: LogErasureTallies = structuredClone(a);
  for (const [category, tally] of Object.entries(b)) {
    const sum = (out[category] ??= { removed: 0, vaulted: {} });
    sum.removed += tally.removed;
    for (const [until, count] of Object.entries(tally.vaulted))
      sum.vaulted[until] = (sum.vaulted[until] ?? 0) + count;
  }
  return out;
}

/** Per request, what objects' records add up to (one record per object: recordTallies keeps the last). */
export function talliesByRequest(
  records: readonly Pick<ObjectTallies, 'subjects'>[],
): Record<string, LogErasureTallies> {
  const out: Record<string, LogErasureTallies> = {};
  for (const record of records)
    for (const [requestId, tallies] of Object.entries(record.subjects))
      out[requestId] = addTallies(out[requestId] ?? {}, tallies);
  return out;
}

/** Another log-erasure job holds the lock. */
export class LogErasureJobRunning extends AppError {
  override name = 'LogErasureJobRunning';
  constructor() {
    super('Another log-erasure job is running', 'LOG_ERASURE_JOB_RUNNING');
  }
}

/** The queued categories of a plan's log entries (those the job carries out). */
export function queuedCategories(entries: readonly PlanEntry[]): QueuedLogCategory[] {
  return entries.map((e) => ({
    category: e.category,
    action: e.action as QueuedLogCategory['action'],
    liveAction: e.liveAction,
    ...(e.rule
      ? {
          rule: {
            jurisdiction: e.rule.jurisdiction,
            records: e.rule.records,
            basis: e.rule.basis,
            period: e.rule.period,
            from: e.rule.from,
            keep: e.rule.keep,
          },
        }
      : {}),
  }));
}

export class LogErasureQueue {
  constructor(private readonly table: RequestTable) {}

  /** The Put that queues a request's log part, for the transaction of its status change. */
  putItem(item: QueuedLogErasure): { Put: { TableName: string; Item: Record<string, unknown> } } {
    return {
      Put: {
        TableName: this.table.tableName,
        Item: {
          ...queuedKey(item.requestId),
          kind: QUEUED_KIND,
          createdAt: `${item.queuedAt}#${item.requestId}`,
          ...item,
        },
      },
    };
  }

  /** The Delete that takes a request's log part off the queue, likewise. */
  removeItem(requestId: string): { Delete: { TableName: string; Key: Record<string, string> } } {
    return { Delete: { TableName: this.table.tableName, Key: queuedKey(requestId) } };
  }

  async put(item: QueuedLogErasure): Promise<void> {
    await this.table.doc.send(new PutCommand(this.putItem(item).Put));
  }

  /** Removes the request's queued part; with `queuedAt`, only that very entry (not one queued since). */
  async remove(requestId: string, queuedAt?: string): Promise<boolean> {
    try {
      await this.table.doc.send(
        new DeleteCommand({
          TableName: this.table.tableName,
          Key: queuedKey(requestId),
          ...(queuedAt
            ? {
                ConditionExpression: 'queuedAt = :queuedAt',
                ExpressionAttributeValues: { ':queuedAt': queuedAt },
              }
            : {}),
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw classifyAwsError(error);
    }
  }

  /** Records what a failed job did for the queued part (once per job; not if it was queued again since). */
  async carry(entry: QueuedLogErasure, jobId: string, tallies: LogErasureTallies): Promise<void> {
    if (entry.carriedJobs?.includes(jobId)) return;
    try {
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
          Key: queuedKey(entry.requestId),
          UpdateExpression: 'SET carried = :carried, carriedJobs = :jobs',
          ConditionExpression: 'queuedAt = :queuedAt',
          ExpressionAttributeValues: {
            ':carried': addTallies(entry.carried ?? {}, tallies),
            ':jobs': [...(entry.carriedJobs ?? []), jobId],
            ':queuedAt': entry.queuedAt,
          },
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException')
        throw classifyAwsError(error);
    }
  }

  /**
   * Records what a rewrite removes from an object, before the object is written: a batch retried after
   * its answer was lost, or a crash after the write, then counts it once all the same (the record of a
   * later attempt of the same object replaces it).
   */
  async recordTallies(jobId: string, record: ObjectTallies): Promise<void> {
    const expires = Math.floor(this.table.clock().getTime() / 1000) + STAGING_EXPIRY_DAYS * 86_400;
    try {
      await this.table.doc.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: { ...talliesKey(jobId, record.key), ...record, [REQUESTS_TTL_ATTRIBUTE]: expires },
        }),
      );
    } catch (error) {
      throw classifyAwsError(error);
    }
  }

  /** Every object's record of a job. */
  async tallies(jobId: string): Promise<ObjectTallies[]> {
    const out: ObjectTallies[] = [];
    const pages = queryPages(this.table.doc, {
      TableName: this.table.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :tallies)',
      ExpressionAttributeValues: { ':pk': jobPartition(jobId), ':tallies': 'TALLIES#' },
      ConsistentRead: true,
    });
    for await (const items of pages) {
      for (const item of items)
        out.push({
          key: String(item.key),
          fromEtag: String(item.fromEtag),
          subjects: (item.subjects ?? {}) as ObjectTallies['subjects'],
        });
    }
    return out;
  }

  async get(requestId: string): Promise<QueuedLogErasure | undefined> {
    const out = await this.table.doc.send(
      new GetCommand({ TableName: this.table.tableName, Key: queuedKey(requestId), ConsistentRead: true }),
    );
    return out.Item ? toQueued(out.Item) : undefined;
  }

  /** Every queued part, oldest first. */
  async list(): Promise<QueuedLogErasure[]> {
    const out: QueuedLogErasure[] = [];
    const pages = queryPages(this.table.doc, {
      TableName: this.table.tableName,
      IndexName: 'byKind',
      KeyConditionExpression: '#kind = :kind',
      ExpressionAttributeNames: { '#kind': 'kind' },
      ExpressionAttributeValues: { ':kind': QUEUED_KIND },
    });
    // The index holds keys only of these: each part is read from the table.
    for await (const items of pages) {
      for (const item of await itemsOf(this.table, items, QUEUED_KIND)) out.push(toQueued(item));
    }
    return out;
  }

  /** Takes the job lock for `jobId` until `until` (a job that died leaves it to expire). */
  async lock(jobId: string, now: Date, until: Date): Promise<void> {
    try {
      await this.table.doc.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: { ...LOCK_KEY, jobId, lockedAt: now.toISOString(), until: until.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk) OR #until < :now OR jobId = :jobId',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':now': now.toISOString(), ':jobId': jobId },
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException')
        throw new LogErasureJobRunning();
      throw classifyAwsError(error);
    }
  }

  /** Releases the lock if `jobId` holds it. */
  async unlock(jobId: string): Promise<void> {
    try {
      await this.table.doc.send(
        new DeleteCommand({
          TableName: this.table.tableName,
          Key: LOCK_KEY,
          ConditionExpression: 'jobId = :jobId',
          ExpressionAttributeValues: { ':jobId': jobId },
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException')
        throw classifyAwsError(error);
    }
  }
}

function toQueued(item: Record<string, unknown>): QueuedLogErasure {
  return {
    requestId: String(item.requestId),
    subjectHash: String(item.subjectHash),
    queuedAt: String(item.queuedAt),
    run: Number(item.run ?? 0),
    categories: Array.isArray(item.categories) ? (item.categories as QueuedLogCategory[]) : [],
    ...(item.carried ? { carried: item.carried as LogErasureTallies } : {}),
    ...(Array.isArray(item.carriedJobs) ? { carriedJobs: item.carriedJobs.map(String) } : {}),
  };
}
