/** What callers see of a request: never the subject's identifiers (nor the callback URLs, which may hold tokens). */
import { daysLeft, isOpenStatus, isOverdue, ruleFor } from '../lib/requests/deadlines';
import type { RequestRecord } from '../lib/requests/records';
import { erasureView } from '../lib/erasure/certificate';
import { procedureView } from '../lib/procedures/view';
import type { DownloadFields } from './routes/downloads';

export function requestView(
  record: RequestRecord,
  download: DownloadFields = {},
  now: Date = new Date(),
): Record<string, unknown> {
  const view: Record<string, unknown> = {
    requestId: record.requestId,
    type: record.type,
    status: record.status,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    subjectHash: record.subjectHash,
  };
  if (record.service) view.service = record.service;
  if (record.policyVersion) view.policyVersion = record.policyVersion;
  if (record.jurisdiction) view.jurisdiction = record.jurisdiction;
  if (record.dueAt) {
    view.dueAt = record.dueAt;
    view.regime = ruleFor(record.jurisdiction ?? '').regime;
    if (isOpenStatus(record.status)) view.daysLeft = daysLeft(record.dueAt, now);
    view.overdue = isOverdue(record.status, record.dueAt, now);
  }
  if (record.extension)
    view.extension = {
      reason: record.extension.reason,
      previousDueAt: record.extension.previousDueAt,
      at: record.extension.at,
    };
  if (record.requester) view.requester = record.requester;
  const callbacks = record.callbackCount ?? record.callbackUrls?.length;
  if (callbacks) view.callbacks = callbacks;
  if (record.notify) view.notify = true;
  if (record.subjectFound !== undefined) view.subjectFound = record.subjectFound;
  if (record.subjectFound === false) {
    view.notice = 'No account matched the identifier: the archive is valid and holds no personal data.';
  }
  if (record.failure) view.failure = record.failure;
  // Verification, fee, refusal and the parts left out (functions/lib/procedures/).
  Object.assign(view, procedureView(record));
  if (record.export) {
    const { key, bytes, sha256, files, records } = record.export;
    view.export = { key, bytes, sha256, files, records };
  }
  // A restriction's kind, action and what was done; a transfer's recipient host and delivery.
  if (record.restriction) view.restriction = record.restriction;
  if (record.transfer) view.transfer = record.transfer;
  // An erasure's plan, outcome, runs, processors' answers and certificate (no personal data).
  const erasure = erasureView(record);
  if (erasure) view.erasure = erasure;
  // The download link: the URL is a credential, so the caller decides who is given it (getRequest).
  if (download.download) view.download = download.download;
  if (download.downloadUrl) view.downloadUrl = download.downloadUrl;
  return view;
}
