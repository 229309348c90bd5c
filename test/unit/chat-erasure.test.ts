import {
  DeleteCommand,
  GetCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createChatConnector, type ChatConfig } from '../../functions/connectors/chat/core';
import type {
  EraseContext,
  PlanEntryView,
  StagedSubject,
  VaultRecord,
} from '../../functions/lib/connectors/contract';
import { fakeClient } from '../support/fake-client';

type Row = Record<string, unknown>;

const CONFIG: ChatConfig = {
  roomsTable: 'rooms',
  messagesTable: 'messages',
  bySenderIndex: 'bySender',
  mediaBucket: 'media',
  attachmentsPrefix: 'chat-attachments/',
  subjectMediaPrefixes: ['uploads/{userId}/'],
  includeConversationContext: false,
  concurrency: 2,
};
const SUBJECT = ['user-alice', 'user-alice-old'];
const TOMB = 'erased-user-0123456789abcdef';
const NOW = new Date('2026-12-01T00:00:00Z');

function fixtures(): { rooms: Row[]; messages: Row[]; objects: string[] } {
  return {
    rooms: [
      { roomId: 'r1', kind: 'direct', members: new Set(['user-alice', 'user-bob']) },
      { roomId: 'r2', kind: 'public-world', members: new Set(['user-alice-old', 'user-carol', 'user-dave']) },
      { roomId: 'r3', kind: 'direct', members: new Set(['user-bob', 'user-carol']) }, // alice wrote, left
    ],
    messages: [
      {
        roomId: 'r1',
        sk: '2026-11-01T10:00:00Z#m1',
        messageId: 'm1',
        sentAt: '2026-11-01T10:00:00Z',
        senderId: 'user-alice',
        body: 'photo',
        attachments: [{ key: 'chat-attachments/r1/m1/beach.jpg', contentType: 'image/jpeg', bytes: 3 }],
      },
      {
        roomId: 'r1',
        sk: '2026-11-02T10:00:00Z#m2',
        messageId: 'm2',
        sentAt: '2026-11-02T10:00:00Z',
        senderId: 'user-bob',
        body: 'hi @alice and @carol',
        mentions: ['user-carol', 'user-alice', 'user-alice-old'],
      },
      {
        // Reported twice: a complaint record, dated by the latest report.
        roomId: 'r2',
        sk: '2026-10-01T00:00:00Z#m3',
        messageId: 'm3',
        sentAt: '2026-10-01T00:00:00Z',
        senderId: 'user-alice-old',
        body: 'buy coins',
        reports: [
          { reportedBy: 'user-carol', reason: 'spam', at: '2026-10-02T00:00:00Z' },
          { reportedBy: 'user-dave', reason: 'scam', at: '2026-10-03T05:00:00Z' },
        ],
        attachments: [{ key: 'chat-attachments/r2/m3/flyer.png', bytes: 1 }],
      },
      {
        // Reported long ago: its retention has run out.
        roomId: 'r2',
        sk: '2022-01-01T00:00:00Z#m4',
        messageId: 'm4',
        sentAt: '2022-01-01T00:00:00Z',
        senderId: 'user-alice',
        body: 'old insult',
        reports: [{ reportedBy: 'user-dave', reason: 'abuse', at: '2022-01-02T00:00:00Z' }],
      },
      {
        // A report alice filed on carol's message.
        roomId: 'r2',
        sk: '2026-11-05T00:00:00Z#m5',
        messageId: 'm5',
        sentAt: '2026-11-05T00:00:00Z',
        senderId: 'user-carol',
        body: 'rude words',
        reports: [
          { reportedBy: 'user-dave', reason: 'rude', at: '2026-11-05T01:00:00Z' },
          { reportedBy: 'user-alice', reason: 'harassment', at: '2026-11-06T00:00:00Z' },
        ],
      },
      { roomId: 'r3', sk: '2026-09-01T00:00:00Z#m6', messageId: 'm6', senderId: 'user-alice', body: 'bye' },
      {
        roomId: 'r3',
        sk: '2026-09-02T00:00:00Z#m7',
        messageId: 'm7',
        senderId: 'user-bob',
        body: 'see you @carol',
        mentions: ['user-carol'],
      },
    ],
    objects: [
      'chat-attachments/r1/m1/beach.jpg',
      'chat-attachments/r2/m3/flyer.png',
      'chat-attachments/r2/m30/other.png', // another message whose id starts with m3
      'chat-attachments/r3/m7/bobs.png',
    ],
  };
}

