import { describe, expect, test } from '@jest/globals';
import { request, waitFor } from './helpers/http.js';
import { useOriginAndCache } from './helpers/cache.js';

describe('concurrent misses for one key are collapsed into one origin fetch', () => {
  const body = Buffer.alloc(300_000, 'collapsed body ');
  let release: () => void = () => {};

  const env = useOriginAndCache({
    // Holds the response until every client has arrived, so all 50 are in flight together.
    '/slow': (_req, res) => {
      release = () => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': body.length });
        res.write(body.subarray(0, 1000));
        setImmediate(() => res.end(body.subarray(1000)));
      };
    },
    '/private': (_req, res) => {
      const n = env.origin.count('/private');
      setImmediate(() => {
        res.writeHead(200, { 'cache-control': 'private', 'content-type': 'text/plain' });
        res.end(`for request ${n}`);
      });
    },
  });
  const connections = (() => {
    let last = 0;
    return () => {
      env.cache.app.server.getConnections((_error, count) => (last = count));
      return last;
    };
  })();

  test('50 parallel requests → exactly 1 origin fetch, all 50 get the whole body', async () => {
    const replies = Array.from({ length: 50 }, () => request(env.cache.url, '/slow'));
    await waitFor(() => env.origin.count('/slow') === 1, 'the origin fetch');
    // Let the other 49 connect before the origin answers (any that come later are served too).
    await waitFor(() => connections() === 50, 'all 50 clients to connect');
    release();
    const results = await Promise.all(replies);
    expect(env.origin.count('/slow')).toBe(1);
    for (const reply of results) {
      expect(reply.status).toBe(200);
      expect(reply.body.equals(body)).toBe(true);
    }
    expect(results.filter((r) => /collapsed/.test(String(r.headers['cache-status']))).length).toBeGreaterThan(0);
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'commit');
    expect((await request(env.cache.url, '/slow')).headers['x-cache']).toBe('HIT');
    expect(env.origin.count('/slow')).toBe(1);
  });

  test('an uncacheable (private) response is never shared between collapsed clients', async () => {
    const replies = await Promise.all(Array.from({ length: 5 }, () => request(env.cache.url, '/private')));
    const bodies = new Set(replies.map((r) => r.body.toString()));
    expect(bodies.size).toBe(5);
    expect(env.origin.count('/private')).toBe(5);
  });
});
