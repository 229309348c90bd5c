/**
 * Download links for finished exports. The link the user gets is long-lived (days) but names no S3
 * object: each download mints a fresh presigned URL that lives minutes, because a URL presigned with a
 * Lambda role's temporary credentials dies with them.
 *
 * Token: `<requestId>.<linkId>.<mac>`. `linkId` is 128 random bits; `mac` is HMAC-SHA-256 (KMS
 * GenerateMac in AWS, a key file locally) over the request id and the link id, so a tampered or forged
 * token is refused before any lookup, and a token names exactly one request. The link record (pk
 * `REQ#<requestId>`, sk `DOWNLOAD#LINK`) keeps the link id and a SHA-256 of the token, never the token:
 * a reader of the table cannot rebuild the MAC without the key, while the API (which may use the key)
 * can show the same URL again to a support system.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import yauzl from 'yauzl';
import { ConfigError, intEnv, requireEnv } from '../runtime/config';
import type { ExportArchive } from '../requests/records';
import { eventItem } from '../requests/event-log';
import {
  REQUESTS_TTL_ATTRIBUTE,
  auditExpiry,
  cancellationCodes,
  readItem,
  type ExpiryClock,
  type RequestTable,
} from '../requests/request-table';
import { isRequestId } from '../requests/request-id';
import { keyedHasherFromEnv, type SubjectHasher } from '../crypto/subject-hash';
import { isNoSuchObject } from '../aws/s3-objects';

/** Longest life of a presigned archive URL: minutes, never the link's days. */
const MAX_PRESIGN_SECONDS = 900;
/**
 * The two kinds of link to an archive: the subject's own (a few downloads over days), and the one a
 * transfer to another controller sends (GDPR Art. 20(2): single use). Each has its own item, MAC context
 * and path, so a token of one kind never opens the other.
 */
export interface LinkVariant {
  sk: string;
  macContext: string;
  itemKind: string;
  path: string;
  /** Prefix of the events recorded for the link (`download.link_issued`, `transfer.revoked`). */
  event: string;
}

export const DOWNLOAD_LINKS: LinkVariant = {
  sk: 'DOWNLOAD#LINK',
  macContext: 'dsr-download-link/v1',
  itemKind: 'download-link',
  path: '/v1/downloads/',
  event: 'download',
};

export const TRANSFER_LINKS: LinkVariant = {
  sk: 'TRANSFER#LINK',
  macContext: 'dsr-transfer-link/v1',
  itemKind: 'transfer-link',
  path: '/v1/transfers/',
  event: 'transfer',
};
const LINK_ID = /^[A-Za-z0-9_-]{22}$/;
const MAC = /^[A-Za-z0-9_-]{43}$/;

export type LinkStatus = 'active' | 'expired' | 'revoked' | 'exhausted';

/** What the page shows of an archive: counts and sizes only, never content. */
export interface ArchiveSummary {
  bytes: number;
  sha256: string;
  files: number;
  records: number;
  stores: { store: string; records: number; files: number }[];
  /** The service whose controller issued the archive (its manifest's `service`), when it says. */
  service?: string;
}

export interface DownloadLink {
  requestId: string;
  linkId: string;
  /** SHA-256 (hex) of the whole token. */
  tokenHash: string;
  issuedAt: string;
  expiresAt: string;
  maxDownloads: number;
  downloads: number;
  revokedAt?: string;
  /** Set when the archive was found gone (the bucket's lifecycle removed it). */
  archiveGoneAt?: string;
  /** When the user was emailed the link (so a retried notify task does not email twice). */
  notifiedAt?: string;
  archive: { bucket: string; key: string };
  summary: ArchiveSummary;
}

export interface DownloadLinkConfig {
  ttlSeconds: number;
  maxDownloads: number;
  presignSeconds: number;
  publicBaseUrl: string;
}

