// @system-packages redis-server
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startCache, tempDir, type StartedCache } from '../helpers/cache.js';
import { request, waitFor } from '../helpers/http.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { fixed, startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { MemoryTier } from '../../src/store/memory-tier.js';
import { inspect, monitorCommands, type SeenCommand } from './redis-helpers.js';
import { hashKey } from '../../src/store/redis/redis-keys.js';
import { MARK_USED } from '../../src/store/redis/redis-scripts.js';
import { settingsFrom } from '../../src/store/redis/redis-context.js';
import { hasHotReads } from '../../src/store/store.js';

/** How often a node writes the hits it counted (the default: the server has no option for it). */
const RECENCY_INTERVAL_MS = settingsFrom({}).recencyIntervalMs;

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
    // A trust bound long enough that only a broken node asks Redis during the hits below (with the
    // default 1 s, a heartbeat that came back late on a loaded machine rightly sends a lookup there).
    cache = await startCache(origin.url, dir.dir, { store: `${server.url}/0`, redisMetaTrust: 5_000 });
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
    // Only the commands naming this key are counted, not all of them: the node's heartbeat (a
    // PUBLISH every quarter of --redis-meta-trust) and its other timers run however long the hits
    // take, and on a loaded machine ten hits took long enough for them to pass any fixed bound.
    const named = hashKey(key);
    const monitor = await monitorCommands(server);
    try {
      const started = performance.now();
      const servedBefore = cache.fastHit!.served;
      for (let i = 0; i < 10; i += 1) {
        const hit = await request(cache.url, '/page');
        expect([hit.headers['x-cache'], hit.body.toString()]).toEqual(['HIT', 'hello from the origin']);
      }
      expect(cache.fastHit!.served - servedBefore).toBe(10);
      const seen = (await monitor.settle()).filter(
        (command) => command.source !== 'lua' && command.args.some((arg) => arg.includes(named)),
      );
      const elapsed = performance.now() - started;
      // The hits' recency, written in batches once a second (recency-batch.ts): a rate, not one per hit.
      const isRecency = (command: SeenCommand) =>
        command.args[0]?.toLowerCase() === 'evalsha' && command.args[1] === MARK_USED.sha;
      expect(seen.filter((command) => !isRecency(command)).map((command) => command.args.join(' '))).toEqual([]);
      expect(seen.filter(isRecency).length).toBeLessThanOrEqual(Math.floor(elapsed / RECENCY_INTERVAL_MS) + 1);
    } finally {
      monitor.stop();
    }
  });
});
