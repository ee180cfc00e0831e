// @system-packages chromium
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type http from 'node:http';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { PREFIX } from './helpers/admin.js';
import { launchChromium, openInFreshContext, type LoadedPage } from './helpers/browser.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { request, waitFor } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

// The README's picture is refreshed only on request (UPDATE_MEDIA=1), so a test run leaves the tree clean.
const SCREENSHOT = process.env.UPDATE_MEDIA
  ? path.resolve(import.meta.dirname, '../../../media/dashboard.png')
  : path.join(os.tmpdir(), 'simple-cache-dashboard.png');

const TOKEN = 'dashboard-token';
const TIMEOUT_MS = 60_000;

/** A small site: pages and assets that stay fresh, an API that expires quickly, tagged products, a no-store feed. */
const SITE: Record<string, { body: string; headers: http.OutgoingHttpHeaders }> = {
  '/': { body: '<h1>shop</h1>'.repeat(40), headers: { 'cache-control': 'max-age=3600', 'content-type': 'text/html' } },
  '/style.css': {
    body: 'body{}'.repeat(900),
    headers: { 'cache-control': 'max-age=86400', 'content-type': 'text/css' },
  },
  '/app.js': {
    body: 'let x;'.repeat(6000),
    headers: { 'cache-control': 'max-age=86400', 'content-type': 'text/javascript' },
  },
  '/img/hero.jpg': {
    body: 'j'.repeat(180_000),
    headers: { 'cache-control': 'max-age=86400', 'content-type': 'image/jpeg' },
  },
  '/img/logo.svg': {
    body: '<svg/>'.repeat(300),
    headers: { 'cache-control': 'max-age=86400', 'content-type': 'image/svg+xml' },
  },
  '/products/1': {
    body: '{"id":1}'.repeat(200),
    headers: {
      'cache-control': 'max-age=60, stale-while-revalidate=30',
      'surrogate-key': 'products product-1',
      'content-type': 'application/json',
    },
  },
  '/products/2': {
    body: '{"id":2}'.repeat(260),
    headers: {
      'cache-control': 'max-age=60, stale-while-revalidate=30',
      'surrogate-key': 'products product-2',
      'content-type': 'application/json',
    },
  },
  '/products/3': {
    body: '{"id":3}'.repeat(180),
    headers: { 'cache-control': 'max-age=60', 'cache-tag': 'products,product-3', 'content-type': 'application/json' },
  },
  '/api/cart': { body: '{"items":[]}', headers: { 'cache-control': 'no-store', 'content-type': 'application/json' } },
};
/** How often each path is asked for, per round. */
const WEIGHTS: [string, number][] = [
  ['/', 3],
  ['/style.css', 3],
  ['/app.js', 3],
  ['/img/logo.svg', 3],
  ['/img/hero.jpg', 2],
  ['/products/1', 2],
  ['/products/2', 1],
  ['/products/3', 1],
  ['/api/cart', 1],
];
const ROTATION = WEIGHTS.flatMap(([pagePath, weight]) => Array.from({ length: weight }, () => pagePath));

/** A page expression (a string: the Node side is compiled without the DOM library). */
const READ_DASHBOARD = `(() => ({
  hitRatio: document.getElementById('hit-ratio').textContent,
  requestRate: document.getElementById('req-rate').textContent,
  bytesSaved: document.getElementById('bytes-saved').textContent,
  storeFill: document.getElementById('store-fill').textContent,
  live: document.getElementById('live').dataset.state,
  bars: document.querySelectorAll('#chart rect.bar-requests').length,
  ratioLines: document.querySelectorAll('#chart polyline.line-ratio').length,
  topPaths: [...document.querySelectorAll('#top-entries tbody tr[data-key] .url button')].map((b) => b.textContent),
  topVariants: [...document.querySelectorAll('#top-entries tbody tr[data-key] .url')].map(
    (cell) => cell.querySelector('.variant')?.textContent ?? '',
  ),
  background: getComputedStyle(document.body).backgroundColor,
}))()`;

interface Dashboard {
  hitRatio: string;
  requestRate: string;
  bytesSaved: string;
  storeFill: string;
  live: string;
  bars: number;
  ratioLines: number;
  topPaths: string[];
  topVariants: string[];
  background: string;
}