/** Reads the link settings once; a presigned URL longer than 15 minutes is a configuration error. */
export function downloadLinkConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DownloadLinkConfig {
  const config = {
    ttlSeconds: intEnv('DOWNLOAD_LINK_TTL_SECONDS', 7 * 24 * 3600, env),
    maxDownloads: intEnv('DOWNLOAD_MAX_DOWNLOADS', 5, env),
    presignSeconds: intEnv('DOWNLOAD_PRESIGN_SECONDS', 300, env),
    publicBaseUrl: requireEnv('PUBLIC_API_URL', env).replace(/\/+$/, ''),
  };
  if (config.presignSeconds < 1 || config.presignSeconds > MAX_PRESIGN_SECONDS)
    throw new ConfigError(`DOWNLOAD_PRESIGN_SECONDS must be between 1 and ${MAX_PRESIGN_SECONDS}`);
  if (config.ttlSeconds < 60) throw new ConfigError('DOWNLOAD_LINK_TTL_SECONDS must be at least 60');
  if (config.maxDownloads < 1) throw new ConfigError('DOWNLOAD_MAX_DOWNLOADS must be at least 1');
  return config;
}

/**
 * A transfer link's settings: single use, its own lifetime (TRANSFER_LINK_TTL_SECONDS, default 72 h),
 * the download links' presigning and base URL.
 */
export function transferLinkConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DownloadLinkConfig {
  const ttlSeconds = intEnv('TRANSFER_LINK_TTL_SECONDS', 72 * 3600, env);
  if (ttlSeconds < 60) throw new ConfigError('TRANSFER_LINK_TTL_SECONDS must be at least 60');
  return { ...downloadLinkConfigFromEnv(env), ttlSeconds, maxDownloads: 1 };
}

/** The token MAC key: a KMS HMAC key in AWS, a key file (0600) under the data dir locally. */
export function tokenMacFromEnv(env: NodeJS.ProcessEnv = process.env): SubjectHasher {
  return keyedHasherFromEnv('DOWNLOAD_TOKEN_KMS_KEY_ID', 'DOWNLOAD_TOKEN_KEY_FILE', env);
}

export interface ParsedToken {
  requestId: string;
  linkId: string;
  mac: string;
}

/** Splits a token; undefined for anything not shaped like one (no lookup is made for those). */
export function parseToken(token: string): ParsedToken | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [requestId, linkId, mac] = parts as [string, string, string];
  if (!isRequestId(requestId) || !LINK_ID.test(linkId) || !MAC.test(mac)) return undefined;
  return { requestId, linkId, mac };
}

