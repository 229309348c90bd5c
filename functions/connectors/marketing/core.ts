/**
 * Marketing connector: the subject's marketing events (platform-marketing-events), read by Query on the
 * partition key for each of their user ids, never a Scan. Each item is one event and belongs to one
 * category (docs/policy.md), by its `kind`:
 * - `email-events`: e-mails delivered to, opened and clicked by the person (with the open's or click's IP
 *   and user agent, and the link clicked): the advertising records Korea keeps for 6 months;
 * - `campaign-entries`: sweepstakes and campaign entries, with the prize and its shipping name, address
 *   and phone;
 * - `survey-responses`: questionnaire answers.
 * An item without a known kind goes by its shape: an e-mail id makes it an e-mail event, answers a
 * survey response, anything else a campaign entry. Secrets and card numbers never leave the store.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type {
  CategoryInventoryView,
  CategoryOutcome,
  CollectContext,
  CollectionSpec,
  Connector,
  EraseContext,
  ErasureContext,
} from '../../lib/connectors/contract';
import { STORE_CATEGORIES } from '../../lib/erasure/types';
import { planByCategory, vaultCopy, zeroOutcome } from '../../lib/erasure/erasure-plan';
import { batchWriteAll } from '../../lib/aws/dynamo-batch';
import { pickKept } from '../../lib/erasure/vault';
import { isRecord, toJsonValue, type Item } from '../../lib/aws/dynamo-paging';
import { isSecretKey, scrubCardData } from '../../lib/connectors/card-masking';
import {
  groupByDay,
  recordIdOf,
  recordInstant,
  userPartitionPages,
} from '../../lib/connectors/user-keyed-items';

export interface MarketingConfig {
  tableName: string;
}

export type MarketingCategory = (typeof STORE_CATEGORIES.marketing)[number];

const CATEGORY_BY_KIND: Readonly<Record<string, MarketingCategory>> = {
  'email-delivered': 'email-events',
  'email-opened': 'email-events',
  'email-clicked': 'email-events',
  'sweepstakes-entry': 'campaign-entries',
  'campaign-entry': 'campaign-entries',
  'survey-response': 'survey-responses',
};

export function categoryOf(item: Item): MarketingCategory {
  const byKind = typeof item.kind === 'string' ? CATEGORY_BY_KIND[item.kind] : undefined;
  if (byKind) return byKind;
  if (typeof item.messageId === 'string') return 'email-events';
  if (isRecord(item.details) && item.details.answers !== undefined) return 'survey-responses';
  return 'campaign-entries';
}

/** An event's date: `at`, else the sort key's `<at>#` prefix, else now. */
export function eventDate(item: Item, now: Date): string {
  return recordInstant(item, 'at', now);
}

/** A collection of events: the attributes every event has, then the category's own. */
function eventsSpec(
  name: MarketingCategory,
  description: string,
  tabular: boolean,
  properties: Record<string, unknown>,
): CollectionSpec {
  return {
    name,
    description,
    tabular,
    recordSchema: {
      type: 'object',
      required: ['userId'],
      properties: {
        userId: { type: 'string' },
        eventId: { type: 'string' },
        at: { type: 'string', format: 'date-time' },
        kind: { type: 'string' },
        campaignId: { type: 'string' },
        ...properties,
      },
      additionalProperties: true,
    },
  };
}

const SPECS: Record<MarketingCategory, CollectionSpec> = {
  'email-events': eventsSpec(
    'email-events',
    'E-mails we sent you that were delivered, opened or clicked, with the IP address and program that opened them.',
    true,
    {
      kind: { type: 'string', description: 'email-delivered, email-opened or email-clicked' },
      messageId: { type: 'string', description: 'The e-mail the event is about' },
      ip: { type: 'string', description: 'The IP address the e-mail was opened or clicked from' },
      userAgent: { type: 'string', description: 'The e-mail program or browser that opened it' },
      url: { type: 'string', description: 'The link clicked' },
    },
  ),
  'campaign-entries': eventsSpec(
    'campaign-entries',
    'Sweepstakes and campaigns you entered, with the prize and where it was to be sent.',
    true,
    {
      kind: { type: 'string', description: 'sweepstakes-entry or campaign-entry' },
      prize: { description: 'The prize entered for' },
      shippingName: { type: 'string', description: 'The name the prize was to be sent to' },
      shippingAddress: { type: 'string', description: 'The address the prize was to be sent to' },
      shippingPhone: { type: 'string', description: 'The phone number given for the delivery' },
    },
  ),
  // Answers are a map of question id to answer: not a flat table.
  'survey-responses': eventsSpec(
    'survey-responses',
    'Your answers to our questionnaires, by question.',
    false,
    { answers: { type: 'object', description: 'Question id -> your answer', additionalProperties: true } },
  ),
};

