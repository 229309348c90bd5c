/**
 * A request's lifecycle in the requests table: opening it (with its open-request lock, idempotency
 * record, first event, callbacks and audit record in one transaction), reading and listing it, moving
 * it from status to status, extending its deadline and recording what its workflow found.
 */
import { TransactWriteCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { queryPage } from '../aws/dynamo-paging';
import { randomUUID } from 'node:crypto';
import { auditItem, type AuditEntry } from '../audit/audit-log';
import { NotFoundError, TransientError } from '../runtime/errors';
import type { ErasureRequestFields } from '../erasure/certificate';
import type { ProcedureFields } from '../procedures/records';
import { outboxItems } from './callback-outbox';
import { outcomeNoticeItems } from '../notices/outcomes';
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
  type RequestFailure,
  type SubjectInput,
} from './records';
import {
  auditExpiry,
  cancellationCodes,
  itemsOf,
  readItem,
  REQUESTS_TTL_ATTRIBUTE,
  serviceFilter,
  type RequestTable,
  type ServiceSelection,
} from './request-table';

/** Which status may follow which: a late or retried step never moves a request backwards. */
const ALLOWED_FROM: Record<RequestStatus, RequestStatus[]> = {
  // Waiting requests start once what they wait for is recorded (functions/lib/procedures/).
  received: ['awaiting_verification', 'awaiting_payment'],
  awaiting_verification: [],
  awaiting_payment: ['awaiting_verification'],
  refused: ['received', 'awaiting_verification', 'awaiting_payment'],
  // A resumed erasure (hold released, retention ended) starts again from partially_completed.
  in_progress: ['received', 'partially_completed'],
  completed: ['in_progress'],
  partially_completed: ['in_progress'],
  failed: ['received', 'in_progress'],
  cancelled: ['received', 'awaiting_verification', 'awaiting_payment'],
};

export interface OpenRequestInput {
  requestId: string;
  type: RequestType;
  /** The policy in force when the request was opened (config/policy). */
  policyVersion: string;
  /** The service the request is for (config/services/): it scopes the open-request lock and external id. */
  service: string;
  subjectHash: string;
  subject: SubjectInput;
  jurisdiction: string;
  jurisdictionSource: NonNullable<RequestRecord['jurisdictionSource']>;
  /** Absent while the request waits in a jurisdiction that pauses the clock (deadlinePaused). */
  dueAt?: string;
  requester: Requester;
  callbackUrls?: string[];
  notify?: boolean;
  /** Restriction only: the kind and action asked for. */
  restriction?: RequestRecord['restriction'];
  /** Export only: the other controller's endpoint, and the transfer's record (its host). */
  transmitTo?: string;
  transfer?: RequestRecord['transfer'];
  dialect?: Dialect;
  externalId?: string;
  createdBy: string;
  /** Role of the caller, for the audit record. */
  role?: string;
  /** The status it opens in: `received` unless it waits for verification or payment. */
  status?: Extract<RequestStatus, 'received' | 'awaiting_verification' | 'awaiting_payment'>;
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
  /** Only these services' requests (undefined: every service). */
  services?: ServiceSelection;
  limit: number;
  cursor?: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What a finished request no longer needs and must not keep: the identifier it was opened with, the
 * callback URLs (they may carry tokens) and an erasure's resolved identifier set. Its keyed hashes stay.
 */
export const RAW_ON_TERMINAL = ['subject', 'callbackUrls', 'resolvedSubject', 'noticeContact'] as const;

export class RequestRepository {
  constructor(private readonly table: RequestTable) {}

