/**
 * The identifier index: which accounts hold a device id or a linked external account. The platform's
 * accounts table has no index on either (its shape is the platform's), so subject resolution looks them
 * up here instead of scanning it. The orchestrator keeps this table itself (`dsr-identifier-index`),
 * current from the accounts table's stream (functions/index-identifiers), and names everything in it by
 * keyed hash:
 *
 * - `identifierHash` (partition): keyed hash of the account's service and the identifier's canonical key
 *   (`entryKeyOf`): the same device or linked account at two services is two entries, and a lookup for
 *   one service reads only that service's partition (no filter, so no page can come back short);
 * - `accountHash` (sort): keyed hash of the account's user id, the same subject hash our other records use;
 * - `userId`: the account's key, present only while the account holds the identifier (a user id is the
 *   platform's account key, not contact data; keeping it saves resolution a second lookup);
 * - `sequence`: the stream position of the last change applied to the entry, zero-padded so that
 *   DynamoDB's string order is the numeric order; a change older than it is refused, which makes
 *   redelivered and out-of-order records harmless;
 * - `expiresAt`: on an unlinked entry (a tombstone, no `userId`) only: its TTL. It outlives the stream's
 *   24-hour retention, so no record old enough to have been overtaken by the unlink can still arrive.
 *
 * A tombstone holds nothing but keyed hashes: once an erasure deletes the account, the index keeps no
 * identifier of the person.
 */
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TTL_ATTRIBUTE } from '../../../config/data-map';
import { queryPages } from '../aws/dynamo-paging';
import type { SubjectIdentifiers } from '../connectors/contract';
import { identifierKey, type SubjectHasher } from '../crypto/subject-hash';
import { ContractError } from '../runtime/errors';

export type IndexedIdentifier =
  | { kind: 'deviceId'; deviceId: string }
  | { kind: 'externalAccount'; provider: string; providerUserId: string };

/**
 * The canonical string hashed for an identifier: JSON of its kind and parts, as given. Unlike a
 * `provider:id` join, `["externalAccount","a:b","c"]` and `["externalAccount","a","b:c"]` differ; and
 * no key here can equal a `kind:value` key of `identifierKey`, so index hashes never match the subject
 * hashes of requests and holds.
 */
export function indexKeyOf(identifier: IndexedIdentifier): string {
  return identifier.kind === 'deviceId'
    ? JSON.stringify([identifier.kind, identifier.deviceId])
    : JSON.stringify([identifier.kind, identifier.provider, identifier.providerUserId]);
}

/** What an entry's partition hashes: the service, then the identifier's canonical key. */
export function entryKeyOf(service: string, identifier: IndexedIdentifier): string {
  return JSON.stringify([service, indexKeyOf(identifier)]);
}

/** The indexed identifiers of a resolved set (device ids, linked accounts), each once. */
export function indexedIdentifiersOf(identifiers: SubjectIdentifiers): IndexedIdentifier[] {
  const all: IndexedIdentifier[] = [
    ...identifiers.deviceIds.map((deviceId): IndexedIdentifier => ({ kind: 'deviceId', deviceId })),
    ...identifiers.externalAccounts.map((x): IndexedIdentifier => ({ kind: 'externalAccount', ...x })),
  ];
  const byKey = new Map(all.map((identifier) => [indexKeyOf(identifier), identifier]));
  return [...byKey.values()];
}

/** Stream sequence numbers are decimal strings of up to 40 digits. */
const SEQUENCE_DIGITS = 40;

/** The position of a backfilled link: before every stream record, so any record overrides it. */
export const BACKFILL_SEQUENCE = '0'.repeat(SEQUENCE_DIGITS);

export function sequenceKey(sequenceNumber: string): string {
  if (!/^\d+$/.test(sequenceNumber) || sequenceNumber.length > SEQUENCE_DIGITS)
    throw new ContractError('A stream sequence number must be a decimal string of at most 40 digits');
  return sequenceNumber.padStart(SEQUENCE_DIGITS, '0');
}

