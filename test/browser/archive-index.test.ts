/**
 * The archive's own pages in a real browser (Debian's chromium driven by playwright-core), from archives
 * exported end to end by the local stack: a Japanese-speaking user's index.html is in Japanese, an
 * English speaker's in English, each one click from the other language; the collections show as tables
 * and the activity and purchases as charts, and the pages ask the network for nothing (every request
 * that is not a file of the archive is counted and refused). Screenshots go to test-results/browser/.
 * Without chromium this test fails, on purpose, as download.test.ts does.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, type Page } from 'playwright-core';
import { orchestratorResources } from '../../config/data-map';
import { launchChromium, RESULTS } from '../support/browser';
import { startTestStack, type TestStack } from '../support/local-stack';
import { readZip } from '../support/zip';

let stack: TestStack;
let browser: Browser;
let work: string;
/** The unzipped archive of each user. */
const roots = new Map<string, string>();

async function exportAndUnzip(userId: string): Promise<string> {
  const created = await stack.call('POST', '/v1/requests', {
    body: { type: 'export', service: 'klub-outside', subject: { userId } },
  });
  expect(created.status).toBe(202);
  const requestId = String(created.body.requestId);
  const done = await stack.waitForStatus(requestId, ['completed', 'failed']);
  expect({ status: done.status, failure: done.failure }).toEqual({ status: 'completed', failure: undefined });
  const { key } = done.export as { key: string };
  const root = join(work, userId);
  for (const [name, bytes] of await readZip(
    await stack.getObjectBytes(orchestratorResources.exportsBucket, key),
  )) {
    const target = resolve(root, name);
    expect(target.startsWith(root + sep)).toBe(true);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
  }
  return root;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'dsr-archive-index-'));
  [stack, browser] = await Promise.all([startTestStack(), launchChromium()]);
  // u-bob's account says ja-JP, u-carol's en-US (local/seed-data.ts).
  for (const userId of ['u-bob', 'u-carol']) roots.set(userId, await exportAndUnzip(userId));
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * Opens a page of the archive with every request watched: file:// ones (the archive's own files) pass,
 * anything else is counted and refused.
 */
async function offline<T>(run: (page: Page, network: string[]) => Promise<T>): Promise<T> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const network: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file://')) return route.continue();
    network.push(url);
    return route.abort();
  });
  context.on('request', (request) => {
    if (!request.url().startsWith('file://') && !network.includes(request.url())) network.push(request.url());
  });
  try {
    return await run(await context.newPage(), network);
  } finally {
    await context.close();
  }
}

/** Tables, chart and bars as the browser laid them out (evaluated in the page: no DOM types here). */
async function layout(page: Page) {
  return (await page.evaluate(`(() => {
    const box = (el) => { const r = el.getBoundingClientRect(); return { width: r.width, height: r.height }; };
    const charts = [...document.querySelectorAll('svg.chart')];
    return {
      lang: document.documentElement.lang,
      h1: document.querySelector('h1').textContent,
      controller: document.querySelector('[data-field="controller"]').textContent,
      tables: [...document.querySelectorAll('.scroll table')].map((t) => ({
        caption: t.caption.textContent,
        rows: t.tBodies[0].rows.length,
        headers: [...t.tHead.rows[0].cells].map((c) => c.textContent),
      })),
      charts: charts.map((svg) => ({
        title: svg.querySelector('title').textContent,
        box: box(svg),
        bars: [...svg.querySelectorAll('rect')].map(box),
      })),
    };
  })()`)) as {
    lang: string;
    h1: string;
    controller: string;
    tables: { caption: string; rows: number; headers: string[] }[];
    charts: {
      title: string;
      box: { width: number; height: number };
      bars: { width: number; height: number }[];
    }[];
  };
}

