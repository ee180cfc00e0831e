import { beforeAll, describe, expect, test } from '@jest/globals';
import type { OutgoingHttpHeaders } from 'node:http';
import { useOriginAndCaches, type StartedCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { rawExchange } from './helpers/raw.js';
import type { Route } from './helpers/test-origin.js';

/**
 * Issue 17: the fast hit path (proxy/fast-hit.ts) sends what respond/heads.ts storedHead() builds
 * and has no header rule of its own. Every kind of stored response is served once through the
 * fast path and once through the full path (an unknown Pragma directive sends a request there
 * without changing anything policy decides), and the bytes on the wire must be the same except
 * Date, Age and Cache-Status ttl, which move with the clock.
 */
interface Fixture {
  status?: number;
  headers: OutgoingHttpHeaders;
  body?: string;
  /** Request fields sent with every request for it (e.g. the one a Vary names). */
  requestHeaders?: Record<string, string>;
}

const FRESH = 'max-age=600';

const FIXTURES: Record<string, Fixture> = {
  '/plain': { headers: { 'cache-control': FRESH, 'content-type': 'text/plain', etag: '"p1"' } },
  '/non-authoritative': { status: 203, headers: { 'cache-control': FRESH, 'content-type': 'text/plain' } },
  '/vary': {
    headers: { 'cache-control': FRESH, vary: 'Accept-Encoding', 'content-encoding': 'gzip' },
    requestHeaders: { 'accept-encoding': 'gzip' },
  },
  '/private-field': {
    headers: { 'cache-control': `${FRESH}, private="x-secret"`, 'x-secret': 'per-user', 'x-kept': 'yes' },
  },
  '/no-cache-field': {
    headers: { 'cache-control': `${FRESH}, no-cache="x-note"`, 'x-note': 'not for reuse', 'x-kept': 'yes' },
  },
  '/upstream-cache': {
    headers: { 'cache-control': FRESH, via: '1.1 upstream-cdn', 'cache-status': 'upstream-cdn; hit; ttl=30' },
  },
  '/targeted': { headers: { 'cache-control': 'no-store', 'cdn-cache-control': FRESH } },
  '/tags': { headers: { 'cache-control': FRESH, 'surrogate-key': 'group-a group-b', 'cache-tag': 'c' } },
  '/repeated-fields': {
    headers: { 'cache-control': FRESH, link: ['</a.css>; rel=preload', '</b.js>; rel=preload'], 'x-multi': ['1', '2'] },
  },
  '/empty': { headers: { 'cache-control': FRESH }, body: '' },
  '/last-modified': { headers: { 'cache-control': FRESH, 'last-modified': new Date(0).toUTCString() } },
};

function route(fixture: Fixture): Route {
  return (_req, res) => {
    const body = fixture.body ?? 'stored body';
    res.writeHead(fixture.status ?? 200, { 'content-length': Buffer.byteLength(body), ...fixture.headers });
    res.end(body);
  };
}

/** Date, Age and the ttl of our Cache-Status member change from one second to the next. */
function comparable(text: string): string {
  return text
    .replace(/^date: .*$/gim, 'date: <date>')
    .replace(/^age: \d+$/gim, 'age: <age>')
    .replace(/ttl=-?\d+/g, 'ttl=<ttl>');
}

describe('the fast hit path answers byte for byte as the full path', () => {
  const env = useOriginAndCaches(Object.fromEntries(Object.entries(FIXTURES).map(([path, f]) => [path, route(f)])));
  let forwarded: StartedCache;
  let stripped: StartedCache;
  beforeAll(async () => {
    forwarded = await env.start();
    stripped = await env.start({ stripTargetedField: true });
  });

  async function exchange(cache: StartedCache, method: string, path: string, fields: Record<string, string>) {
    const lines = Object.entries(fields).map(([name, value]) => `${name}: ${value}\r\n`);
    const raw = `${method} ${path} HTTP/1.1\r\nHost: example.test\r\n${lines.join('')}Connection: close\r\n\r\n`;
    return (await rawExchange(cache.url, raw)).text;
  }

  const cases = Object.keys(FIXTURES).flatMap((path) =>
    ['GET', 'HEAD'].flatMap((method) => [
      [path, method, 'targeted field forwarded'],
      [path, method, 'targeted field stripped'],
    ]),
  );

  test.each(cases)('%s %s (%s)', async (path, method, variant) => {
    const cache = variant === 'targeted field stripped' ? stripped : forwarded;
    const fields = FIXTURES[path]?.requestHeaders ?? {};
    const fastHit = cache.fastHit;
    if (!fastHit) throw new Error('the default options include a memory tier');
    // Stored, then read once by the full path, so that the memory tier holds the body.
    await request(cache.url, path, { headers: fields });
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be stored');
    await exchange(cache, 'GET', path, { ...fields, pragma: 'x-full-path' });

    const before = fastHit.served;
    const fast = await exchange(cache, method, path, fields);
    expect(fastHit.served).toBe(before + 1);
    const full = await exchange(cache, method, path, { ...fields, pragma: 'x-full-path' });
    expect(fastHit.served).toBe(before + 1);

    expect(fast).toMatch(/^HTTP\/1\.1 20[03] /);
    expect(fast).toMatch(/\r\nx-cache: HIT\r\n/i);
    expect(comparable(fast)).toBe(comparable(full));
  });

  test('the fixtures exercise the header rules the fast path must not restate', async () => {
    const text = await exchange(forwarded, 'GET', '/private-field', {});
    expect(text).not.toMatch(/^x-secret:/im);
    expect(text).toMatch(/^x-kept: yes\r$/im);
    expect(await exchange(forwarded, 'GET', '/no-cache-field', {})).not.toMatch(/^x-note:/im);
    expect(await exchange(forwarded, 'GET', '/tags', {})).not.toMatch(/^(surrogate-key|cache-tag):/im);
    const upstream = await exchange(forwarded, 'GET', '/upstream-cache', {});
    expect(upstream).toMatch(/\r\nvia: 1\.1 upstream-cdn, 1\.1 simple-cache\r\n/i);
    expect(upstream).toMatch(/\r\ncache-status: upstream-cdn; hit; ttl=30, simple-cache; hit; ttl=\d+\r\n/i);
    expect(await exchange(forwarded, 'GET', '/targeted', {})).toMatch(/\r\ncdn-cache-control: max-age=600\r\n/i);
    expect(await exchange(stripped, 'GET', '/targeted', {})).not.toMatch(/^cdn-cache-control:/im);
  });
});
