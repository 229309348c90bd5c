/**
 * Download links without a stack: the token (forgery and cross-request tokens are refused before any
 * lookup), link status rules, configuration bounds, the presigned URL's lifetime, the page's locale,
 * escaping and Content-Security-Policy, and the notification email's encoding.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  DownloadLinks,
  S3ArchiveAccess,
  archiveFileName,
  downloadLinkConfigFromEnv,
  linkStatus,
  parseToken,
  summaryFromManifest,
  type DownloadLink,
} from '../../functions/lib/downloads/download-links';
import { LocalSubjectHasher } from '../../functions/lib/crypto/subject-hash';
import { requestTable } from '../../functions/lib/requests/request-table';
import {
  PAGE_SECURITY_HEADERS,
  negotiateLocale,
  renderDownloadPage,
  renderErrorPage,
} from '../../functions/lib/downloads/download-page';
import { renderLinkEmail, toMime } from '../../functions/notify/email';
import { OutboxMailer } from '../../functions/lib/notices/mailer';

const REQ_A = `req_${'a'.repeat(32)}`;
const REQ_B = `req_${'b'.repeat(32)}`;
const NOW = new Date('2030-01-01T00:00:00Z');
const config = {
  ttlSeconds: 7 * 86400,
  maxDownloads: 5,
  presignSeconds: 300,
  publicBaseUrl: 'https://dl.example',
};

/** A document client that records calls and answers Get with the given item. */
function fakeDoc(item?: object) {
  const sent: string[] = [];
  const doc = {
    send: async (command: { constructor: { name: string } }) => {
      sent.push(command.constructor.name);
      return { Item: item };
    },
  } as unknown as DynamoDBDocumentClient;
  return { doc, sent };
}

function linkRecord(over: Partial<DownloadLink> = {}): DownloadLink {
  return {
    requestId: REQ_A,
    linkId: 'AAAAAAAAAAAAAAAAAAAAAA',
    tokenHash: '',
    issuedAt: NOW.toISOString(),
    expiresAt: new Date(NOW.getTime() + 86400_000).toISOString(),
    maxDownloads: 5,
    downloads: 0,
    archive: { bucket: 'b', key: 'k' },
    summary: { bytes: 1, sha256: 'f'.repeat(64), files: 1, records: 1, stores: [] },
    ...over,
  };
}

