/**
 * The requests table's indexes copy no personal attribute. The attributes that hold one are taken from
 * the items as the code writes them (a callback outbox item, a notice) with a marker identifier and URL,
 * plus the request item's own (built inside its opening transaction): none may be projected, and no
 * index of the table copies every attribute.
 */
import { orchestratorResources, REQUESTS_INDEX_ATTRIBUTES } from '../../config/data-map';
import { noticeItem } from '../../functions/lib/notices/outbox';
import { outboxItems } from '../../functions/lib/requests/callback-outbox';
import type { RequestRecord } from '../../functions/lib/requests/records';
import { createTableInput } from '../../local/bootstrap';

const EMAIL = 'marker.person@example.org';
const URL = 'https://hooks.example.net/tok-marker';
const table = { auditPeriodDays: 30 };
const iso = '2026-01-02T03:04:05.000Z';

/** The request item's attributes that hold identifiers, URLs or who asked (records.ts RequestRecord). */
const REQUEST_PERSONAL: readonly (keyof RequestRecord)[] = [
  'subject',
  'callbackUrls',
  'requester',
  'noticeContact',
  'resolvedSubject',
  'transmitTo',
];

/** The names of the attributes of `item` whose value holds the marker e-mail or URL. */
function personalNames(item: Record<string, unknown>): string[] {
  return Object.entries(item)
    .filter(([, value]) => /marker/.test(JSON.stringify(value)))
    .map(([name]) => name);
}

const record = {
  requestId: 'req_1',
  type: 'export',
  status: 'received',
  createdAt: iso,
  updatedAt: iso,
  subjectHash: 'h',
  subject: { email: EMAIL },
  callbackUrls: [URL],
  service: 'klub-outside',
  noticeContact: { email: EMAIL, language: 'en' },
} as RequestRecord;

const written = [
  ...outboxItems(table, record, undefined, iso),
  noticeItem(table, record, { kind: 'restriction', state: 'in_place', restrictions: ['processing'] }, iso),
];
// A notice's subject line and text are written to the person: never copied either.
const personal = new Set<string>([
  ...REQUEST_PERSONAL,
  'text',
  ...written.flatMap((i) => personalNames(i ?? {})),
]);

test('the markers are found where the item builders put them', () => {
  // url (callback outbox), to (notice): a builder that renamed them would be caught here.
  expect(written.flatMap((i) => personalNames(i ?? {})).sort()).toEqual(['to', 'url']);
});

test.each(orchestratorResources.requestsTable.indexes.map((index) => [index.indexName, index] as const))(
  '%s projects no personal attribute and not every attribute',
  (name, index) => {
    expect(index.projection).toBe('INCLUDE');
    const projected = index.nonKeyAttributes ?? [];
    expect(projected.filter((attribute) => personal.has(attribute))).toEqual([]);
    expect(projected).toEqual(REQUESTS_INDEX_ATTRIBUTES[name as keyof typeof REQUESTS_INDEX_ATTRIBUTES]);
    // The local stack creates it the same way.
    const local = createTableInput(orchestratorResources.requestsTable).GlobalSecondaryIndexes?.find(
      (i) => i.IndexName === name,
    );
    expect(local?.Projection).toEqual({ ProjectionType: 'INCLUDE', NonKeyAttributes: [...projected] });
  },
);
