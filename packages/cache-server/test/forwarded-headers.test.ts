import { describe, expect, test } from '@jest/globals';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

describe('headers between client, cache and origin', () => {
  const env = useOriginAndCache({
    '/hop': (_req, res) => {
      res.writeHead(200, {
        'cache-control': 'max-age=60',
        connection: 'x-origin-hop',
        'x-origin-hop': 'secret',
        'keep-alive': 'timeout=999',
        'x-end-to-end': 'kept',
        'content-length': 2,
      });
      res.end('ok');
    },
  });

  test('the origin sees X-Forwarded-For/-Proto, Via and its own Host; never the client’s hop-by-hop fields', async () => {
    await request(env.cache.url, '/hop', {
      headers: {
        connection: 'x-client-hop',
        'x-client-hop': '1',
        'proxy-authorization': 'Basic x',
        te: 'trailers',
        'x-end': 'yes',
      },
    });
    const seen = env.origin.requests.at(-1);
    expect(seen?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen?.headers['x-forwarded-proto']).toBe('http');
    expect(seen?.headers.via).toBe('1.1 simple-cache');
    expect(seen?.headers.host).toBe(new URL(env.origin.url).host);
    expect(seen?.headers['x-end']).toBe('yes');
    expect(seen?.headers['x-client-hop']).toBeUndefined();
    expect(seen?.headers['proxy-authorization']).toBeUndefined();
    expect(seen?.headers.te).toBeUndefined();
  });

  test.each(['HIT', 'HIT'])(
    '%s (after a MISS): the client never sees the origin’s hop-by-hop fields, and gets Via, X-Cache, Cache-Status',
    async (xCache) => {
      await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the first response to be stored');
      const reply = await request(env.cache.url, '/hop', { headers: { connection: 'close' } });
      expect(reply.headers['x-cache']).toBe(xCache);
      expect(reply.headers['x-origin-hop']).toBeUndefined();
      expect(reply.headers['keep-alive']).toBeUndefined();
      expect(reply.headers.connection).toBe('close');
      expect(reply.headers['x-end-to-end']).toBe('kept');
      expect(reply.headers.via).toBe('1.1 simple-cache');
      expect(reply.headers['cache-status']).toMatch(/^simple-cache; /);
    },
  );
});
