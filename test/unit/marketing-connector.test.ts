import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  categoryOf,
  createMarketingConnector,
  eventDate,
  toExportedEvent,
} from '../../functions/connectors/marketing/core';
import type {
  CategoryInventoryView,
  EraseContext,
  ErasureContext,
  PlanEntryView,
  VaultRecord,
} from '../../functions/lib/connectors/contract';
import type { HoldScope } from '../../functions/lib/erasure/types';
import { fakeClient } from '../support/fake-client';
import { fakeCollect } from '../support/fake-collect';
import { planEntriesFor } from '../support/erasure-plans';
import { erasureContextFor, fakeUserKeyedTable } from '../support/user-keyed-table';

type Item = Record<string, unknown>;
const NOW = new Date('2026-11-01T00:00:00.000Z');
const TABLE = 'platform-marketing-events';

function event(userId: string, eventId: string, at: string, fields: Item): Item {
  return { userId, sk: `${at}#${eventId}`, eventId, at, ...fields };
}

const newsletter = { campaignId: 'cmp-1', messageId: 'msg-1' };
const opener = { ip: '203.0.113.77', userAgent: 'Mail/1.0' };

/** The subject's events: every kind, one older than 6 months, one with a secret and a card number. */
function subjectEvents(userId: string): Item[] {
  return [
    event(userId, 'e1', '2026-10-10T08:00:00.000Z', {
      kind: 'email-delivered',
      ...newsletter,
      unsubscribeToken: 'tok-secret-1',
    }),
    event(userId, 'e2', '2026-10-10T12:00:00.000Z', { kind: 'email-opened', ...newsletter, ...opener }),
    event(userId, 'e3', '2026-10-11T12:00:00.000Z', {
      kind: 'email-clicked',
      ...newsletter,
      ...opener,
      url: 'https://prism.example/live',
    }),
    event(userId, 'e0', '2026-01-05T09:00:00.000Z', { kind: 'email-delivered', ...newsletter }),
    event(userId, 'e4', '2026-10-12T19:00:00.000Z', {
      kind: 'sweepstakes-entry',
      campaignId: 'cmp-poster',
      details: {
        prize: 'Signed poster',
        name: '佐藤 健司',
        address: '神奈川県横浜市西区みなとみらい2-4-6',
        phone: '+819098765432',
        note: 'paid shipping with 4111 1111 1111 1111',
      },
    }),
    event(userId, 'e5', '2026-10-15T21:45:00.000Z', {
      kind: 'survey-response',
      campaignId: 'cmp-survey',
      details: { answers: { q1: 'Live streams', q2: '5' } },
    }),
  ];
}

/** The in-memory table, with which user ids each collect queried (first page only). */
function fakeTable(items: Item[]) {
  const fake = fakeUserKeyedTable(TABLE, items, { pageSize: 2 });
  const queried: string[] = [];
  const send = fake.doc.send.bind(fake.doc) as (command: unknown) => Promise<unknown>;
  const doc = fakeClient(DynamoDBDocumentClient, {
    send: async (command: unknown) => {
      if (command instanceof QueryCommand && !command.input.ExclusiveStartKey)
        queried.push(String(command.input.ExpressionAttributeValues?.[':userId']));
      return send(command);
    },
  });
  return { ...fake, doc, queried };
}

const erasureCtx = (userIds: string[]): ErasureContext => erasureContextFor(userIds, NOW);

function harness(items: Item[]) {
  const fake = fakeTable(items);
  const vaulted: VaultRecord[] = [];
  let failVault = false;
  const connector = createMarketingConnector(fake.doc, { tableName: TABLE });
  return {
    ...fake,
    connector,
    vaulted,
    failVault: () => void (failVault = true),
    left: (userId: string) => [...fake.table.values()].filter((i) => i.userId === userId),
    inventory: (userIds: string[]) => connector.inventory!(erasureCtx(userIds)),
    erase: (userIds: string[], plan: PlanEntryView[]) => {
      const ctx: EraseContext = {
        ...erasureCtx(userIds),
        plan,
        vault: {
          put: async (r) => {
            await new Promise((resolve) => setImmediate(resolve));
            if (failVault) throw new Error('vault down');
            vaulted.push(structuredClone(r));
          },
        },
      };
      return connector.erase!(ctx);
    },
  };
}

function planFor(inv: Record<string, CategoryInventoryView>, jurisdiction: string, holds: HoldScope[] = []) {
  return planEntriesFor('marketing', inv, { jurisdiction, holds, now: NOW });
}

const subjectAndOther = () => [...subjectEvents('u-a'), ...subjectEvents('u-b')];

