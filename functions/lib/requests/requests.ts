/**
 * The requests table: one item per request and an append-only list of events under the same key.
 * The subject's identifiers are stored only in the request item (KMS-encrypted table, never returned
 * by the API); everything else names the subject by keyed hash.
 */
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { auditItem, type AuditEntry } from '../audit/audit-log';
import { isOpenStatus } from './deadlines';
import { queryPages } from '../aws/dynamo-paging';
import { NotFoundError, TransientError } from '../runtime/errors';
import type { SubjectIdentifiers } from '../connectors/contract';
import type { ErasureRequestFields } from '../erasure/certificate';

export type RequestType = 'export' | 'erasure';
export type RequestStatus =
  'received' | 'in_progress' | 'completed' | 'partially_completed' | 'failed' | 'cancelled';

export const TERMINAL_STATUSES: readonly RequestStatus[] = ['completed', 'failed', 'cancelled'];

/** Exactly one identifier names the subject at creation. */
export type SubjectInput =
  | { userId: string }
  | { email: string }
  | { phone: string }
  | { deviceId: string }
  | { externalAccount: { provider: string; providerUserId: string } };

export interface ExportArchive {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
  files: number;
  records: number;
}

export interface RequestFailure {
  code: string;
  store?: string;
}

/** Who asked: the subject, an authorised agent, or a parent or guardian of a minor. */
export interface Requester {
  kind: 'subject' | 'agent' | 'guardian';
  /** The support system's reference to the evidence it checked (power of attorney, guardianship). */
  evidenceRef?: string;
}

export interface DeadlineExtension {
  reason: string;
  by: string;
  at: string;
  previousDueAt: string;
}

/** Which dialect the request came in through: callbacks are shaped and signed accordingly. */
export type Dialect = 'dsr' | 'opendsr';

/** Issue 4: ErasureRequestFields are the erasure's plan, runs, processors' answers and certificate. */
export interface RequestRecord extends Partial<ErasureRequestFields> {
  requestId: string;
  type: RequestType;
  status: RequestStatus;
  createdAt: string;
  updatedAt: string;
  /** `EU`, an ISO 3166-1 alpha-2 code, or an ISO 3166-2 subdivision (`US-CA`). */
  jurisdiction?: string;
  /** Where the jurisdiction came from: the caller, the account's country, or the configured default. */
  jurisdictionSource?: 'request' | 'account' | 'default';
  dueAt?: string;
  extension?: DeadlineExtension;
  requester?: Requester;
  callbackUrls?: string[];
  /** Export only: the subject asked for the download link by email (functions/notify/). */
  notify?: boolean;
  /** The policy in force when the request was opened; an erasure's plan also records the one it ran under. */
  policyVersion?: string;
  dialect?: Dialect;
  /** OpenDSR's own id for the request (the controller's UUID). */
  externalId?: string;
  /** Client id of the system that created it. */
  createdBy?: string;
  /** Counts status changes: orders callbacks and guards concurrent transitions. */
  version?: number;
  /** Keyed hash of the identifier the request named (duplicate detection, filtering). */
  subjectHash: string;
  /** Keyed hash of the resolved account, once known. */
  accountHash?: string;
  subjectFound?: boolean;
  subject: SubjectInput;
  failure?: RequestFailure;
  export?: ExportArchive;
  /**
   * Issue 4: erasure only. The identifier set the first run resolved, kept because that run deletes the
   * account the later runs (hold released, retention ended) could resolve it from. Never returned by the
   * API; removed when the request reaches `completed`.
   */
  resolvedSubject?: ResolvedSubject;
}

/** Issue 4: see RequestRecord.resolvedSubject. */
export interface ResolvedSubject {
  found: boolean;
  subjectHash: string;
  identifiers: SubjectIdentifiers;
  resolvedAt: string;
}

