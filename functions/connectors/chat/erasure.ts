/**
 * Chat connector, erasure side: inventory (locate) and erase, per category of docs/policy.md:
 *
 * - `messages`: the subject's own messages nobody reported.
 * - `complaints`: the subject's own messages that others reported, and reports the subject filed on
 *   others' messages (`complaintDate` = the latest report `at` on the record).
 * - `mentions`: others' messages whose `mentions` list names one of the subject's ids.
 * - `room-memberships`: rooms whose `members` set holds one of the subject's ids.
 *
 * Rooms are found through the subject's own messages (no Scan; the rooms table has no index by member,
 * see docs/data-stores.md). That is why erase works on rooms (mentions, filed reports, memberships)
 * before it deletes a single message: a re-run after a partial run still finds every room that has
 * anything left to do. Own messages go attachments first, item last, for the same reason.
 *
 * Attachment objects (`chat-attachments/{roomId}/{messageId}/…` in the media bucket) are deleted here,
 * with their message, every version where the bucket is versioned: only this connector knows which
 * messages are the subject's. The media connector reports its `chat-attachments` category as 0.
 */
import {
  DeleteCommand,
  GetCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type {
  CategoryInventoryView,
  CategoryOutcome,
  EraseContext,
  ErasureContext,
  PlanEntryView,
} from '../../lib/connectors/contract';
import { forEachLimited } from '../../lib/runtime/concurrency';
import { asList, asString, isRecord, queryPages, toJsonValue, type Item } from '../../lib/aws/dynamo-paging';
import { ContractError } from '../../lib/runtime/errors';
import { vaultCopy, zeroOutcome } from '../../lib/erasure/erasure-plan';
import { log } from '../../lib/runtime/logger';
import { pickKept } from '../../lib/erasure/vault';
import { erasePrefix, usableInPrefix } from '../../lib/connectors/media-objects';
import type { ChatConfig } from './config';
import { messagesBySenderQuery, roomActivityQuery } from './queries';

const CHAT_CATEGORIES = ['messages', 'complaints', 'mentions', 'room-memberships'] as const;
type ChatCategory = (typeof CHAT_CATEGORIES)[number];

interface MessageRef {
  roomId: string;
  sk: string;
  item: Item;
}

interface OwnMessage extends MessageRef {
  /** Set when others reported it: a complaint record. */
  complaintDate?: string;
}

interface FiledReport extends MessageRef {
  complaintDate: string;
}

interface RoomFindings {
  roomId: string;
  /** The room item as read (absent when the room is gone). */
  room?: Item;
  /** The subject's ids in the room's `members`, when there are any. */
  memberIds: string[];
  mentions: MessageRef[];
  filedReports: FiledReport[];
}

interface Located {
  own: OwnMessage[];
  rooms: RoomFindings[];
}

function isConditionFailure(error: unknown): boolean {
  return (error as { name?: unknown } | undefined)?.name === 'ConditionalCheckFailedException';
}

/** The latest valid instant among `ats` (ISO), else the fallback: a record always has a date to run from. */
function latestInstant(ats: readonly unknown[], fallback: () => string): string {
  let latest: number | undefined;
  for (const at of ats) {
    const time = typeof at === 'string' ? Date.parse(at) : NaN;
    if (!Number.isNaN(time) && (latest === undefined || time > latest)) latest = time;
  }
  return latest === undefined ? fallback() : new Date(latest).toISOString();
}

function reportsOf(item: Item): Item[] {
  return asList(item.reports).filter(isRecord);
}

function stringsOf(value: unknown): string[] {
  return asList(value).filter((v): v is string => typeof v === 'string');
}

export interface ChatErasureDeps {
  doc: DynamoDBDocumentClient;
  /** The media bucket's client, for attachment objects (erase only). */
  s3?: S3Client | undefined;
  config: ChatConfig;
}

export function createChatErasure({ doc, s3, config }: ChatErasureDeps) {
  const concurrency = config.concurrency ?? 4;
  const mediaRef = { bucket: config.mediaBucket, versioned: config.mediaVersioned ?? false };

  /** Finds everything of the subject in chat, reading only by key and index. */
  async function locate(ctx: ErasureContext): Promise<Located> {
    const userIds = [...new Set(ctx.subject.identifiers.userIds)];
    const subject = new Set(userIds);
    const nowIso = () => ctx.now().toISOString();
    const own: OwnMessage[] = [];
    const roomIds = new Set<string>();
    for (const userId of userIds) {
      for await (const items of queryPages(doc, messagesBySenderQuery(config, userId))) {
        for (const item of items) {
          const roomId = asString(item.roomId);
          const sk = asString(item.sk);
          if (roomId === undefined || sk === undefined) continue;
          roomIds.add(roomId);
          const reports = reportsOf(item);
          const message: OwnMessage = { roomId, sk, item };
          if (reports.length > 0)
            message.complaintDate = latestInstant(
              reports.map((r) => r.at),
              () => latestInstant([item.sentAt], nowIso),
            );
          own.push(message);
        }
      }
    }

    const rooms: RoomFindings[] = [];
    await forEachLimited(roomIds, concurrency, async (roomId) => {
      const { Item: room } = await doc.send(
        new GetCommand({ TableName: config.roomsTable, Key: { roomId }, ConsistentRead: true }),
      );
      const findings: RoomFindings = {
        roomId,
        ...(room ? { room } : {}),
        memberIds: stringsOf(room?.members).filter((id) => subject.has(id)),
        mentions: [],
        filedReports: [],
      };
      const query = roomActivityQuery({ ...config, includeConversationContext: false }, roomId, userIds);
      for await (const items of queryPages(doc, query)) {
        for (const item of items) {
          const sk = asString(item.sk);
          if (sk === undefined || subject.has(asString(item.senderId) ?? '')) continue;
          if (stringsOf(item.mentions).some((id) => subject.has(id)))
            findings.mentions.push({ roomId, sk, item });
          const filed = reportsOf(item).filter((r) => subject.has(asString(r.reportedBy) ?? ''));
          if (filed.length > 0)
            findings.filedReports.push({
              roomId,
              sk,
              item,
              complaintDate: latestInstant(
                filed.map((r) => r.at),
                () => latestInstant([item.sentAt], nowIso),
              ),
            });
        }
      }
      rooms.push(findings);
    });
    return { own, rooms };
  }

  async function inventory(ctx: ErasureContext): Promise<Record<string, CategoryInventoryView>> {
    const { own, rooms } = await locate(ctx);
    const complaintDates = [
      ...own.flatMap((m) => (m.complaintDate === undefined ? [] : [m.complaintDate])),
      ...rooms.flatMap((r) => r.filedReports.map((f) => f.complaintDate)),
    ];
    const groups = new Map<string, number>();
    for (const at of complaintDates) groups.set(at, (groups.get(at) ?? 0) + 1);
    const complaints: CategoryInventoryView = { count: complaintDates.length };
    if (complaintDates.length > 0)
      complaints.dates = {
        complaintDate: [...groups]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([at, count]) => ({ at, count })),
      };
    return {
      messages: { count: own.filter((m) => m.complaintDate === undefined).length },
      complaints,
      mentions: { count: rooms.reduce((sum, r) => sum + r.mentions.length, 0) },
      'room-memberships': { count: rooms.filter((r) => r.memberIds.length > 0).length },
    };
  }

  /**
   * Applies an update computed from the item; when the item changed in between (the condition fails),
   * reads it again and recomputes, a few times. `compute` returns undefined when nothing is left to do.
   */
  async function rewrite(
    table: string,
    key: Item,
    first: Item,
    compute: (item: Item) => Omit<UpdateCommandInput, 'TableName' | 'Key'> | undefined,
  ): Promise<boolean> {
    let item: Item | undefined = first;
    for (let attempt = 0; attempt < 4 && item; attempt++) {
      const update = compute(item);
      if (!update) return false;
      try {
        await doc.send(new UpdateCommand({ TableName: table, Key: key, ...update }));
        return true;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      ({ Item: item } = await doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true })));
    }
    if (item) throw new ContractError('Chat item kept changing while it was being erased');
    return false;
  }

  /** Replaces, in one list attribute of a message, the subject's ids found by `pick` with the tombstone. */
  function replaceInList(
    attribute: 'mentions' | 'reports',
    pick: (element: unknown) => string | undefined,
    subject: ReadonlySet<string>,
    tombstone: string,
  ) {
    return (item: Item): Omit<UpdateCommandInput, 'TableName' | 'Key'> | undefined => {
      const list = item[attribute];
      const names: Record<string, string> = { '#a': attribute };
      const values: Record<string, unknown> = { ':tomb': tombstone };
      if (list instanceof Set) {
        // A set (not the documented list) is rewritten whole, guarded by the ids it held.
        const held = [...(list as Set<unknown>)].filter((v): v is string => typeof v === 'string');
        const hits = held.filter((id) => subject.has(id));
        if (hits.length === 0) return undefined;
        hits.forEach((id, i) => (values[`:s${i}`] = id));
        values[':new'] = new Set([...held.filter((id) => !subject.has(id)), tombstone]);
        return {
          UpdateExpression: 'SET #a = :new',
          ConditionExpression: hits.map((_, i) => `contains(#a, :s${i})`).join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        };
      }
      const sets: string[] = [];
      const conditions: string[] = [];
      const path = (i: number) => (attribute === 'reports' ? `#a[${i}].#by` : `#a[${i}]`);
      asList(list).forEach((element, i) => {
        const id = pick(element);
        if (id === undefined || !subject.has(id)) return;
        values[`:s${i}`] = id;
        sets.push(`${path(i)} = :tomb`);
        conditions.push(`${path(i)} = :s${i}`);
      });
      if (sets.length === 0) return undefined;
      if (attribute === 'reports') names['#by'] = 'reportedBy';
      return {
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      };
    };
  }

  function removeMembers(subject: ReadonlySet<string>) {
    return (room: Item): Omit<UpdateCommandInput, 'TableName' | 'Key'> | undefined => {
      const members = room.members;
      if (members instanceof Set) {
        const ids = [...(members as Set<unknown>)].filter(
          (v): v is string => typeof v === 'string' && subject.has(v),
        );
        if (ids.length === 0) return undefined;
        return {
          UpdateExpression: 'DELETE #m :ids',
          ConditionExpression: 'attribute_exists(#m)',
          ExpressionAttributeNames: { '#m': 'members' },
          ExpressionAttributeValues: { ':ids': new Set(ids) },
        };
      }
      // A list (not the documented set): remove by position, guarded by the value at each position.
      const values: Record<string, unknown> = {};
      const removes: string[] = [];
      const conditions: string[] = [];
      asList(members).forEach((id, i) => {
        if (typeof id !== 'string' || !subject.has(id)) return;
        values[`:s${i}`] = id;
        removes.push(`#m[${i}]`);
        conditions.push(`#m[${i}] = :s${i}`);
      });
      if (removes.length === 0) return undefined;
      return {
        UpdateExpression: `REMOVE ${removes.join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: { '#m': 'members' },
        ExpressionAttributeValues: values,
      };
    };
  }

  /** The vault copy of a complaint record, when its retention still runs; false when it has ended. */
  async function retainComplaint(
    ctx: EraseContext,
    entry: PlanEntryView,
    recordId: string,
    complaintDate: string,
    record: Item,
  ): Promise<boolean> {
    const rule = entry.rule;
    if (!rule) throw new ContractError('A retained chat category has no rule');
    let from: string;
    if (rule.from === 'complaintDate') from = complaintDate;
    else if (rule.from === 'accountDeletion') from = ctx.now().toISOString();
    else throw new ContractError(`Chat records carry no '${rule.from}'`);
    const copy = vaultCopy(rule, from, ctx.now(), {
      store: 'chat',
      category: 'complaints',
      recordId,
      data: (keep) => pickKept(record, keep),
    });
    if (!copy) return false;
    await ctx.vault.put(copy);
    return true;
  }

  /** Attachment objects of one message; a room or message id unusable in a key is never turned into one. */
  async function eraseAttachments(roomId: string, item: Item): Promise<void> {
    const sk = asString(item.sk) ?? '';
    const messageId = asString(item.messageId) ?? sk.slice(sk.indexOf('#') + 1);
    if (!usableInPrefix(roomId) || !usableInPrefix(messageId)) {
      if (asList(item.attachments).length > 0) log.warn('chat: attachments under an unusable key left');
      return;
    }
    if (!s3) throw new ContractError('The chat connector has no media bucket client to erase attachments');
    await erasePrefix(s3, mediaRef, `${config.attachmentsPrefix}${roomId}/${messageId}/`);
  }

  /** The live action on one of the subject's own messages; true when it changed something. */
  async function applyToOwn(ctx: EraseContext, message: OwnMessage, action: 'delete' | 'anonymise') {
    const senderId = asString(message.item.senderId) ?? '';
    const key = { roomId: message.roomId, sk: message.sk };
    await eraseAttachments(message.roomId, message.item);
    try {
      if (action === 'delete') {
        await doc.send(
          new DeleteCommand({
            TableName: config.messagesTable,
            Key: key,
            ConditionExpression: '#s = :s',
            ExpressionAttributeNames: { '#s': 'senderId' },
            ExpressionAttributeValues: { ':s': senderId },
          }),
        );
      } else {
        // The thread keeps its place: no body, no attachments, and a sender nobody can link to them.
        await doc.send(
          new UpdateCommand({
            TableName: config.messagesTable,
            Key: key,
            UpdateExpression: 'SET #s = :tomb REMOVE #body, #att',
            ConditionExpression: '#s = :s',
            ExpressionAttributeNames: { '#s': 'senderId', '#body': 'body', '#att': 'attachments' },
            ExpressionAttributeValues: { ':s': senderId, ':tomb': ctx.tombstone },
          }),
        );
      }
      return true;
    } catch (error) {
      // Already gone (or no longer theirs): a re-run after a partial run.
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async function erase(ctx: EraseContext): Promise<Record<string, CategoryOutcome>> {
    // Checked first: half an erasure that then cannot remove attachments is worse than none.
    if (!s3) throw new ContractError('The chat connector has no media bucket client to erase attachments');
    const outcome = Object.fromEntries(CHAT_CATEGORIES.map((c) => [c, zeroOutcome()])) as Record<
      ChatCategory,
      CategoryOutcome
    >;
    const entries = new Map(ctx.plan.map((e) => [e.category, e]));
    const act = (category: ChatCategory) => {
      const entry = entries.get(category);
      if (!entry || entry.action === 'none') return 'skip' as const;
      if (entry.action === 'held') return 'held' as const;
      if (entry.action === 'retain' && category !== 'complaints')
        throw new ContractError(`Chat cannot retain '${category}'`);
      return entry;
    };
    const plan = {
      messages: act('messages'),
      complaints: act('complaints'),
      mentions: act('mentions'),
      memberships: act('room-memberships'),
    };
    const subject = new Set(ctx.subject.identifiers.userIds);
    const { own, rooms } = await locate(ctx);

    // 1. Rooms first (see the module comment): others' messages and the rooms themselves.
    await forEachLimited(rooms, concurrency, async (room) => {
      for (const mention of room.mentions) {
        if (plan.mentions === 'held') outcome.mentions.untouched += 1;
        if (typeof plan.mentions !== 'object') continue;
        // Mentions are others' words: only the subject's id in the list changes, never the body.
        const key = { roomId: mention.roomId, sk: mention.sk };
        const pick = (v: unknown) => (typeof v === 'string' ? v : undefined);
        if (
          await rewrite(
            config.messagesTable,
            key,
            mention.item,
            replaceInList('mentions', pick, subject, ctx.tombstone),
          )
        )
          outcome.mentions.anonymised += 1;
      }
      for (const filed of room.filedReports) {
        if (plan.complaints === 'held') outcome.complaints.untouched += 1;
        if (typeof plan.complaints !== 'object') continue;
        const key = { roomId: filed.roomId, sk: filed.sk };
        let retained = false;
        if (plan.complaints.action === 'retain') {
          // The report is the subject's complaint; the message it is about is the record the rule keeps.
          const { Item: full } = await doc.send(
            new GetCommand({ TableName: config.messagesTable, Key: key, ConsistentRead: true }),
          );
          if (full) {
            const mine = reportsOf(full).filter((r) => subject.has(asString(r.reportedBy) ?? ''));
            const record = { ...(toJsonValue(full) as Item), reports: mine };
            retained = await retainComplaint(
              ctx,
              plan.complaints,
              `report:${filed.roomId}:${filed.sk}`,
              filed.complaintDate,
              record,
            );
          }
        }
        // The report stays on the other person's message as a moderation record, filed by nobody known.
        const pick = (v: unknown) => (isRecord(v) ? asString(v.reportedBy) : undefined);
        const changed = await rewrite(
          config.messagesTable,
          key,
          filed.item,
          replaceInList('reports', pick, subject, ctx.tombstone),
        );
        if (retained) outcome.complaints.retained += 1;
        else if (changed) outcome.complaints.anonymised += 1;
      }
      if (room.room && room.memberIds.length > 0) {
        if (plan.memberships === 'held') outcome['room-memberships'].untouched += 1;
        else if (typeof plan.memberships === 'object') {
          const key = { roomId: room.roomId };
          if (await rewrite(config.roomsTable, key, room.room, removeMembers(subject)))
            outcome['room-memberships'].deleted += 1;
        }
      }
    });

    await ctx.betweenBatches?.();

    // 2. The subject's own messages: complaint records to the vault first, then the live action.
    await forEachLimited(own, concurrency, async (message) => {
      const category: ChatCategory = message.complaintDate === undefined ? 'messages' : 'complaints';
      const entry = plan[category];
      const result = outcome[category];
      if (entry === 'held') result.untouched += 1;
      if (typeof entry !== 'object') return;
      let retained = false;
      if (entry.action === 'retain' && message.complaintDate !== undefined) {
        retained = await retainComplaint(
          ctx,
          entry,
          `message:${message.roomId}:${message.sk}`,
          message.complaintDate,
          toJsonValue(message.item) as Item,
        );
      }
      const changed = await applyToOwn(ctx, message, entry.liveAction);
      if (retained) result.retained += 1;
      else if (changed && entry.liveAction === 'delete') result.deleted += 1;
      else if (changed) result.anonymised += 1;
    });

    log.info('chat: erase done', {
      messagesDeleted: outcome.messages.deleted,
      complaintsRetained: outcome.complaints.retained,
      mentionsAnonymised: outcome.mentions.anonymised,
      membershipsDeleted: outcome['room-memberships'].deleted,
    });
    return outcome;
  }

  return { inventory, erase };
}