describe('marketing collect', () => {
  it('exports each category as its own collection, from every user id and no one else', async () => {
    const { doc, queried } = fakeTable([...subjectEvents('u-a'), ...subjectEvents('u-b')]);
    const fake = fakeCollect({ userIds: ['u-a', 'u-a'] });
    await createMarketingConnector(doc, { tableName: TABLE }).collect(fake.ctx);
    expect(queried).toEqual(['u-a']);

    const records = (name: string) => fake.collections.get(name)?.records ?? [];
    expect([...fake.collections.keys()].sort()).toEqual([
      'campaign-entries',
      'email-events',
      'survey-responses',
    ]);
    expect(records('email-events').map((r) => r.eventId)).toEqual(['e0', 'e1', 'e2', 'e3']);
    expect(records('email-events').find((r) => r.eventId === 'e2')).toEqual({
      userId: 'u-a',
      eventId: 'e2',
      at: '2026-10-10T12:00:00.000Z',
      kind: 'email-opened',
      campaignId: 'cmp-1',
      messageId: 'msg-1',
      ip: '203.0.113.77',
      userAgent: 'Mail/1.0',
    });
    expect(records('email-events').find((r) => r.eventId === 'e3')?.url).toBe('https://prism.example/live');
    expect(records('campaign-entries')).toEqual([
      {
        userId: 'u-a',
        eventId: 'e4',
        at: '2026-10-12T19:00:00.000Z',
        kind: 'sweepstakes-entry',
        campaignId: 'cmp-poster',
        prize: 'Signed poster',
        shippingName: '佐藤 健司',
        shippingAddress: '神奈川県横浜市西区みなとみらい2-4-6',
        shippingPhone: '+819098765432',
        detailsNote: 'paid shipping with ************1111',
      },
    ]);
    expect(records('survey-responses')).toEqual([
      {
        userId: 'u-a',
        eventId: 'e5',
        at: '2026-10-15T21:45:00.000Z',
        kind: 'survey-response',
        campaignId: 'cmp-survey',
        answers: { q1: 'Live streams', q2: '5' },
      },
    ]);
    expect(fake.collections.get('email-events')?.spec.tabular).toBe(true);
    expect(fake.collections.get('campaign-entries')?.spec.tabular).toBe(true);
    expect(fake.collections.get('survey-responses')?.spec.tabular).toBe(false);

    const json = JSON.stringify([...fake.collections.values()]);
    expect(json).not.toContain('tok-secret-1');
    expect(json).not.toContain('unsubscribeToken');
    expect(json).not.toContain('4111 1111 1111 1111');
    expect(json).not.toContain('u-b');
  });

  it('opens no collection for a person without marketing events', async () => {
    const { doc } = fakeTable(subjectEvents('u-b'));
    const fake = fakeCollect({ userIds: ['u-a'] });
    await createMarketingConnector(doc, { tableName: TABLE }).collect(fake.ctx);
    expect(fake.collections.size).toBe(0);
  });

  it('places events without a known kind by their shape, and keeps unknown attributes', () => {
    expect(categoryOf({ kind: 'email-bounced', messageId: 'm' })).toBe('email-events');
    expect(categoryOf({ details: { answers: { q1: 'a' } } })).toBe('survey-responses');
    expect(categoryOf({ kind: 'referral', details: { prize: 'x' } })).toBe('campaign-entries');
    expect(categoryOf({})).toBe('campaign-entries');
    expect(
      toExportedEvent({ userId: 'u', sk: 's', kind: 'email-opened', channel: 'web', apiKey: 'k' }),
    ).toEqual({
      userId: 'u',
      kind: 'email-opened',
      channel: 'web',
    });
    expect(eventDate({ sk: '2026-03-04T05:06:07Z#e' }, NOW)).toBe('2026-03-04T05:06:07.000Z');
    expect(eventDate({ at: 'never' }, NOW)).toBe(NOW.toISOString());
  });
});

describe('marketing inventory', () => {
  it('counts events per category, dated per UTC day', async () => {
    const h = harness(subjectAndOther());
    expect(await h.inventory(['u-a'])).toEqual({
      'email-events': {
        count: 4,
        dates: {
          recordDate: [
            { at: '2026-01-05T09:00:00.000Z', count: 1 },
            { at: '2026-10-10T12:00:00.000Z', count: 2 },
            { at: '2026-10-11T12:00:00.000Z', count: 1 },
          ],
        },
      },
      'campaign-entries': { count: 1, dates: { recordDate: [{ at: '2026-10-12T19:00:00.000Z', count: 1 }] } },
      'survey-responses': { count: 1, dates: { recordDate: [{ at: '2026-10-15T21:45:00.000Z', count: 1 }] } },
    });
    expect(await h.inventory(['nobody'])).toEqual({
      'email-events': { count: 0 },
      'campaign-entries': { count: 0 },
      'survey-responses': { count: 0 },
    });
  });
});

