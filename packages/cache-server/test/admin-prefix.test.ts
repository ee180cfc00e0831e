import { describe, expect, test } from '@jest/globals';
import { isUnderPrefix } from '../src/admin/prefix.js';
import { admin } from './helpers/admin.js';
import { useOriginAndCaches } from './helpers/cache.js';
import { request } from './helpers/http.js';
import { fixed } from './helpers/test-origin.js';

describe('isUnderPrefix: the prefix however the target spells it', () => {
  test.each<[string, string, boolean]>([
    ['/_cache', '/_cache', true],
    ['/_cache', '/_cache/', true],
    ['/_cache', '/_cache/stats', true],
    ['/_cache', '/_cache?x=1', true],
    ['/_cache', '/_cache#frag', true],
    ['/_cache', '/%5Fcache/stats', true],
    ['/_cache', '/%5fcache/stats', true],
    ['/_cache', '/a/../_cache/stats', true],
    ['/_cache', '/./_cache', true],
    ['/_cache', '/a/%2e%2e/_cache/x', true],
    ['/_cache', '/_cachex', false],
    ['/_cache', '/_cache.json', false],
    ['/_cache', '/x/_cache', false],
    ['/_cache', '/?next=/_cache', false],
    ['/_cache', '/style.css', false],
    ['/_cache', '//_cache', false],
    ['/_cache', '/_CACHE', false],
    ['/ops/cache', '/ops/cache/metrics', true],
    ['/ops/cache', '/ops/other', false],
    ['/ops/cache', 'http://host/ops/cache', false],
  ])('%s ⊇ %s → %s', (prefix, target, expected) => {
    expect(isUnderPrefix(prefix, target)).toBe(expected);
  });
});

describe('the admin prefix is reserved: never forwarded to the origin', () => {
  const lab = useOriginAndCaches({ '*': fixed('from the origin', { 'cache-control': 'max-age=60' }) });
  const { caches, start } = lab;

  test.each([
    ['GET', '/_cache/unknown'],
    ['GET', '/_cache/stats/extra'],
    ['POST', '/_cache/stats/x'],
    ['PUT', '/_cache/entries/x'],
    ['PROPFIND', '/_cache/x'],
    ['GET', '/a/../_cache/unknown'],
    ['GET', '/%5Fcache/unknown'],
    ['GET', '/_cache/unknown#fragment'],
  ])('%s %s → 404 from the cache; the origin hears nothing', async (method, path) => {
    const cache = caches[0] ?? (await start());
    const before = lab.origin.count();
    const reply = await admin(cache.url, path, { method });
    expect(reply.status).toBe(404);
    expect(reply.json.error).toBe('CACHE_ERR_ADMIN_NOT_FOUND');
    expect(reply.headers['x-cache']).toBeUndefined();
    expect(lab.origin.count()).toBe(before);
  });

  test.each([
    ['POST', '/_cache/stats', 'GET, HEAD'],
    ['PUT', '/_cache/entries', 'DELETE, GET, HEAD'],
  ])(
    '%s %s (an endpoint, another method) → 405 with Allow: %s; the origin hears nothing',
    async (method, path, allow) => {
      const cache = caches[0] ?? (await start());
      const before = lab.origin.count();
      const reply = await admin(cache.url, path, { method });
      expect(reply.status).toBe(405);
      expect(reply.headers.allow).toBe(allow);
      expect(reply.json.error).toBe('CACHE_ERR_METHOD_NOT_ALLOWED');
      expect(lab.origin.count()).toBe(before);
    },
  );

  test('paths that only look like it still go to the origin', async () => {
    const cache = caches[0] ?? (await start());
    for (const path of ['/_cachex', '/x/_cache/stats', '/?next=/_cache']) {
      const reply = await request(cache.url, path);
      expect({ path, body: reply.body.toString() }).toEqual({ path, body: 'from the origin' });
    }
  });

  test('<prefix> leads to <prefix>/, the dashboard', async () => {
    const cache = caches[0] ?? (await start());
    const reply = await request(cache.url, '/_cache');
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe('/_cache/');
    const page = await request(cache.url, '/_cache/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-store');
  });

  test('--admin-prefix off: nothing on the cache port; --admin-port still serves /_cache', async () => {
    const cache = await start({ adminPrefix: '', adminPort: 0 });
    const before = lab.origin.count();
    expect((await request(cache.url, '/_cache/health')).body.toString()).toBe('from the origin');
    expect(lab.origin.count()).toBe(before + 1);
    expect((await admin(cache.adminUrl as string, '/_cache/health')).json.status).toBe('ok');
    expect((await request(cache.adminUrl as string, '/')).headers.location).toBe('/_cache/');
  });

  test('--admin-prefix moves everything; the old prefix is an ordinary path again', async () => {
    const cache = await start({ adminPrefix: '/ops/cache' });
    expect((await admin(cache.url, '/ops/cache/health')).json.status).toBe('ok');
    expect((await admin(cache.url, '/ops/cache/nope')).status).toBe(404);
    const before = lab.origin.count();
    const old = await request(cache.url, '/_cache/health');
    expect(old.body.toString()).toBe('from the origin');
    expect(lab.origin.count()).toBe(before + 1);
  });
});
