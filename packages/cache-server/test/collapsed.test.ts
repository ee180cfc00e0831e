import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { request, waitFor } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';

describe('concurrent misses for one key are collapsed into one origin fetch', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const body = Buffer.alloc(300_000, 'collapsed body ');
  let release: () => void = () => {};

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      // Holds the response until every client has arrived, so all 50 are in flight together.
      '/slow': (_req, res) => {
        release = () => {
          res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': body.length });
          res.write(body.subarray(0, 1000));
          setImmediate(() => res.end(body.subarray(1000)));
        };
      },
      '/private': (_req, res) => {
        const n = origin.count('/private');
        setImmediate(() => {
          res.writeHead(200, { 'cache-control': 'private', 'content-type': 'text/plain' });
          res.end(`for request ${n}`);
        });
      },
    });
    cache = await startCache(origin.url, dir.dir);
  });
  const connections = (() => {
    let last = 0;
    return () => {
      cache.app.server.getConnections((_error, count) => (last = count));
      return last;
    };
  })();

  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test('50 parallel requests → exactly 1 origin fetch, all 50 get the whole body', async () => {
    const replies = Array.from({ length: 50 }, () => request(cache.url, '/slow'));
    await waitFor(() => origin.count('/slow') === 1, 'the origin fetch');
    // Let the other 49 connect before the origin answers (any that come later are served too).
    await waitFor(() => connections() === 50, 'all 50 clients to connect');
    release();
    const results = await Promise.all(replies);
    expect(origin.count('/slow')).toBe(1);
    for (const reply of results) {
      expect(reply.status).toBe(200);
      expect(reply.body.equals(body)).toBe(true);
    }
    expect(results.filter((r) => /collapsed/.test(String(r.headers['cache-status']))).length).toBeGreaterThan(0);
    await waitFor(() => cache.proxy.inFlight.size === 0, 'commit');
    expect((await request(cache.url, '/slow')).headers['x-cache']).toBe('HIT');
    expect(origin.count('/slow')).toBe(1);
  });

  test('an uncacheable (private) response is never shared between collapsed clients', async () => {
    const replies = await Promise.all(Array.from({ length: 5 }, () => request(cache.url, '/private')));
    const bodies = new Set(replies.map((r) => r.body.toString()));
    expect(bodies.size).toBe(5);
    expect(origin.count('/private')).toBe(5);
  });
});
