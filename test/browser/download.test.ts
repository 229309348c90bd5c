/**
 * The user's side in a real browser (Debian's chromium driven by playwright-core) against the real local
 * stack: open the download page, switch language, click download, verify the ZIP that arrives, then
 * open the archive's own index.html offline and check every link lands on a file in the archive and
 * that the page asks the network for nothing. Screenshots go to test-results/ (kept by CI).
 * Without chromium this test fails, on purpose: CI installs it, so a missing browser is a broken setup.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Jwks } from '../../functions/lib/crypto/jws';
import { verifyArchive } from '../../functions/lib/export/verify-archive';
import { launchChromium, RESULTS } from '../support/browser';
import { startTestStack, type TestStack } from '../support/local-stack';
import { readZip } from '../support/zip';

let stack: TestStack;
let browser: Browser;
let work: string;
let requestId: string;
let downloadUrl: string;
let sha256: string;
let zipPath: string | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'dsr-browser-'));
  [stack, browser] = await Promise.all([startTestStack(), launchChromium()]);
  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId: 'u-alice' } },
  });
  requestId = String(created.body.requestId);
  const done = await stack.waitForStatus(requestId, ['completed', 'failed']);
  expect({ status: done.status, failure: done.failure }).toEqual({ status: 'completed', failure: undefined });
  const view = await stack.call('GET', `/v1/requests/${requestId}`);
  downloadUrl = String(view.body.downloadUrl);
  sha256 = (view.body.export as { sha256: string }).sha256;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function withPage<T>(
  options: { locale?: string; extraHTTPHeaders?: Record<string, string> },
  run: (page: Page, context: BrowserContext) => Promise<T>,
): Promise<T> {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  try {
    return await run(await context.newPage(), context);
  } finally {
    await context.close();
  }
}

/** WCAG contrast ratio of two `rgb(...)` colours. */
function contrast(a: string, b: string): number {
  const lum = (rgb: string) => {
    const [r, g, bl] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

test('the download page shows what the archive holds, in English and Japanese, accessibly', async () => {
  await withPage({ locale: 'en-GB' }, async (page) => {
    const res = await page.goto(downloadUrl);
    expect(res?.status()).toBe(200);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('h1').innerText()).toBe('Your data export');
    expect(await page.locator('h2').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('[data-field="sha256"]').innerText()).toBe(sha256);
    expect(await page.locator('[data-field="remaining"]').innerText()).toBe('5 of 5');
    expect(await page.locator('table tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('table th[scope="col"]').count()).toBe(3);
    const button = page.getByRole('link', { name: /Download the archive/ });
    expect(await button.count()).toBe(1);
    // Evaluated in the page (a string: this project's TypeScript has no DOM library).
    const colors = (await page.evaluate(
      `(() => { const b = getComputedStyle(document.getElementById('download'));
        return { fg: b.color, bg: b.backgroundColor, body: getComputedStyle(document.body).color }; })()`,
    )) as { fg: string; bg: string; body: string };
    expect(contrast(colors.fg, colors.bg)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(colors.body, 'rgb(255, 255, 255)')).toBeGreaterThanOrEqual(4.5);
    await page.screenshot({ path: join(RESULTS, 'download-page-en.png'), fullPage: true });
  });

  await withPage({ locale: 'ja-JP' }, async (page) => {
    await page.goto(downloadUrl);
    expect(await page.getAttribute('html', 'lang')).toBe('ja');
    expect(await page.locator('h1').innerText()).toBe('データのエクスポート');
    expect(await page.locator('[data-field="remaining"]').innerText()).toBe('5 回中 5 回');
    await page.screenshot({ path: join(RESULTS, 'download-page-ja.png'), fullPage: true });
    // The language switch on the page overrides the browser's preference.
    await page.getByRole('link', { name: 'English' }).click();
    await page.waitForLoadState();
    expect(await page.locator('h1').innerText()).toBe('Your data export');
    expect(new URL(page.url()).searchParams.get('lang')).toBe('en');
  });
});

test('clicking download delivers the ZIP, which verifies against the published keys', async () => {
  await withPage({ locale: 'en-GB' }, async (page) => {
    await page.goto(downloadUrl);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /Download the archive/ }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^data-export-\d{4}-\d{2}-\d{2}\.zip$/);
    zipPath = join(work, download.suggestedFilename());
    await download.saveAs(zipPath);
    expect(await download.failure()).toBeNull();
    expect(createHash('sha256').update(readFileSync(zipPath)).digest('hex')).toBe(sha256);

    const jwks = (await (await fetch(`${stack.apiUrl}/.well-known/jwks.json`)).json()) as Jwks;
    const result = await verifyArchive(zipPath, { jwks });
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(true);

    await page.reload();
    expect(await page.locator('[data-field="remaining"]').innerText()).toBe('4 of 5');
    await page.screenshot({ path: join(RESULTS, 'download-page-after-download.png'), fullPage: true });
  });
});

test("the archive's index.html works offline: every link resolves inside the archive, no network", async () => {
  expect(zipPath).toBeDefined();
  const root = join(work, 'unzipped');
  for (const [name, bytes] of await readZip(readFileSync(zipPath!))) {
    const target = resolve(root, name);
    expect(target.startsWith(root + sep)).toBe(true);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
  }
  const index = join(root, 'index.html');
  expect(existsSync(index)).toBe(true);

  await withPage({}, async (page) => {
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    await page.goto(pathToFileURL(index).href, { waitUntil: 'load' });
    await page.waitForTimeout(300);
    const refs = await page.$$eval('[href], [src]', (elements) =>
      elements.map((el) => el.getAttribute('href') ?? el.getAttribute('src') ?? ''),
    );
    expect(refs.length).toBeGreaterThan(0);
    const broken: string[] = [];
    for (const ref of refs) {
      const url = new URL(ref, page.url());
      if (url.protocol !== 'file:') {
        broken.push(`${ref} (leaves the archive)`);
        continue;
      }
      const path = fileURLToPath(url);
      if (!path.startsWith(root + sep) || !existsSync(path)) broken.push(`${ref} (no such file)`);
      else if (url.hash && path === index) {
        const id = decodeURIComponent(url.hash.slice(1));
        if (!(await page.evaluate(`document.getElementById(${JSON.stringify(id)}) !== null`)))
          broken.push(`${ref} (no such anchor)`);
      }
    }
    expect(broken).toEqual([]);
    expect(requested.filter((url) => !url.startsWith('file://'))).toEqual([]);
    await page.screenshot({ path: join(RESULTS, 'archive-index.png'), fullPage: true });
  });
});