const tokenHashOf = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The name a browser saves the archive under (the presigned URL's Content-Disposition), which the page's
 * checksum commands name too.
 */
export function archiveFileName(link: Pick<DownloadLink, 'issuedAt'>): string {
  return `data-export-${link.issuedAt.slice(0, 10)}.zip`;
}

/** The status a link has at `now`: revoked wins over expired, expired over exhausted. */
export function linkStatus(link: DownloadLink, now: Date): LinkStatus {
  if (link.revokedAt) return 'revoked';
  if (link.archiveGoneAt || now.getTime() >= Date.parse(link.expiresAt)) return 'expired';
  if (link.downloads >= link.maxDownloads) return 'exhausted';
  return 'active';
}

export type ResolvedToken = { found: false } | { found: true; link: DownloadLink; status: LinkStatus };
export type ConsumeResult = { ok: true; link: DownloadLink } | { ok: false; status: LinkStatus | 'unknown' };

export class DownloadLinks {
  /** The table's clock: links are issued, counted and expire by it. */
  readonly clock: () => Date;

  constructor(
    private readonly table: RequestTable,
    private readonly mac: SubjectHasher,
    readonly config: DownloadLinkConfig,
    readonly variant: LinkVariant = DOWNLOAD_LINKS,
  ) {
    this.clock = table.clock;
  }

  private key(requestId: string) {
    return { pk: `REQ#${requestId}`, sk: this.variant.sk };
  }

  async tokenFor(requestId: string, linkId: string): Promise<string> {
    const mac = await this.mac.hash(`${this.variant.macContext}\n${requestId}\n${linkId}`);
    return `${requestId}.${linkId}.${mac}`;
  }

  /** The page URL the user is given. */
  async urlFor(link: Pick<DownloadLink, 'requestId' | 'linkId'>): Promise<string> {
    const token = await this.tokenFor(link.requestId, link.linkId);
    return `${this.config.publicBaseUrl}${this.variant.path}${token}`;
  }

  async get(requestId: string): Promise<DownloadLink | undefined> {
    const { Item } = await this.table.doc.send(
      new GetCommand({ TableName: this.table.tableName, Key: this.key(requestId), ConsistentRead: true }),
    );
    return Item ? linkFromItem(Item) : undefined;
  }

  /**
   * The link of a completed export, issued on first call (idempotent: concurrent callers get the same
   * link), with its `download.link_issued` event in the same transaction. The expiry counts from issue.
   */
  async ensure(
    requestId: string,
    archive: ExportArchive,
    summarize: () => Promise<ArchiveSummary>,
  ): Promise<{ link: DownloadLink; issued: boolean }> {
    const existing = await this.get(requestId);
    if (existing) return { link: existing, issued: false };
    const now = this.clock();
    const linkId = randomBytes(16).toString('base64url');
    const link: DownloadLink = {
      requestId,
      linkId,
      tokenHash: tokenHashOf(await this.tokenFor(requestId, linkId)),
      issuedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.config.ttlSeconds * 1000).toISOString(),
      maxDownloads: this.config.maxDownloads,
      downloads: 0,
      archive: { bucket: archive.bucket, key: archive.key },
      summary: await summarize(),
    };
    const TableName = this.table.tableName;
    try {
      await this.table.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName,
                // `kind` without `createdAt` keeps link items out of the byKind index, which lists requests.
                Item: { ...this.key(requestId), kind: this.variant.itemKind, ...linkItem(this.table, link) },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName,
                Item: eventItem(
                  this.table,
                  requestId,
                  {
                    type: `${this.variant.event}.link_issued`,
                    detail: { maxDownloads: link.maxDownloads },
                  },
                  link.issuedAt,
                ),
              },
            },
          ],
        }),
      );
      return { link, issued: true };
    } catch (error) {
      if (cancellationCodes(error)?.[0] !== 'ConditionalCheckFailed') throw error;
      const raced = await this.get(requestId);
      if (!raced) throw error;
      return { link: raced, issued: false };
    }
  }

  /**
   * The cheap checks first, the MAC (a KMS call in AWS) last: the token's format and lengths, then the
   * link its request id names (one DynamoDB read) and the stored hash of the whole token, then the
   * link's status. Only a token that opens a live link costs a KMS call, so a flood of made-up tokens
   * cannot use up the KMS quota other calls need. A token that matches the stored hash but not the
   * link's status (expired, revoked, used up) needs no MAC: only its holder knows it.
   */
  async resolve(token: string): Promise<ResolvedToken> {
    const parsed = parseToken(token);
    if (!parsed) return { found: false };
    const link = await this.get(parsed.requestId);
    if (!link || link.linkId !== parsed.linkId || !sameText(link.tokenHash, tokenHashOf(token)))
      return { found: false };
    const status = linkStatus(link, this.clock());
    if (status !== 'active') return { found: true, link, status };
    const expected = await this.tokenFor(parsed.requestId, parsed.linkId);
    if (!sameText(expected, token)) return { found: false };
    return { found: true, link, status };
  }

  /**
   * Counts one download, atomically: the condition keeps concurrent clicks from passing the limit and
   * refuses a link that is revoked, expired or whose archive is gone.
   */
  async consume(link: DownloadLink): Promise<ConsumeResult> {
    try {
      const out = await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
          Key: this.key(link.requestId),
          UpdateExpression: 'SET downloads = downloads + :one, lastDownloadAt = :now',
          ConditionExpression:
            'linkId = :linkId AND downloads < maxDownloads AND (validUntil > :now OR expiresAt > :now) ' +
            'AND attribute_not_exists(revokedAt) AND attribute_not_exists(archiveGoneAt)',
          ExpressionAttributeValues: {
            ':one': 1,
            ':now': this.clock().toISOString(),
            ':linkId': link.linkId,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const { lastDownloadAt: _last, ...updated } = out.Attributes ?? {};
      return { ok: true, link: linkFromItem(updated) };
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
      const current = await this.get(link.requestId);
      return { ok: false, status: current ? linkStatus(current, this.clock()) : 'unknown' };
    }
  }

  /**
   * Revokes the request's link, with its `download.revoked` event in the same transaction; undefined
   * when it has none. Revoking twice keeps the first time and records one event.
   */
  async revoke(requestId: string): Promise<DownloadLink | undefined> {
    return revokeLink(this.table, requestId, this.variant);
  }

  async markNotified(requestId: string): Promise<void> {
    await this.table.doc.send(
      new UpdateCommand({
        TableName: this.table.tableName,
        Key: this.key(requestId),
        UpdateExpression: 'SET notifiedAt = if_not_exists(notifiedAt, :now)',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':now': this.clock().toISOString() },
      }),
    );
  }

  /** Records that the archive is gone (lifecycle expiry): from then on the link says expired. */
  async markArchiveGone(requestId: string): Promise<void> {
    await this.table.doc.send(
      new UpdateCommand({
        TableName: this.table.tableName,
        Key: this.key(requestId),
        UpdateExpression: 'SET archiveGoneAt = if_not_exists(archiveGoneAt, :now)',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':now': this.clock().toISOString() },
      }),
    );
  }
}

