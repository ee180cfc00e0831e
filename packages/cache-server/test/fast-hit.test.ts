import { beforeAll, describe, expect, test } from '@jest/globals';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/**
 * Hits on small in-memory objects are answered before Fastify's router (proxy/fast-hit.ts).
 * They must be indistinguishable from the full path's answers, and count in metrics.
 */
describe('fast hits answer exactly as the full path does', () => {
  const env = useOriginAndCache({
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
  beforeAll(async () => {
    await request(env.cache.url, '/small');
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be stored');
  });

  /** Headers that legitimately differ between two responses a moment apart. */
  const comparable = (headers: Record<string, unknown>) => {
    const { date: _date, age: _age, 'cache-status': _status, ...rest } = headers;
    return rest;
  };

  test('GET: same status, headers and body as a request that takes the full path', async () => {
    const servedBefore = env.cache.fastHit?.served ?? 0;
    const fast = await request(env.cache.url, '/small');
    expect(env.cache.fastHit?.served).toBe(servedBefore + 1);
    // An unknown Pragma directive means nothing to the policy but sends the request down the full path.
    const full = await request(env.cache.url, '/small', { headers: { pragma: 'x-ignored' } });
    expect(env.cache.fastHit?.served).toBe(servedBefore + 1);
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
    expect(env.origin.count('/small')).toBe(1);
  });

  test('HEAD: the same headers, no body', async () => {
    const head = await request(env.cache.url, '/small', { method: 'HEAD' });
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.headers['content-length']).toBe('10');
    expect(head.body.length).toBe(0);
  });

  test('fast hits are counted in the metrics like any other hit', async () => {
    const before = await hits();
    await request(env.cache.url, '/small');
    await request(env.cache.url, '/small');
    expect((await hits()) - before).toBe(2);
  });

  async function hits(): Promise<number> {
    const text = (await request(env.cache.url, '/_cache/metrics')).body.toString();
    const line = text.split('\n').find((l) => l.startsWith('simple_cache_requests_total{cache_status="hit"}'));
    return Number(line?.split(' ').at(-1) ?? 0);
  }
});
