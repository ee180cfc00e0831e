import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { request, waitFor } from './helpers/http.js';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';

describe('freshness, age and revalidation of stale entries', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let clock: ReturnType<typeof useFakeClock>;
  let version = 1;

  beforeAll(async () => {
    clock = useFakeClock();
    dir = await tempDir();
    origin = await startTestOrigin({
      '/etag': (req, res) => {
        const etag = `"v${version}"`;
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, { date: httpDate(), etag, 'cache-control': 'max-age=10', 'x-revalidated': 'yes' });
          return res.end();
        }
        res.writeHead(200, { date: httpDate(), etag, 'cache-control': 'max-age=10', 'content-type': 'text/plain' });
        res.end(`body ${version}`);
      },
      '/dated': (req, res) => {
        const lastModified = httpDate(Date.UTC(2025, 0, 1));
        if (req.headers['if-modified-since'] === lastModified) {
          res.writeHead(304, { date: httpDate(), 'cache-control': 'max-age=10' });
          return res.end();
        }
        res.writeHead(200, { date: httpDate(), 'last-modified': lastModified, 'cache-control': 'max-age=10' });
        res.end('dated body');
      },
      '/aged': (_req, res) => {
        res.writeHead(200, { date: httpDate(), age: '8', 'cache-control': 'max-age=10' });
        res.end('already 8 s old upstream');
      },
    });
    cache = await startCache(origin.url, dir.dir);
  });
  afterAll(async () => {
    clock?.restore();
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  const settle = () => waitFor(() => cache.proxy.inFlight.size === 0, 'the fetch to settle');

  test('fresh within max-age: HIT with a growing Age; stale after: If-None-Match → 304 → REVALIDATED', async () => {
    expect((await request(cache.url, '/etag')).headers['x-cache']).toBe('MISS');
    await settle();
    clock.advance(4);
    const hit = await request(cache.url, '/etag');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers.age).toBe('4');
    expect(hit.headers['cache-status']).toMatch(/hit; ttl=6/);

    clock.advance(7); // 11 s old: stale
    const revalidated = await request(cache.url, '/etag');
    expect(revalidated.headers['x-cache']).toBe('REVALIDATED');
    expect(revalidated.body.toString()).toBe('body 1');
    expect(revalidated.headers['x-revalidated']).toBe('yes'); // §4.3.4: stored headers updated
    expect(origin.requests.at(-1)?.headers['if-none-match']).toBe('"v1"');
    await settle();

    clock.advance(2);
    const again = await request(cache.url, '/etag');
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.headers.age).toBe('2');
    expect(origin.count('/etag')).toBe(2);
  });

  test('stale and changed at the origin: the new response replaces the old (EXPIRED)', async () => {
    clock.advance(20);
    version = 2;
    const expired = await request(cache.url, '/etag');
    expect(expired.headers['x-cache']).toBe('EXPIRED');
    expect(expired.body.toString()).toBe('body 2');
    await settle();
    const hit = await request(cache.url, '/etag');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.toString()).toBe('body 2');
  });

  test('Last-Modified only: revalidated with If-Modified-Since', async () => {
    await request(cache.url, '/dated');
    await settle();
    clock.advance(11);
    const reply = await request(cache.url, '/dated');
    expect(reply.headers['x-cache']).toBe('REVALIDATED');
    expect(origin.requests.at(-1)?.headers['if-modified-since']).toBe(httpDate(Date.UTC(2025, 0, 1)));
  });

  test('an Age from upstream counts toward staleness (RFC 9111 §4.2.3)', async () => {
    await request(cache.url, '/aged');
    await settle();
    clock.advance(1);
    const hit = await request(cache.url, '/aged');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers.age).toBe('9');
    clock.advance(2);
    expect((await request(cache.url, '/aged')).headers['x-cache']).toBe('EXPIRED');
  });
});
