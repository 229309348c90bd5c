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
import type { ApiDeps, DownloadDeps } from '../deps';
import {
  htmlResponse,
  negotiateLocale,
  renderDownloadPage,
  renderErrorPage,
  PAGE_SECURITY_HEADERS,
  type Locale,
} from '../../lib/downloads/download-page';
import { ApiError, headerOf, json, problem, type ApiEvent, type ApiResult } from '../http';
import { loadRequest, type Caller } from '../request-lookup';
import { defineRoute, type Route } from '../router';
import { PATH_PARAMS } from '../path-params';

/** A visit to a download route: the request, and the page language it asked for in `?lang=`. */
export interface Visit {
  event: ApiEvent;
  lang: string | undefined;
}

/**
 * The download routes' query: `lang` only, and any other parameter is ignored rather than refused (a
 * link in an email may come back with tracking parameters, and the page must still open).
 */
const pageQuery = {
  type: 'object',
  properties: {
    lang: { type: 'string', description: 'Page language (en, ja); default from Accept-Language' },
  },
} as const;

/** JSON only when the caller asks for it and not for HTML (browsers send text/html first). */
function wantsJson(event: ApiEvent): boolean {
  const accept = (headerOf(event, 'accept') ?? '').toLowerCase();
  return /\bapplication\/(?:[a-z0-9.+-]*\+)?json\b/.test(accept) && !accept.includes('text/html');
}

/** The page's language: `?lang=` first, else Accept-Language. */
function localeOf({ event, lang }: Visit): Locale {
  return negotiateLocale(headerOf(event, 'accept-language'), lang);
}

const REFUSALS: Record<Exclude<LinkStatus, 'active'>, { status: number; code: string; detail: string }> = {
  // A revoked link answers exactly as an unknown one: nothing tells a holder it ever worked.
  revoked: { status: 404, ...PATH_PARAMS.token.notFound },
  expired: { status: 410, code: 'LINK_EXPIRED', detail: 'This download link has expired' },
  exhausted: { status: 429, code: 'DOWNLOAD_LIMIT_REACHED', detail: 'This link has no downloads left' },
};

function refuse(visit: Visit, status: Exclude<LinkStatus, 'active'> | 'unknown'): ApiResult {
  const refusal = REFUSALS[status === 'unknown' ? 'revoked' : status];
  if (wantsJson(visit.event)) {
    const result = problem(new ApiError(refusal.status, refusal.code, refusal.detail));
    return { ...result, headers: { ...result.headers, 'referrer-policy': 'no-referrer' } };
  }
  const locale = localeOf(visit);
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

export async function downloadPage(deps: ApiDeps, visit: Visit, token: string): Promise<ApiResult> {
  const downloads = deps.downloads;
  const resolved = await downloads.links.resolve(token);
  if (!resolved.found) return refuse(visit, 'unknown');
  const { link } = resolved;
  const status = await currentStatus(downloads, link);
  if (status !== 'active') return refuse(visit, status);
  const remaining = Math.max(0, link.maxDownloads - link.downloads);
  // Relative to the page's own URL, so the button works behind any base path or custom domain.
  const archiveHref = `${encodeURIComponent(token)}/archive`;
  if (wantsJson(visit.event)) {
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
  const locale = localeOf(visit);
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

export async function downloadArchive(deps: ApiDeps, visit: Visit, token: string): Promise<ApiResult> {
  const downloads = deps.downloads;
  const resolved = await downloads.links.resolve(token);
  if (!resolved.found) return refuse(visit, 'unknown');
  const status = await currentStatus(downloads, resolved.link);
  if (status !== 'active') return refuse(visit, status);
  const consumed = await downloads.links.consume(resolved.link);
  if (!consumed.ok) return refuse(visit, consumed.status === 'active' ? 'exhausted' : consumed.status);
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
  return archiveRedirect(visit.event, url, {
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
  const link = await ensureLink({ links, archives }, record.requestId, record.export);
  const status = await currentStatus(deps.downloads, link);
  const view = { ...downloadView(link, links.clock()), status };
  return status === 'active' ? { downloadUrl: await links.urlFor(link), download: view } : { download: view };
}

export async function revokeDownload(deps: ApiDeps, caller: Caller, requestId: string): Promise<ApiResult> {
  const downloads = deps.downloads;
  const record = await loadRequest(deps, caller, requestId);
  if (record.type !== 'export' || record.status !== 'completed' || !record.export)
    throw new ApiError(409, 'NO_DOWNLOAD_LINK', 'Only a completed export has a download link');
  // A link not issued yet is issued and revoked at once, so none can be issued after the revocation.
  await ensureLink({ links: downloads.links, archives: downloads.archives }, requestId, record.export);
  const link = await downloads.links.revoke(requestId);
  if (!link) throw new ApiError(409, 'NO_DOWNLOAD_LINK', 'Only a completed export has a download link');
  log.info('download link revoked', { requestId });
  return json(200, { requestId, download: downloadView(link, downloads.links.clock()) });
}

/** The download routes answer a browser with a page, and a caller asking for JSON with JSON. */
const PAGE = ['text/html', 'application/json'] as const;
const REFUSAL = ['text/html', 'application/problem+json'] as const;
const LINK_REFUSALS = {
  '404': { description: 'Unknown or revoked link', content: REFUSAL },
  '410': { description: 'Expired link', content: REFUSAL },
  '429': { description: 'Download limit reached (throttling: problem+json)', content: REFUSAL },
};

export const downloadRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/v1/downloads/{token}',
    access: 'public',
    operationId: 'downloadPage',
    summary:
      "The user's download page (HTML, or JSON with Accept: application/json); the token is the credential",
    query: pageQuery,
    responses: {
      '200': { description: 'The page (JSON with Accept: application/json)', content: PAGE },
      ...LINK_REFUSALS,
    },
    handler: (deps, { event, params, query }) =>
      downloadPage(deps, { event, lang: query.lang }, params.token),
  }),
  defineRoute({
    method: 'GET',
    path: '/v1/downloads/{token}/archive',
    access: 'public',
    operationId: 'downloadArchive',
    summary:
      'Counts one download and redirects to a presigned URL that lives minutes; the body carries the URL too (text, or JSON with Accept: application/json)',
    query: pageQuery,
    responses: {
      '303': {
        description: 'Redirect to the archive (the URL also in the body: JSON with Accept: application/json)',
        content: ['text/plain', 'application/json'],
      },
      ...LINK_REFUSALS,
    },
    handler: (deps, { event, params, query }) =>
      downloadArchive(deps, { event, lang: query.lang }, params.token),
  }),
  defineRoute({
    method: 'POST',
    path: '/v1/requests/{requestId}/revoke-download',
    access: ['support'],
    operationId: 'revokeDownload',
    summary: "Revokes the request's download link",
    responses: {
      '200': 'Revoked',
      '404': "No such request (or another service's) or link",
      '409': 'Not a completed export (no download link)',
    },
    handler: (deps, { principal, scope, params }) =>
      revokeDownload(deps, { principal, scope }, params.requestId),
  }),
];
