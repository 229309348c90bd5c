/**
 * A request's lifecycle in the requests table: opening it (with its open-request lock, idempotency
 * record, first event, callbacks and audit record in one transaction), reading and listing it, moving
 * it from status to status, extending its deadline and recording what its workflow found.
 */
import { TransactWriteCommand, UpdateCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { queryPage } from '../aws/dynamo-paging';
import { randomUUID } from 'node:crypto';
import { auditItem, type AuditEntry } from '../audit/audit-log';
import { NotFoundError, TransientError } from '../runtime/errors';
import type { ErasureRequestFields } from '../erasure/certificate';
import { outboxItems } from './callback-outbox';
import { eventItem, type RequestEvent } from './event-log';
import { idempotencyItem, repeatedCall, type IdempotentCall, type RepeatedCall } from './idempotency';
import {
  externalKey,
  openKey,
  recordFromItem,
  requestKey,
  OPEN_KIND,
  REQUEST_KIND,
  TERMINAL_STATUSES,
  type DeadlineExtension,
  type Dialect,
  type RequestRecord,
  type RequestStatus,
  type RequestType,
  type Requester,
  type SubjectInput,
} from './records';
import { cancellationCodes, isConditionFailure, readItem, type RequestTable } from './request-table';

/** Which status may follow which: a late or retried step never moves a request backwards. */
const ALLOWED_FROM: Record<RequestStatus, RequestStatus[]> = {
  received: [],
  // A resumed erasure (hold released, retention ended) starts again from partially_completed.
  in_progress: ['received', 'partially_completed'],
  completed: ['in_progress'],
  partially_completed: ['in_progress'],
  failed: ['received', 'in_progress'],
  cancelled: ['received'],
};

export interface OpenRequestInput {
  requestId: string;
  type: RequestType;
  /** The policy in force when the request was opened (config/policy). */
  policyVersion: string;
  subjectHash: string;
  subject: SubjectInput;
  jurisdiction: string;
  jurisdictionSource: NonNullable<RequestRecord['jurisdictionSource']>;
  dueAt: string;
  requester: Requester;
  callbackUrls?: string[];
  notify?: boolean;
  dialect?: Dialect;
  externalId?: string;
  createdBy: string;
  /** Role of the caller, for the audit record. */
  role?: string;
}

export type OpenOutcome =
  | { outcome: 'created'; record: RequestRecord }
  | RepeatedCall
  /** An open request of the same type for the same subject already exists. */
  | { outcome: 'duplicate'; record: RequestRecord };

export interface ListFilter {
  statuses?: RequestStatus[];
  type?: RequestType;
  subjectHash?: string;
  overdue?: boolean;
  createdFrom?: string;
  createdTo?: string;
  limit: number;
  cursor?: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RequestRepository {
  constructor(private readonly table: RequestTable) {}

  newRequestId(): string {
    return `req_${randomUUID().replace(/-/g, '')}`;
  }

  /**
   * Opens a request in one transaction: the request, its open-request lock, its idempotency record, its
   * first event, its first callbacks and its audit record all exist, or none does. Twenty concurrent
   * identical calls therefore create exactly one request; the others see the winner's records.
   */
  async open(input: OpenRequestInput, idempotency?: IdempotentCall): Promise<OpenOutcome> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const now = this.table.clock();
      const iso = now.toISOString();
      const { role, ...fields } = input;
      const record: RequestRecord = {
        ...fields,
        status: 'received',
        createdAt: iso,
        updatedAt: iso,
        version: 1,
      };
      const items: Record<string, unknown>[] = [
        {
          Put: {
            TableName: this.table.tableName,
            Item: { ...requestKey(input.requestId), kind: REQUEST_KIND, ...record },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Put: {
            TableName: this.table.tableName,
            Item: {
              ...openKey(input.type, input.subjectHash),
              kind: OPEN_KIND,
              createdAt: iso,
              requestId: input.requestId,
              dueAt: input.dueAt,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ];
      const idemIndex = idempotency ? items.length : -1;
      if (idempotency) {
        items.push({
          Put: {
            TableName: this.table.tableName,
            Item: idempotencyItem(idempotency, record, now),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        });
      }
      if (input.externalId && input.dialect) {
        items.push({
          Put: {
            TableName: this.table.tableName,
            Item: {
              ...externalKey(input.dialect, input.externalId),
              kind: 'external',
              requestId: input.requestId,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        });
      }
      items.push(
        {
          Put: {
            TableName: this.table.tableName,
            Item: eventItem(
              input.requestId,
              {
                type: 'request.received',
                detail: {
                  requestType: input.type,
                  jurisdiction: input.jurisdiction,
                  requester: input.requester.kind,
                },
              },
              iso,
            ),
          },
        },
        ...outboxItems(record, undefined, iso).map((Item) => ({
          Put: { TableName: this.table.tableName, Item },
        })),
        {
          Put: {
            TableName: this.table.tableName,
            Item: auditItem(
              {
                actor: input.createdBy,
                role,
                action: 'request.status.received',
                requestId: input.requestId,
                subjectHash: input.subjectHash,
                detail: { requestType: input.type },
              },
              now,
            ),
          },
        },
      );
      try {
        await this.table.doc.send(new TransactWriteCommand({ TransactItems: items as never }));
        return { outcome: 'created', record };
      } catch (error) {
        const codes = cancellationCodes(error);
        if (!codes) throw error;
        if (idempotency && codes[idemIndex] === 'ConditionalCheckFailed') {
          const repeated = await repeatedCall(this.table, idempotency);
          if (repeated) return repeated;
        } else if (codes[1] === 'ConditionalCheckFailed') {
          const lock = await readItem(this.table, openKey(input.type, input.subjectHash));
          const open = lock ? await this.get(String(lock.requestId)) : undefined;
          if (open) return { outcome: 'duplicate', record: open };
        } else if (codes.some((c) => c === 'ConditionalCheckFailed')) {
          // The external id is taken by a request that is not open any more: treat as a replay of it.
          if (input.externalId && input.dialect) {
            const ext = await readItem(this.table, externalKey(input.dialect, input.externalId));
            const existing = ext ? await this.get(String(ext.requestId)) : undefined;
            if (existing) return { outcome: 'duplicate', record: existing };
          }
        }
        // A conflict with a concurrent transaction that has not committed yet: try again shortly.
        await sleep(20 + Math.random() * 40 * (attempt + 1));
      }
    }
    throw new TransientError('Could not open the request: too much contention');
  }

  async get(requestId: string): Promise<RequestRecord | undefined> {
    const item = await readItem(this.table, requestKey(requestId));
    return item ? recordFromItem(item) : undefined;
  }

  async require(requestId: string): Promise<RequestRecord> {
    const record = await this.get(requestId);
    if (!record) throw new NotFoundError('No such request');
    return record;
  }

  /** The request a dialect's own id names (OpenDSR's subject_request_id). */
  async findByExternalId(dialect: Dialect, externalId: string): Promise<RequestRecord | undefined> {
    const ext = await readItem(this.table, externalKey(dialect, externalId));
    return ext ? this.get(String(ext.requestId)) : undefined;
  }

  /**
   * Moves a request to `status` if the transition is allowed, setting the given attributes, and in the
   * same transaction queues its callbacks, releases the open-request lock once the request is finished,
   * and writes the audit record (and `event`, when given). Returns false (and changes nothing) when the
   * request is already at or past that point, so a retried step neither repeats nor reorders anything.
   */
  async transition(
    requestId: string,
    status: RequestStatus,
    set: Partial<
      Pick<RequestRecord, 'failure' | 'export' | 'subjectFound' | 'accountHash'> & ErasureRequestFields
    > = {},
    options: {
      actor?: string;
      role?: string;
      event?: Omit<RequestEvent, 'at'>;
      /** Attributes removed in the same update (e.g. resolvedSubject at completion). */
      remove?: readonly string[];
    } = {},
  ): Promise<boolean> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const current = await this.get(requestId);
      if (!current || !ALLOWED_FROM[status].includes(current.status)) return false;
      const now = this.table.clock();
      const iso = now.toISOString();
      const version = (current.version ?? 1) + 1;
      const names: Record<string, string> = {
        '#status': 'status',
        '#updatedAt': 'updatedAt',
        '#version': 'version',
      };
      const values: Record<string, unknown> = {
        ':status': status,
        ':now': iso,
        ':version': version,
        ':from': current.status,
      };
      const assignments = ['#status = :status', '#updatedAt = :now', '#version = :version'];
      for (const [name, value] of Object.entries(set)) {
        if (value === undefined) continue;
        names[`#${name}`] = name;
        values[`:${name}`] = value;
        assignments.push(`#${name} = :${name}`);
      }
      let condition = 'attribute_exists(pk) AND #status = :from';
      if (current.version === undefined) condition += ' AND attribute_not_exists(#version)';
      else {
        values[':previous'] = current.version;
        condition += ' AND #version = :previous';
      }
      const removals = (options.remove ?? []).map((name) => {
        names[`#rm_${name}`] = name;
        return `#rm_${name}`;
      });
      const next: RequestRecord = { ...current, ...set, status, updatedAt: iso, version };
      const items: Record<string, unknown>[] = [
        {
          Update: {
            TableName: this.table.tableName,
            Key: requestKey(requestId),
            UpdateExpression:
              `SET ${assignments.join(', ')}` + (removals.length ? ` REMOVE ${removals.join(', ')}` : ''),
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          },
        },
        ...outboxItems(next, current.status, iso).map((Item) => ({
          Put: { TableName: this.table.tableName, Item },
        })),
        {
          Put: {
            TableName: this.table.tableName,
            Item: auditItem(this.stateAudit(next, options), now),
          },
        },
      ];
      if (options.event) {
        items.push({
          Put: {
            TableName: this.table.tableName,
            Item: eventItem(requestId, options.event, iso),
          },
        });
      }
      if (TERMINAL_STATUSES.includes(status)) {
        items.push({
          Delete: {
            TableName: this.table.tableName,
            Key: openKey(current.type, current.subjectHash),
            ConditionExpression: 'attribute_not_exists(pk) OR requestId = :id',
            ExpressionAttributeValues: { ':id': requestId },
          },
        });
      }
      try {
        await this.table.doc.send(new TransactWriteCommand({ TransactItems: items as never }));
        return true;
      } catch (error) {
        if (!cancellationCodes(error)) throw error;
        await sleep(10 + Math.random() * 30 * (attempt + 1));
      }
    }
    throw new TransientError('Could not record the status change: too much contention');
  }

  private stateAudit(record: RequestRecord, options: { actor?: string; role?: string }): AuditEntry {
    return {
      actor: options.actor ?? 'workflow',
      role: options.role,
      action: `request.status.${record.status}`,
      requestId: record.requestId,
      subjectHash: record.subjectHash,
      detail: { requestType: record.type, version: record.version ?? 1 },
    };
  }

  /** Pushes the deadline back once, within what the law allows (the caller checks the limit). */
  async extend(
    record: RequestRecord,
    newDueAt: string,
    extension: DeadlineExtension,
    role?: string,
  ): Promise<boolean> {
    const now = this.table.clock();
    const iso = now.toISOString();
    try {
      await this.table.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table.tableName,
                Key: requestKey(record.requestId),
                UpdateExpression: 'SET dueAt = :due, extension = :ext, updatedAt = :now',
                ConditionExpression:
                  'attribute_exists(pk) AND attribute_not_exists(extension) AND #status IN (:a, :b)',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: {
                  ':due': newDueAt,
                  ':ext': extension,
                  ':now': iso,
                  ':a': 'received',
                  ':b': 'in_progress',
                },
              },
            },
            {
              Update: {
                TableName: this.table.tableName,
                Key: openKey(record.type, record.subjectHash),
                UpdateExpression: 'SET dueAt = :due',
                ConditionExpression: 'requestId = :id',
                ExpressionAttributeValues: { ':due': newDueAt, ':id': record.requestId },
              },
            },
            {
              Put: {
                TableName: this.table.tableName,
                Item: eventItem(
                  record.requestId,
                  {
                    type: 'request.deadline_extended',
                    detail: { previousDueAt: extension.previousDueAt, dueAt: newDueAt },
                  },
                  iso,
                ),
              },
            },
            {
              Put: {
                TableName: this.table.tableName,
                Item: auditItem(
                  {
                    actor: extension.by,
                    role,
                    action: 'request.deadline_extended',
                    requestId: record.requestId,
                    subjectHash: record.subjectHash,
                    detail: { dueAt: newDueAt },
                  },
                  now,
                ),
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (cancellationCodes(error)) return false;
      throw error;
    }
  }

  /** Requests newest first, filtered; at most `limit` per page, with the key to continue from. */
  async list(
    filter: ListFilter,
    now: Date,
  ): Promise<{ records: RequestRecord[]; lastKey?: Record<string, string> }> {
    const names: Record<string, string> = { '#createdAt': 'createdAt', '#kind': 'kind' };
    const values: Record<string, unknown> = {
      ':from': filter.createdFrom ?? '0000',
      ':to': filter.createdTo ?? '9999',
      ':kind': REQUEST_KIND,
    };
    const filters: string[] = [];
    let indexName: string;
    let keyCondition: string;
    if (filter.subjectHash) {
      indexName = 'bySubject';
      names['#subjectHash'] = 'subjectHash';
      values[':subjectHash'] = filter.subjectHash;
      keyCondition = '#subjectHash = :subjectHash AND #createdAt BETWEEN :from AND :to';
      filters.push('#kind = :kind');
    } else {
      indexName = 'byKind';
      keyCondition = '#kind = :kind AND #createdAt BETWEEN :from AND :to';
    }
    if (filter.statuses?.length) {
      names['#status'] = 'status';
      filter.statuses.forEach((s, i) => (values[`:s${i}`] = s));
      filters.push(`#status IN (${filter.statuses.map((_, i) => `:s${i}`).join(', ')})`);
    }
    if (filter.type) {
      names['#type'] = 'type';
      values[':type'] = filter.type;
      filters.push('#type = :type');
    }
    if (filter.overdue !== undefined) {
      names['#status'] = 'status';
      names['#dueAt'] = 'dueAt';
      values[':nowIso'] = now.toISOString();
      values[':open1'] = 'received';
      values[':open2'] = 'in_progress';
      const overdue = '(#dueAt < :nowIso AND #status IN (:open1, :open2))';
      filters.push(filter.overdue ? overdue : `NOT ${overdue}`);
    }
    const { items, lastKey } = await queryPage(
      this.table.doc,
      {
        TableName: this.table.tableName,
        IndexName: indexName,
        KeyConditionExpression: keyCondition,
        FilterExpression: filters.length ? filters.join(' AND ') : undefined,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
      },
      { limit: filter.limit, cursor: filter.cursor },
    );
    return { records: items.map(recordFromItem), lastKey };
  }

  /** How many open requests are past their deadline (reads only the open-request locks). */
  async countOverdue(now: Date): Promise<number> {
    let count = 0;
    const pages = paginateQuery(
      { client: this.table.doc },
      {
        TableName: this.table.tableName,
        IndexName: 'byKind',
        KeyConditionExpression: '#kind = :kind',
        FilterExpression: 'dueAt < :now',
        ExpressionAttributeNames: { '#kind': 'kind' },
        ExpressionAttributeValues: { ':kind': OPEN_KIND, ':now': now.toISOString() },
        Select: 'COUNT',
      },
    );
    for await (const page of pages) count += page.Count ?? 0;
    return count;
  }

  /**
   * Sets attributes of an existing request without a status change (the erasure's plan, runs,
   * processors' answers, the resolved subject), optionally with an event in the same transaction.
   */
  async update(
    requestId: string,
    set: Partial<ErasureRequestFields & Pick<RequestRecord, 'resolvedSubject' | 'accountHash' | 'service'>>,
    event?: Omit<RequestEvent, 'at'>,
  ): Promise<void> {
    const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':now': this.table.clock().toISOString() };
    const assignments = ['#updatedAt = :now'];
    for (const [name, value] of Object.entries(set)) {
      if (value === undefined) continue;
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      assignments.push(`#${name} = :${name}`);
    }
    const items: Record<string, unknown>[] = [
      {
        Update: {
          TableName: this.table.tableName,
          Key: requestKey(requestId),
          UpdateExpression: `SET ${assignments.join(', ')}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
      },
    ];
    if (event) {
      items.push({
        Put: {
          TableName: this.table.tableName,
          Item: eventItem(requestId, event, String(values[':now'])),
        },
      });
    }
    await this.table.doc.send(new TransactWriteCommand({ TransactItems: items as never }));
  }

  /**
   * A partially completed erasure keeps its open-request lock (a second erasure for the subject
   * finds it) but no longer counts towards the overdue alarm: what is left waits for a hold or a statute.
   */
  async clearOpenDeadline(record: Pick<RequestRecord, 'requestId' | 'type' | 'subjectHash'>): Promise<void> {
    try {
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
          Key: openKey(record.type, record.subjectHash),
          UpdateExpression: 'REMOVE dueAt',
          ConditionExpression: 'requestId = :id',
          ExpressionAttributeValues: { ':id': record.requestId },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