export interface RequestEvent {
  at: string;
  type: string;
  /** Non-personal details only: statuses, codes, counts, store names. */
  detail?: Record<string, string | number | boolean>;
}
const requestKey = (requestId: string) => ({ pk: `REQ#${requestId}`, sk: 'REQUEST' });
/** One item per open request of a type for a subject: a second create finds it instead of starting another. */
const openKey = (type: RequestType, subjectHash: string) => ({
  pk: `OPEN#${type}#${subjectHash}`,
  sk: 'LOCK',
});
const idempotencyKey = (scope: string, key: string) => ({ pk: `IDEM#${scope}#${key}`, sk: 'IDEM' });
const externalKey = (dialect: Dialect, externalId: string) => ({
  pk: `EXT#${dialect}#${externalId}`,
  sk: 'EXT',
});

export const OPEN_KIND = 'open';
export const CALLBACK_PENDING_KIND = 'callback-pending';
/** Idempotency records are kept this long (the table's TTL attribute is `expiresAt`). */
const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

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

/** A status change waiting to be announced to one callback URL (the outbox; see functions/callbacks). */
export interface CallbackOutboxItem {
  requestId: string;
  version: number;
  urlIndex: number;
  url: string;
  dialect: Dialect;
  status: RequestStatus;
  previousStatus?: RequestStatus;
  occurredAt: string;
  attempts: number;
  nextAttemptAt: string;
}

export interface StoredResponse {
  statusCode: number;
  body: string;
}

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
  /** The same Idempotency-Key with the same body: the stored first answer. */
  | { outcome: 'replayed'; requestId: string; response: StoredResponse }
  /** The same Idempotency-Key with a different body. */
  | { outcome: 'idempotency-mismatch' }
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

function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string }).name === 'ConditionalCheckFailedException';
}

