import { GetCommand, QueryCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createChatConnector, type ChatConfig } from '../../functions/connectors/chat/core';
import type { SubjectIdentifiers } from '../../functions/lib/connectors/contract';
import { fakeCollect } from '../support/fake-collect';
import { pseudonymFor } from '../../functions/lib/crypto/pseudonym';
import { fakeClient } from '../support/fake-client';

type Row = Record<string, unknown>;

/** fakeCollect, read back as the staging writer would serialise it (JSON: a BigInt or Set would not survive). */
function fakeContext(identifiers: Partial<SubjectIdentifiers>, salt = 'salt-0123456789abcdef') {
  const fake = fakeCollect(identifiers, salt);
  const json = () => JSON.stringify({ collections: [...fake.collections], media: fake.media });
  const records = (name: string): Row[] =>
    JSON.parse(JSON.stringify(fake.collections.get(name)?.records ?? [])) as Row[];
  return { ctx: fake.ctx, media: fake.media, records, json };
}

const SUBJECT = ['user-alice', 'user-alice-old'];
const OTHERS = ['user-bob', 'user-carol', 'user-dave', 'user-erin'];
const SALT = 'salt-0123456789abcdef';
const p = (id: string, salt = SALT) => pseudonymFor(salt, id);

const rooms: Row[] = [
  {
    roomId: 'r1',
    kind: 'direct',
    members: new Set(['user-alice', 'user-bob']),
    createdAt: '2024-01-01T00:00:00Z',
  },
  {
    roomId: 'r2',
    kind: 'public-world',
    worldId: 'w-7',
    members: new Set(['user-alice-old', 'user-carol', 'user-dave']),
    ownerId: 'user-carol',
    inviteToken: 'tok-room-secret',
    topic: 'Hangout',
  },
  { roomId: 'r3' }, // an old room item without attributes
  { roomId: 'r9', kind: 'direct', members: new Set(['user-alice', 'user-erin']) },
];

const messages: Row[] = [
  {
    roomId: 'r1',
    sk: '2024-02-01T10:00:00Z#m1',
    messageId: 'm1',
    sentAt: '2024-02-01T10:00:00Z',
    senderId: 'user-alice',
    body: 'hi @user-bob, here is the photo',
    mentions: ['user-bob'],
    attachments: [
      { key: 'chat-attachments/r1/m1/beach photo.jpg', contentType: 'image/jpeg', bytes: 1234 },
      { key: 'uploads/user-bob/f9/private.pdf', contentType: 'application/pdf', bytes: 99 },
      { key: 'chat-attachments/r1/m1/..\\..\\evil\u202Egpj.exe', bytes: 5 },
    ],
    reports: [{ reportedBy: 'user-bob', reason: 'spam', at: '2024-02-02T00:00:00Z' }],
    reactions: [{ userId: 'user-bob', emoji: '👍' }],
  },
  {
    roomId: 'r1',
    sk: '2024-02-01T10:05:00Z#m2',
    messageId: 'm2',
    sentAt: '2024-02-01T10:05:00Z',
    senderId: 'user-bob',
    body: 'private words of bob for @user-alice',
    mentions: ['user-alice', 'user-carol'],
  },
  { roomId: 'r2', sk: '2024-02-03T09:00:00Z#m3', senderId: 'user-alice-old', body: 'old account message' },
  {
    roomId: 'r2',
    sk: '2024-02-03T09:01:00Z#m4',
    messageId: 'm4',
    sentAt: '2024-02-03T09:01:00Z',
    senderId: 'user-carol',
    body: 'carol says something rude',
    reports: [
      { reportedBy: 'user-alice-old', reason: 'abuse', at: '2024-02-03T09:02:00Z' },
      { reportedBy: 'user-dave', reason: 'abuse', at: '2024-02-03T09:03:00Z' },
    ],
  },
  {
    roomId: 'r2',
    sk: '2024-02-03T09:05:00Z#m5',
    messageId: 'm5',
    senderId: 'user-dave',
    body: 'dave chatting',
  },
  {
    roomId: 'r2',
    sk: '2024-02-03T09:06:00Z#m6',
    messageId: 'm6',
    senderId: 'user-carol',
    body: 'hey dave',
    mentions: ['user-dave'],
  },
  { roomId: 'r3', sk: '2024-02-04T00:00:00Z#m7', senderId: 'user-alice' }, // no body, no messageId
  {
    roomId: 'r9',
    sk: '2024-02-05T00:00:00Z#m8',
    messageId: 'm8',
    senderId: 'user-erin',
    body: '@user-alice are you there?',
    mentions: ['user-alice'],
  },
];

