import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startOrigin, type RunningOrigin } from 'main-server';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/**
 * What an operator sees when browsers reload pages through the cache in front of the demo origin
 * (Fastify + @fastify/static, i.e. `send`/`fresh`, as most Node sites): the requests a browser
 * makes for a reload (`Cache-Control: max-age=0` with its validators) and a hard reload
 * (`Cache-Control: no-cache` and `Pragma: no-cache`, no validators). The cache validates with the
 * origin either way, passing the client's directives on (RFC 9111 §5.2); `fresh` answers a
 * request that says `no-cache` with a `200` whatever its validators, so a hard reload replaces the
 * entry (`EXPIRED`, `fwd=request`), as docs/caching-rules.md says.
 */
describe('browser reloads through the cache, in front of the demo origin', () => {
  let origin: RunningOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startOrigin({ port: 0, logLevel: 'silent' });
    cache = await startCache(origin.url, dir.dir);
  });
  afterAll(async () => {
    await cache.close();
    await origin.close();
    await dir.cleanup();
  });

  test('a reload (max-age=0, If-None-Match) is REVALIDATED with a 304 from the origin; a hard reload (no-cache) is EXPIRED with its 200', async () => {
    const first = await request(cache.url, '/about.html');
    expect(first.headers['x-cache']).toBe('MISS');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be stored');
    const etag = String(first.headers.etag);

    const reload = await request(cache.url, '/about.html', {
      headers: { 'cache-control': 'max-age=0', 'if-none-match': etag },
    });
    expect([reload.status, reload.headers['x-cache'], reload.headers['cache-status']]).toEqual([
      304,
      'REVALIDATED',
      expect.stringContaining('fwd=request; fwd-status=304'),
    ]);

    const hard = await request(cache.url, '/about.html', {
      headers: { 'cache-control': 'no-cache', pragma: 'no-cache' },
    });
    expect([hard.status, hard.headers['x-cache'], hard.headers['cache-status']]).toEqual([
      200,
      'EXPIRED',
      expect.stringContaining('fwd=request; fwd-status=200'),
    ]);
    expect(hard.body.equals(first.body)).toBe(true);
  });
});
