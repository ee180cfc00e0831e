import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { admin, PREFIX } from './helpers/admin.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { fixed, startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

describe('<prefix>/health and <prefix>/ready', () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const caches: StartedCache[] = [];

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({ '/': fixed('home', { 'cache-control': 'max-age=60' }) });
  });
  afterAll(async () => {
    for (const cache of caches) await cache.close();
    await origin?.close();
    await dir?.cleanup();
  });

  async function start(originUrl: string): Promise<StartedCache> {
    const cache = await startCache(originUrl, `${dir.dir}/${caches.length}`);
    caches.push(cache);
    return cache;
  }

  /** A port that was just free: nothing listens there, so connecting is refused. */
  async function closedPort(): Promise<number> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  test('health: the process is up, whatever the origin does', async () => {
    const cache = await start(`http://127.0.0.1:${await closedPort()}`);
    const reply = await admin(cache.url, `${PREFIX}/health`);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ status: 'ok', uptimeSeconds: expect.any(Number) });
  });

  test('ready: 200 once the store is loaded and the origin answers; one origin check per second at most', async () => {
    const cache = await start(origin.url);
    const first = await admin(cache.url, `${PREFIX}/ready`);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({
      ready: true,
      store: { loaded: true, health: { state: 'ok' } },
      origin: { reachable: true, status: 200, checkedAt: expect.any(Number) },
    });
    const heads = () => origin.requests.filter((r) => r.method === 'HEAD').length;
    expect(heads()).toBe(1);
    // A load balancer polling hard still costs the origin one request per second.
    const burst = await Promise.all(Array.from({ length: 5 }, () => admin(cache.url, `${PREFIX}/ready`)));
    expect(burst.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(heads()).toBe(1);
  });

  test('ready: 503 naming the reason when the origin cannot be reached', async () => {
    const cache = await start(`http://127.0.0.1:${await closedPort()}`);
    const reply = await admin(cache.url, `${PREFIX}/ready`);
    expect(reply.status).toBe(503);
    expect(reply.json).toEqual({
      ready: false,
      store: { loaded: true, health: { state: 'ok' } },
      origin: { reachable: false, error: 'CACHE_ERR_ORIGIN_UNREACHABLE', checkedAt: expect.any(Number) },
    });
  });
});