/**
 * A fake document client over the rows above: Query by index or by room, GetItem on rooms, paged by 2.
 * `slowRoom`: reads of that room (its item and its messages) answer last, as a slow store would.
 */
function fakeStore(pageSize = 2, slowRoom?: string) {
  const calls: { command: string; input: Row }[] = [];
  const page = (rows: Row[], startKey: unknown) => {
    const start = startKey ? Number((startKey as { offset: number }).offset) : 0;
    const more = start + pageSize < rows.length;
    return {
      Items: rows.slice(start, start + pageSize),
      LastEvaluatedKey: more ? { offset: start + pageSize } : undefined,
    };
  };
  const send = async (command: unknown) => {
    const input = (command as { input: Row }).input;
    const room =
      (input.Key as Row | undefined)?.roomId ?? (input.ExpressionAttributeValues as Row)?.[':roomId'];
    if (slowRoom !== undefined && room === slowRoom) await new Promise((r) => setTimeout(r, 30));
    if (command instanceof GetCommand) {
      calls.push({ command: 'Get', input: command.input as Row });
      expect(command.input.TableName).toBe('platform-chat-rooms');
      return { Item: rooms.find((room) => room.roomId === command.input.Key?.roomId) };
    }
    if (command instanceof QueryCommand) {
      const input = command.input;
      calls.push({ command: 'Query', input: input as Row });
      expect(input.TableName).toBe('platform-chat-messages');
      const values = input.ExpressionAttributeValues ?? {};
      const rows =
        input.IndexName === 'bySender'
          ? messages.filter((m) => m.senderId === values[':senderId'])
          : messages.filter((m) => m.roomId === values[':roomId']);
      // The fake ignores FilterExpression and ProjectionExpression: the connector must check on its own.
      return page(rows, input.ExclusiveStartKey);
    }
    throw new Error(`unexpected command ${String(command)}`);
  };
  return { doc: fakeClient(DynamoDBDocumentClient, { send }), calls };
}

const config: ChatConfig = {
  roomsTable: 'platform-chat-rooms',
  messagesTable: 'platform-chat-messages',
  bySenderIndex: 'bySender',
  mediaBucket: 'platform-media',
  attachmentsPrefix: 'chat-attachments/',
  subjectMediaPrefixes: ['uploads/{userId}/'],
  includeConversationContext: false,
};

async function run(options: Partial<ChatConfig> = {}, salt = SALT, slowRoom?: string) {
  const store = fakeStore(2, slowRoom);
  const context = fakeContext({ userIds: SUBJECT }, salt);
  await createChatConnector(store.doc, { ...config, ...options }).collect(context.ctx);
  return { ...store, ...context };
}

