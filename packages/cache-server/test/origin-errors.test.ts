import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from './helpers/http.js';
import { fixed, startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';

/** A port that was just listening and is now closed: connecting to it is refused. */
async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('origin failures get clear answers and the cache stays up', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => {
    await dir?.cleanup();
  });

  test('connection refused → 502 with a short body naming the error', async () => {
    const cache = await startCache(`http://127.0.0.1:${await deadPort()}`, dir.dir);
    try {
      const reply = await request(cache.url, '/anything');
      expect(reply.status).toBe(502);
      expect(reply.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_UNREACHABLE');
      expect(reply.body.toString()).toMatch(/could not be reached/);
      // Still up: a second request gets the same clear answer.
      expect((await request(cache.url, '/other')).status).toBe(502);
    } finally {
      await cache.close();
    }
  });

  describe('with a misbehaving origin', () => {
    let origin: TestOrigin;
    let cache: StartedCache;
    const hanging = new Set<http.ServerResponse>();
    beforeAll(async () => {
      origin = await startTestOrigin({
        '/hang': (_req, res) => void hanging.add(res),
        '/reset': (req) => req.socket.destroy(),
        '/ok': fixed('fine', { 'cache-control': 'max-age=60' }),
      });
      cache = await startCache(origin.url, dir.dir, { originTimeout: 300 });
    });
    afterAll(async () => {
      for (const res of hanging) res.destroy();
      await cache?.close();
      await origin?.close();
    });

    test('no answer within --origin-timeout → 504', async () => {
      const reply = await request(cache.url, '/hang');
      expect(reply.status).toBe(504);
      expect(reply.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_TIMEOUT');
    });

    test('connection reset before the response → 502', async () => {
      const reply = await request(cache.url, '/reset');
      expect(reply.status).toBe(502);
    });

    test('other keys are served meanwhile', async () => {
      const [hang, ok] = await Promise.all([request(cache.url, '/hang?again'), request(cache.url, '/ok')]);
      expect(ok.status).toBe(200);
      expect(ok.body.toString()).toBe('fine');
      expect(hang.status).toBe(504);
    });
  });
});