describe('tokens', () => {
  const mac = new LocalSubjectHasher(Buffer.alloc(32, 7));
  const otherKey = new LocalSubjectHasher(Buffer.alloc(32, 8));

  test('a token names one request, carries a 128-bit id and a 256-bit MAC', async () => {
    const links = new DownloadLinks(
      requestTable(fakeDoc().doc, 't', () => NOW),
      mac,
      config,
    );
    const token = await links.tokenFor(REQ_A, 'AAAAAAAAAAAAAAAAAAAAAA');
    const parsed = parseToken(token)!;
    expect(parsed.requestId).toBe(REQ_A);
    expect(Buffer.from(parsed.linkId, 'base64url')).toHaveLength(16);
    expect(Buffer.from(parsed.mac, 'base64url')).toHaveLength(32);
    expect(await links.urlFor({ requestId: REQ_A, linkId: parsed.linkId })).toBe(
      `https://dl.example/v1/downloads/${token}`,
    );
  });

  test.each([
    ['empty', ''],
    ['two parts', `${REQ_A}.x`],
    ['bad request id', `req_1.${'A'.repeat(22)}.${'A'.repeat(43)}`],
    ['short id', `${REQ_A}.${'A'.repeat(21)}.${'A'.repeat(43)}`],
    ['four parts', `${REQ_A}.${'A'.repeat(22)}.${'A'.repeat(43)}.x`],
  ])('parseToken refuses %s', (_name, token) => {
    expect(parseToken(token)).toBeUndefined();
  });

  test('a made-up, tampered, foreign-key or cross-request token is refused before any KMS call', async () => {
    const linkId = 'A'.repeat(22);
    const token = await new DownloadLinks(requestTable(fakeDoc().doc, 't'), mac, config).tokenFor(
      REQ_A,
      linkId,
    );
    const forged = await new DownloadLinks(requestTable(fakeDoc().doc, 't'), otherKey, config).tokenFor(
      REQ_A,
      linkId,
    );
    const { mac: sig } = parseToken(token)!;
    const tokenHash = createHash('sha256').update(token).digest('hex');
    // The MAC key is a KMS key in AWS: a call to it is the expensive part.
    const kms = {
      hash: async (): Promise<string> => {
        throw new Error('KMS called');
      },
    };
    const candidates = [
      'not-a-token',
      `${REQ_A}.${linkId}.${'A'.repeat(44)}`,
      token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'),
      forged,
      `${REQ_B}.${linkId}.${sig}`,
      `${REQ_A}.${'B'.repeat(22)}.${sig}`,
    ];
    for (const candidate of candidates) {
      const { doc, sent } = fakeDoc(linkRecord({ linkId, tokenHash }));
      const links = new DownloadLinks(
        requestTable(doc, 't', () => NOW),
        kms,
        config,
      );
      expect(await links.resolve(candidate)).toEqual({ found: false });
      // At most the one read of the link its request id names.
      expect(sent.filter((name) => name !== 'GetCommand')).toEqual([]);
    }
    // Nor is an expired or revoked link's true token worth a KMS call.
    for (const over of [{ expiresAt: '2000-01-01T00:00:00Z' }, { revokedAt: NOW.toISOString() }]) {
      const { doc } = fakeDoc(linkRecord({ linkId, tokenHash, ...over }));
      const links = new DownloadLinks(
        requestTable(doc, 't', () => NOW),
        kms,
        config,
      );
      expect(await links.resolve(token)).toMatchObject({ found: true });
    }
    // A live link's token is checked with the key.
    const live = new DownloadLinks(
      requestTable(fakeDoc(linkRecord({ linkId, tokenHash })).doc, 't', () => NOW),
      kms,
      config,
    );
    await expect(live.resolve(token)).rejects.toThrow('KMS called');
  });

  test('a valid token resolves only when the stored hash matches', async () => {
    const linkId = 'C'.repeat(22);
    const token = await new DownloadLinks(requestTable(fakeDoc().doc, 't'), mac, config).tokenFor(
      REQ_A,
      linkId,
    );
    const tokenHash = createHash('sha256').update(token).digest('hex');
    const good = new DownloadLinks(
      requestTable(fakeDoc(linkRecord({ linkId, tokenHash })).doc, 't', () => NOW),
      mac,
      config,
    );
    expect(await good.resolve(token)).toMatchObject({ found: true, status: 'active' });
    const replaced = fakeDoc(linkRecord({ linkId, tokenHash: '0'.repeat(64) }));
    expect(await new DownloadLinks(requestTable(replaced.doc, 't'), mac, config).resolve(token)).toEqual({
      found: false,
    });
    expect(
      await new DownloadLinks(requestTable(fakeDoc(undefined).doc, 't'), mac, config).resolve(token),
    ).toEqual({
      found: false,
    });
  });
});

describe('link status', () => {
  test.each([
    ['active', {}, 'active'],
    ['expired at the instant', { expiresAt: NOW.toISOString() }, 'expired'],
    ['archive gone', { archiveGoneAt: NOW.toISOString() }, 'expired'],
    ['limit reached', { downloads: 5 }, 'exhausted'],
    ['revoked beats expired', { revokedAt: 'x', expiresAt: '2000-01-01T00:00:00Z' }, 'revoked'],
    ['expired beats exhausted', { downloads: 5, expiresAt: '2000-01-01T00:00:00Z' }, 'expired'],
  ])('%s', (_name, over, expected) => {
    expect(linkStatus(linkRecord(over as Partial<DownloadLink>), NOW)).toBe(expected);
  });
});