describe('chat connector', () => {
  it('writes rooms, mentions and complaints in the order found, however the reads interleave', async () => {
    const order = (r: Awaited<ReturnType<typeof run>>) =>
      ['rooms', 'mentions', 'complaints'].map((name) => JSON.stringify(r.records(name)));
    const steady = order(await run());
    expect(JSON.parse(steady[0] ?? '[]')).not.toHaveLength(0);
    for (const slowRoom of ['r1', 'r2', 'r9']) expect(order(await run({}, SALT, slowRoom))).toEqual(steady);
  });

  it('exports the subject’s own messages from the bySender index, paged, for every user id', async () => {
    const { records, calls } = await run();
    expect(records('messages').map((m) => m.messageId)).toEqual(['m1', 'm7', 'm3']);
    const bySender = calls.filter((c) => c.input.IndexName === 'bySender');
    // user-alice has 2 messages (1 page), user-alice-old 1 (1 page).
    expect(bySender.map((c) => c.input.ExpressionAttributeValues)).toEqual([
      { ':senderId': 'user-alice' },
      { ':senderId': 'user-alice-old' },
    ]);
    expect(calls.every((c) => c.input.Limit === undefined)).toBe(true);
  });

  it('keeps the subject’s words, pseudonymises people they mention and react with', async () => {
    const { records } = await run();
    const m1 = records('messages').find((m) => m.messageId === 'm1');
    expect(m1).toMatchObject({
      roomId: 'r1',
      sentAt: '2024-02-01T10:00:00Z',
      senderId: 'user-alice',
      body: 'hi @user-bob, here is the photo',
      mentions: [p('user-bob')],
      reportCount: 1,
      reactions: [{ userId: p('user-bob'), emoji: '👍' }],
    });
  });

  it('registers attachments of the message as media, and refuses keys outside it', async () => {
    const { records, media } = await run();
    const m1 = records('messages').find((m) => m.messageId === 'm1');
    const attachments = m1?.attachments as Row[];
    expect(attachments[0]).toEqual({
      fileName: 'beach photo.jpg',
      objectKey: 'chat-attachments/r1/m1/beach photo.jpg',
      contentType: 'image/jpeg',
      bytes: 1234,
      archivePath: 'chat/r1/m1/beach photo.jpg',
    });
    expect(attachments[1]).toMatchObject({ archivePath: null, notIncludedReason: expect.any(String) });
    expect(attachments[2]).toMatchObject({
      fileName: '..\\..\\evil\u202Egpj.exe',
      archivePath: 'chat/r1/m1/_.._evilgpj.exe',
    });
    expect(media).toEqual([
      {
        source: { bucket: 'platform-media', key: 'chat-attachments/r1/m1/beach photo.jpg' },
        bytes: 1234,
        contentType: 'image/jpeg',
        archivePath: 'chat/r1/m1/beach photo.jpg',
      },
      {
        source: { bucket: 'platform-media', key: 'chat-attachments/r1/m1/..\\..\\evil\u202Egpj.exe' },
        bytes: 5,
        archivePath: attachments[2]?.archivePath,
      },
    ]);
    const hostile = String(attachments[2]?.archivePath);
    expect(hostile.split('/')).toHaveLength(4);
    expect(hostile.split('/')).not.toContain('..');
    expect(hostile).not.toMatch(/[\\\u202e]/);
  });

  it('derives time and id of old messages from the sort key and copes with missing attributes', async () => {
    const { records } = await run();
    expect(records('messages').find((m) => m.roomId === 'r3')).toEqual({
      roomId: 'r3',
      messageId: 'm7',
      sentAt: '2024-02-04T00:00:00Z',
      senderId: 'user-alice',
      attachments: [],
      mentions: [],
      reportCount: 0,
    });
    expect(records('rooms').find((r) => r.roomId === 'r3')).toEqual({ roomId: 'r3' });
  });

  it('exports the rooms they wrote in with other members as pseudonyms only', async () => {
    const { records, calls } = await run();
    expect(calls.filter((c) => c.command === 'Get').map((c) => c.input.Key)).toEqual([
      { roomId: 'r1' },
      { roomId: 'r3' },
      { roomId: 'r2' },
    ]);
    const r2 = records('rooms').find((r) => r.roomId === 'r2');
    expect(r2).toEqual({
      roomId: 'r2',
      kind: 'public-world',
      worldId: 'w-7',
      yourUserIds: ['user-alice-old'],
      otherMembers: [p('user-carol'), p('user-dave')],
      memberCount: 3,
      ownerId: p('user-carol'),
      topic: 'Hangout',
    });
  });

  it('finds mentions of the subject by querying their rooms, without the body by default', async () => {
    const { records, calls, json } = await run();
    expect(records('mentions')).toEqual([
      { roomId: 'r1', sentAt: '2024-02-01T10:05:00Z', sender: p('user-bob'), mentionedUserId: 'user-alice' },
    ]);
    expect(json()).not.toContain('private words of bob');
    expect(json()).not.toContain('carol says');
    expect(json()).not.toContain('dave chatting');
    const roomQueries = calls.filter((c) => c.command === 'Query' && c.input.IndexName === undefined);
    expect(new Set(roomQueries.map((c) => (c.input.ExpressionAttributeValues as Row)[':roomId']))).toEqual(
      new Set(['r1', 'r2', 'r3']),
    );
    for (const query of roomQueries) {
      expect(query.input.ProjectionExpression).not.toContain('#body');
      expect(query.input.FilterExpression).toContain('NOT (#senderId IN (:s0, :s1))');
    }
  });

  it('does not discover a room the subject never wrote in (documented limit)', async () => {
    const { records, calls } = await run();
    expect(records('mentions').some((m) => m.roomId === 'r9')).toBe(false);
    expect(JSON.stringify(calls)).not.toContain('r9');
  });

  it('includes bodies of mentioning messages only under the conversation-context policy', async () => {
    const { records, calls } = await run({ includeConversationContext: true });
    expect(records('mentions')).toEqual([
      {
        roomId: 'r1',
        sentAt: '2024-02-01T10:05:00Z',
        sender: p('user-bob'),
        mentionedUserId: 'user-alice',
        body: 'private words of bob for @user-alice',
      },
    ]);
    const roomQuery = calls.find((c) => c.command === 'Query' && c.input.IndexName === undefined);
    expect(roomQuery?.input.ProjectionExpression).toContain('#body');
  });

  it('exports complaints about the subject’s messages and those they filed, reporters as pseudonyms', async () => {
    const { records } = await run();
    expect(records('complaints')).toEqual([
      {
        direction: 'about-your-message',
        roomId: 'r1',
        messageId: 'm1',
        messageSentAt: '2024-02-01T10:00:00Z',
        reportedBy: p('user-bob'),
        reason: 'spam',
        at: '2024-02-02T00:00:00Z',
      },
      {
        direction: 'filed-by-you',
        roomId: 'r2',
        messageId: 'm4',
        messageSentAt: '2024-02-03T09:01:00Z',
        messageSender: p('user-carol'),
        reportedBy: 'user-alice-old',
        reason: 'abuse',
        at: '2024-02-03T09:02:00Z',
      },
    ]);
  });

  it('lets no other person’s user id, and no secret, into the output', async () => {
    const { json } = await run({ includeConversationContext: false });
    const output = json();
    // The subject's own message body names user-bob as they wrote it; everything else must not.
    const withoutOwnBody = output.replaceAll('hi @user-bob, here is the photo', '');
    for (const other of OTHERS) expect(withoutOwnBody).not.toContain(other);
    expect(output).not.toContain('tok-room-secret');
  });

  it('gives the same person the same pseudonym throughout, and a different one under another salt', async () => {
    const first = await run();
    const second = await run({}, 'another-salt-0123456789');
    const bobFirst = first.records('mentions')[0]?.sender;
    expect(first.records('rooms').find((r) => r.roomId === 'r1')?.otherMembers).toEqual([bobFirst]);
    expect(first.records('complaints')[0]?.reportedBy).toBe(bobFirst);
    expect(second.records('mentions')[0]?.sender).not.toBe(bobFirst);
    expect(second.records('mentions')[0]?.sender).toBe(p('user-bob', 'another-salt-0123456789'));
  });

  it('never scans', async () => {
    const { calls } = await run();
    expect(calls.every((c) => c.command === 'Get' || c.command === 'Query')).toBe(true);
  });
});
