// @system-packages chromium
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startOrigin, STATS_PATH, type RequestStats, type RunningOrigin } from 'main-server';
import type { Browser } from 'playwright-core';
import { launchChromium, openInFreshContext, type LoadedPage } from './helpers/browser.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/** The demo site's page and the two assets it needs to look right (packages/main-server/public). */
const PAGE = '/';
const STYLESHEET = '/style.css';
const IMAGE = '/logo.svg';
const DEMO_PATHS = [PAGE, STYLESHEET, IMAGE];

/** The README shows this picture of the demo site as the browser saw it through the cache. */
// The README's picture is refreshed only on request (UPDATE_MEDIA=1), so a test run leaves the tree clean.
const SCREENSHOT = process.env.UPDATE_MEDIA
  ? path.resolve(import.meta.dirname, '../../../media/demo-site.png')
  : path.join(os.tmpdir(), 'simple-cache-demo-site.png');

/** style.css paints the body with `--page: #f6f8fb`; the browser's default is white. */
const STYLED_BACKGROUND = 'rgb(246, 248, 251)';

const TIMEOUT_MS = 60_000;

/** Enough of the loaded page to tell that its stylesheet and its image took effect. */
interface Rendering {
  title: string;
  imageComplete: boolean;
  imageWidth: number;
  bodyBackground: string;
  heroDisplay: string;
}

// An expression run in the page. A string, because the Node program is compiled without the DOM library.
const READ_RENDERING = `(() => {
  const image = document.querySelector('.hero img');
  return {
    title: document.title,
    imageComplete: image?.complete ?? false,
    imageWidth: image?.naturalWidth ?? 0,
    bodyBackground: getComputedStyle(document.body).backgroundColor,
    heroDisplay: getComputedStyle(document.querySelector('.hero') ?? document.body).display,
  };
})()`;

/** A real browser opens the demo site through the cache, then again, and the origin hears nothing new. */
describe('the demo site in headless Chromium, through the cache', () => {
  let origin: RunningOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let browser: Browser;
  const opened: LoadedPage[] = [];

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startOrigin({ port: 0, logLevel: 'silent' });
    cache = await startCache(origin.url, dir.dir);
    browser = await launchChromium();
  }, TIMEOUT_MS);
  afterAll(async () => {
    for (const loaded of opened) await loaded.close();
    await browser?.close();
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  }, TIMEOUT_MS);

  async function open(): Promise<LoadedPage> {
    const loaded = await openInFreshContext(browser, `${cache.url}${PAGE}`);
    opened.push(loaded);
    return loaded;
  }

  /** Read from the origin itself, so the reading is not a request through the cache. */
  async function readOriginStats(): Promise<RequestStats> {
    const reply = await request(origin.url, STATS_PATH);
    expect(reply.status).toBe(200);
    return JSON.parse(reply.body.toString()) as RequestStats;
  }

  /** Every response came from the cache, none failed, and the page has its stylesheet and image. */
  async function expectRenderedThroughCache(loaded: LoadedPage): Promise<void> {
    expect(loaded.failures).toEqual([]);
    const cacheOrigin = new URL(cache.url).origin;
    const wrong = loaded.responses
      .filter((response) => response.status >= 400 || response.url.origin !== cacheOrigin)
      .map((response) => `${response.status} ${response.url.href}`);
    expect(wrong).toEqual([]);
    for (const demoPath of DEMO_PATHS) {
      const statuses = loaded.responsesFor(demoPath).map((response) => response.status);
      expect({ path: demoPath, statuses }).toEqual({ path: demoPath, statuses: expect.arrayContaining([200]) });
      expect({ path: demoPath, statuses }).toEqual({ path: demoPath, statuses: statuses.map(() => 200) });
    }

    const rendered = await loaded.page.evaluate<Rendering>(READ_RENDERING);
    expect(rendered.title).toBe('simple-cache demo');
    expect(rendered.imageComplete).toBe(true);
    expect(rendered.imageWidth).toBeGreaterThan(0);
    expect(rendered.bodyBackground).toBe(STYLED_BACKGROUND);
    expect(rendered.heroDisplay).toBe('flex');
  }

  test(
    'first load: page, stylesheet and image come through the cache, render, and are stored',
    async () => {
      const first = await open();
      await expectRenderedThroughCache(first);
      for (const demoPath of DEMO_PATHS) {
        // The cache was empty, so the cache fetched each one from the origin.
        expect({ path: demoPath, xCache: first.responsesFor(demoPath).map((r) => r.xCache) }).toEqual({
          path: demoPath,
          xCache: expect.arrayContaining(['MISS']),
        });
      }
      await waitFor(() => cache.proxy.inFlight.size === 0, 'the entries to be committed');
      const stats = await readOriginStats();
      for (const demoPath of DEMO_PATHS) expect(stats.byPath[demoPath]).toBeGreaterThanOrEqual(1);
    },
    TIMEOUT_MS,
  );

  test(
    'second load in a fresh browser context: all HITs, the origin is not asked again',
    async () => {
      await waitFor(() => cache.proxy.inFlight.size === 0, 'the entries to be committed');
      const before = await readOriginStats();

      // A new context has an empty browser cache, so every request reaches simple-cache.
      const second = await open();
      await expectRenderedThroughCache(second);
      for (const demoPath of DEMO_PATHS) {
        const xCache = second.responsesFor(demoPath).map((response) => response.xCache);
        expect({ path: demoPath, xCache }).toEqual({ path: demoPath, xCache: xCache.map(() => 'HIT') });
      }

      const after = await readOriginStats();
      const pick = (stats: RequestStats): Record<string, number | undefined> =>
        Object.fromEntries(DEMO_PATHS.map((demoPath) => [demoPath, stats.byPath[demoPath]]));
      expect(pick(after)).toEqual(pick(before));
      expect(after.total).toBe(before.total);

      await mkdir(path.dirname(SCREENSHOT), { recursive: true });
      await second.page.screenshot({ path: SCREENSHOT, fullPage: true });
    },
    TIMEOUT_MS,
  );

  test(
    'the demo site\'s "Cache dashboard" link opens the cache\'s dashboard',
    async () => {
      const loaded = await open();
      await loaded.page.getByRole('link', { name: 'Cache dashboard' }).click();
      await loaded.page.waitForURL(`${cache.url}/_cache/`);
      expect(await loaded.page.title()).toContain('simple-cache');
      const dashboard = loaded.responses.find((response) => response.url.pathname === '/_cache/');
      expect(dashboard?.status).toBe(200);
    },
    TIMEOUT_MS,
  );
});
