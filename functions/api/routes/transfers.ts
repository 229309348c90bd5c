/**
 * The other controller's side of a transfer (GDPR Art. 20(2)): `GET /v1/transfers/{token}`, the single-use
 * link its signed notice carries. The first call counts the one download and redirects (303) to an S3 URL
 * presigned at that moment for minutes; any later call is refused with 410, as is an expired link. A link
 * revoked (the person's erasure) answers as an unknown one, 404. The token is the credential: the route
 * sits outside the JWT authorizer, and a token opens one archive only.
 */
import { archiveFileName, linkStatus, type LinkStatus } from '../../lib/downloads/download-links';
import { log } from '../../lib/runtime/logger';
import type { ApiDeps } from '../deps';
import { ApiError, type ApiResult } from '../http';
import { PAGE_SECURITY_HEADERS } from '../../lib/downloads/download-page';
import { defineRoute, type Route } from '../router';

const REFUSALS: Record<Exclude<LinkStatus, 'active'> | 'unknown', ApiError> = {
  unknown: new ApiError(404, 'LINK_NOT_FOUND', 'No such transfer link'),
  revoked: new ApiError(404, 'LINK_NOT_FOUND', 'No such transfer link'),
  expired: new ApiError(410, 'LINK_EXPIRED', 'This transfer link has expired'),
  exhausted: new ApiError(410, 'LINK_USED', 'This transfer link has been used; it opens the archive once'),
};

export async function transferArchive(deps: ApiDeps, token: string): Promise<ApiResult> {
  const links = deps.downloads.transfers;
  if (!links) throw REFUSALS.unknown;
  const resolved = await links.resolve(token);
  if (!resolved.found) throw REFUSALS.unknown;
  let status = linkStatus(resolved.link, links.clock());
  const { archive } = resolved.link;
  if (status === 'active' && !(await deps.downloads.archives.exists(archive.bucket, archive.key))) {
    await links.markArchiveGone(resolved.link.requestId);
    status = 'expired';
  }
  if (status !== 'active') throw REFUSALS[status];
  const consumed = await links.consume(resolved.link);
  if (!consumed.ok) throw REFUSALS[consumed.status === 'active' ? 'exhausted' : consumed.status];
  const { link } = consumed;
  const url = await deps.downloads.archives.presign(archive.bucket, archive.key, {
    expiresIn: links.config.presignSeconds,
    fileName: archiveFileName(link),
  });
  log.info('transfer downloaded', { requestId: link.requestId });
  return {
    statusCode: 303,
    headers: { location: url, ...PAGE_SECURITY_HEADERS, 'content-type': 'application/json' },
    body: JSON.stringify({
      url,
      validUntil: new Date(links.clock().getTime() + links.config.presignSeconds * 1000).toISOString(),
      fileName: archiveFileName(link),
    }),
  };
}

export const transferRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/v1/transfers/{token}',
    access: 'public',
    operationId: 'transferArchive',
    summary:
      "Another controller's single-use link to a transmitted archive (GDPR Art. 20(2)): counts the one download and redirects to a presigned URL that lives minutes",
    responses: {
      '303': {
        description: 'Redirect to the archive (the URL also in the JSON body)',
        content: ['application/json'],
      },
      '404': 'Unknown or revoked link (LINK_NOT_FOUND)',
      '410': 'Expired (LINK_EXPIRED) or already used (LINK_USED)',
    },
    handler: (deps, { params }) => transferArchive(deps, params.token),
  }),
];
