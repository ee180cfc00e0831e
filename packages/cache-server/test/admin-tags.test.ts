import { describe, expect, test } from '@jest/globals';
import type { HeaderMap } from '@simple-cache/common';
import { tagsOf } from '../src/admin/tags.js';
import { admin, PREFIX } from './helpers/admin.js';
import { useOriginAndCaches } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

const DEFAULT_TAG_HEADERS = ['surrogate-key', 'cache-tag'];

describe('tagsOf: purge tags from the stored response headers', () => {
  test.each<[string, HeaderMap, string[], string[]]>([
    ['Surrogate-Key, space separated (Fastly)', { 'surrogate-key': 'a b  c' }, DEFAULT_TAG_HEADERS, ['a', 'b', 'c']],
    ['Cache-Tag, comma separated (Cloudflare)', { 'cache-tag': 'a,b, c' }, DEFAULT_TAG_HEADERS, ['a', 'b', 'c']],
    [
      'both headers, duplicates once',
      { 'surrogate-key': 'a b', 'cache-tag': 'b,c' },
      DEFAULT_TAG_HEADERS,
      ['a', 'b', 'c'],
    ],
    ['repeated header lines', { 'surrogate-key': ['a', 'b c'] }, DEFAULT_TAG_HEADERS, ['a', 'b', 'c']],
    [
      'case is kept (tags are case-sensitive)',
      { 'surrogate-key': 'Product-1 product-1' },
      DEFAULT_TAG_HEADERS,
      ['Product-1', 'product-1'],
    ],
    ['only the configured headers count', { 'surrogate-key': 'a', 'x-tags': 'b' }, ['x-tags'], ['b']],
    ['no tag header', { 'cache-control': 'max-age=60' }, DEFAULT_TAG_HEADERS, []],
    ['an empty header', { 'surrogate-key': ' ' }, DEFAULT_TAG_HEADERS, []],
  ])('%s', (_rule, headers, tagHeaders, expected) => {
    expect(tagsOf(headers, tagHeaders)).toEqual(expected);
  });
});

describe('tag headers never reach clients', () => {
  const lab = useOriginAndCaches({
    '*': (req, res) => {
      const body = 'tagged';
      const status = req.headers['if-none-match'] === '"t"' ? 304 : 200;
      res.writeHead(status, {
        'cache-control': 'max-age=600',
        etag: '"t"',
        'surrogate-key': 'page home',
        'cache-tag': 'page,landing',
        'x-tags': 'custom',
        ...(status === 200 ? { 'content-length': body.length } : {}),
      });
      res.end(status === 200 ? body : undefined);
    },
  });
  const { start } = lab;

  test('stripped on a miss, a hit, a 304 to the client and a pass-through; kept in the store', async () => {
    const cache = await start();
    const miss = await request(cache.url, '/page');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the commit');
    const hit = await request(cache.url, '/page');
    const notModified = await request(cache.url, '/page', { headers: { 'if-none-match': '"t"' } });
    const [stored] = await cache.store.lookup(`${lab.origin.url}/page`);
    expect(stored?.headers['surrogate-key']).toBe('page home');
    expect(stored?.headers['cache-tag']).toBe('page,landing');
    // Last: a successful POST invalidates the stored entry (RFC 9111 §4.4).
    const passed = await request(cache.url, '/page', { method: 'POST', body: 'x' });
    for (const [name, reply, xCache, status] of [
      ['miss', miss, 'MISS', 200],
      ['hit', hit, 'HIT', 200],
      ['client 304', notModified, 'HIT', 304],
      ['pass-through', passed, 'BYPASS', 200],
    ] as const) {
      const seen = {
        name,
        xCache: reply.headers['x-cache'],
        status: reply.status,
        surrogateKey: reply.headers['surrogate-key'],
        cacheTag: reply.headers['cache-tag'],
      };
      expect(seen).toEqual({ name, xCache, status, surrogateKey: undefined, cacheTag: undefined });
    }
    // Headers that are not tag headers pass as usual.
    expect(hit.headers['x-tags']).toBe('custom');
  });

  test('--tag-header chooses the header: it is stripped and purged by, the defaults pass', async () => {
    const cache = await start({ tagHeaders: ['x-tags'] });
    await request(cache.url, '/custom');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the commit');
    const hit = await request(cache.url, '/custom');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['x-tags']).toBeUndefined();
    expect(hit.headers['surrogate-key']).toBe('page home');
    expect((await admin(cache.url, `${PREFIX}/entries?tag=page`, { method: 'DELETE' })).json.purged).toBe(0);
    expect((await admin(cache.url, `${PREFIX}/entries?tag=custom`, { method: 'DELETE' })).json.purged).toBe(1);
    expect(await cache.store.lookup(`${lab.origin.url}/custom`)).toEqual([]);
  });
});