describe('the dashboard in headless Chromium', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let browser: Browser;
  let loaded: LoadedPage | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '*': (req, res) => {
        const page = SITE[(req.url ?? '').split('?')[0] as string];
        if (!page) {
          res.writeHead(404);
          return res.end();
        }
        res.writeHead(200, { ...page.headers, date: httpDate(), 'content-length': Buffer.byteLength(page.body) });
        res.end(page.body);
      },
    });
    // Five minutes of real traffic, the clock moved 5 s per round, so the chart has a history to draw.
    const clock = useFakeClock(Date.now() - 300_000);
    try {
      cache = await startCache(origin.url, dir.dir, { adminToken: TOKEN, maxSize: 4 * 1024 * 1024 });
      for (let round = 0; round < 60; round++) {
        clock.advance(5);
        const count = 4 + Math.round(3 * Math.sin(round / 5)) + (round % 9 === 0 ? 4 : 0);
        for (let i = 0; i < count; i++)
          await request(cache.url, ROTATION[(round * 7 + i * 3) % ROTATION.length] as string);
        await waitFor(() => cache.proxy.inFlight.size === 0, 'the round to be stored');
      }
      // Browsers take br: the stylesheet's br copy is served often enough to be a top entry, a row of
      // its own beside the identity body, which the page must tell apart.
      await waitFor(async () => (await cache.store.lookup(`${origin.url}/style.css`)).length === 3, 'the copies');
      for (let i = 0; i < 12; i++) await request(cache.url, '/style.css', { headers: { 'accept-encoding': 'br' } });
    } finally {
      clock.restore();
    }
    browser = await launchChromium();
  }, TIMEOUT_MS);

  afterAll(async () => {
    await loaded?.close();
    await browser?.close();
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  }, TIMEOUT_MS);

  test(
    'shows live figures, the chart, top entries; explains a URL; purges one through the page',
    async () => {
      loaded = await openInFreshContext(browser, `${cache.url}${PREFIX}/`, 1280);
      const { page } = loaded;
      page.on('pageerror', (error) => pageErrors.push(String(error)));
      page.on('console', (message) => {
        // Chromium logs every 4xx; the one refused purge is checked below, among the responses.
        if (message.type() === 'error' && !message.text().includes('status of 401')) pageErrors.push(message.text());
      });
      // Selectors, not waitForFunction: the page's CSP forbids the eval that polling a function needs.
      await page.waitForSelector('#hit-ratio:has-text("%")');
      await page.waitForSelector('#top-entries tbody tr[data-key]');

      // What the page shows is what the API says.
      const stats = JSON.parse((await request(cache.url, `${PREFIX}/stats`)).body.toString());
      const top = JSON.parse((await request(cache.url, `${PREFIX}/entries?sort=hits&limit=8`)).body.toString());
      const shown = await page.evaluate<Dashboard>(READ_DASHBOARD);
      expect(shown.live).toBe('live');
      expect(shown.hitRatio).toBe(`${(stats.requests.hitRatio * 100).toFixed(1)} %`);
      expect(stats.requests.hitRatio).toBeGreaterThan(0.5);
      expect(shown.bytesSaved).toMatch(/^\d+(\.\d+)? (KiB|MiB)$/);
      expect(shown.storeFill).toMatch(/^\d+(\.\d+)? %$/);
      expect(shown.bars).toBeGreaterThan(30);
      expect(shown.ratioLines).toBeGreaterThan(0);
      expect(shown.topPaths).toEqual(top.items.map((item: { path: string }) => item.path));
      const brRow = top.items.findIndex((item: { variant: string }) => item.variant === 'accept-encoding:br');
      expect(brRow).toBeGreaterThanOrEqual(0);
      expect(shown.topVariants[brRow]).toBe('accept-encoding: br');
      expect(shown.topVariants.filter((variant) => variant === '').length).toBe(
        top.items.filter((item: { variant: string }) => item.variant === '').length,
      );
      expect(shown.background).toBe('rgb(244, 246, 250)');

      // Explain: clicking an entry asks the policy why.
      await page.fill('#explain-url', '/products/1');
      await page.click('#explain-submit');
      await page.waitForSelector('#explain-result ol.steps li');
      const explainText = await page.textContent('#explain-result');
      expect(explainText).toContain('RFC 9111 §4.2.3');
      expect(explainText).toContain('max-age');
      expect(await page.locator('#explain-result .verdict .pill').first().textContent()).toMatch(
        /^(hit|revalidate|serve stale \+ refresh)$/,
      );

      // Purge: refused without the token, done with it. The stylesheet is stored three times: the
      // identity body and its br and gzip copies (docs/configuring.md, Compression).
      const key = `${origin.url}/style.css`;
      await waitFor(async () => (await cache.store.lookup(key)).length === 3, 'the stylesheet and its copies');
      await page.fill('#purge-target', '/style.css');
      await page.fill('#purge-token', '');
      await page.click('#purge-submit');
      await page.waitForSelector('#purge-result[data-kind="error"]');
      expect(await page.textContent('#purge-result')).toContain('Authorization: Bearer');
      expect(await cache.store.lookup(key)).toHaveLength(3);

      await page.fill('#purge-token', TOKEN);
      await page.click('#purge-submit');
      await page.waitForSelector('#purge-result[data-kind="ok"]');
      expect(await page.textContent('#purge-result')).toBe('Purged: 3 entries.');
      expect(await cache.store.lookup(key)).toEqual([]);
      expect((await request(cache.url, '/style.css')).headers['x-cache']).toBe('MISS');

      expect(pageErrors).toEqual([]);
      expect(loaded.failures).toEqual([]);
      expect(loaded.responses.filter((response) => response.status >= 400).map((r) => r.url.href)).toEqual([
        `${cache.url}${PREFIX}/entries?url=%2Fstyle.css`,
      ]);

      await mkdir(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    },
    TIMEOUT_MS,
  );
});
