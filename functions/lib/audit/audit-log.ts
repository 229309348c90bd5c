/**
 * The append-only audit trail: one item per API action and per request state change, in the requests
 * table (`pk = AUDIT#<day>`, kind `audit`, listed in time order through the byKind index). Items are
 * written with `attribute_not_exists` and never updated; the API has no route that changes them.
 * Who: a client id and its role (systems, not people). The subject appears only as a keyed hash.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { queryPage } from '../aws/dynamo-paging';
import { randomUUID } from 'node:crypto';
import {
  REQUESTS_TTL_ATTRIBUTE,
  auditExpiry,
  isConditionFailure,
  itemsOf,
  serviceFilter,
  type ExpiryClock,
  type RequestTable,
  type ServiceSelection,
} from '../requests/request-table';

export interface AuditEntry {
  /** Client id of the caller, or `workflow` / `system` for state changes made by the orchestrator. */
  actor: string;
  role?: string;
  /** What was done, e.g. `requests.create`, `request.status.completed`. */
  action: string;
  /** HTTP status for API actions; absent for state changes. */
  outcome?: number;
  requestId?: string;
  subjectHash?: string;
  /**
   * The service (config/services/) the action concerned: its auditors see the entry. SEVERAL_SERVICES
   * when it concerned no one service (a listing by a caller bound to several): only auditors bound to
   * every service see those. Entries written before services were recorded have none: they count as
   * the default service's.
   */
  service?: string;
  /** Non-personal details: codes, statuses. */
  detail?: Record<string, string | number | boolean>;
}

export interface AuditRecord extends AuditEntry {
  auditId: string;
  at: string;
}

const AUDIT_KIND = 'audit';

/** The `service` of an audit entry that concerned no one service (never a service id: those are slugs). */
export const SEVERAL_SERVICES = '*';

/** The item for one audit entry: callers put it alone or inside a transaction with the change it records. */
export function auditItem(table: ExpiryClock, entry: AuditEntry, at: Date): Record<string, unknown> {
  const iso = at.toISOString();
  const auditId = `aud_${randomUUID().replace(/-/g, '')}`;
  return {
    pk: `AUDIT#${iso.slice(0, 10)}`,
    sk: `${iso}#${auditId}`,
    kind: AUDIT_KIND,
    createdAt: `${iso}#${auditId}`,
    auditId,
    at: iso,
    ...stripUndefined(entry),
    [REQUESTS_TTL_ATTRIBUTE]: auditExpiry(table, at),
  };
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export class AuditLog {
  constructor(private readonly table: RequestTable) {}

  async record(entry: AuditEntry): Promise<void> {
    try {
      await this.table.doc.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: auditItem(this.table, entry, this.table.clock()),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      // The key is this call's own (a random id): an item under it is this very entry, written by an
      // attempt whose answer was lost and retried by the SDK.
      if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * Oldest first, `limit` per page; `cursor` continues a previous page; `requestId` narrows to one
   * request, `services` to entries of those services (see RequestRepository.list on how filtered pages
   * keep their size and never skip an entry).
   */
  async list(options: {
    limit: number;
    cursor?: Record<string, string>;
    from?: string;
    to?: string;
    requestId?: string;
    services?: ServiceSelection;
  }): Promise<{ records: AuditRecord[]; lastKey?: Record<string, string> }> {
    const names: Record<string, string> = { '#kind': 'kind', '#createdAt': 'createdAt' };
    const values: Record<string, unknown> = {
      ':kind': AUDIT_KIND,
      ':from': options.from ?? '0000',
      ':to': `${options.to ?? '9999'}\uffff`,
    };
    const filters: string[] = [];
    if (options.requestId) {
      names['#requestId'] = 'requestId';
      values[':requestId'] = options.requestId;
      filters.push('#requestId = :requestId');
    }
    if (options.services) filters.push(serviceFilter(options.services, names, values));
    const filter = filters.length ? filters.join(' AND ') : undefined;
    const { items, lastKey } = await queryPage(
      this.table.doc,
      {
        TableName: this.table.tableName,
        IndexName: 'byKind',
        KeyConditionExpression: '#kind = :kind AND #createdAt BETWEEN :from AND :to',
        FilterExpression: filter,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
      { limit: options.limit, cursor: options.cursor },
    );
    // The index holds keys and filters only: the entries are read from the table. Items of kind audit,
    // as record() wrote them, less the table's keys and its TTL attribute.
    const records = (await itemsOf(this.table, items, AUDIT_KIND)).map(
      ({ pk: _pk, sk: _sk, kind: _kind, createdAt: _c, ...rest }) => {
        delete rest[REQUESTS_TTL_ATTRIBUTE];
        return rest as unknown as AuditRecord;
      },
    );
    return { records, lastKey };
  }
}
