/**
 * Legal holds, in the requests table (`pk = HOLD#<holdId>`, kind `hold`). A hold names its
 * subject by the keyed hash of the identifier legal gave (`subjectHash`, so the bySubject index finds
 * it); an erasure matches holds against the keyed hash of EVERY identifier of its resolved subject, so a
 * hold placed by email holds an erasure requested by user id. Placing and releasing are each one
 * transaction with their audit record; holds are never deleted (a released hold keeps who released it
 * and when).
 */
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import type { StoreName } from '../../../config/data-map';
import type { HoldScope } from '../erasure/types';
import { auditItem } from '../audit/audit-log';
import { queryPages } from '../aws/dynamo-paging';
import type { SubjectIdentifiers } from '../connectors/contract';
import { externalAccountKey, identifierKey, type SubjectHasher } from '../crypto/subject-hash';
import {
  REQUESTS_TTL_ATTRIBUTE,
  auditExpiry,
  itemsOf,
  readItem,
  type RequestTable,
} from '../requests/request-table';
import { recordFromItem, requestKey } from '../requests/records';
import { recordedService } from '../services/profiles';

const HOLD_KIND = 'hold';
/** Index items pointing from an identifier's keyed hash to an erasure request (see `subjectRefItems`). */
const SUBJECT_REF_KIND = 'erasure-subject-ref';
export const HOLD_ID = /^hold_[a-f0-9]{32}$/;

export interface Hold {
  holdId: string;
  /**
   * The service whose data the hold keeps (config/services/): only that service's erasures honour it,
   * and only callers bound to it see it. Holds placed before services were recorded have none: they
   * belong to the deployment's default service.
   */
  service?: string;
  /** Keyed hash of the identifier the hold was placed on. */
  subjectHash: string;
  stores?: StoreName[];
  categories?: string[];
  caseReference: string;
  reason: string;
  status: 'active' | 'released';
  placedBy: string;
  placedByRole?: string;
  placedAt: string;
  releasedBy?: string;
  releasedAt?: string;
  releaseReason?: string;
}

const holdKey = (holdId: string) => ({ pk: `HOLD#${holdId}`, sk: 'HOLD' });

/** The keyed-hash inputs of every identifier in a resolved set (same canonical strings the API hashes). */
export function identifierKeysOf(identifiers: SubjectIdentifiers): string[] {
  return [
    ...identifiers.userIds.map((v) => identifierKey('userId', v)),
    ...identifiers.emails.map((v) => identifierKey('email', v)),
    ...identifiers.phones.map((v) => identifierKey('phone', v)),
    ...identifiers.deviceIds.map((v) => identifierKey('deviceId', v)),
    ...identifiers.externalAccounts.map(externalAccountKey),
  ];
}

export async function identifierHashesOf(
  hasher: SubjectHasher,
  identifiers: SubjectIdentifiers,
): Promise<string[]> {
  const hashes = await Promise.all(identifierKeysOf(identifiers).map((k) => hasher.hash(k)));
  return [...new Set(hashes)];
}

/** Who an erasure's holds are looked up for: its resolved subject, in its service. */
export interface HeldSubject {
  /** The keyed hash of the identifier the request named. */
  requestHash: string;
  /** The resolved identifier set (empty for a subject no account matched). */
  identifiers: SubjectIdentifiers;
  service: string;
}

/**
 * The active holds an erasure honours: those of the subject's service on the keyed hash of ANY
 * identifier of the subject, or of the one the request named (another service's hold on the same
 * e-mail keeps another person's data). Planning, the check before each store's erase, and the
 * log-erasure job all look holds up here. Also returns the hashes (other records are found by them).
 */
export async function activeHoldsOf(
  deps: { holds: Pick<HoldRepository, 'activeFor'>; hasher: SubjectHasher },
  subject: HeldSubject,
): Promise<{ hashes: string[]; holds: Hold[] }> {
  const hashes = [subject.requestHash, ...(await identifierHashesOf(deps.hasher, subject.identifiers))];
  return { hashes, holds: await deps.holds.activeFor(hashes, subject.service) };
}

