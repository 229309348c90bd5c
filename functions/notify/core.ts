/**
 * The notify task, run after MarkCompleted and before CleanUpStaging: it issues the request's download
 * link (idempotent) and, when the request asked for it, emails the link to the subject's own address.
 * The address is looked up here, from the staged subject and the accounts table, and goes nowhere but
 * the message: the task's input and output carry the request id and booleans only.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { StagedSubject } from '../lib/connectors/contract';
import { ensureLink, type ArchiveAccess, type DownloadLinks } from '../lib/downloads/download-links';
import { ContractError } from '../lib/runtime/errors';
import { log } from '../lib/runtime/logger';
import type { RequestRecord } from '../lib/requests/records';
import type { RequestRepository } from '../lib/requests/requests';
import type { EventLog } from '../lib/requests/event-log';
import { getJson, stagingKeys } from '../lib/aws/s3-objects';
import { accountLocale, type Locale } from '../lib/downloads/download-page';
import { serviceProfile } from '../lib/services/profiles';
import { renderLinkEmail, toMime } from './email';
import type { Mailer } from '../lib/notices/mailer';

export interface NotifyInput {
  requestId: string;
}

export interface NotifyOutput {
  requestId: string;
  linkIssued: boolean;
  notified: boolean;
}

export interface Recipient {
  email: string;
  locale: Locale;
}

export interface RecipientLookup {
  /** The subject's own address and locale, or undefined (no account, deleted, no address). */
  find(requestId: string): Promise<Recipient | undefined>;
}

export interface NotifyDeps {
  requests: RequestRepository;
  events: Pick<EventLog, 'append'>;
  links: DownloadLinks;
  archives: ArchiveAccess;
  recipients: RecipientLookup;
  mailer: Mailer;
  from: string;
}

/** The request's opt-in, set at creation; strictly `true`, so a malformed value sends nothing. */
function wantsEmail(record: RequestRecord): boolean {
  return record.notify === true;
}

export async function notify(deps: NotifyDeps, input: NotifyInput): Promise<NotifyOutput> {
  if (!input?.requestId) throw new ContractError('requestId is required');
  const record = await deps.requests.require(input.requestId);
  if (record.type !== 'export' || record.status !== 'completed' || !record.export)
    throw new ContractError('Only a completed export has a download link');
  const archive = record.export;
  const link = await ensureLink({ links: deps.links, archives: deps.archives }, record.requestId, archive);
  const result = { requestId: record.requestId, linkIssued: true, notified: false };
  if (!wantsEmail(record) || link.notifiedAt || link.revokedAt) return result;

  const recipient = await deps.recipients.find(record.requestId);
  if (!recipient) {
    await deps.events.append(record.requestId, {
      type: 'download.notification_skipped',
      detail: { reason: 'NO_ADDRESS' },
    });
    log.info('download notification skipped', { requestId: record.requestId, reason: 'NO_ADDRESS' });
    return result;
  }
  const content = renderLinkEmail({
    locale: recipient.locale,
    url: await deps.links.urlFor(link),
    expiresAt: link.expiresAt,
    maxDownloads: link.maxDownloads,
    // The service the archive names (as its download page does), else the request's.
    service: link.summary.service ?? record.service,
  });
  const raw = toMime({
    from: deps.from,
    to: recipient.email,
    content,
    locale: recipient.locale,
    date: deps.links.clock(),
  });
  await deps.mailer.send({ requestId: record.requestId, from: deps.from, to: recipient.email, raw });
  await deps.links.markNotified(record.requestId);
  await deps.events.append(record.requestId, {
    type: 'download.notified',
    detail: { locale: recipient.locale },
  });
  log.info('download notification sent', { requestId: record.requestId, locale: recipient.locale });
  return { ...result, notified: true };
}

/**
 * The resolved account's address and language, from the staged subject (present until CleanUpStaging)
 * and accounts: the account's locale, else its service's default language.
 */
export class StagedSubjectRecipients implements RecipientLookup {
  constructor(
    private readonly s3: S3Client,
    private readonly doc: DynamoDBDocumentClient,
    private readonly stagingBucket: string,
    /** The accounts table of a service (its own, or the shared one). */
    private readonly accountsTableOf: (service: string) => string,
  ) {}

  async find(requestId: string): Promise<Recipient | undefined> {
    const subject = await getJson<StagedSubject>(this.s3, {
      bucket: this.stagingBucket,
      key: stagingKeys.subject(requestId),
    });
    const userId = subject.found ? subject.identifiers.userIds[0] : undefined;
    if (!userId) return undefined;
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.accountsTableOf(serviceProfile(subject.service).id),
        Key: { userId },
        ProjectionExpression: 'email, #locale, #status',
        ExpressionAttributeNames: { '#locale': 'locale', '#status': 'status' },
        ConsistentRead: true,
      }),
    );
    if (!Item || Item.status === 'deleted' || typeof Item.email !== 'string' || !Item.email.includes('@'))
      return undefined;
    const tag = typeof Item.locale === 'string' && Item.locale !== '' ? Item.locale : undefined;
    return {
      email: Item.email,
      // An account without a locale hears from its service in the service's own language.
      locale: accountLocale(tag, serviceProfile(subject.service)),
    };
  }
}
