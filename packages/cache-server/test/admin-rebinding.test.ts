// @system-packages chromium
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { hostname } from 'node:os';
import type { Browser } from 'playwright-core';
import { decideAdminAccess } from '../src/admin/auth.js';
import { PREFIX } from './helpers/admin.js';
import { launchChromium, openInFreshContext } from './helpers/browser.js';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { fixed } from './helpers/test-origin.js';

/**
 * Without --admin-token, purges and reloads are allowed from loopback only (FINDINGS F29). A page
 * the operator opens reaches loopback too: as a cross-site form POST (no CORS preflight), or,
 * once its own name points at 127.0.0.1 (DNS rebinding), as a same-origin fetch. Those must be
 * refused; curl, scripts and the dashboard itself must not be.
 */

const TIMEOUT_MS = 60_000;
/** The name a rebinding page has while it runs on 127.0.0.1 (Chromium resolves it there: see below). */
const REBOUND = 'rebind.attacker.test';

/** The attacker's page: it tries a purge of everything and a config reload, and shows the statuses. */
const ATTACK_PAGE = `<!doctype html><title>attack</title><pre id="out"></pre><script>
(async () => {
  const out = [];
  for (const [method, path] of [['DELETE', '${PREFIX}/entries?prefix=/'], ['POST', '${PREFIX}/config/reload']]) {
    try { out.push((await fetch(path, { method })).status); } catch (error) { out.push(String(error)); }
  }
  document.getElementById('out').textContent = out.join(' ');
})();
</script>`;

/** A cross-site page: an auto-submitted form, the "simple" request browsers send without a preflight. */
const formPage = (action: string) =>
  `<!doctype html><title>form</title><form method="post" enctype="text/plain" action="${action}">` +
  `<input name="x" value="y"></form><script>document.forms[0].submit()</script>`;

describe('admin calls without a token: a loopback peer must also name the cache (F29)', () => {
  const lab = useOriginAndCache({
    '/page': fixed('cached page', { 'cache-control': 'max-age=600' }),
    '/attack.html': fixed(ATTACK_PAGE, { 'content-type': 'text/html', 'cache-control': 'no-store' }),
  });
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium([`--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`]);
  }, TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
  });

  const port = () => new URL(lab.cache.url).port;
  const stored = async () => (await lab.cache.store.lookup(`${lab.origin.url}/page`)).length;
  async function storePage(): Promise<void> {
    await request(lab.cache.url, '/page');
    await waitFor(async () => (await stored()) === 1, '/page to be stored');
  }

  test('over a real loopback socket: refused when Host or Origin name another site, allowed otherwise', async () => {
    await storePage();
    const p = port();
    const refused: Record<string, string>[] = [
      { host: `${REBOUND}:${p}` },
      { host: `${REBOUND}:${p}`, origin: `http://${REBOUND}:${p}` },
      { host: `${REBOUND}:${p}`, origin: `http://${REBOUND}:${p}`, 'content-length': '0' },
      { host: `127.0.0.1.${REBOUND}:${p}` },
      { host: `127.0.0.1:${p}`, origin: 'http://evil.example' },
      { host: `127.0.0.1:${p}`, origin: 'null' },
      { host: `127.0.0.1:${p}`, origin: `http://127.0.0.1:${Number(p) + 1}` },
      { host: `127.0.0.1:${p}`, origin: `https://127.0.0.1:${p}` },
      { host: `127.0.0.1:${p}`, 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of refused) {
      for (const [method, path] of [
        ['DELETE', `${PREFIX}/entries?prefix=/`],
        ['PURGE', '/page'],
        ['POST', `${PREFIX}/config/reload`],
      ] as const) {
        const reply = await request(lab.cache.url, path, { method, headers });
        expect({ headers, method, status: reply.status, code: reply.headers['x-cache-error'] }).toEqual({
          headers,
          method,
          status: 403,
          code: 'CACHE_ERR_ADMIN_FORBIDDEN',
        });
      }
    }
    expect(await stored()).toBe(1);
    // What curl, scripts and the dashboard send.
    const allowed: Record<string, string>[] = [
      {},
      { host: `localhost:${p}` },
      { host: `LOCALHOST:${p}` },
      { host: `[::1]:${p}` },
      { host: `127.0.0.2:${p}` },
      { host: `${hostname()}:${p}` },
      { host: `127.0.0.1:${p}`, origin: `http://127.0.0.1:${p}`, 'sec-fetch-site': 'same-origin' },
      { host: `localhost:${p}`, origin: `http://localhost:${p}` },
    ];
    for (const headers of allowed) {
      await storePage();
      const reply = await request(lab.cache.url, '/page', { method: 'PURGE', headers });
      expect({ headers, status: reply.status }).toEqual({ headers, status: 200 });
      expect(await stored()).toBe(0);
    }
  });

  test(
    'in Chromium: a rebinding page and a cross-site form are refused, the dashboard still purges',
    async () => {
      await storePage();
      const reloadsBefore = await reloads();
      // DNS rebinding: the attacker's page, loaded under its own name, which now resolves to 127.0.0.1.
      const attack = await browser.newContext();
      try {
        const page = await attack.newPage();
        await page.goto(`http://${REBOUND}:${port()}/attack.html`);
        await page.waitForSelector('#out:not(:empty)');
        expect(await page.textContent('#out')).toBe('403 403');
      } finally {
        await attack.close();
      }
      // A cross-site form served by another site (the origin's own port stands in for it).
      lab.origin.route(
        '/form.html',
        fixed(formPage(`${lab.cache.url}${PREFIX}/config/reload`), { 'content-type': 'text/html' }),
      );
      const form = await browser.newContext();
      try {
        const page = await form.newPage();
        const answered = page.waitForResponse(`${lab.cache.url}${PREFIX}/config/reload`);
        await page.goto(`${lab.origin.url}/form.html`);
        const reply = await answered;
        expect({ status: reply.status(), code: reply.headers()['x-cache-error'] }).toEqual({
          status: 403,
          code: 'CACHE_ERR_ADMIN_FORBIDDEN',
        });
      } finally {
        await form.close();
      }
      expect(await stored()).toBe(1);
      expect(await reloads()).toBe(reloadsBefore);
      // The dashboard's own purge is same-origin: allowed without a token.
      const dashboard = await openInFreshContext(browser, `${lab.cache.url}${PREFIX}/`);
      try {
        await dashboard.page.fill('#purge-target', '/page');
        await dashboard.page.click('#purge-submit');
        await dashboard.page.waitForSelector('#purge-result[data-kind="ok"]');
      } finally {
        await dashboard.close();
      }
      expect(await stored()).toBe(0);
    },
    TIMEOUT_MS,
  );

  async function reloads(): Promise<number> {
    const text = (await request(lab.cache.url, `${PREFIX}/metrics`)).body.toString();
    return [...text.matchAll(/^simple_cache_config_reloads_total\{[^}]*\} (\d+)/gm)].reduce(
      (sum, match) => sum + Number(match[1]),
      0,
    );
  }
});

