/**
 * The user's side of an export: the download page (`GET /v1/downloads/{token}`), the archive itself
 * (`GET /v1/downloads/{token}/archive`: a redirect to an S3 URL presigned at that moment for minutes),
 * and revocation by support (`POST /v1/requests/{id}/revoke-download`). The token is its own
 * credential: these download routes sit outside the JWT authorizer, and a token opens one archive only.
 */
import {
  archiveFileName,
  ensureLink,
  downloadView,
  linkStatus,
  type DownloadLink,
  type DownloadView,
  type LinkStatus,
} from '../../lib/downloads/download-links';
import { log } from '../../lib/runtime/logger';
import type { RequestRecord } from '../../lib/requests/records';
import { isRequestId } from '../../lib/requests/request-id';
import { principalOf, requireRole } from '../auth';
import type { ApiDeps, DownloadDeps } from '../deps';
import {
  htmlResponse,
  negotiateLocale,
  renderDownloadPage,
  renderErrorPage,
  PAGE_SECURITY_HEADERS,
  type Locale,
} from '../../lib/downloads/download-page';
import { ApiError, json, problem, type ApiEvent, type ApiResult } from '../http';
import type { Route } from '../router';

function header(event: ApiEvent, name: string): string | undefined {
  return event.headers?.[name] ?? event.headers?.[name.toLowerCase()];
}

/** JSON only when the caller asks for it and not for HTML (browsers send text/html first). */
function wantsJson(event: ApiEvent): boolean {
  const accept = (header(event, 'accept') ?? '').toLowerCase();
  return /\bapplication\/(?:[a-z0-9.+-]*\+)?json\b/.test(accept) && !accept.includes('text/html');
}

function localeOf(event: ApiEvent): Locale {
  return negotiateLocale(header(event, 'accept-language'), event.queryStringParameters?.lang);
}

const REFUSALS: Record<Exclude<LinkStatus, 'active'>, { status: number; code: string; detail: string }> = {
  // A revoked link answers exactly as an unknown one: nothing tells a holder it ever worked.
  revoked: { status: 404, code: 'LINK_NOT_FOUND', detail: 'No such download link' },
  expired: { status: 410, code: 'LINK_EXPIRED', detail: 'This download link has expired' },
  exhausted: { status: 429, code: 'DOWNLOAD_LIMIT_REACHED', detail: 'This link has no downloads left' },
};

function refuse(event: ApiEvent, status: Exclude<LinkStatus, 'active'> | 'unknown'): ApiResult {
  const refusal = REFUSALS[status === 'unknown' ? 'revoked' : status];
  if (wantsJson(event)) {
    const result = problem(new ApiError(refusal.status, refusal.code, refusal.detail));
    return { ...result, headers: { ...result.headers, 'referrer-policy': 'no-referrer' } };
  }
  const locale = localeOf(event);
  const kind = refusal.status === 410 ? 'expired' : refusal.status === 429 ? 'exhausted' : 'not_found';
  return htmlResponse(refusal.status, renderErrorPage(kind, locale), locale);
}

/** The link's status, after checking the archive is still there (the bucket's lifecycle may have removed it). */
async function currentStatus(deps: DownloadDeps, link: DownloadLink): Promise<LinkStatus> {
  const status = linkStatus(link, deps.links.clock());
  if (status === 'revoked' || status === 'expired') return status;
  if (await deps.archives.exists(link.archive.bucket, link.archive.key)) return status;
  await deps.links.markArchiveGone(link.requestId);
  log.info('download archive gone', { requestId: link.requestId });
  return 'expired';
}

export async function downloadPage(deps: ApiDeps, event: ApiEvent, token: string): Promise<ApiResult> {
  const downloads = deps.downloads;
  const resolved = await downloads.links.resolve(token);
  if (!resolved.found) return refuse(event, 'unknown');
  const { link } = resolved;
  const status = await currentStatus(downloads, link);
  if (status !== 'active') return refuse(event, status);
  const remaining = Math.max(0, link.maxDownloads - link.downloads);
  // Relative to the page's own URL, so the button works behind any base path or custom domain.
  const archiveHref = `${encodeURIComponent(token)}/archive`;
  if (wantsJson(event)) {
    return json(
      200,
      {
        status,
        expiresAt: link.expiresAt,
        maxDownloads: link.maxDownloads,
        downloadsRemaining: remaining,
        archive: link.summary,
        archiveUrl: `${downloads.links.config.publicBaseUrl}/v1/downloads/${token}/archive`,
      },
      { 'referrer-policy': 'no-referrer', vary: 'Accept, Accept-Language' },
    );
  }
  const locale = localeOf(event);
  const html = renderDownloadPage({
    locale,
    summary: link.summary,
    expiresAt: link.expiresAt,
    downloadsRemaining: remaining,
    maxDownloads: link.maxDownloads,
    archiveHref,
    fileName: archiveFileName(link),
    jwksUrl: `${downloads.links.config.publicBaseUrl}/.well-known/jwks.json`,
  });
  return htmlResponse(200, html, locale);
}

