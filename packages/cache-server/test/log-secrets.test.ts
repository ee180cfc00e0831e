/**
 * Issue 12.5: no credential ever reaches the log, and no error line is an options dump. Requests
 * carrying Authorization, Proxy-Authorization and Cookie (and origins answering Set-Cookie) are
 * sent through every path that logs an error, to caches whose logger is the production one
 * (logger.ts, admin token set); then the whole log output is searched for every secret, and
 * every line is measured.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { CacheServerConfig } from '@simple-cache/common';
import type { StoreOverrides } from '../src/compose-store.js';
import { startTestCache, tempDir, type StartedCache } from './helpers/cache.js';
import { captureLog } from './helpers/captured-log.js';
import { rawExchange } from './helpers/raw.js';
import { rawReply, startRawOrigin, type RawOrigin } from './helpers/raw-origin.js';
import { request, waitFor } from './helpers/http.js';
import { createTestFs } from './store/test-fs.js';
import { healthOf } from '../src/store/store.js';

const secret = (what: string) => `SECRET-${what}-${randomBytes(6).toString('hex')}`;
const SECRETS = {
  authorization: `Bearer ${secret('AUTH')}`,
  proxyAuthorization: `Basic ${secret('PROXY')}`,
  cookie: `session=${secret('COOKIE')}`,
  setCookie: `id=${secret('SETCOOKIE')}; Path=/`,
  adminToken: secret('ADMIN'),
};
/** The part of each that must never be seen (the scheme names may be). */
const NEEDLES = Object.values(SECRETS).map((value) => /SECRET-[A-Z]+-[0-9a-f]+/.exec(value)![0]);
/** An error line is one compact object; got's options dump was 3.3 KB. */
const MAX_LINE = 1024;

const CREDENTIALS = {
  authorization: SECRETS.authorization,
  'proxy-authorization': SECRETS.proxyAuthorization,
  cookie: SECRETS.cookie,
};
const RAW_CREDENTIALS = Object.entries(CREDENTIALS)
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('');

