import { describe, expect, test } from '@jest/globals';
import { admin, PREFIX } from './helpers/admin.js';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/**
 * docs/configuring.md (Compression): the cache's br and gzip copies offer no ranges, since a
 * Range is always answered from the identity body. They said `Accept-Ranges: bytes` all the same:
 * the origin's field (every static server sends it) was stored with each copy. A client holding
 * the first bytes of the br copy that resumed with `Range` got bytes of the identity body to
 * append to them.
 */
const TEXT = Buffer.from('a page of text the cache compresses when it stores it\n'.repeat(200));

describe('a compressed copy does not offer ranges it cannot serve', () => {
  const env = useOriginAndCache({
    '/page': (_req, res) => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'cache-control': 'max-age=600',
        'accept-ranges': 'bytes',
        etag: '"v1"',
        'content-length': TEXT.length,
      });
      res.end(TEXT);
    },
  });

  test('br and gzip copies: no Accept-Ranges on GET or HEAD; the identity body keeps it; a Range gets identity bytes', async () => {
    expect((await request(env.cache.url, '/page')).headers['x-cache']).toBe('MISS');
    await waitFor(async () => {
      const listed = await admin(env.cache.url, `${PREFIX}/entries?prefix=/page`);
      return (listed.json as { total: number }).total === 3;
    }, 'the identity body and its br and gzip copies');
    for (const method of ['GET', 'HEAD']) {
      for (const coding of ['br', 'gzip']) {
        const copy = await request(env.cache.url, '/page', { method, headers: { 'accept-encoding': coding } });
        expect([method, coding, copy.headers['content-encoding'], copy.headers['accept-ranges']]).toEqual([
          method,
          coding,
          coding,
          undefined,
        ]);
      }
      const identity = await request(env.cache.url, '/page', { method });
      expect([method, identity.headers['content-encoding'], identity.headers['accept-ranges']]).toEqual([
        method,
        undefined,
        'bytes',
      ]);
    }
    const part = await request(env.cache.url, '/page', { headers: { 'accept-encoding': 'br', range: 'bytes=10-19' } });
    expect([part.status, part.headers['content-encoding'], part.body.toString()]).toEqual([
      206,
      undefined,
      TEXT.subarray(10, 20).toString(),
    ]);
    expect(env.origin.count('/page')).toBe(1);
  });
});