function expectRendered(view: Awaited<ReturnType<typeof layout>>): void {
  expect(view.tables.length).toBeGreaterThanOrEqual(3);
  for (const t of view.tables) {
    expect(t.rows).toBeGreaterThan(0);
    expect(t.rows).toBeLessThanOrEqual(20);
    expect(t.headers.length).toBeGreaterThan(0);
  }
  // Activity per month, and purchases: drawn, with bars of real size.
  expect(view.charts.length).toBeGreaterThanOrEqual(2);
  for (const chart of view.charts) {
    expect(chart.box.width).toBeGreaterThan(300);
    expect(chart.box.height).toBeGreaterThan(100);
    expect(chart.bars.length).toBeGreaterThan(0);
    for (const bar of chart.bars) {
      expect(bar.width).toBeGreaterThan(0);
      expect(bar.height).toBeGreaterThan(0);
    }
  }
}

test("a Japanese speaker's archive opens in Japanese, with English one click away, and no network", async () => {
  const root = roots.get('u-bob')!;
  await offline(async (page, network) => {
    await page.goto(pathToFileURL(join(root, 'index.html')).href, { waitUntil: 'load' });
    const ja = await layout(page);
    expect(ja.lang).toBe('ja');
    expect(ja.h1).toBe('データのエクスポート');
    expect(ja.controller).toMatch(/^klub-outside: \S/);
    expect(ja.tables.map((t) => t.caption).join('\n')).toContain('取引');
    expect(ja.tables.find((t) => t.caption.startsWith('取引'))?.headers).toContain('取引日時');
    expect(ja.charts.map((c) => c.title)).toEqual(expect.arrayContaining(['月ごとの利用状況']));
    expect(ja.charts.some((c) => c.title.startsWith('月ごとの購入金額'))).toBe(true);
    expectRendered(ja);
    await page.screenshot({ path: join(RESULTS, 'archive-index-ja.png'), fullPage: true });
    await page
      .locator('section[aria-labelledby="glance"]')
      .screenshot({ path: join(RESULTS, 'archive-index-ja-glance.png') });

    await page.getByRole('link', { name: 'Read this page in English' }).click();
    await page.waitForLoadState('load');
    expect(page.url()).toBe(pathToFileURL(join(root, 'index.en.html')).href);
    const en = await layout(page);
    expect(en.lang).toBe('en');
    expect(en.h1).toBe('Your data export');
    expect(en.controller).toBe(ja.controller);
    expect(en.tables.find((t) => t.caption.startsWith('Transactions'))?.headers).toContain('Date');
    expect(en.charts.map((c) => c.title)).toEqual(expect.arrayContaining(['Your activity per month']));
    // The same data in both: as many tables, charts and bars.
    expect(en.tables.map((t) => t.rows)).toEqual(ja.tables.map((t) => t.rows));
    expect(en.charts.map((c) => c.bars.length)).toEqual(ja.charts.map((c) => c.bars.length));
    expectRendered(en);
    await page.screenshot({ path: join(RESULTS, 'archive-index-en.png'), fullPage: true });
    await page
      .locator('section[aria-labelledby="glance"]')
      .screenshot({ path: join(RESULTS, 'archive-index-en-glance.png') });

    await page.getByRole('link', { name: 'このページを日本語で読む' }).click();
    await page.waitForLoadState('load');
    expect((await layout(page)).lang).toBe('ja');
    await page.waitForTimeout(300);
    expect(network).toEqual([]);
  });
});

test("an English speaker's archive opens in English, with Japanese one click away", async () => {
  const root = roots.get('u-carol')!;
  expect(existsSync(join(root, 'index.ja.html'))).toBe(true);
  expect(existsSync(join(root, 'index.en.html'))).toBe(false);
  await offline(async (page, network) => {
    await page.goto(pathToFileURL(join(root, 'index.html')).href, { waitUntil: 'load' });
    const en = await layout(page);
    expect(en.lang).toBe('en');
    expect(en.tables.length).toBeGreaterThan(0);
    await page.getByRole('link', { name: 'このページを日本語で読む' }).click();
    await page.waitForLoadState('load');
    expect(page.url()).toBe(pathToFileURL(join(root, 'index.ja.html')).href);
    expect((await layout(page)).lang).toBe('ja');
    await page.waitForTimeout(300);
    expect(network).toEqual([]);
  });
});
