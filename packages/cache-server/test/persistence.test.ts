import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { request, waitFor } from './helpers/http.js';
import { fixed, startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { listFiles, startCache, tempDir } from './helpers/cache.js';

describe('stored responses survive a restart', () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '/page': fixed('<h1>kept</h1>', { 'cache-control': 'max-age=3600', 'content-type': 'text/html' }),
      '/blob': fixed(binary, { 'cache-control': 'max-age=3600', 'content-type': 'application/octet-stream' }),
    });
  });
  afterAll(async () => {
    await origin?.close();
    await dir?.cleanup();
  });

  test('stop the cache, start it again on the same directory: still a HIT, origin not asked', async () => {
    const first = await startCache(origin.url, dir.dir);
    expect((await request(first.url, '/page')).headers['x-cache']).toBe('MISS');
    expect((await request(first.url, '/blob')).headers['x-cache']).toBe('MISS');
    await waitFor(() => first.proxy.inFlight.size === 0, 'commits');
    await first.close();
    expect((await listFiles(dir.dir)).some((f) => f.includes('/v1/tmp/'))).toBe(false);

    const second = await startCache(origin.url, dir.dir);
    try {
      const page = await request(second.url, '/page');
      const blob = await request(second.url, '/blob');
      expect(page.headers['x-cache']).toBe('HIT');
      expect(page.body.toString()).toBe('<h1>kept</h1>');
      expect(blob.headers['x-cache']).toBe('HIT');
      expect(blob.body.equals(binary)).toBe(true);
      expect(origin.count('/page')).toBe(1);
      expect(origin.count('/blob')).toBe(1);
    } finally {
      await second.close();
    }
  });
});
