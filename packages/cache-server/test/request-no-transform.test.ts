import { describe, expect, test } from '@jest/globals';
import { admin, PREFIX } from './helpers/admin.js';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/**
 * A client that says `Cache-Control: no-transform` asks intermediaries not to transform the
 * content (RFC 9111 §5.2.1.6, RFC 9110 §7.7); the br and gzip copies the cache makes of what it
 * stores are such a transformation, so that client gets the identity body the origin sent, even
 * when it accepts br. It used to get the cache's br copy.
 */
const TEXT = Buffer.from('a page of text the cache compresses when it stores it\n'.repeat(200));

describe('a request with Cache-Control: no-transform', () => {
  const env = useOriginAndCache({
    '/page': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' });
      res.end(TEXT);
    },
  });

  test("gets the origin's identity body from storage, not the cache's br copy", async () => {
    expect((await request(env.cache.url, '/page', { headers: { 'accept-encoding': 'br' } })).headers['x-cache']).toBe(
      'MISS',
    );
    // The fetch leaves the map once the identity body is committed; its copies commit on their own.
    await waitFor(async () => {
      const listed = await admin(env.cache.url, `${PREFIX}/entries?prefix=/page`);
      return (listed.json as { total: number }).total === 3;
    }, 'the entry and its br and gzip copies to be stored');
    const copy = await request(env.cache.url, '/page', { headers: { 'accept-encoding': 'br' } });
    expect([copy.headers['x-cache'], copy.headers['content-encoding']]).toEqual(['HIT', 'br']);

    for (const cacheControl of ['no-transform', 'max-stale=0, No-Transform']) {
      const reply = await request(env.cache.url, '/page', {
        headers: { 'accept-encoding': 'br, gzip', 'cache-control': cacheControl },
      });
      expect({ cacheControl, xCache: reply.headers['x-cache'], coding: reply.headers['content-encoding'] }).toEqual({
        cacheControl,
        xCache: 'HIT',
        coding: undefined,
      });
      expect(reply.body.equals(TEXT)).toBe(true);
    }
    expect(env.origin.count('/page')).toBe(1);
  });
});