/** The cancellation reason codes of a failed transaction, by item index. */
function cancellationCodes(error: unknown): string[] | undefined {
  const err = error as { name?: string; CancellationReasons?: { Code?: string }[] };
  if (err.name !== 'TransactionCanceledException') return undefined;
  return (err.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RequestRepository {
  private sequence = 0;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Issue 4: the table this repository writes, for the holds and the erasure schedule that share it. */
  tableRef(): { doc: DynamoDBDocumentClient; tableName: string; clock: () => Date } {
    return { doc: this.doc, tableName: this.tableName, clock: this.clock };
  }

  newRequestId(): string {
    return `req_${randomUUID().replace(/-/g, '')}`;
  }

  /** Creates a bare request (no deadline, lock or callbacks): kept for tools and tests. */
  async create(
    input: Pick<RequestRecord, 'requestId' | 'type' | 'subjectHash' | 'subject'>,
  ): Promise<RequestRecord> {
    const now = this.clock().toISOString();
    const record: RequestRecord = { ...input, status: 'received', createdAt: now, updatedAt: now };
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...requestKey(input.requestId), kind: 'request', ...record },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    await this.appendEvent(input.requestId, {
      type: 'request.received',
      detail: { requestType: input.type },
    });
    return record;
  }

  /**
   * Opens a request in one transaction: the request, its open-request lock, its idempotency record, its
   * first event, its first callbacks and its audit record all exist, or none does. Twenty concurrent
   * identical calls therefore create exactly one request; the others see the winner's records.
   */
  async open(
    input: OpenRequestInput,
    idempotency?: {
      scope: string;
      key: string;
      fingerprint: string;
      render: (record: RequestRecord) => StoredResponse;
    },
  ): Promise<OpenOutcome> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const now = this.clock();
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
            TableName: this.tableName,
            Item: { ...requestKey(input.requestId), kind: 'request', ...record },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Put: {
            TableName: this.tableName,
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
        const response = idempotency.render(record);
        items.push({
          Put: {
            TableName: this.tableName,
            Item: {
              ...idempotencyKey(idempotency.scope, idempotency.key),
              kind: 'idempotency',
              requestId: input.requestId,
              fingerprint: idempotency.fingerprint,
              response,
              expiresAt: Math.floor(now.getTime() / 1000) + IDEMPOTENCY_TTL_SECONDS,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        });
      }
      if (input.externalId && input.dialect) {
        items.push({
          Put: {
            TableName: this.tableName,
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
            TableName: this.tableName,
            Item: this.eventItem(input.requestId, 'request.received', iso, {
              requestType: input.type,
              jurisdiction: input.jurisdiction,
              requester: input.requester.kind,
            }),
          },
        },
        ...this.outboxItems(record, undefined, iso).map((Item) => ({
          Put: { TableName: this.tableName, Item },
        })),
        {
          Put: {
            TableName: this.tableName,
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
        await this.doc.send(new TransactWriteCommand({ TransactItems: items as never }));
        return { outcome: 'created', record };
      } catch (error) {
        const codes = cancellationCodes(error);
        if (!codes) throw error;
        if (idempotency && codes[idemIndex] === 'ConditionalCheckFailed') {
          const stored = await this.getItem(idempotencyKey(idempotency.scope, idempotency.key));
          if (stored) {
            if (stored.fingerprint !== idempotency.fingerprint) return { outcome: 'idempotency-mismatch' };
            return {
              outcome: 'replayed',
              requestId: String(stored.requestId),
              response: stored.response as StoredResponse,
            };
          }
        } else if (codes[1] === 'ConditionalCheckFailed') {
          const lock = await this.getItem(openKey(input.type, input.subjectHash));
          const open = lock ? await this.get(String(lock.requestId)) : undefined;
          if (open) return { outcome: 'duplicate', record: open };
        } else if (codes.some((c) => c === 'ConditionalCheckFailed')) {
          // The external id is taken by a request that is not open any more: treat as a replay of it.
          if (input.externalId && input.dialect) {
            const ext = await this.getItem(externalKey(input.dialect, input.externalId));
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
    const Item = await this.getItem(requestKey(requestId));
    if (!Item) return undefined;
    const { pk: _pk, sk: _sk, kind: _kind, ...record } = Item;
    return record as unknown as RequestRecord;
  }

  async require(requestId: string): Promise<RequestRecord> {
    const record = await this.get(requestId);
    if (!record) throw new NotFoundError('No such request');
    return record;
  }

  /** The request a dialect's own id names (OpenDSR's subject_request_id). */
  async findByExternalId(dialect: Dialect, externalId: string): Promise<RequestRecord | undefined> {
    const ext = await this.getItem(externalKey(dialect, externalId));
    return ext ? this.get(String(ext.requestId)) : undefined;
  }

  private async getItem(key: Record<string, string>): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return Item;
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
      /** Issue 4: attributes removed in the same update (e.g. resolvedSubject at completion). */
      remove?: readonly string[];
    } = {},
  ): Promise<boolean> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const current = await this.get(requestId);
      if (!current || !ALLOWED_FROM[status].includes(current.status)) return false;
      const now = this.clock();
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
            TableName: this.tableName,
            Key: requestKey(requestId),
            UpdateExpression:
              `SET ${assignments.join(', ')}` + (removals.length ? ` REMOVE ${removals.join(', ')}` : ''),
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          },
        },
        ...this.outboxItems(next, current.status, iso).map((Item) => ({
          Put: { TableName: this.tableName, Item },
        })),
        {
          Put: {
            TableName: this.tableName,
            Item: auditItem(this.stateAudit(next, options), now),
          },
        },
      ];
      if (options.event) {
        items.push({
          Put: {
            TableName: this.tableName,
            Item: this.eventItem(requestId, options.event.type, iso, options.event.detail),
          },
        });
      }
      if (TERMINAL_STATUSES.includes(status)) {
        items.push({
          Delete: {
            TableName: this.tableName,
            Key: openKey(current.type, current.subjectHash),
            ConditionExpression: 'attribute_not_exists(pk) OR requestId = :id',
            ExpressionAttributeValues: { ':id': requestId },
          },
        });
      }
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: items as never }));
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

  private outboxItems(
    record: RequestRecord,
    previous: RequestStatus | undefined,
    iso: string,
  ): Record<string, unknown>[] {
    const version = record.version ?? 1;
    return (record.callbackUrls ?? []).map((url, urlIndex) => {
      const item: CallbackOutboxItem = {
        requestId: record.requestId,
        version,
        urlIndex,
        url,
        dialect: record.dialect ?? 'dsr',
        status: record.status,
        previousStatus: previous,
        occurredAt: iso,
        attempts: 0,
        nextAttemptAt: iso,
      };
      return {
        pk: `REQ#${record.requestId}`,
        sk: `CALLBACK#${String(urlIndex).padStart(2, '0')}#${String(version).padStart(6, '0')}`,
        kind: CALLBACK_PENDING_KIND,
        createdAt: `${iso}#${record.requestId}`,
        ...item,
      };
    });
  }

  /** Pushes the deadline back once, within what the law allows (the caller checks the limit). */
  async extend(
    record: RequestRecord,
    newDueAt: string,
    extension: DeadlineExtension,
    role?: string,
  ): Promise<boolean> {
    const now = this.clock();
    const iso = now.toISOString();
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
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
                TableName: this.tableName,
                Key: openKey(record.type, record.subjectHash),
                UpdateExpression: 'SET dueAt = :due',
                ConditionExpression: 'requestId = :id',
                ExpressionAttributeValues: { ':due': newDueAt, ':id': record.requestId },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: this.eventItem(record.requestId, 'request.deadline_extended', iso, {
                  previousDueAt: extension.previousDueAt,
                  dueAt: newDueAt,
                }),
              },
            },
            {
              Put: {
                TableName: this.tableName,
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
      ':kind': 'request',
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
    const records: RequestRecord[] = [];
    let startKey: Record<string, unknown> | undefined = filter.cursor;
    for (let round = 0; round < 10 && records.length < filter.limit; round++) {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: indexName,
          KeyConditionExpression: keyCondition,
          FilterExpression: filters.length ? filters.join(' AND ') : undefined,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ExclusiveStartKey: startKey,
          ScanIndexForward: false,
          Limit: filter.limit - records.length,
        }),
      );
      for (const item of page.Items ?? []) {
        const { pk: _pk, sk: _sk, kind: _kind, ...record } = item;
        records.push(record as RequestRecord);
      }
      startKey = page.LastEvaluatedKey;
      if (!startKey) break;
    }
    return { records, lastKey: startKey as Record<string, string> | undefined };
  }

  /** How many open requests are past their deadline (reads only the open-request locks). */
  async countOverdue(now: Date): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'byKind',
          KeyConditionExpression: '#kind = :kind',
          FilterExpression: 'dueAt < :now',
          ExpressionAttributeNames: { '#kind': 'kind' },
          ExpressionAttributeValues: { ':kind': OPEN_KIND, ':now': now.toISOString() },
          Select: 'COUNT',
          ExclusiveStartKey: startKey,
        }),
      );
      count += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return count;
  }

  private eventItem(
    requestId: string,
    type: string,
    at: string,
    detail?: RequestEvent['detail'],
  ): Record<string, unknown> {
    // A sequence suffix keeps two events in the same millisecond apart; the condition keeps the log append-only.
    const sk = `EVENT#${at}#${String(this.sequence++).padStart(6, '0')}#${randomUUID().slice(0, 8)}`;
    return { pk: `REQ#${requestId}`, sk, kind: 'event', at, type, detail };
  }

  /**
   * Issue 4: sets attributes of an existing request without a status change (the erasure's plan, runs,
   * processors' answers, the resolved subject), optionally with an event in the same transaction.
   */
  async update(
    requestId: string,
    set: Partial<ErasureRequestFields & Pick<RequestRecord, 'resolvedSubject' | 'accountHash'>>,
    event?: Omit<RequestEvent, 'at'>,
  ): Promise<void> {
    const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':now': this.clock().toISOString() };
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
          TableName: this.tableName,
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
          TableName: this.tableName,
          Item: this.eventItem(requestId, event.type, String(values[':now']), event.detail),
        },
      });
    }
    await this.doc.send(new TransactWriteCommand({ TransactItems: items as never }));
  }

  /**
   * Issue 4: a partially completed erasure keeps its open-request lock (a second erasure for the subject
   * finds it) but no longer counts towards the overdue alarm: what is left waits for a hold or a statute.
   */
  async clearOpenDeadline(record: Pick<RequestRecord, 'requestId' | 'type' | 'subjectHash'>): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
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

  async appendEvent(requestId: string, event: Omit<RequestEvent, 'at'>): Promise<void> {
    const at = this.clock().toISOString();
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: this.eventItem(requestId, event.type, at, event.detail),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** A request's items whose sort key starts with `prefix`, read consistently, page by page. */
  private itemsUnder(requestId: string, prefix: string): AsyncGenerator<Record<string, unknown>[]> {
    return queryPages(this.doc, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `REQ#${requestId}`, ':prefix': prefix },
      ConsistentRead: true,
    });
  }

  async listEvents(requestId: string): Promise<RequestEvent[]> {
    const events: RequestEvent[] = [];
    for await (const items of this.itemsUnder(requestId, 'EVENT#')) {
      for (const item of items) {
        events.push({
          at: String(item.at),
          type: String(item.type),
          detail: item.detail as RequestEvent['detail'],
        });
      }
    }
    return events;
  }

  /** The queued callbacks of a request, in delivery order (URL, then version). */
  async listOutbox(requestId: string): Promise<(CallbackOutboxItem & { kind: string; sk: string })[]> {
    const out: (CallbackOutboxItem & { kind: string; sk: string })[] = [];
    for await (const items of this.itemsUnder(requestId, 'CALLBACK#')) {
      // Stored by enqueue in this shape; the items are read back as they were written.
      out.push(...(items as unknown as (CallbackOutboxItem & { kind: string; sk: string })[]));
    }
    return out;
  }

  /** Records one delivery attempt's outcome on an outbox item (and the matching event). */
  async settleCallback(
    item: { requestId: string; sk: string },
    change:
      | { result: 'delivered'; attempts: number; event: Omit<RequestEvent, 'at'> }
      | { result: 'retry'; attempts: number; nextAttemptAt: string; event: Omit<RequestEvent, 'at'> }
      | { result: 'abandoned'; attempts: number; event: Omit<RequestEvent, 'at'> },
  ): Promise<void> {
    const iso = this.clock().toISOString();
    const kind =
      change.result === 'delivered'
        ? 'callback-delivered'
        : change.result === 'abandoned'
          ? 'callback-abandoned'
          : CALLBACK_PENDING_KIND;
    await this.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: this.tableName,
              Key: { pk: `REQ#${item.requestId}`, sk: item.sk },
              UpdateExpression: 'SET #kind = :kind, attempts = :attempts, nextAttemptAt = :next',
              ConditionExpression: '#kind = :pending',
              ExpressionAttributeNames: { '#kind': 'kind' },
              ExpressionAttributeValues: {
                ':kind': kind,
                ':attempts': change.attempts,
                ':next': change.result === 'retry' ? change.nextAttemptAt : iso,
                ':pending': CALLBACK_PENDING_KIND,
              },
            },
          },
          {
            Put: {
              TableName: this.tableName,
              Item: this.eventItem(item.requestId, change.event.type, iso, change.event.detail),
            },
          },
        ],
      }),
    );
  }

  /** Pending callbacks across requests, oldest first (the sweep's work list). */
  async pendingCallbackRequests(limit = 100): Promise<string[]> {
    const page = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'byKind',
        KeyConditionExpression: '#kind = :kind',
        ExpressionAttributeNames: { '#kind': 'kind' },
        ExpressionAttributeValues: { ':kind': CALLBACK_PENDING_KIND },
        Limit: limit,
      }),
    );
    return [...new Set((page.Items ?? []).map((i) => String(i.requestId)))];
  }

  /**
   * A short lease on a request's callbacks, so two deliverers never send the same one at once.
   * Returns a token to release it with, or undefined when another deliverer holds it.
   */
  async leaseCallbacks(requestId: string, ms: number): Promise<string | undefined> {
    const now = this.clock();
    const token = randomUUID();
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: `REQ#${requestId}`,
            sk: 'CALLBACK_LEASE',
            token,
            leaseUntil: new Date(now.getTime() + ms).toISOString(),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':now': now.toISOString() },
        }),
      );
      return token;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async releaseCallbacks(requestId: string, token: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `REQ#${requestId}`, sk: 'CALLBACK_LEASE' },
          UpdateExpression: 'SET leaseUntil = :past',
          ConditionExpression: '#token = :token',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':past': '1970-01-01T00:00:00.000Z', ':token': token },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}

export { isOpenStatus };