/** The TTL attribute of unlinked entries (the table's TimeToLiveSpecification names it). */
export const INDEX_TTL_ATTRIBUTE = TTL_ATTRIBUTE;

/** Longer than the stream's 24-hour retention, with room for the event source's last retries. */
export const TOMBSTONE_TTL_SECONDS = 3 * 24 * 3600;

export interface IdentifierChange {
  userId: string;
  /** The service of the account (../shared/stores.md): its `service`, else its table's owner or the default. */
  service: string;
  identifier: IndexedIdentifier;
  /** Whether the account holds the identifier after the change. */
  linked: boolean;
  /** The stream record's sequence number. */
  sequenceNumber: string;
}

function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string }).name === 'ConditionalCheckFailedException';
}

export class IdentifierIndex {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly hasher: SubjectHasher,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The user ids of the service's accounts the index links to `identifier` (a strongly consistent read). */
  async userIdsOf(service: string, identifier: IndexedIdentifier): Promise<string[]> {
    const identifierHash = await this.hasher.hash(entryKeyOf(service, identifier));
    const userIds: string[] = [];
    const pages = queryPages(this.doc, {
      TableName: this.tableName,
      KeyConditionExpression: '#identifierHash = :identifierHash',
      ProjectionExpression: '#userId',
      ExpressionAttributeNames: { '#identifierHash': 'identifierHash', '#userId': 'userId' },
      ExpressionAttributeValues: { ':identifierHash': identifierHash },
      ConsistentRead: true,
    });
    for await (const page of pages) {
      for (const item of page) if (typeof item.userId === 'string') userIds.push(item.userId);
    }
    return userIds;
  }

  /**
   * Links or unlinks, unless the entry has already seen this record or a later one. Returns whether the
   * change was applied (false: a redelivery, or overtaken).
   */
  async apply(change: IdentifierChange): Promise<boolean> {
    const sequence = sequenceKey(change.sequenceNumber);
    return this.write(change.service, change.userId, change.identifier, {
      UpdateExpression: change.linked
        ? 'SET #userId = :userId, #sequence = :sequence REMOVE #expiresAt'
        : 'SET #sequence = :sequence, #expiresAt = :expiresAt REMOVE #userId',
      ConditionExpression: 'attribute_not_exists(#sequence) OR #sequence < :sequence',
      ExpressionAttributeNames: {
        '#userId': 'userId',
        '#sequence': 'sequence',
        '#expiresAt': INDEX_TTL_ATTRIBUTE,
      },
      ExpressionAttributeValues: change.linked
        ? { ':userId': change.userId, ':sequence': sequence }
        : {
            ':sequence': sequence,
            ':expiresAt': Math.floor(this.clock().getTime() / 1000) + TOMBSTONE_TTL_SECONDS,
          },
    });
  }

  /**
   * Links an identifier the backfill found, only where the stream has never written the entry: the
   * backfill reads the account at some moment the stream knows better than it does.
   */
  async linkIfNew(service: string, userId: string, identifier: IndexedIdentifier): Promise<boolean> {
    return this.write(service, userId, identifier, {
      UpdateExpression: 'SET #userId = :userId, #sequence = :sequence',
      ConditionExpression: 'attribute_not_exists(#identifierHash)',
      ExpressionAttributeNames: {
        '#identifierHash': 'identifierHash',
        '#userId': 'userId',
        '#sequence': 'sequence',
      },
      ExpressionAttributeValues: { ':userId': userId, ':sequence': BACKFILL_SEQUENCE },
    });
  }

  private async write(
    service: string,
    userId: string,
    identifier: IndexedIdentifier,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, unknown>;
    },
  ): Promise<boolean> {
    const [identifierHash, accountHash] = await Promise.all([
      this.hasher.hash(entryKeyOf(service, identifier)),
      this.hasher.hash(identifierKey('userId', userId)),
    ]);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { identifierHash, accountHash },
          ...update,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
