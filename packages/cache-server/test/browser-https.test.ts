// @system-packages chromium
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startOrigin, type RunningOrigin } from 'main-server';
import type { Browser } from 'playwright-core';
import { launchChromium, openInFreshContext, type LoadedPage } from './helpers/browser.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { waitFor } from './helpers/http.js';

const TIMEOUT_MS = 60_000;
const DEMO_PATHS = ['/', '/style.css', '/logo.svg'];

/** The protocol each resource of the page came over, as the browser's Resource Timing reports it. */
const READ_PROTOCOLS = `(() => {
  const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
  return entries.map((entry) => [new URL(entry.name).pathname, entry.nextHopProtocol]);
})()`;

/**
 * The demo as `pnpm start` runs it with `--tls-cert self-signed`: a person types the plain
 * address, is sent to HTTPS, accepts the self-signed certificate once, and the site arrives over
 * HTTP/2 through the cache, then from the cache.
 */
describe('the demo site in headless Chromium over HTTPS and HTTP/2', () => {
  let origin: RunningOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let browser: Browser;
  const opened: LoadedPage[] = [];

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startOrigin({ port: 0, logLevel: 'silent' });
    cache = await startCache(origin.url, dir.dir, { tlsCert: 'self-signed', redirectHttp: true });
    browser = await launchChromium();
  }, TIMEOUT_MS);
  afterAll(async () => {
    for (const loaded of opened) await loaded.close();
    await browser?.close();
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  }, TIMEOUT_MS);

  async function open(url: string): Promise<LoadedPage> {
    const loaded = await openInFreshContext(browser, url, 1200, { ignoreHTTPSErrors: true });
    opened.push(loaded);
    return loaded;
  }

  test(
    'the plain address redirects to HTTPS; page, stylesheet and image arrive over h2 and render',
    async () => {
      const loaded = await open(`${cache.url}/`);
      const tlsOrigin = new URL(cache.tlsUrl as string).origin;
      expect(new URL(loaded.page.url()).origin).toBe(tlsOrigin);
      expect(loaded.failures).toEqual([]);
      // The one plain response is the redirect.
      const plain = loaded.responses.filter((response) => response.url.protocol === 'http:');
      expect(plain.map((response) => response.status)).toEqual([308]);
      for (const demoPath of DEMO_PATHS) {
        const statuses = loaded.responses
          .filter((response) => response.url.origin === tlsOrigin && response.url.pathname === demoPath)
          .map((response) => response.status);
        expect({ demoPath, statuses }).toEqual({ demoPath, statuses: expect.arrayContaining([200]) });
      }
      const protocols = Object.fromEntries(await loaded.page.evaluate<[string, string][]>(READ_PROTOCOLS));
      for (const demoPath of DEMO_PATHS)
        expect({ demoPath, protocol: protocols[demoPath] }).toEqual({ demoPath, protocol: 'h2' });
      const styled = await loaded.page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
      expect(styled).toBe('rgb(246, 248, 251)');
    },
    TIMEOUT_MS,
  );

  test(
    'a second visit is served from the cache over h2, page and stylesheet as the stored br copies, and the dashboard link works over HTTPS',
    async () => {
      await waitFor(() => cache.proxy.inFlight.size === 0, 'the entries to be committed');
      // The copies commit just after the identity bodies (the first visit made them).
      await waitFor(async () => (await cache.store.lookup(`${origin.url}/style.css`)).length === 3, 'the copies');
      const loaded = await open(`${cache.tlsUrl as string}/`);
      expect(loaded.failures).toEqual([]);
      for (const demoPath of DEMO_PATHS) {
        const xCache = loaded.responsesFor(demoPath).map((response) => response.xCache);
        expect({ demoPath, xCache }).toEqual({ demoPath, xCache: xCache.map(() => 'HIT') });
      }
      // Chromium offers `gzip, deflate, br, zstd`: text over --compress-min-size comes as br; the
      // 917-byte logo stays identity. The page rendered from them (first test's checks, again).
      const codings = Object.fromEntries(
        DEMO_PATHS.map((demoPath) => [demoPath, loaded.responsesFor(demoPath)[0]?.contentEncoding]),
      );
      expect(codings).toEqual({ '/': 'br', '/style.css': 'br', '/logo.svg': undefined });
      const styled = await loaded.page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
      expect(styled).toBe('rgb(246, 248, 251)');
      await loaded.page.getByRole('link', { name: 'Cache dashboard' }).click();
      await loaded.page.waitForURL(`${cache.tlsUrl as string}/_cache/`);
      expect(await loaded.page.title()).toContain('simple-cache');
    },
    TIMEOUT_MS,
  );
});