describe('marketing erase', () => {
  it('KR: keeps advertising e-mail records 6 months in the vault (kept fields only), deletes the rest', async () => {
    const h = harness(subjectAndOther());
    const others = h.left('u-b');
    const plan = planFor(await h.inventory(['u-a']), 'KR');
    expect(plan.map((e) => [e.category, e.action])).toEqual([
      ['email-events', 'retain'],
      ['campaign-entries', 'delete'],
      ['survey-responses', 'delete'],
    ]);
    expect(await h.erase(['u-a'], plan)).toEqual({
      'email-events': { deleted: 1, anonymised: 0, retained: 3, untouched: 0 },
      'campaign-entries': { deleted: 1, anonymised: 0, retained: 0, untouched: 0 },
      'survey-responses': { deleted: 1, anonymised: 0, retained: 0, untouched: 0 },
    });
    expect(h.left('u-a')).toEqual([]);
    expect(h.left('u-b')).toEqual(others);

    expect(h.vaulted.map((r) => r.recordId).sort()).toEqual(['e1', 'e2', 'e3']);
    const opened = h.vaulted.find((r) => r.recordId === 'e2');
    expect(opened).toMatchObject({
      store: 'marketing',
      category: 'email-events',
      until: '2027-04-10T12:00:00.000Z',
      basis: expect.stringContaining('Electronic Commerce'),
      data: { eventId: 'e2', at: '2026-10-10T12:00:00.000Z', kind: 'email-opened', ...newsletter },
    });
    // The open's IP and user agent are not advertising records: they go.
    expect(JSON.stringify(h.vaulted)).not.toMatch(/203\.0\.113\.77|Mail\/1\.0|tok-secret|u-a/);
  });

  it('default profile: keeps nothing', async () => {
    const h = harness(subjectEvents('u-a'));
    const plan = planFor(await h.inventory(['u-a']), 'default');
    const outcome = await h.erase(['u-a'], plan);
    expect(outcome['email-events']).toEqual({ deleted: 4, anonymised: 0, retained: 0, untouched: 0 });
    expect(h.vaulted).toEqual([]);
    expect(h.left('u-a')).toEqual([]);
  });

  it('is idempotent: a second run finds nothing and vaults nothing more', async () => {
    const h = harness(subjectAndOther());
    const plan = planFor(await h.inventory(['u-a']), 'KR');
    await h.erase(['u-a'], plan);
    const vaulted = h.vaulted.length;
    const again = await h.erase(['u-a'], plan);
    for (const outcome of Object.values(again))
      expect(outcome).toEqual({ deleted: 0, anonymised: 0, retained: 0, untouched: 0 });
    expect(h.vaulted).toHaveLength(vaulted);
  });

  it('leaves held categories as they are', async () => {
    const h = harness(subjectEvents('u-a'));
    const before = h.left('u-a');
    const holds = [
      {
        holdId: 'h1',
        caseReference: 'C-1',
        stores: ['marketing' as const],
        categories: ['campaign-entries'],
      },
    ];
    const plan = planFor(await h.inventory(['u-a']), 'default', holds);
    const outcome = await h.erase(['u-a'], plan);
    expect(outcome['campaign-entries']).toEqual({ deleted: 0, anonymised: 0, retained: 0, untouched: 1 });
    expect(h.left('u-a')).toEqual(before.filter((i) => i.kind === 'sweepstakes-entry'));
  });

  it('deletes nothing when a kept copy cannot be stored', async () => {
    const h = harness(subjectEvents('u-a'));
    const before = h.left('u-a');
    const plan = planFor(await h.inventory(['u-a']), 'KR');
    h.failVault();
    await expect(h.erase(['u-a'], plan)).rejects.toThrow('vault down');
    // Pages of 2, the first page's copies failed: nothing of that page went, nor anything after it.
    expect(h.left('u-a')).toEqual(before);
  });

  it('refuses a plan that anonymises', async () => {
    const h = harness(subjectEvents('u-a'));
    const plan: PlanEntryView[] = [
      { category: 'survey-responses', action: 'anonymise', liveAction: 'anonymise' },
    ];
    await expect(h.erase(['u-a'], plan)).rejects.toThrow(/cannot anonymise/);
    expect(h.left('u-a')).toHaveLength(6);
  });
});