const head = (status: string, fields: string[]) =>
  `HTTP/1.1 ${status}\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;

describe('secrets never reach the log; error lines stay compact', () => {
  // Each line as written: what a secret would look like in the file, and how long a line gets.
  const { logger, raw: lines } = captureLog('debug', { cacheLogger: true, adminToken: SECRETS.adminToken });
  let origin: RawOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const caches: StartedCache[] = [];
  let revalidations = 0;

  async function startCache(extra: Partial<CacheServerConfig>, store: StoreOverrides = {}) {
    const cache = await startTestCache(
      { origin: origin.url, cacheDir: `${dir.dir}/${caches.length}`, adminToken: SECRETS.adminToken, ...extra },
      { logger, store },
    );
    caches.push(cache);
    return cache;
  }

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startRawOrigin({
      '/reset': (socket) => socket.resetAndDestroy(),
      '/hang': () => undefined,
      '/bad-head': rawReply(`HTTP/1.1 200 OK\r\nBad Header\r\nSet-Cookie: ${SECRETS.setCookie}\r\n\r\n`),
      '/mid-body': rawReply(
        `${head('200 OK', ['Content-Length: 100', 'Cache-Control: max-age=60', `Set-Cookie: ${SECRETS.setCookie}`])}only ten.`,
        'destroy',
      ),
      '/stored': rawReply(`${head('200 OK', ['Content-Length: 2', 'Cache-Control: public, max-age=600'])}ok`),
      '/swr': (socket) => {
        revalidations += 1;
        if (revalidations === 1) {
          socket.end(
            `${head('200 OK', ['Content-Length: 2', 'Cache-Control: public, max-age=0, stale-while-revalidate=600', 'ETag: "1"'])}v1`,
          );
        } else socket.resetAndDestroy();
      },
    });
  });
  afterAll(async () => {
    for (const cache of caches) await cache.close();
    await origin.close();
    await dir.cleanup();
  });

  test('every error path, with credentials on every request', async () => {
    const cache = await startCache({ originTimeout: 300 });
    const send = (path: string, options: Parameters<typeof request>[2] = {}) =>
      request(cache.url, path, { ...options, headers: { ...CREDENTIALS, ...options.headers } });

    // The origin resets, hangs, sends a head Node cannot parse, breaks off mid-body.
    expect((await send('/reset')).status).toBe(502);
    expect((await send('/hang')).status).toBe(504);
    expect((await send('/bad-head')).status).toBe(502);
    await send('/mid-body').catch(() => undefined);
    // A pass-through (POST) that fails.
    expect((await send('/reset', { method: 'POST', body: 'x' })).status).toBe(502);
    // A background revalidation that fails.
    await send('/swr');
    await send('/swr');
    await waitFor(() => revalidations >= 2 && cache.proxy.inFlight.size === 0, 'the failed revalidation');
    // The admin endpoints: a wrong token, the right one, a token in the query string.
    const wrong = await request(cache.url, '/_cache/entries?all=1', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${SECRETS.adminToken}-wrong` },
    });
    expect(wrong.status).toBe(401);
    const right = await request(cache.url, '/stored', {
      method: 'PURGE',
      headers: { authorization: `Bearer ${SECRETS.adminToken}` },
    });
    expect(right.status).toBe(200);
    await request(cache.url, `/_cache/stats?token=${SECRETS.adminToken}`);
    // 4xx refusals: a target that is no path, a body too large, framing that cannot be read.
    expect((await rawExchange(cache.url, `GET * HTTP/1.1\r\nHost: a\r\n${RAW_CREDENTIALS}\r\n`)).statuses).toEqual([
      400,
    ]);
    expect((await send('/stored', { method: 'POST', headers: { 'content-length': String(2 ** 40) } })).status).toBe(
      413,
    );
    const framing = `POST /x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n${RAW_CREDENTIALS}\r\n0\r\n\r\n`;
    expect((await rawExchange(cache.url, framing)).statuses[0]).toBe(400);
  });

  test('the origin refuses the connection', async () => {
    const closed = await startRawOrigin({});
    const url = closed.url;
    await closed.close();
    const cache = await startTestCache(
      { origin: url, cacheDir: `${dir.dir}/refused`, adminToken: SECRETS.adminToken },
      { logger },
    );
    caches.push(cache);
    expect((await request(cache.url, '/x', { headers: CREDENTIALS })).status).toBe(502);
  });

  test('the store fails (a full disk)', async () => {
    const testFs = createTestFs();
    const cache = await startCache({}, { fs: testFs.fs });
    testFs.fail('ENOSPC');
    const reply = await request(cache.url, '/stored', { headers: CREDENTIALS });
    expect(reply.status).toBe(200);
    await waitFor(() => healthOf(cache.store).state === 'degraded', 'degraded mode');
  });

  test('no secret anywhere in the log, and no line longer than 1 KiB', () => {
    const text = lines.join('\n');
    // The paths above did log errors, with their codes.
    for (const code of [
      'CACHE_ERR_ORIGIN_UNREACHABLE',
      'CACHE_ERR_ORIGIN_TIMEOUT',
      'CACHE_ERR_ORIGIN_BAD_RESPONSE',
      'CACHE_ERR_BAD_REQUEST_TARGET',
      'CACHE_ERR_BODY_TOO_LARGE',
      'CACHE_ERR_BAD_FRAMING',
    ]) {
      expect(text).toContain(code);
    }
    expect(text).toMatch(/admin call refused/);
    expect(text).toMatch(/background revalidation failed/);
    expect(text).toMatch(/ENOSPC/);
    for (const needle of NEEDLES) expect(text).not.toContain(needle);
    const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
    expect(longest.length).toBeLessThanOrEqual(MAX_LINE);
  });
});