describe('decideAdminAccess without a token (F29)', () => {
  const loopback = fc.constantFrom('127.0.0.1', '::1', '::ffff:127.0.0.1', '127.9.8.7');
  const port = fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined });
  const withPort = (name: string, p: number | undefined) => (p === undefined ? name : `${name}:${p}`);
  /** Any DNS name a page could have, other than localhost and this machine's own. */
  const foreignName = fc
    .domain()
    .filter((name) => name !== 'localhost' && !name.endsWith('.localhost') && name !== hostname().toLowerCase());

  test('a Host that is not a loopback name is refused, whatever else the request says', () => {
    fc.assert(
      fc.property(loopback, foreignName, port, fc.boolean(), (remoteAddress, name, p, sendOrigin) => {
        const host = withPort(name, p);
        const origin = sendOrigin ? `http://${host}` : undefined;
        expect(decideAdminAccess({ token: '', authorization: undefined, remoteAddress, host, origin })).toBe(
          'forbidden',
        );
      }),
    );
  });

  test('an Origin other than the Host it names is refused; the same one is allowed', () => {
    const loopbackHost = fc.constantFrom('127.0.0.1', 'localhost', '[::1]', 'app.localhost');
    fc.assert(
      fc.property(loopbackHost, port, foreignName, (name, p, other) => {
        const host = withPort(name, p);
        const input = { token: '', authorization: undefined, remoteAddress: '127.0.0.1', host };
        expect(decideAdminAccess({ ...input, origin: `http://${host}` })).toBe('allowed');
        expect(decideAdminAccess({ ...input, origin: `http://${withPort(other, p)}` })).toBe('forbidden');
        expect(decideAdminAccess(input)).toBe('allowed');
        expect(decideAdminAccess({ ...input, secFetchSite: 'cross-site' })).toBe('forbidden');
      }),
    );
  });

  test('a token, once set, decides alone (Host and Origin do not matter)', () => {
    fc.assert(
      fc.property(foreignName, (name) => {
        const input = { token: 't0ken', remoteAddress: '192.0.2.1', host: name, origin: 'http://evil.example' };
        expect(decideAdminAccess({ ...input, authorization: 'Bearer t0ken' })).toBe('allowed');
        expect(decideAdminAccess({ ...input, authorization: undefined })).toBe('unauthorized');
      }),
    );
  });
});