/** `details` keys given columns of their own in campaign entries. */
const DETAIL_COLUMNS: Readonly<Record<string, string>> = {
  prize: 'prize',
  name: 'shippingName',
  address: 'shippingAddress',
  phone: 'shippingPhone',
};

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** Secrets dropped and card numbers masked, in whatever the value holds. */
function put(out: Item, key: string, value: unknown): void {
  if (value === undefined || isSecretKey(key)) return;
  out[key] = scrubCardData(value);
}

/** One stored event as an exported record of its category's collection. */
export function toExportedEvent(raw: Item, category: MarketingCategory = categoryOf(raw)): Item {
  const item = toJsonValue(raw) as Item;
  const out: Item = {};
  for (const [key, value] of Object.entries(item)) {
    // The sort key repeats `at` and `eventId`: storage detail.
    if (key === 'sk' || key === 'details') continue;
    put(out, key, value);
  }
  if (isRecord(item.details)) {
    for (const [key, value] of Object.entries(item.details)) {
      if (category === 'survey-responses' && key === 'answers') put(out, 'answers', value);
      else if (category === 'campaign-entries' && DETAIL_COLUMNS[key]) put(out, DETAIL_COLUMNS[key], value);
      else put(out, `details${capitalize(key)}`, value);
    }
  } else {
    put(out, 'details', item.details);
  }
  return out;
}

export function createMarketingConnector(doc: DynamoDBDocumentClient, config: MarketingConfig): Connector {
  const allPages = (userIds: readonly string[]) => userPartitionPages(doc, config.tableName, userIds);

  return {
    store: 'marketing',
    async collect(ctx: CollectContext): Promise<void> {
      // Collections open on first use: a person with no survey answers gets no empty survey file.
      const writers = new Map<MarketingCategory, ReturnType<CollectContext['collection']>>();
      for await (const items of allPages(ctx.subject.identifiers.userIds)) {
        for (const item of items) {
          const category = categoryOf(item);
          let writer = writers.get(category);
          if (!writer) {
            writer = ctx.collection(SPECS[category]);
            writers.set(category, writer);
          }
          await writer.write(toExportedEvent(item, category));
        }
        await ctx.betweenBatches?.();
      }
    },

    async inventory(ctx: ErasureContext): Promise<Record<string, CategoryInventoryView>> {
      const now = ctx.now();
      const dates: Record<MarketingCategory, string[]> = {
        'email-events': [],
        'campaign-entries': [],
        'survey-responses': [],
      };
      for await (const items of allPages(ctx.subject.identifiers.userIds)) {
        for (const item of items) dates[categoryOf(item)].push(eventDate(item, now));
        await ctx.betweenBatches?.();
      }
      return Object.fromEntries(
        STORE_CATEGORIES.marketing.map((category) => {
          const instants = dates[category];
          const view: CategoryInventoryView = {
            count: instants.length,
            ...(instants.length > 0 ? { dates: { recordDate: groupByDay(instants) } } : {}),
          };
          return [category, view];
        }),
      );
    },

    async erase(ctx: EraseContext): Promise<Record<string, CategoryOutcome>> {
      const plan = planByCategory('marketing', ctx.plan, { canAnonymise: false });
      const outcome: Record<MarketingCategory, CategoryOutcome> = {
        'email-events': zeroOutcome(),
        'campaign-entries': zeroOutcome(),
        'survey-responses': zeroOutcome(),
      };
      const now = ctx.now();

      for await (const items of allPages(ctx.subject.identifiers.userIds)) {
        const vaulted: Promise<void>[] = [];
        const deletes: { userId: unknown; sk: unknown }[] = [];
        for (const item of items) {
          const category = categoryOf(item);
          const entry = plan.get(category);
          const counts = outcome[category];
          // No entry (nothing planned for it) or a hold: the event stays as it is.
          if (!entry || entry.action === 'held' || entry.action === 'none') {
            counts.untouched += 1;
            continue;
          }
          if (entry.action === 'retain' && entry.rule) {
            const copy = vaultCopy(entry.rule, eventDate(item, now), now, {
              store: 'marketing',
              category,
              recordId: recordIdOf(item, 'eventId'),
              data: (keep) => scrubCardData(pickKept(toJsonValue(item) as Item, keep)) as Item,
            });
            if (copy) {
              vaulted.push(ctx.vault.put(copy));
              counts.retained += 1;
            } else counts.deleted += 1;
          } else counts.deleted += 1;
          deletes.push({ userId: item.userId, sk: item.sk });
        }
        // Every kept copy is stored before any live record goes.
        await Promise.all(vaulted);
        await batchWriteAll(
          doc,
          config.tableName,
          deletes.map((Key) => ({ DeleteRequest: { Key } })),
        );
        await ctx.betweenBatches?.();
      }
      return outcome;
    },
  };
}
