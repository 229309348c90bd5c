/**
 * Chat connector, collect side.
 *
 * - `messages`: the subject's own messages, by Query on the `bySender` index for each of their user ids,
 *   with attachments registered as original files.
 * - `rooms`: every room they wrote in, by GetItem; other members only as pseudonyms.
 * - `mentions`: messages of others that mention the subject. The stores have no index by mention, so the
 *   rooms found above are queried by key (`roomId`) for them: a room the subject never wrote in is not
 *   discovered (documented in docs/data-stores.md). Never a Scan.
 * - `complaints`: reports on the subject's messages (reporter pseudonymised) and reports the subject filed
 *   on others' messages (found in the same room queries).
 *
 * Other people appear only as stable pseudonyms; their ids, names and message bodies stay out unless the
 * `includeConversationContext` policy flag lets the bodies of messages mentioning the subject in.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { CollectContext, CollectionSpec, Connector } from '../../lib/connectors/contract';
import { sanitizeSegment } from '../../lib/export/archive-path';
import { looksLikePersonKey, People } from '../../lib/crypto/pseudonym';
import { mapOrderedLimited } from '../../lib/runtime/concurrency';
import { asList, asString, isRecord, queryPages, toJsonValue, type Item } from '../../lib/aws/dynamo-paging';
import { isSecretKey } from '../../lib/connectors/card-masking';
import { createChatErasure } from './erasure';
import { messagesBySenderQuery, roomActivityQuery } from './queries';
import type { ChatConfig } from './config';

export type { ChatConfig };

export { roomActivityQuery };

const personRef = { type: ['string', 'null'] } as const;

const messagesSpec: CollectionSpec = {
  name: 'messages',
  description: 'Messages you sent, with their attachments. Other people are shown as pseudonyms (person-…).',
  tabular: false,
  recordSchema: {
    type: 'object',
    required: ['roomId'],
    properties: {
      roomId: { type: 'string' },
      messageId: { type: 'string' },
      sentAt: { type: 'string', format: 'date-time' },
      senderId: { type: 'string', description: 'Your user id' },
      body: { type: 'string' },
      attachments: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            fileName: { type: 'string', description: 'The file name as stored' },
            objectKey: { type: 'string' },
            contentType: { type: 'string' },
            bytes: { type: ['number', 'string'] },
            archivePath: {
              type: ['string', 'null'],
              description: 'Where the file is in this archive (under media/chat/); null when not included',
            },
          },
          additionalProperties: true,
        },
      },
      mentions: {
        type: 'array',
        items: { type: 'string' },
        description: 'People you mentioned (pseudonyms)',
      },
      reportCount: { type: 'integer', description: 'How many reports were filed on this message' },
    },
    additionalProperties: true,
  },
};

const roomsSpec: CollectionSpec = {
  name: 'rooms',
  description: 'Chat rooms you wrote in. Other members are shown as pseudonyms only.',
  tabular: false,
  recordSchema: {
    type: 'object',
    required: ['roomId'],
    properties: {
      roomId: { type: 'string' },
      kind: { type: 'string', description: 'public-world, private-world or direct' },
      worldId: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      yourUserIds: { type: 'array', items: { type: 'string' } },
      otherMembers: { type: 'array', items: { type: 'string' }, description: 'Pseudonyms' },
      memberCount: { type: 'integer' },
    },
    additionalProperties: true,
  },
};

const mentionsSpec: CollectionSpec = {
  name: 'mentions',
  description:
    'Messages by other people that mention you, in rooms you wrote in: when, where and who (as a pseudonym).',
  tabular: true,
  recordSchema: {
    type: 'object',
    required: ['roomId'],
    properties: {
      roomId: { type: 'string' },
      sentAt: { type: 'string', format: 'date-time' },
      sender: { ...personRef, description: 'Pseudonym of the person who wrote the message' },
      mentionedUserId: { type: 'string', description: 'Which of your user ids was mentioned' },
      body: { type: 'string', description: 'Only when the policy includes conversation context' },
    },
    additionalProperties: false,
  },
};

const complaintsSpec: CollectionSpec = {
  name: 'complaints',
  description: 'Reports (complaints) filed on your messages, and reports you filed on messages of others.',
  tabular: true,
  recordSchema: {
    type: 'object',
    required: ['direction', 'roomId'],
    properties: {
      direction: { enum: ['about-your-message', 'filed-by-you'] },
      roomId: { type: 'string' },
      messageId: { type: 'string' },
      messageSentAt: { type: 'string' },
      messageSender: { ...personRef, description: 'Pseudonym of the author, for reports you filed' },
      reportedBy: { ...personRef, description: 'Pseudonym of the reporter, or your user id' },
      reason: { type: 'string' },
      at: { type: 'string', format: 'date-time' },
    },
    additionalProperties: true,
  },
};

const MESSAGE_KNOWN = new Set([
  'roomId',
  'sk',
  'messageId',
  'sentAt',
  'senderId',
  'body',
  'attachments',
  'mentions',
  'reports',
]);
const ROOM_KNOWN = new Set(['roomId', 'kind', 'worldId', 'members', 'createdAt']);
const REPORT_KNOWN = new Set(['reportedBy', 'reason', 'at']);
const ATTACHMENT_KNOWN = new Set(['key', 'contentType', 'bytes']);
const NOT_THIS_MESSAGE = 'Not included: the file is not stored with this message';

/** `sentAt` and `messageId`, from their attributes or, on old items lacking them, from `sk`. */
function messageTimeAndId(item: Item): { sentAt?: string; messageId?: string } {
  const sk = asString(item.sk);
  const hash = sk?.indexOf('#') ?? -1;
  return {
    sentAt: asString(item.sentAt) ?? (sk && hash > 0 ? sk.slice(0, hash) : undefined),
    messageId: asString(item.messageId) ?? (sk && hash >= 0 ? sk.slice(hash + 1) : undefined),
  };
}