describe('configuration', () => {
  test('defaults: 7 days, 5 downloads, 5-minute presigned URLs', () => {
    expect(downloadLinkConfigFromEnv({ PUBLIC_API_URL: 'https://x.example/' })).toEqual({
      ttlSeconds: 604800,
      maxDownloads: 5,
      presignSeconds: 300,
      publicBaseUrl: 'https://x.example',
    });
  });

  test('a presigned URL may not live past 15 minutes; the public URL is required', () => {
    expect(() =>
      downloadLinkConfigFromEnv({ PUBLIC_API_URL: 'https://x', DOWNLOAD_PRESIGN_SECONDS: '901' }),
    ).toThrow(/DOWNLOAD_PRESIGN_SECONDS/);
    expect(() => downloadLinkConfigFromEnv({})).toThrow(/PUBLIC_API_URL/);
  });

  test('presign signs for at most 900 seconds, with a download file name', async () => {
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
    });
    const access = new S3ArchiveAccess(s3, () => NOW);
    const url = new URL(
      await access.presign('bucket', 'exports/x.zip', { expiresIn: 900, fileName: 'a b.zip' }),
    );
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Date')).toBe('20300101T000000Z');
    expect(url.searchParams.get('response-content-disposition')).toBe('attachment; filename="a_b.zip"');
    await expect(access.presign('bucket', 'k', { expiresIn: 901, fileName: 'a.zip' })).rejects.toThrow(/900/);
  });

  test('the summary takes per-store counts from the manifest and ignores malformed entries', () => {
    const archive = { bucket: 'b', key: 'k', bytes: 10, sha256: 'f'.repeat(64), files: 3, records: 4 };
    const manifest = Buffer.from(
      JSON.stringify({
        stores: [
          { store: 'accounts', records: 1, files: 2 },
          { store: 'chat', records: 'x' },
        ],
      }),
    );
    expect(summaryFromManifest(archive, manifest).stores).toEqual([
      { store: 'accounts', records: 1, files: 2 },
    ]);
    expect(summaryFromManifest(archive, Buffer.from('not json')).stores).toEqual([]);
  });
});