  /** The table's name, for side records a caller commits with a change (open's and transition's sideItems). */
  get tableName(): string {
    return this.table.tableName;
  }

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
      const { role, status, ...fields } = input;
      const record: RequestRecord = {
        ...fields,
        ...(fields.callbackUrls?.length ? { callbackCount: fields.callbackUrls.length } : {}),
        status: status ?? 'received',
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
              ...openKey(input.type, input.subjectHash, input.service),
              kind: OPEN_KIND,
              createdAt: iso,
              requestId: input.requestId,
              ...(input.dueAt ? { dueAt: input.dueAt } : {}),
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
              ...externalKey(input.dialect, input.externalId, input.service),
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
              this.table,
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
        ...outboxItems(this.table, record, undefined, iso).map((Item) => ({
          Put: { TableName: this.table.tableName, Item },
        })),
        {
          Put: {
            TableName: this.table.tableName,
            Item: auditItem(
              this.table,
              {
                actor: input.createdBy,
                role,
                action: 'request.status.received',
                requestId: input.requestId,
                subjectHash: input.subjectHash,
                service: input.service,
                detail: { requestType: input.type },
              },
              now,
            ),
          },
        },
        // What the person is told of a request that opens waiting, committed with it.
        ...outcomeNoticeItems(this.table, record, undefined, iso).map((Item) => ({
          Put: { TableName: this.table.tableName, Item },
        })),
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
          const lock = await readItem(this.table, openKey(input.type, input.subjectHash, input.service));
          const open = lock ? await this.get(String(lock.requestId)) : undefined;
          if (open) return { outcome: 'duplicate', record: open };
        } else if (codes.some((c) => c === 'ConditionalCheckFailed')) {
          // The external id is taken by a request that is not open any more: treat as a replay of it.
          if (input.externalId && input.dialect) {
            const ext = await readItem(
              this.table,
              externalKey(input.dialect, input.externalId, input.service),
            );
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

  /**
   * The request a dialect's own id names (OpenDSR's subject_request_id) at one of these services; ids
   * recorded before services were (no service in the key) count as `selection.defaultService`'s.
   */
  async findByExternalId(
    dialect: Dialect,
    externalId: string,
    selection: ServiceSelection,
  ): Promise<RequestRecord | undefined> {
    const services: (string | undefined)[] = [...selection.services];
    if (selection.services.includes(selection.defaultService)) services.push(undefined);
    for (const service of services) {
      const ext = await readItem(this.table, externalKey(dialect, externalId, service));
      if (ext) return this.get(String(ext.requestId));
    }
    return undefined;
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
      Pick<RequestRecord, 'failure' | 'export' | 'subjectFound' | 'accountHash' | 'dueAt' | 'restriction'> &
        ErasureRequestFields &
        ProcedureFields
    > = {},
    options: {
      actor?: string;
      role?: string;
      event?: Omit<RequestEvent, 'at'>;
      /** Attributes removed in the same update (e.g. resolvedSubject at completion). */
      remove?: readonly string[];
      /**
       * Side records committed in the same transaction (the erasure schedule's item): a retried step
       * then finds the change and its records, or neither.
       */
      sideItems?: readonly Record<string, unknown>[];
      /**
       * Stop counting the open-request lock towards the overdue alarm (a partially completed erasure),
       * in the same transaction.
       */
      clearOpenDeadline?: boolean;
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
      const terminal = TERMINAL_STATUSES.includes(status);
      if (terminal) {
        // Kept for the audit period, then removed by TTL; its raw identifiers go now.
        names['#expiresAt'] = REQUESTS_TTL_ATTRIBUTE;
        values[':expiresAt'] = auditExpiry(this.table, now);
        assignments.push('#expiresAt = :expiresAt');
      }
      const removed = new Set([...(options.remove ?? []), ...(terminal ? RAW_ON_TERMINAL : [])]);
      const removals = [...removed].map((name) => {
        names[`#rm_${name}`] = name;
        return `#rm_${name}`;
      });
      // Callbacks of this change still go out: the outbox items carry their URLs.
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
        ...outboxItems(this.table, next, current.status, iso).map((Item) => ({
          Put: { TableName: this.table.tableName, Item },
        })),
        // The person's notice of this outcome (if it is one they are told of), like the callbacks.
        ...outcomeNoticeItems(this.table, next, current, iso).map((Item) => ({
          Put: { TableName: this.table.tableName, Item },
        })),
        {
          Put: {
            TableName: this.table.tableName,
            Item: auditItem(this.table, this.stateAudit(next, options), now),
          },
        },
      ];
      if (options.event) {
        items.push({
          Put: {
            TableName: this.table.tableName,
            Item: eventItem(this.table, requestId, options.event, iso),
          },
        });
      }
      items.push(...(options.sideItems ?? []));
      if (options.clearOpenDeadline && !terminal) {
        // Only this request's own lock (one from before locks existed may be absent).
        const lockKey = openKey(current.type, current.subjectHash, current.service);
        const lock = await readItem(this.table, lockKey);
        if (lock?.requestId === requestId) {
          items.push({
            Update: {
              TableName: this.table.tableName,
              Key: lockKey,
              UpdateExpression: 'REMOVE dueAt',
              ConditionExpression: 'requestId = :id',
              ExpressionAttributeValues: { ':id': requestId },
            },
          });
        }
      }
      if (terminal && current.externalId && current.dialect) {
        // The external id's pointer goes with the request (an audit period on); the one it has, if any.
        for (const service of current.service ? [current.service, undefined] : [undefined]) {
          const key = externalKey(current.dialect, current.externalId, service);
          if ((await readItem(this.table, key))?.requestId !== requestId) continue;
          items.push({
            Update: {
              TableName: this.table.tableName,
              Key: key,
              UpdateExpression: 'SET #expiresAt = :expiresAt',
              ConditionExpression: 'requestId = :id',
              ExpressionAttributeNames: { '#expiresAt': REQUESTS_TTL_ATTRIBUTE },
              ExpressionAttributeValues: { ':id': requestId, ':expiresAt': auditExpiry(this.table, now) },
            },
          });
        }
      }
      if (terminal) {
        // A request opened before services were recorded may have had its service set since: its lock
        // is the one without a service, so both are released (each only if it is this request's).
        const services = current.service ? [current.service, undefined] : [undefined];
        for (const service of services) {
          items.push({
            Delete: {
              TableName: this.table.tableName,
              Key: openKey(current.type, current.subjectHash, service),
              ConditionExpression: 'attribute_not_exists(pk) OR requestId = :id',
              ExpressionAttributeValues: { ':id': requestId },
            },
          });
        }
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
      service: record.service,
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
                  'attribute_exists(pk) AND attribute_not_exists(extension) AND #status IN (:a, :b, :c, :d)',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: {
                  ':due': newDueAt,
                  ':ext': extension,
                  ':now': iso,
                  ':a': 'received',
                  ':b': 'in_progress',
                  ':c': 'awaiting_verification',
                  ':d': 'awaiting_payment',
                },
              },
            },
            {
              Update: {
                TableName: this.table.tableName,
                Key: openKey(record.type, record.subjectHash, record.service),
                UpdateExpression: 'SET dueAt = :due',
                ConditionExpression: 'requestId = :id',
                ExpressionAttributeValues: { ':due': newDueAt, ':id': record.requestId },
              },
            },
            {
              Put: {
                TableName: this.table.tableName,
                Item: eventItem(
                  this.table,
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
                  this.table,
                  {
                    actor: extension.by,
                    role,
                    action: 'request.deadline_extended',
                    requestId: record.requestId,
                    subjectHash: record.subjectHash,
                    service: record.service,
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
      values[':open3'] = 'awaiting_verification';
      values[':open4'] = 'awaiting_payment';
      const overdue = '(#dueAt < :nowIso AND #status IN (:open1, :open2, :open3, :open4))';
      filters.push(filter.overdue ? overdue : `NOT ${overdue}`);
    }
    if (filter.services) filters.push(serviceFilter(filter.services, names, values));
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
    // The index holds only the keys and the filters: the page's requests are read from the table.
    const records = await itemsOf(this.table, items, REQUEST_KIND);
    return { records: records.map(recordFromItem), lastKey };
  }

  /**
   * Records the request failed with `failure`, and its `request.failed` event, in one transaction: the
   * one failure path, whether the workflow's RecordFailure or the watchdog gets there.
   */
  fail(requestId: string, failure: RequestFailure, actor?: string): Promise<boolean> {
    return this.transition(
      requestId,
      'failed',
      { failure },
      { actor, event: { type: 'request.failed', detail: { ...failure } } },
    );
  }

  /** Every request not finished yet (received, in progress, partially completed), from its lock. */
  async openRequestIds(): Promise<string[]> {
    const ids: string[] = [];
    const pages = paginateQuery(
      { client: this.table.doc },
      {
        TableName: this.table.tableName,
        IndexName: 'byKind',
        KeyConditionExpression: '#kind = :kind',
        ExpressionAttributeNames: { '#kind': 'kind' },
        ExpressionAttributeValues: { ':kind': OPEN_KIND },
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) ids.push(String(item.requestId));
    return ids;
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
   * processors' answers, the resolved subject), optionally with events in the same transaction.
   */
  async update(
    requestId: string,
    set: Partial<
      ErasureRequestFields &
        Pick<RequestRecord, 'resolvedSubject' | 'accountHash' | 'service' | 'restriction' | 'transfer'> &
        Pick<ProcedureFields, 'exclusions'>
    >,
    events?: Omit<RequestEvent, 'at'> | readonly Omit<RequestEvent, 'at'>[],
    /** Attributes removed in the same update (a transfer's endpoint once it was used). */
    remove: readonly string[] = [],
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
          UpdateExpression:
            `SET ${assignments.join(', ')}` +
            (remove.length ? ` REMOVE ${remove.map((name) => `#${name}`).join(', ')}` : ''),
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: {
            ...names,
            ...Object.fromEntries(remove.map((name) => [`#${name}`, name])),
          },
          ExpressionAttributeValues: values,
        },
      },
    ];
    for (const event of events === undefined ? [] : Array.isArray(events) ? events : [events]) {
      items.push({
        Put: {
          TableName: this.table.tableName,
          Item: eventItem(this.table, requestId, event as Omit<RequestEvent, 'at'>, String(values[':now'])),
        },
      });
    }
    await this.table.doc.send(new TransactWriteCommand({ TransactItems: items as never }));
  }
}