export function toHoldScope(hold: Hold): HoldScope {
  return {
    holdId: hold.holdId,
    caseReference: hold.caseReference,
    ...(hold.stores?.length ? { stores: hold.stores } : {}),
    ...(hold.categories?.length ? { categories: hold.categories } : {}),
  };
}

function fromItem(item: Record<string, unknown>): Hold {
  const { pk: _pk, sk: _sk, kind: _kind, createdAt: _c, ...hold } = item;
  return hold as unknown as Hold;
}

export class HoldRepository {
  constructor(private readonly table: RequestTable) {}

  newHoldId(): string {
    return `hold_${randomUUID().replace(/-/g, '')}`;
  }

  async get(holdId: string): Promise<Hold | undefined> {
    const { Item } = await this.table.doc.send(
      new GetCommand({ TableName: this.table.tableName, Key: holdKey(holdId), ConsistentRead: true }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  /** Places a hold; the hold and its audit record are written together. */
  async place(
    input: Omit<Hold, 'holdId' | 'status' | 'placedAt'>,
    affectedRequests: readonly { requestId: string }[] = [],
  ): Promise<Hold> {
    const now = this.table.clock();
    const hold: Hold = { ...input, holdId: this.newHoldId(), status: 'active', placedAt: now.toISOString() };
    await this.table.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.table.tableName,
              Item: { ...holdKey(hold.holdId), kind: HOLD_KIND, createdAt: hold.placedAt, ...hold },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: this.table.tableName,
              Item: auditItem(
                this.table,
                {
                  actor: input.placedBy,
                  role: input.placedByRole,
                  action: 'hold.placed',
                  subjectHash: hold.subjectHash,
                  service: hold.service,
                  detail: this.auditDetail(hold, affectedRequests.length),
                },
                now,
              ),
            },
          },
        ],
      }),
    );
    return hold;
  }

  /** Releases an active hold. Returns the hold as it is after the call, or undefined when there is none. */
  async release(
    holdId: string,
    by: { actor: string; role?: string; reason?: string },
    affectedRequests: readonly { requestId: string }[] = [],
  ): Promise<{ hold: Hold | undefined; changed: boolean }> {
    const current = await this.get(holdId);
    if (!current) return { hold: undefined, changed: false };
    if (current.status === 'released') return { hold: current, changed: false };
    const now = this.table.clock();
    const iso = now.toISOString();
    const released: Hold = {
      ...current,
      status: 'released',
      releasedBy: by.actor,
      releasedAt: iso,
      ...(by.reason ? { releaseReason: by.reason } : {}),
    };
    try {
      await this.table.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table.tableName,
                Key: holdKey(holdId),
                UpdateExpression:
                  'SET #status = :released, releasedBy = :by, releasedAt = :at' +
                  (by.reason ? ', releaseReason = :reason' : ''),
                ConditionExpression: '#status = :active',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: {
                  ':released': 'released',
                  ':active': 'active',
                  ':by': by.actor,
                  ':at': iso,
                  ...(by.reason ? { ':reason': by.reason } : {}),
                },
              },
            },
            {
              Put: {
                TableName: this.table.tableName,
                Item: auditItem(
                  this.table,
                  {
                    actor: by.actor,
                    role: by.role,
                    action: 'hold.released',
                    subjectHash: current.subjectHash,
                    service: current.service,
                    detail: this.auditDetail(released, affectedRequests.length),
                  },
                  now,
                ),
              },
            },
          ],
        }),
      );
      return { hold: released, changed: true };
    } catch (error) {
      if ((error as { name?: string }).name !== 'TransactionCanceledException') throw error;
      // Released concurrently by someone else: report the hold as it now is.
      return { hold: await this.get(holdId), changed: false };
    }
  }

  private auditDetail(hold: Hold, affected: number): Record<string, string | number | boolean> {
    return {
      holdId: hold.holdId,
      caseReference: hold.caseReference,
      stores: (hold.stores ?? []).join(',') || 'all',
      categories: (hold.categories ?? []).join(',') || 'all',
      affectedRequests: affected,
    };
  }

  /** Holds on one keyed hash, newest first (active and released unless filtered). */
  async listBySubjectHash(subjectHash: string, status?: Hold['status']): Promise<Hold[]> {
    const holds: Hold[] = [];
    const pages = queryPages(this.table.doc, {
      TableName: this.table.tableName,
      IndexName: 'bySubject',
      KeyConditionExpression: 'subjectHash = :h',
      FilterExpression: status ? '#kind = :kind AND #status = :status' : '#kind = :kind',
      ExpressionAttributeNames: { '#kind': 'kind', ...(status ? { '#status': 'status' } : {}) },
      ExpressionAttributeValues: {
        ':h': subjectHash,
        ':kind': HOLD_KIND,
        ...(status ? { ':status': status } : {}),
      },
      ScanIndexForward: false,
    });
    // The index holds keys and filters only: each hold is read from the table (and its status checked
    // again there, the index being a moment behind).
    for await (const items of pages) {
      for (const item of await itemsOf(this.table, items, HOLD_KIND)) {
        if (!status || item.status === status) holds.push(fromItem(item));
      }
    }
    return holds;
  }

  /**
   * Active holds of `service` on any of these keyed hashes (every identifier of a subject), by id. Another
   * service's hold on the same e-mail is on another person's data.
   */
  async activeFor(subjectHashes: readonly string[], service: string): Promise<Hold[]> {
    const byId = new Map<string, Hold>();
    for (const hash of new Set(subjectHashes)) {
      for (const hold of await this.listBySubjectHash(hash, 'active')) {
        if (recordedService(hold) === service) byId.set(hold.holdId, hold);
      }
    }
    return [...byId.values()].sort((a, b) => (a.holdId < b.holdId ? -1 : 1));
  }

  /**
   * Erasure requests of `service` whose subject has this keyed hash among its identifiers: the request
   * itself (named by it) or one whose resolved identifier set contains it (`subject-ref` items).
   */
  async erasureRequestsFor(subjectHash: string, service: string): Promise<string[]> {
    const ids = new Set<string>();
    const pages = queryPages(this.table.doc, {
      TableName: this.table.tableName,
      IndexName: 'bySubject',
      KeyConditionExpression: 'subjectHash = :h',
      FilterExpression: '(#kind = :req AND #type = :erasure) OR #kind = :ref',
      ExpressionAttributeNames: { '#kind': 'kind', '#type': 'type' },
      ExpressionAttributeValues: {
        ':h': subjectHash,
        ':req': 'request',
        ':erasure': 'erasure',
        ':ref': SUBJECT_REF_KIND,
      },
    });
    for await (const items of pages) for (const item of items) ids.add(String(item.requestId));
    // A subject ref does not say its request's service: the request does (a handful per subject).
    const ofService: string[] = [];
    for (const requestId of ids) {
      const item = await readItem(this.table, requestKey(requestId));
      if (item && recordedService(recordFromItem(item)) === service) ofService.push(requestId);
    }
    return ofService.sort();
  }

  /** Writes the keyed hash -> request pointers for a resolved erasure subject (idempotent). */
  async putSubjectRefs(requestId: string, hashes: readonly string[]): Promise<void> {
    const at = this.table.clock().toISOString();
    for (const [i, hash] of [...new Set(hashes)].sort().entries()) {
      await this.table.doc.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: {
            pk: `REQ#${requestId}`,
            sk: `SUBJECTREF#${String(i).padStart(3, '0')}`,
            kind: SUBJECT_REF_KIND,
            subjectHash: hash,
            requestId,
            createdAt: at,
            [REQUESTS_TTL_ATTRIBUTE]: auditExpiry(this.table, at),
          },
        }),
      );
    }
  }
}
