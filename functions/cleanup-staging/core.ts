/** Removes everything a request staged (subject, records, indexes). Idempotent; pages through any size. */
import { DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { listPages, stagingKeys } from '../lib/aws/s3-objects';
import { ContractError } from '../lib/runtime/errors';
import { isRequestId } from '../lib/requests/request-id';

export async function cleanupStaging(
  s3: S3Client,
  bucket: string,
  input: { requestId: string },
): Promise<{ deleted: number }> {
  if (!isRequestId(input.requestId)) throw new ContractError('Bad request id');
  let deleted = 0;
  for await (const page of listPages(s3, bucket, stagingKeys.prefix(input.requestId))) {
    const keys = page.map((o) => ({ Key: o.Key }));
    if (keys.length > 0) {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      deleted += keys.length;
    }
  }
  return { deleted };
}