/**
 * A link as stored: its end of validity is `validUntil`, because `expiresAt` is the table's TTL attribute
 * (the record goes an audit period after the link stopped working).
 */
function linkItem(table: ExpiryClock, link: DownloadLink): Record<string, unknown> {
  const { expiresAt, ...rest } = link;
  return { ...rest, validUntil: expiresAt, [REQUESTS_TTL_ATTRIBUTE]: auditExpiry(table, expiresAt) };
}

/** A stored link; one stored before `validUntil` keeps its end of validity in `expiresAt` (an ISO text). */
function linkFromItem(item: Record<string, unknown>): DownloadLink {
  const { pk: _pk, sk: _sk, kind: _kind, validUntil, expiresAt, ...link } = item;
  return { ...link, expiresAt: String(validUntil ?? expiresAt) } as unknown as DownloadLink;
}

/**
 * Revokes a request's link, with its `download.revoked` event in the same transaction; undefined when it
 * has none. Revoking twice keeps the first time and records one event. Needs no MAC key: an erasure
 * revokes the links of the person's exports with it.
 */
export async function revokeLink(
  table: RequestTable,
  requestId: string,
  variant: LinkVariant = DOWNLOAD_LINKS,
): Promise<DownloadLink | undefined> {
  const Key = { pk: `REQ#${requestId}`, sk: variant.sk };
  const read = async (): Promise<DownloadLink | undefined> => {
    const item = await readItem(table, Key);
    return item ? linkFromItem(item) : undefined;
  };
  const current = await read();
  if (!current || current.revokedAt) return current;
  const iso = table.clock().toISOString();
  try {
    await table.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: table.tableName,
              Key,
              UpdateExpression: 'SET revokedAt = :now',
              ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(revokedAt)',
              ExpressionAttributeValues: { ':now': iso },
            },
          },
          {
            Put: {
              TableName: table.tableName,
              Item: eventItem(
                table,
                requestId,
                { type: `${variant.event}.revoked`, detail: { downloads: current.downloads } },
                iso,
              ),
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (!cancellationCodes(error)) throw error;
    // Revoked concurrently: that call recorded the event.
  }
  return read();
}

/** What callers of the request API see about the link. */
export interface DownloadView {
  status: LinkStatus;
  expiresAt: string;
  maxDownloads: number;
  downloadsRemaining: number;
  revokedAt?: string;
}

export function downloadView(link: DownloadLink, now: Date): DownloadView {
  const view: DownloadView = {
    status: linkStatus(link, now),
    expiresAt: link.expiresAt,
    maxDownloads: link.maxDownloads,
    downloadsRemaining: Math.max(0, link.maxDownloads - link.downloads),
  };
  if (link.revokedAt) view.revokedAt = link.revokedAt;
  return view;
}

// ---------------------------------------------------------------------------------------------------
// The archive in S3: existence, short-lived URLs, and the summary read from its manifest.

export interface ArchiveAccess {
  exists(bucket: string, key: string): Promise<boolean>;
  presign(bucket: string, key: string, options: { expiresIn: number; fileName: string }): Promise<string>;
  summarize(archive: ExportArchive): Promise<ArchiveSummary>;
}