/** A deep copy in this realm (jest's structuredClone makes Sets another realm's `instanceof` misses). */
function clone<T>(value: T): T {
  if (value instanceof Set) return new Set([...(value as Set<unknown>)].map(clone)) as T;
  if (Array.isArray(value)) return value.map(clone) as T;
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)])) as T;
  return value;
}

const keyOf = (row: Row) => `${String(row.roomId)}|${String(row.sk ?? '')}`;

/** Resolves `#a[1].#b` style paths of the few expressions the connector writes. */
function pathValue(
  item: Row,
  path: string,
  names: Record<string, string>,
): { parent: unknown; at: string | number } {
  const parts = path.split('.').flatMap((part) => {
    const m = /^(#\w+)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new Error(`fake: unsupported path ${path}`);
    const indexes = [...(m[2] ?? '').matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    return [names[m[1] ?? ''] ?? '', ...indexes];
  });
  let parent: unknown = item;
  for (const p of parts.slice(0, -1)) parent = (parent as Record<string | number, unknown>)?.[p];
  return { parent, at: parts[parts.length - 1] ?? '' };
}

function get(item: Row, path: string, names: Record<string, string>): unknown {
  const { parent, at } = pathValue(item, path, names);
  return (parent as Record<string | number, unknown> | undefined)?.[at];
}

function conditionHolds(
  item: Row | undefined,
  expression: string | undefined,
  names: Record<string, string>,
  values: Row,
) {
  if (!expression) return true;
  return expression.split(' AND ').every((clause) => {
    const eq = /^(\S+) = (:\w+)$/.exec(clause);
    if (eq) return item !== undefined && get(item, eq[1] ?? '', names) === values[eq[2] ?? ''];
    const exists = /^attribute_exists\((#\w+)\)$/.exec(clause);
    if (exists) return item !== undefined && get(item, exists[1] ?? '', names) !== undefined;
    const contains = /^contains\((#\w+), (:\w+)\)$/.exec(clause);
    if (contains) {
      const set = item && get(item, contains[1] ?? '', names);
      return set instanceof Set && set.has(values[contains[2] ?? '']);
    }
    throw new Error(`fake: unsupported condition ${clause}`);
  });
}

function conditionFailed(): Error {
  return Object.assign(new Error('The conditional request failed'), {
    name: 'ConditionalCheckFailedException',
  });
}

/** A fake document client over in-memory tables that understands the expressions the connector uses. */
function fakeChat(
  data = fixtures(),
  options: { interfere?: (command: UpdateCommand, table: Map<string, Row>) => void } = {},
) {
  const rooms = new Map(data.rooms.map((r) => [String(r.roomId), r]));
  const messages = new Map(data.messages.map((m) => [keyOf(m), m]));
  let objects = [...data.objects];
  const log: string[] = [];
  const send = async (command: unknown): Promise<unknown> => {
    if (command instanceof ScanCommand) throw new Error('never Scan');
    if (command instanceof GetCommand) {
      const table = command.input.TableName === 'rooms' ? rooms : messages;
      const key =
        command.input.TableName === 'rooms'
          ? String(command.input.Key?.roomId)
          : keyOf(command.input.Key ?? {});
      const item = table.get(key);
      return { Item: item ? clone(item) : undefined };
    }
    if (command instanceof QueryCommand) {
      const values = command.input.ExpressionAttributeValues ?? {};
      const all = [...messages.values()].sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
      const items =
        command.input.IndexName === 'bySender'
          ? all.filter((m) => m.senderId === values[':senderId'])
          : all.filter((m) => m.roomId === values[':roomId']);
      // One item a page, to exercise paging.
      const start = command.input.ExclusiveStartKey ? Number(command.input.ExclusiveStartKey.i) : 0;
      const page = items.slice(start, start + 1).map((m) => clone(m));
      return { Items: page, LastEvaluatedKey: start + 1 < items.length ? { i: start + 1 } : undefined };
    }
    if (command instanceof UpdateCommand) {
      const { TableName, Key = {}, UpdateExpression = '', ConditionExpression } = command.input;
      const names = command.input.ExpressionAttributeNames ?? {};
      const values = command.input.ExpressionAttributeValues ?? {};
      const table = TableName === 'rooms' ? rooms : messages;
      const key = TableName === 'rooms' ? String(Key.roomId) : keyOf(Key);
      options.interfere?.(command, table);
      const item = table.get(key);
      if (!conditionHolds(item, ConditionExpression, names, values)) throw conditionFailed();
      if (!item) throw new Error('fake: update of a missing item');
      log.push(`update ${TableName} ${key} ${UpdateExpression}`);
      const set = /^SET (.+?)(?: REMOVE (.+))?$/.exec(UpdateExpression);
      const del = /^DELETE (#\w+) (:\w+)$/.exec(UpdateExpression);
      if (set) {
        for (const assignment of (set[1] ?? '').split(', ')) {
          const [path = '', value = ''] = assignment.split(' = ');
          const { parent, at } = pathValue(item, path, names);
          (parent as Record<string | number, unknown>)[at] = values[value];
        }
        for (const path of (set[2] ?? '').split(', ').filter(Boolean)) delete item[names[path] ?? ''];
      } else if (del) {
        const current = item[names[del[1] ?? ''] ?? ''] as Set<string>;
        for (const id of values[del[2] ?? ''] as Set<string>) current.delete(id);
      } else throw new Error(`fake: unsupported update ${UpdateExpression}`);
      return {};
    }
    if (command instanceof DeleteCommand) {
      const key = keyOf(command.input.Key ?? {});
      const names = command.input.ExpressionAttributeNames ?? {};
      if (
        !conditionHolds(
          messages.get(key),
          command.input.ConditionExpression,
          names,
          command.input.ExpressionAttributeValues ?? {},
        )
      )
        throw conditionFailed();
      log.push(`delete ${key}`);
      messages.delete(key);
      return {};
    }
    throw new Error(`fake: unexpected command ${String(command)}`);
  };
  const s3send = async (command: unknown): Promise<unknown> => {
    if (command instanceof ListObjectsV2Command) {
      const prefix = command.input.Prefix ?? '';
      return {
        Contents: objects.filter((k) => k.startsWith(prefix)).map((Key) => ({ Key })),
        IsTruncated: false,
      };
    }
    if (command instanceof DeleteObjectsCommand) {
      const gone = new Set((command.input.Delete?.Objects ?? []).map((o) => o.Key));
      log.push(`s3 delete ${[...gone].join(',')}`);
      objects = objects.filter((k) => !gone.has(k));
      return {};
    }
    throw new Error(`fake: unexpected S3 command ${String(command)}`);
  };
  return {
    doc: fakeClient(DynamoDBDocumentClient, { send }),
    s3: fakeClient(S3Client, { send: s3send }),
    rooms,
    messages,
    objects: () => objects,
    log,
  };
}

function staged(): StagedSubject {
  return {
    requestId: 'req_1',
    subjectHash: 'hash',
    found: true,
    pseudonymSalt: 'salt',
    identifiers: { userIds: SUBJECT, emails: [], phones: [], deviceIds: [], externalAccounts: [] },
  };
}

const KR_COMPLAINTS: PlanEntryView['rule'] = {
  period: 'P3Y',
  from: 'complaintDate',
  keep: ['messageId', 'roomId', 'sentAt', 'body', 'reports[].reason', 'reports[].at'],
  basis: { law: 'Act on the Consumer Protection in Electronic Commerce', provision: 'Art. 6' },
};

function eraseContext(
  actions: Partial<Record<string, PlanEntryView['action']>> = {},
): EraseContext & { vaulted: VaultRecord[] } {
  const vaulted: VaultRecord[] = [];
  const entry = (category: string, liveAction: 'delete' | 'anonymise', fallback: PlanEntryView['action']) => {
    const action = actions[category] ?? fallback;
    return { category, action, liveAction, ...(category === 'complaints' ? { rule: KR_COMPLAINTS } : {}) };
  };
  return {
    requestId: 'req_1',
    subject: staged(),
    tombstone: TOMB,
    now: () => NOW,
    plan: [
      entry('messages', 'delete', 'delete'),
      entry('complaints', 'delete', 'retain'),
      entry('mentions', 'anonymise', 'anonymise'),
      entry('room-memberships', 'delete', 'delete'),
    ],
    vault: { put: async (record) => void vaulted.push(record) },
    vaulted,
  };
}

describe('chat connector inventory', () => {
  it('counts each category from the subject messages and their rooms, dating complaints by the latest report', async () => {
    const fake = fakeChat();
    const inventory = await createChatConnector(fake.doc, CONFIG, fake.s3).inventory!(eraseContext());
    expect(inventory).toEqual({
      messages: { count: 2 }, // m1, m6
      complaints: {
        count: 3, // m3 and m4 (reported), m5 (alice's report)
        dates: {
          complaintDate: [
            { at: '2022-01-02T00:00:00.000Z', count: 1 },
            { at: '2026-10-03T05:00:00.000Z', count: 1 },
            { at: '2026-11-06T00:00:00.000Z', count: 1 },
          ],
        },
      },
      mentions: { count: 1 }, // m2 (m7 mentions carol only)
      'room-memberships': { count: 2 }, // r1, r2 (not r3: she already left)
    });
  });
});

describe('chat connector erase', () => {
  it('carries out the plan and leaves nothing the inventory would count', async () => {
    const fake = fakeChat();
    const before = fixtures();
    const chat = createChatConnector(fake.doc, CONFIG, fake.s3);
    const ctx = eraseContext();
    const outcome = await chat.erase!(ctx);
    expect(outcome).toEqual({
      messages: { deleted: 2, anonymised: 0, retained: 0, untouched: 0 },
      complaints: { deleted: 1, anonymised: 0, retained: 2, untouched: 0 },
      mentions: { deleted: 0, anonymised: 1, retained: 0, untouched: 0 },
      'room-memberships': { deleted: 2, anonymised: 0, retained: 0, untouched: 0 },
    });

    // Own messages gone, with their attachment objects; others' files stay.
    expect([...fake.messages.keys()].sort()).toEqual([
      'r1|2026-11-02T10:00:00Z#m2',
      'r2|2026-11-05T00:00:00Z#m5',
      'r3|2026-09-02T00:00:00Z#m7',
    ]);
    expect(fake.objects()).toEqual(['chat-attachments/r2/m30/other.png', 'chat-attachments/r3/m7/bobs.png']);

    // Mentions: only the subject's ids replaced, in place; the body and the other mention as they were.
    const m2 = fake.messages.get('r1|2026-11-02T10:00:00Z#m2');
    expect(m2).toEqual({ ...before.messages[1], mentions: ['user-carol', TOMB, TOMB] });
    // A report alice filed: still on carol's message, by nobody known; carol's message otherwise intact.
    const m5 = fake.messages.get('r2|2026-11-05T00:00:00Z#m5');
    expect(m5).toEqual({
      ...before.messages[4],
      reports: [
        { reportedBy: 'user-dave', reason: 'rude', at: '2026-11-05T01:00:00Z' },
        { reportedBy: TOMB, reason: 'harassment', at: '2026-11-06T00:00:00Z' },
      ],
    });
    expect(fake.messages.get('r3|2026-09-02T00:00:00Z#m7')).toEqual(before.messages[6]);
    // Memberships: only alice's ids leave.
    expect(fake.rooms.get('r1')?.members).toEqual(new Set(['user-bob']));
    expect(fake.rooms.get('r2')?.members).toEqual(new Set(['user-carol', 'user-dave']));
    expect(fake.rooms.get('r3')).toEqual(before.rooms[2]);

    // The vault gets the kept fields only (no reporters, no sender, no attachments), dated per record.
    const byId = new Map(ctx.vaulted.map((r) => [r.recordId, r]));
    expect(byId.get('message:r2:2026-10-01T00:00:00Z#m3')).toEqual({
      store: 'chat',
      category: 'complaints',
      recordId: 'message:r2:2026-10-01T00:00:00Z#m3',
      until: '2029-10-03T05:00:00.000Z',
      basis: 'Act on the Consumer Protection in Electronic Commerce, Art. 6',
      data: {
        messageId: 'm3',
        roomId: 'r2',
        sentAt: '2026-10-01T00:00:00Z',
        body: 'buy coins',
        reports: [
          { reason: 'spam', at: '2026-10-02T00:00:00Z' },
          { reason: 'scam', at: '2026-10-03T05:00:00Z' },
        ],
      },
    });
    // The filed report keeps only alice's own report on that message.
    expect(byId.get('report:r2:2026-11-05T00:00:00Z#m5')?.data).toEqual({
      messageId: 'm5',
      roomId: 'r2',
      sentAt: '2026-11-05T00:00:00Z',
      body: 'rude words',
      reports: [{ reason: 'harassment', at: '2026-11-06T00:00:00Z' }],
    });
    expect(byId.get('report:r2:2026-11-05T00:00:00Z#m5')?.until).toBe('2029-11-06T00:00:00.000Z');
    // m4's period ended in 2025: deleted, not vaulted.
    expect(ctx.vaulted).toHaveLength(2);
    expect(JSON.stringify(ctx.vaulted)).not.toMatch(/user-|reportedBy|senderId|attachments/);

    // Rooms first: no message is deleted before every room-level change is made.
    const firstDelete = fake.log.findIndex((l) => l.startsWith('delete') || l.startsWith('s3'));
    const lastUpdate = fake.log.map((l) => l.startsWith('update')).lastIndexOf(true);
    expect(lastUpdate).toBeLessThan(firstDelete);

    const after = await chat.inventory!(eraseContext());
    expect(Object.values(after).map((c) => c.count)).toEqual([0, 0, 0, 0]);
  });

  it('is idempotent: a second run changes nothing and counts nothing', async () => {
    const fake = fakeChat();
    const chat = createChatConnector(fake.doc, CONFIG, fake.s3);
    await chat.erase!(eraseContext());
    const snapshot = clone({ rooms: [...fake.rooms], messages: [...fake.messages] });
    const logLength = fake.log.length;
    const again = await chat.erase!(eraseContext());
    expect(Object.values(again).every((o) => o.deleted + o.anonymised + o.retained + o.untouched === 0)).toBe(
      true,
    );
    expect(fake.log.length).toBe(logLength);
    expect({ rooms: [...fake.rooms], messages: [...fake.messages] }).toEqual(snapshot);
  });

  it('changes nothing of a held category and counts it untouched', async () => {
    const fake = fakeChat();
    const before = fixtures();
    const ctx = eraseContext({
      messages: 'held',
      complaints: 'held',
      mentions: 'held',
      'room-memberships': 'held',
    });
    const outcome = await createChatConnector(fake.doc, CONFIG, fake.s3).erase!(ctx);
    expect(outcome).toEqual({
      messages: { deleted: 0, anonymised: 0, retained: 0, untouched: 2 },
      complaints: { deleted: 0, anonymised: 0, retained: 0, untouched: 3 },
      mentions: { deleted: 0, anonymised: 0, retained: 0, untouched: 1 },
      'room-memberships': { deleted: 0, anonymised: 0, retained: 0, untouched: 2 },
    });
    expect(fake.log).toEqual([]);
    expect(ctx.vaulted).toEqual([]);
    expect([...fake.messages.values()]).toEqual(before.messages);
    expect(fake.objects()).toEqual(before.objects);
  });

  it('holds one category while doing the others', async () => {
    const fake = fakeChat();
    const ctx = eraseContext({ complaints: 'held' });
    const outcome = await createChatConnector(fake.doc, CONFIG, fake.s3).erase!(ctx);
    expect(outcome.complaints).toEqual({ deleted: 0, anonymised: 0, retained: 0, untouched: 3 });
    expect(outcome.messages?.deleted).toBe(2);
    expect(fake.messages.has('r2|2026-10-01T00:00:00Z#m3')).toBe(true);
    expect(fake.objects()).toContain('chat-attachments/r2/m3/flyer.png');
    expect(fake.messages.get('r2|2026-11-05T00:00:00Z#m5')?.reports).toContainEqual({
      reportedBy: 'user-alice',
      reason: 'harassment',
      at: '2026-11-06T00:00:00Z',
    });
  });

  it('anonymising own messages keeps the thread: no body, no attachments, a tombstone sender', async () => {
    const fake = fakeChat();
    const ctx = eraseContext();
    ctx.plan = ctx.plan.map((e) =>
      e.category === 'messages' ? { ...e, action: 'anonymise', liveAction: 'anonymise' } : e,
    );
    const outcome = await createChatConnector(fake.doc, CONFIG, fake.s3).erase!(ctx);
    expect(outcome.messages).toEqual({ deleted: 0, anonymised: 2, retained: 0, untouched: 0 });
    expect(fake.messages.get('r1|2026-11-01T10:00:00Z#m1')).toEqual({
      roomId: 'r1',
      sk: '2026-11-01T10:00:00Z#m1',
      messageId: 'm1',
      sentAt: '2026-11-01T10:00:00Z',
      senderId: TOMB,
    });
    expect(fake.objects()).not.toContain('chat-attachments/r1/m1/beach.jpg');
  });

  it('re-reads a message that changed under it and applies the change to what is there now', async () => {
    let interfered = false;
    const fake = fakeChat(fixtures(), {
      interfere: (command, table) => {
        // Before the first mention update lands, bob edits his mention list (alice moves to the front).
        const key = 'r1|2026-11-02T10:00:00Z#m2';
        if (interfered || command.input.TableName !== 'messages' || !table.has(key)) return;
        interfered = true;
        (table.get(key) as Row).mentions = ['user-alice', 'user-carol'];
      },
    });
    const outcome = await createChatConnector(fake.doc, CONFIG, fake.s3).erase!(eraseContext());
    expect(interfered).toBe(true);
    expect(outcome.mentions?.anonymised).toBe(1);
    expect(fake.messages.get('r1|2026-11-02T10:00:00Z#m2')?.mentions).toEqual([TOMB, 'user-carol']);
  });

  it('never deletes attachments outside the message folder, nor builds a prefix from an unusable id', async () => {
    const data = fixtures();
    data.messages.push({
      roomId: 'r1',
      sk: '2026-11-03T00:00:00Z#..',
      messageId: '..',
      senderId: 'user-alice',
      attachments: [{ key: 'chat-attachments/r1/x' }],
    });
    data.objects.push('chat-attachments/r1/x');
    const fake = fakeChat(data);
    await createChatConnector(fake.doc, CONFIG, fake.s3).erase!(eraseContext());
    expect(fake.objects()).toContain('chat-attachments/r1/x');
    expect(fake.log.filter((l) => l.startsWith('s3')).join()).not.toContain('chat-attachments/r1/x');
  });

  it('refuses to erase without a media bucket client, before touching anything', async () => {
    const fake = fakeChat();
    await expect(createChatConnector(fake.doc, CONFIG).erase!(eraseContext())).rejects.toMatchObject({
      name: 'ContractError',
    });
  });
});