export async function downloadArchive(deps: ApiDeps, event: ApiEvent, token: string): Promise<ApiResult> {
  const downloads = deps.downloads;
  const resolved = await downloads.links.resolve(token);
  if (!resolved.found) return refuse(event, 'unknown');
  const status = await currentStatus(downloads, resolved.link);
  if (status !== 'active') return refuse(event, status);
  const consumed = await downloads.links.consume(resolved.link);
  if (!consumed.ok) return refuse(event, consumed.status === 'active' ? 'exhausted' : consumed.status);
  const { link } = consumed;
  const { presignSeconds } = downloads.links.config;
  const url = await downloads.archives.presign(link.archive.bucket, link.archive.key, {
    expiresIn: presignSeconds,
    fileName: archiveFileName(link),
  });
  log.info('download started', {
    requestId: link.requestId,
    downloads: link.downloads,
    maxDownloads: link.maxDownloads,
  });
  return archiveRedirect(event, url, {
    validUntil: new Date(downloads.links.clock().getTime() + presignSeconds * 1000).toISOString(),
    fileName: archiveFileName(link),
    downloadsRemaining: Math.max(0, link.maxDownloads - link.downloads),
    maxDownloads: link.maxDownloads,
  });
}

/**
 * The answer to a counted download: a 303 to the presigned URL, whose body also carries that URL. A
 * client that does not follow redirects (curl without -L) has then still been handed the archive for the
 * use it was counted, and is told so, instead of a silent empty answer.
 */
function archiveRedirect(
  event: ApiEvent,
  url: string,
  terms: { validUntil: string; fileName: string; downloadsRemaining: number; maxDownloads: number },
): ApiResult {
  const headers = { location: url, ...PAGE_SECURITY_HEADERS };
  if (wantsJson(event)) {
    return {
      statusCode: 303,
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ url, ...terms }),
    };
  }
  const body =
    `This download was counted: ${terms.downloadsRemaining} of ${terms.maxDownloads} left.\n` +
    `The archive (${terms.fileName}) is at the URL below until ${terms.validUntil}. ` +
    'Browsers go there by themselves; with curl, add -L (or fetch the URL below).\n' +
    `${url}\n`;
  return { statusCode: 303, headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' }, body };
}

export interface DownloadFields {
  downloadUrl?: string;
  download?: DownloadView;
}

/**
 * The link fields of a request's view. A completed export gets its link here if the workflow has not
 * issued one yet (idempotent), so `downloadUrl` is there as soon as the request says completed.
 */
export async function downloadFields(deps: ApiDeps, record: RequestRecord): Promise<DownloadFields> {
  if (record.type !== 'export' || record.status !== 'completed' || !record.export) return {};
  const { links, archives } = deps.downloads;
  const link = await ensureLink({ links, archives, events: deps.events }, record.requestId, record.export);
  const status = await currentStatus(deps.downloads, link);
  const view = { ...downloadView(link, links.clock()), status };
  return status === 'active' ? { downloadUrl: await links.urlFor(link), download: view } : { download: view };
}

export async function revokeDownload(deps: ApiDeps, event: ApiEvent, requestId: string): Promise<ApiResult> {
  requireRole(principalOf(event), ['support']);
  const downloads = deps.downloads;
  if (!isRequestId(requestId)) throw new ApiError(404, 'REQUEST_NOT_FOUND', 'No such request');
  const record = await deps.requests.get(requestId);
  if (!record) throw new ApiError(404, 'REQUEST_NOT_FOUND', 'No such request');
  if (record.type !== 'export' || record.status !== 'completed' || !record.export)
    throw new ApiError(409, 'NO_DOWNLOAD_LINK', 'Only a completed export has a download link');
  // A link not issued yet is issued and revoked at once, so none can be issued after the revocation.
  await ensureLink(
    { links: downloads.links, archives: downloads.archives, events: deps.events },
    requestId,
    record.export,
  );
  const link = await downloads.links.revoke(requestId);
  if (!link) throw new ApiError(409, 'NO_DOWNLOAD_LINK', 'Only a completed export has a download link');
  await deps.events.append(requestId, {
    type: 'download.revoked',
    detail: { downloads: link.downloads },
  });
  log.info('download link revoked', { requestId });
  return json(200, { requestId, download: downloadView(link, downloads.links.clock()) });
}

export const downloadRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/downloads\/([^/]+)$/,
    path: '/v1/downloads/{token}',
    access: 'public',
    operationId: 'downloadPage',
    summary:
      "The user's download page (HTML, or JSON with Accept: application/json); the token is the credential",
    responseType: 'text/html',
    responses: {
      '200': 'The page',
      '404': 'Unknown or revoked link',
      '410': 'Expired link',
      '429': 'Download limit reached',
    },
    handler: (deps, event, [token]) => downloadPage(deps, event, token ?? ''),
  },
  {
    method: 'GET',
    pattern: /^\/v1\/downloads\/([^/]+)\/archive$/,
    path: '/v1/downloads/{token}/archive',
    access: 'public',
    operationId: 'downloadArchive',
    summary:
      'Counts one download and redirects to a presigned URL that lives minutes; the body carries the URL too (text, or JSON with Accept: application/json)',
    responses: {
      '303': 'Redirect to the archive (the URL also in the body)',
      '404': 'Unknown or revoked link',
      '410': 'Expired link',
      '429': 'Download limit reached',
    },
    handler: (deps, event, [token]) => downloadArchive(deps, event, token ?? ''),
  },
  {
    method: 'POST',
    pattern: /^\/v1\/requests\/([^/]+)\/revoke-download$/,
    path: '/v1/requests/{requestId}/revoke-download',
    access: ['support'],
    operationId: 'revokeDownload',
    summary: "Revokes the request's download link",
    responses: { '200': 'Revoked', '404': 'No such request or link' },
    handler: (deps, event, [id]) => revokeDownload(deps, event, id ?? ''),
  },
];
