/**
 * An erasure withdraws what we made for the same person earlier: every export request opened under any
 * of the subject's keyed hashes has its download link revoked, its archive deleted and anything it
 * staged removed, within the erasure's own service; a pending transfer link to another controller is revoked too. The archive is our own copy of the data being erased, and a link that still
 * downloaded it after the erasure would undo the erasure for whoever holds the link.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { queryPages } from '../aws/dynamo-paging';
import { deleteUnder, stagingKeys } from '../aws/s3-objects';
import type { EventLog } from '../requests/event-log';
import type { RequestRepository } from '../requests/requests';
import type { RequestTable } from '../requests/request-table';
import { recordedService } from '../services/profiles';
import { revokeLink, TRANSFER_LINKS } from './download-links';

export interface WithdrawDeps {
  table: RequestTable;
  requests: Pick<RequestRepository, 'get'>;
  events: Pick<EventLog, 'appendOnce'>;
  s3: S3Client;
  stagingBucket: string;
}

/** Export requests named by any of these keyed hashes, by id. */
async function exportsFor(table: RequestTable, subjectHashes: readonly string[]): Promise<string[]> {
  const ids = new Set<string>();
  for (const hash of new Set(subjectHashes)) {
    const pages = queryPages(table.doc, {
      TableName: table.tableName,
      IndexName: 'bySubject',
      KeyConditionExpression: 'subjectHash = :h',
      FilterExpression: '#kind = :request AND #type = :export',
      ExpressionAttributeNames: { '#kind': 'kind', '#type': 'type' },
      ExpressionAttributeValues: { ':h': hash, ':request': 'request', ':export': 'export' },
    });
    for await (const items of pages) for (const item of items) ids.add(String(item.requestId));
  }
  return [...ids].sort();
}

/**
 * Revokes the links, deletes the archives and the staging of the subject's exports (idempotent: a
 * retried step finds them revoked and gone). Returns the export request ids it withdrew.
 */
export async function withdrawSubjectExports(
  deps: WithdrawDeps,
  erasureRequestId: string,
  subjectHashes: readonly string[],
  service: string,
): Promise<string[]> {
  const withdrawn: string[] = [];
  for (const exportId of await exportsFor(deps.table, subjectHashes)) {
    const record = await deps.requests.get(exportId);
    // The same e-mail at another service is another person: their exports are not this erasure's.
    if (!record || recordedService(record) !== service) continue;
    withdrawn.push(exportId);
    // Revoked first: from here on the link answers 404 even while the objects are being removed.
    await revokeLink(deps.table, exportId);
    // A transfer to another controller not yet downloaded would hand over what is being erased.
    await revokeLink(deps.table, exportId, TRANSFER_LINKS);
    if (record.export) {
      await deps.s3.send(new DeleteObjectCommand({ Bucket: record.export.bucket, Key: record.export.key }));
    }
    await deleteUnder(deps.s3, deps.stagingBucket, stagingKeys.prefix(exportId));
    // Once per erasure, however often its step is retried.
    await deps.events.appendOnce(exportId, `withdrawn:${erasureRequestId}`, [
      { type: 'export.withdrawn', detail: { reason: 'subject_erased', erasureRequestId } },
    ]);
  }
  return withdrawn;
}