describe('the page', () => {
  test.each([
    [undefined, undefined, 'en'],
    ['ja-JP,ja;q=0.9,en;q=0.8', undefined, 'ja'],
    ['en;q=0.5, ja;q=0.8', undefined, 'ja'],
    ['fr-FR, de', undefined, 'en'],
    ['ja', 'en', 'en'],
    ['en', 'xx', 'en'],
  ])('Accept-Language %s with ?lang=%s -> %s', (header, override, expected) => {
    expect(negotiateLocale(header, override)).toBe(expected);
  });

  const model = {
    summary: {
      bytes: 12_345,
      sha256: 'ab'.repeat(32),
      files: 7,
      records: 42,
      stores: [{ store: '<script>alert(1)</script>', records: 1, files: 1 }],
    },
    expiresAt: '2030-01-08T00:00:00.000Z',
    downloadsRemaining: 3,
    maxDownloads: 5,
    archiveHref: 'tok/archive',
    fileName: archiveFileName({ issuedAt: '2030-01-01T09:30:00.000Z' }),
    jwksUrl: 'https://dl.example/.well-known/jwks.json',
  };

  test('renders in English and Japanese, escapes what it shows, loads nothing from elsewhere', () => {
    const en = renderDownloadPage({ ...model, locale: 'en' });
    expect(en).toContain('<html lang="en">');
    expect(en).toContain('3 of 5');
    expect(en).toContain('12.3 kB');
    expect(en).toContain('&lt;script&gt;');
    expect(en).not.toContain('<script');
    expect(en).not.toMatch(/\s(?:src|srcset|action)=/);
    const ja = renderDownloadPage({ ...model, locale: 'ja' });
    expect(ja).toContain('<html lang="ja">');
    expect(ja).toContain('5 回中 3 回');
    expect(ja).toContain('2030年1月8日');
  });

  test('the checksum commands name the file as the browser saves it', () => {
    const html = renderDownloadPage({ ...model, locale: 'en' });
    const commands = /<pre>([\s\S]*?)<\/pre>/.exec(html)![1]!;
    expect(commands.split('\n')).toEqual([
      'Linux:   sha256sum data-export-2030-01-01.zip',
      'macOS:   shasum -a 256 data-export-2030-01-01.zip',
      'Windows: certutil -hashfile data-export-2030-01-01.zip SHA256',
    ]);
  });

  test('the file count says which files the manifest lists, as the verifier counts them', () => {
    // 7 files in the archive: 5 listed in manifest.json, plus manifest.json and manifest.jws.
    expect(renderDownloadPage({ ...model, locale: 'en' })).toContain(
      'The archive holds 7 files: the 5 listed in manifest.json',
    );
    expect(renderDownloadPage({ ...model, locale: 'ja' })).toContain('記載された 5 個のファイル');
  });

  test('the CSP allows exactly the inline style block, by hash', () => {
    const html = renderDownloadPage({ ...model, locale: 'en' });
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const hash = createHash('sha256').update(style).digest('base64');
    const csp = PAGE_SECURITY_HEADERS['content-security-policy']!;
    expect(csp).toContain(`style-src 'sha256-${hash}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe');
  });

  test("names the archive's service and its controller, and no other service's", () => {
    const cluster = renderDownloadPage({
      ...model,
      locale: 'en',
      summary: { ...model.summary, service: 'cluster' },
    });
    expect(cluster).toContain('the personal data Cluster, Inc. holds about you as a user of Cluster');
    for (const other of ['Sony Music', 'klub-outside', 'Audiostock', 'METALIVE', 'PRISM']) {
      expect(cluster).not.toContain(other);
    }
    const prism = renderDownloadPage({
      ...model,
      locale: 'ja',
      summary: { ...model.summary, service: 'prism-project' },
    });
    expect(prism).toContain(
      '株式会社ソニー・ミュージックエンタテインメントがPRISM Projectのご利用に関して保有する',
    );
    // An archive from before services names none: it is the deployment's default service's.
    expect(renderDownloadPage({ ...model, locale: 'en' })).toContain(
      'Sony Music Solutions Inc. holds about you',
    );
    expect(
      summaryFromManifest(
        { bucket: 'b', key: 'k', bytes: 1, sha256: 'a'.repeat(64), files: 1, records: 0 },
        Buffer.from(JSON.stringify({ service: 'metalive', stores: [] })),
      ).service,
    ).toBe('metalive');
  });

  test('error pages say what happened and what to do, in both languages', () => {
    expect(renderErrorPage('expired', 'en')).toContain('ask for a new copy');
    expect(renderErrorPage('exhausted', 'ja')).toContain('上限回数');
    expect(renderErrorPage('not_found', 'en')).toContain('not valid');
  });
});

describe('the notification email', () => {
  const email = {
    url: 'https://dl.example/v1/downloads/tok',
    expiresAt: '2030-01-08T00:00:00.000Z',
    maxDownloads: 5,
  };
  const content = renderLinkEmail({ ...email, locale: 'ja' });

  test('is a plain UTF-8 message with an encoded Japanese subject and the link in its body', () => {
    const raw = toMime({ from: 'privacy@dsr.example', to: 'a@b.example', content, locale: 'ja', date: NOW });
    const [head, body] = raw.split('\r\n\r\n') as [string, string];
    expect(head).toMatch(/^Subject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/m);
    expect(head).toContain('Content-Type: text/plain; charset=UTF-8');
    const text = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    expect(text).toContain('https://dl.example/v1/downloads/tok');
    expect(text).toContain('有効期限: 2030年1月8日');
    expect(body.split('\r\n').every((line) => line.length <= 76)).toBe(true);
  });

  test("comes from the archive's service and its controller", () => {
    const en = renderLinkEmail({ ...email, locale: 'en', service: 'audiostock' });
    expect(en.subject).toBe('Audiostock: your data export is ready');
    expect(en.text).toContain('the personal data you asked Audiostock Inc. for, as a user of Audiostock');
    expect(en.text).not.toMatch(/Sony|Cluster|METALIVE|klub-outside/);
    expect(content.subject).toBe('klub-outside: データのエクスポートの準備ができました');
  });

  test('refuses header injection through the address', () => {
    expect(() =>
      toMime({ from: 'p@d.example', to: 'a@b.example\r\nBcc: x@y', content, locale: 'en', date: NOW }),
    ).toThrow(/line break/);
  });

  test('the outbox writes one private .eml per message, named by request id only', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'outbox-')), 'outbox');
    await new OutboxMailer(dir).send({ requestId: REQ_A, from: 'p@d', to: 'a@b.example', raw: 'X' });
    const [file] = readdirSync(dir);
    expect(file).toMatch(new RegExp(`-${REQ_A}\\.eml$`));
    expect(file).not.toContain('a@b');
    expect(readFileSync(join(dir, file!), 'utf8')).toBe('X');
    expect(statSync(join(dir, file!)).mode & 0o077).toBe(0);
  });
});
