/** Removes everything a request staged (subject, records, indexes). Idempotent; pages through any size. */
import type { S3Client } from '@aws-sdk/client-s3';
import { deleteUnder, stagingKeys } from '../lib/aws/s3-objects';
import { ContractError } from '../lib/runtime/errors';
import { isRequestId } from '../lib/requests/request-id';

export async function cleanupStaging(
  s3: S3Client,
  bucket: string,
  input: { requestId: string },
): Promise<{ deleted: number }> {
  if (!isRequestId(input.requestId)) throw new ContractError('Bad request id');
  return { deleted: await deleteUnder(s3, bucket, stagingKeys.prefix(input.requestId)) };
}
