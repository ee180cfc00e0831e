// @system-packages redis-server
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startCache, tempDir, type StartedCache } from '../helpers/cache.js';
import { request, waitFor } from '../helpers/http.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { fixed, startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { MemoryTier } from '../../src/store/memory-tier.js';
import { inspect } from './redis-helpers.js';
import { hasHotReads } from '../../src/store/store.js';

/** The server on `--store redis://…`: entries land in Redis, behind the memory tier. */
describe('a cache server on the Redis store', () => {
  let server: RedisServer;
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    server = await startRedisServer();
    origin = await startTestOrigin({ '/page': fixed('hello from the origin', { 'cache-control': 'max-age=60' }) });
    dir = await tempDir();
    cache = await startCache(origin.url, dir.dir, { store: `${server.url}/0` });
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
    await server?.cleanup();
  });

  test('MISS then HIT, the entry kept in Redis (not on disk), the memory tier in front', async () => {
    expect(cache.store).toBeInstanceOf(MemoryTier);
    const miss = await request(cache.url, '/page');
    expect(miss.headers['x-cache']).toBe('MISS');
    // The entry is committed once the origin's body has ended, just after the client has it.
    await waitFor(async () => (await cache.store.lookup(`${origin.url}/page`)).length > 0, 'the commit');
    const hit = await request(cache.url, '/page');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.toString()).toBe('hello from the origin');
    expect(origin.count('/page')).toBe(1);
    const admin = inspect(server);
    try {
      expect(await admin.keys('sc:v1:*:meta')).toHaveLength(1);
    } finally {
      await admin.quit();
    }
  });

  test('hits on a hot key take the fast path, with no Redis round trip', async () => {
    const key = `${origin.url}/page`;
    await waitFor(async () => {
      await request(cache.url, '/page');
      const [held] = (hasHotReads(cache.store) ? cache.store.peekSync(key) : undefined) ?? [];
      return held !== undefined && (hasHotReads(cache.store) ? cache.store.getBody(held) : undefined) !== undefined;
    }, 'the node to hold the entry');
    const admin = inspect(server);
    try {
      const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))?.[1]);
      const servedBefore = cache.fastHit!.served;
      const before = await commands();
      for (let i = 0; i < 10; i += 1) {
        const hit = await request(cache.url, '/page');
        expect([hit.headers['x-cache'], hit.body.toString()]).toEqual(['HIT', 'hello from the origin']);
      }
      expect(cache.fastHit!.served - servedBefore).toBe(10);
      // The INFO calls themselves, and the node's heartbeat pings (every 250 ms), at most.
      expect((await commands()) - before).toBeLessThan(10);
    } finally {
      await admin.quit();
    }
  });
});