function defined(record: Item): Item {
  for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
  return record;
}

/** Attributes the connector does not know, as they are except secrets, with people pseudonymised. */
function copyUnknown(out: Item, item: Item, known: ReadonlySet<string>, people: People): void {
  for (const [key, value] of Object.entries(item)) {
    if (known.has(key) || isSecretKey(key) || out[key] !== undefined) continue;
    out[key] = people.scrub(toJsonValue(value), looksLikePersonKey(key));
  }
}

/**
 * `s3` (the media bucket's client) is needed by erase only, which deletes the messages' attachment
 * objects; without it erase refuses to run rather than leave attachments behind.
 */
export function createChatConnector(
  doc: DynamoDBDocumentClient,
  config: ChatConfig,
  s3?: S3Client,
): Connector {
  const concurrency = config.concurrency ?? 4;
  const erasure = createChatErasure({ doc, s3, config });

  return {
    store: 'chat',
    inventory: (ctx) => erasure.inventory(ctx),
    erase: (ctx) => erasure.erase(ctx),
    async collect(ctx: CollectContext): Promise<void> {
      const userIds = [...new Set(ctx.subject.identifiers.userIds)];
      const people = new People(userIds, (id) => ctx.pseudonym(id));
      const messages = ctx.collection(messagesSpec);
      const rooms = ctx.collection(roomsSpec);
      const mentions = ctx.collection(mentionsSpec);
      const complaints = ctx.collection(complaintsSpec);
      const ownMediaPrefixes = config.subjectMediaPrefixes.flatMap((template) =>
        userIds.map((userId) => template.replaceAll('{userId}', userId)),
      );
      /** Rooms seen so far (in the order found); each is read once. */
      const roomIds = new Set<string>();

      const readRoom = async (roomId: string): Promise<Item | undefined> => {
        const { Item: room } = await doc.send(
          new GetCommand({ TableName: config.roomsTable, Key: { roomId }, ConsistentRead: true }),
        );
        return room;
      };

      const attachmentFile = (roomId: string, messageId: string | undefined, raw: Item): Item => {
        const key = asString(raw.key);
        const bytes = toJsonValue(raw.bytes);
        const contentType = asString(raw.contentType);
        // Only objects of this very message (or the subject's own media) are copied: an attachment key is
        // data a client sent, and must not turn an export into a way to fetch someone else's file. A key
        // elsewhere is not even named, as it may carry another person's user id.
        const ownAttachmentPrefix = `${config.attachmentsPrefix}${roomId}/${messageId ?? ''}/`;
        const isOwn =
          key !== undefined &&
          messageId !== undefined &&
          (key.startsWith(ownAttachmentPrefix) || ownMediaPrefixes.some((prefix) => key.startsWith(prefix)));
        if (!isOwn) {
          return defined({ contentType, bytes, archivePath: null, notIncludedReason: NOT_THIS_MESSAGE });
        }
        const fileName = key.slice(key.lastIndexOf('/') + 1);
        const out: Item = { fileName, objectKey: key, contentType, bytes };
        out.archivePath = ctx.addMedia({
          source: { bucket: config.mediaBucket, key },
          bytes: typeof bytes === 'number' && bytes >= 0 ? bytes : 0,
          ...(contentType ? { contentType } : {}),
          suggestedPath: `chat/${sanitizeSegment(roomId)}/${sanitizeSegment(messageId)}/${sanitizeSegment(fileName)}`,
        });
        copyUnknown(out, raw, ATTACHMENT_KNOWN, people);
        return defined(out);
      };

      const writeOwnMessage = async (item: Item): Promise<void> => {
        const roomId = asString(item.roomId) ?? '';
        const { sentAt, messageId } = messageTimeAndId(item);
        const reports = asList(item.reports).filter(isRecord);
        const record: Item = {
          roomId,
          messageId,
          sentAt,
          senderId: asString(item.senderId),
          body: item.body === undefined ? undefined : toJsonValue(item.body),
          attachments: asList(item.attachments)
            .filter(isRecord)
            .map((attachment) => attachmentFile(roomId, messageId, attachment)),
          mentions: asList(item.mentions).map((id) => people.ref(id)),
          reportCount: reports.length,
        };
        copyUnknown(record, item, MESSAGE_KNOWN, people);
        await messages.write(defined(record));
        for (const report of reports) {
          const complaint: Item = {
            direction: 'about-your-message',
            roomId,
            messageId,
            messageSentAt: sentAt,
            reportedBy: people.ref(report.reportedBy),
            reason: toJsonValue(report.reason),
            at: asString(report.at),
          };
          copyUnknown(complaint, report, REPORT_KNOWN, people);
          await complaints.write(defined(complaint));
        }
      };

      // 1. The subject's own messages; each new room is read as soon as it appears.
      for (const userId of userIds) {
        for await (const items of queryPages(doc, messagesBySenderQuery(config, userId))) {
          const newRooms = new Set<string>();
          for (const item of items) {
            const roomId = asString(item.roomId);
            if (roomId !== undefined && !roomIds.has(roomId)) newRooms.add(roomId);
          }
          for (const roomId of newRooms) roomIds.add(roomId);
          // Rooms first: their members become known others, pseudonymised wherever they turn up. Read
          // at once, written in the order found: an archive's contents never depend on timing.
          await mapOrderedLimited([...newRooms], concurrency, readRoom, async (room) => {
            if (room) await rooms.write(toExportedRoom(room, people));
          });
          for (const item of items) await writeOwnMessage(item);
          await ctx.betweenBatches?.();
        }
      }

      // 2. Others' messages in those rooms that mention the subject or that the subject reported.
      // Each room's records are gathered concurrently and written room by room, in the order found.
      await mapOrderedLimited(
        [...roomIds],
        concurrency,
        async (roomId) => {
          const found: { collection: 'mentions' | 'complaints'; record: Item }[] = [];
          for await (const items of queryPages(doc, roomActivityQuery(config, roomId, userIds))) {
            for (const item of items) {
              if (people.isSubject(item.senderId)) continue;
              const { sentAt, messageId } = messageTimeAndId(item);
              const sender = people.other(item.senderId);
              for (const mentioned of new Set(asList(item.mentions))) {
                if (!people.isSubject(mentioned)) continue;
                const mention: Item = { roomId, sentAt, sender, mentionedUserId: mentioned };
                if (config.includeConversationContext && typeof item.body === 'string')
                  mention.body = item.body;
                found.push({ collection: 'mentions', record: defined(mention) });
              }
              for (const report of asList(item.reports).filter(isRecord)) {
                if (!people.isSubject(report.reportedBy)) continue;
                const complaint: Item = {
                  direction: 'filed-by-you',
                  roomId,
                  messageId,
                  messageSentAt: sentAt,
                  messageSender: sender,
                  reportedBy: report.reportedBy,
                  reason: toJsonValue(report.reason),
                  at: asString(report.at),
                };
                copyUnknown(complaint, report, REPORT_KNOWN, people);
                found.push({ collection: 'complaints', record: defined(complaint) });
              }
            }
          }
          return found;
        },
        async (found) => {
          for (const { collection, record } of found)
            await (collection === 'mentions' ? mentions : complaints).write(record);
        },
      );
    },
  };
}

/** A room as exported: the subject's own ids kept, everyone else a pseudonym. */
function toExportedRoom(room: Item, people: People): Item {
  const members = asList(room.members).filter((id): id is string => typeof id === 'string');
  people.learn(members);
  const hasMembers = room.members !== undefined;
  const record: Item = {
    roomId: asString(room.roomId),
    kind: toJsonValue(room.kind),
    worldId: toJsonValue(room.worldId),
    createdAt: toJsonValue(room.createdAt),
    yourUserIds: hasMembers ? members.filter((id) => people.isSubject(id)) : undefined,
    otherMembers: hasMembers ? members.map((id) => people.other(id)).filter((p) => p !== null) : undefined,
    memberCount: hasMembers ? members.length : undefined,
  };
  copyUnknown(record, room, ROOM_KNOWN, people);
  return defined(record);
}
