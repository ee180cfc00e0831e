import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { request, waitFor } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';

/**
 * Hits on small in-memory objects are answered before Fastify's router (proxy/fast-hit.ts).
 * They must be indistinguishable from the full path's answers, and count in metrics.
 */
describe('fast hits answer exactly as the full path does', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '/small': (_req, res) => {
        res.writeHead(200, {
          'cache-control': 'max-age=600, no-cache="x-private-note"',
          'content-type': 'text/plain',
          etag: '"s1"',
          'surrogate-key': 'group-a',
          'x-private-note': 'not for reuse',
          'x-kept': 'yes',
        });
        res.end('small body');
      },
    });
    cache = await startCache(origin.url, dir.dir);
    await request(cache.url, '/small');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be stored');
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  /** Headers that legitimately differ between two responses a moment apart. */
  const comparable = (headers: Record<string, unknown>) => {
    const { date: _date, age: _age, 'cache-status': _status, ...rest } = headers;
    return rest;
  };

  test('GET: same status, headers and body as a request that takes the full path', async () => {
    const servedBefore = cache.fastHit?.served ?? 0;
    const fast = await request(cache.url, '/small');
    expect(cache.fastHit?.served).toBe(servedBefore + 1);
    // An unknown Pragma directive means nothing to the policy but sends the request down the full path.
    const full = await request(cache.url, '/small', { headers: { pragma: 'x-ignored' } });
    expect(cache.fastHit?.served).toBe(servedBefore + 1);
    expect(fast.headers['x-cache']).toBe('HIT');
    expect(full.headers['x-cache']).toBe('HIT');
    expect(fast.status).toBe(full.status);
    expect(fast.body.toString()).toBe('small body');
    expect(fast.body.equals(full.body)).toBe(true);
    expect(comparable(fast.headers)).toEqual(comparable(full.headers));
    expect(fast.headers['cache-status']).toMatch(/^simple-cache; hit; ttl=\d+$/);
    expect(fast.headers.age).toMatch(/^\d+$/);
    // The no-cache="…" field and the purge tag never reach a client from storage.
    expect(fast.headers['x-private-note']).toBeUndefined();
    expect(fast.headers['surrogate-key']).toBeUndefined();
    expect(fast.headers['x-kept']).toBe('yes');
    expect(origin.count('/small')).toBe(1);
  });

  test('HEAD: the same headers, no body', async () => {
    const head = await request(cache.url, '/small', { method: 'HEAD' });
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.headers['content-length']).toBe('10');
    expect(head.body.length).toBe(0);
  });

  test('fast hits are counted in the metrics like any other hit', async () => {
    const before = await hits();
    await request(cache.url, '/small');
    await request(cache.url, '/small');
    expect((await hits()) - before).toBe(2);
  });

  async function hits(): Promise<number> {
    const text = (await request(cache.url, '/_cache/metrics')).body.toString();
    const line = text.split('\n').find((l) => l.startsWith('simple_cache_requests_total{cache_status="hit"}'));
    return Number(line?.split(' ').at(-1) ?? 0);
  }
});