export class S3ArchiveAccess implements ArchiveAccess {
  constructor(
    private readonly s3: S3Client,
    /** Injected so a test can mint a URL that is already past its expiry. */
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async exists(bucket: string, key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (error) {
      if (isNoSuchObject(error)) return false;
      throw error;
    }
  }

  async presign(
    bucket: string,
    key: string,
    options: { expiresIn: number; fileName: string },
  ): Promise<string> {
    if (options.expiresIn < 1 || options.expiresIn > MAX_PRESIGN_SECONDS)
      throw new ConfigError(`A presigned URL lives at most ${MAX_PRESIGN_SECONDS} seconds`);
    return getSignedUrl(
      this.s3,
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ResponseContentDisposition: `attachment; filename="${options.fileName.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
        ResponseContentType: 'application/zip',
        ResponseCacheControl: 'no-store',
      }),
      { expiresIn: options.expiresIn, signingDate: this.clock() },
    );
  }

  /** Reads manifest.json out of the ZIP with ranged GETs (the central directory, then one entry). */
  async summarize(archive: ExportArchive): Promise<ArchiveSummary> {
    const manifest = await readZipEntry(this.s3, archive.bucket, archive.key, archive.bytes, 'manifest.json');
    return summaryFromManifest(archive, manifest);
  }
}

/**
 * The request's download link, issued on first call, whoever asks first (the workflow's notify task or
 * a view of the request); whichever call issues it records its `download.link_issued` event with it.
 */
export async function ensureLink(
  deps: { links: DownloadLinks; archives: ArchiveAccess },
  requestId: string,
  archive: ExportArchive,
): Promise<DownloadLink> {
  const { link } = await deps.links.ensure(requestId, archive, () => deps.archives.summarize(archive));
  return link;
}

/** Per-store counts from the manifest; totals from the request's archive record. */
export function summaryFromManifest(archive: ExportArchive, manifest: Buffer | undefined): ArchiveSummary {
  let stores: ArchiveSummary['stores'] = [];
  let service: string | undefined;
  if (manifest) {
    try {
      const parsed = JSON.parse(manifest.toString('utf8')) as { stores?: unknown; service?: unknown };
      if (typeof parsed.service === 'string') service = parsed.service;
      if (Array.isArray(parsed.stores)) {
        stores = parsed.stores.flatMap((s: unknown) => {
          const entry = s as { store?: unknown; records?: unknown; files?: unknown };
          return typeof entry.store === 'string' &&
            Number.isSafeInteger(entry.records) &&
            Number.isSafeInteger(entry.files)
            ? [{ store: entry.store, records: entry.records as number, files: entry.files as number }]
            : [];
        });
      }
    } catch {
      stores = [];
    }
  }
  return {
    bytes: archive.bytes,
    sha256: archive.sha256,
    files: archive.files,
    records: archive.records,
    stores,
    ...(service === undefined ? {} : { service }),
  };
}

/**
 * How much of an archive's end is fetched in one ranged GET: the central directory, the manifest and
 * its signature are the last things written, and yauzl reads the directory one small piece per entry
 * (a GET each, hundreds for a media-rich archive, without this).
 */
const TAIL_BYTES = 1024 * 1024;

/** A yauzl random-access reader over S3 ranged GETs: only the bytes asked for leave the bucket. */
class S3RangeReader extends yauzl.RandomAccessReader {
  private tail: Promise<Buffer> | undefined;
  private readonly tailStart: number;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    private readonly size: number,
  ) {
    super();
    this.tailStart = Math.max(0, size - TAIL_BYTES);
  }

  private async range(start: number, end: number): Promise<Readable> {
    const res = await this.s3.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.key, Range: `bytes=${start}-${end - 1}` }),
    );
    const body = res.Body as Readable | undefined;
    if (!body) throw new Error('Empty range');
    return body;
  }

  private async bytes(start: number, end: number): Promise<Readable> {
    if (start < this.tailStart) return this.range(start, end);
    this.tail ??= this.range(this.tailStart, this.size).then(async (body) => {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    });
    const tail = await this.tail;
    return Readable.from([tail.subarray(start - this.tailStart, end - this.tailStart)]);
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const out = new PassThrough();
    if (end <= start) {
      out.end();
      return out;
    }
    this.bytes(start, end)
      .then((body) => {
        body.on('error', (error) => out.destroy(error));
        body.pipe(out);
      })
      .catch((error: unknown) => out.destroy(error as Error));
    return out;
  }
}

/** One entry of a ZIP in S3, or undefined when the ZIP has no such entry. */
function readZipEntry(
  s3: S3Client,
  bucket: string,
  key: string,
  size: number,
  name: string,
): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const reader = new S3RangeReader(s3, bucket, key, size);
    yauzl.fromRandomAccessReader(reader, size, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('Not a ZIP'));
      let found = false;
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName !== name) return zip.readEntry();
        found = true;
        zip.openReadStream(entry, (streamErr, stream) => {
          if (streamErr || !stream) return reject(streamErr ?? new Error('Unreadable entry'));
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => {
            zip.close();
            resolve(Buffer.concat(chunks));
          });
          stream.on('error', reject);
        });
      });
      zip.on('end', () => {
        if (!found) resolve(undefined);
      });
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}
