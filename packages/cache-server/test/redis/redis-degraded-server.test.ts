// @system-packages redis-server
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { EntryMeta } from '@simple-cache/common';
import { admin, metricValue, PREFIX } from '../helpers/admin.js';
import { startCache, tempDir, type StartedCache } from '../helpers/cache.js';
import { request, waitFor } from '../helpers/http.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { fixed, startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { hasHotReads, healthOf } from '../../src/store/store.js';

/**
 * What a node on a hung or unreachable Redis tells the outside: it keeps serving (memory tier,
 * else the origin), says `stored` only for what the store takes, reports the outage in /ready,
 * /stats and /metrics, and answers a purge it cannot do with a catalogue error that says what
 * happened to its own copies.
 */
const TIMEOUT_MS = 300;

let redis: RedisServer;
let origin: TestOrigin;
let dir: Awaited<ReturnType<typeof tempDir>>;
let cache: StartedCache;
let strict: StartedCache;

beforeAll(async () => {
  redis = await startRedisServer();
  origin = await startTestOrigin({ '*': (req, res, body) => fixed(`body of ${req.url}`, FRESH)(req, res, body) });
  dir = await tempDir();
  const options = { store: redis.url, redisTimeout: TIMEOUT_MS };
  cache = await startCache(origin.url, `${dir.dir}/a`, options);
  strict = await startCache(origin.url, `${dir.dir}/b`, { ...options, readyNeedsStore: true });
});
afterAll(async () => {
  redis?.resume();
  await Promise.all([cache?.close(), strict?.close()]);
  await origin?.close();
  await redis?.cleanup();
  await dir?.cleanup();
});

const FRESH = { 'cache-control': 'max-age=600' };

/** A MISS through the cache, waited for until committed in Redis and held in memory. */
async function storeAndHold(path: string): Promise<EntryMeta> {
  expect((await request(cache.url, path)).headers['cache-status']).toMatch(/; stored/);
  let entry: EntryMeta | undefined;
  await waitFor(async () => {
    [entry] = await cache.store.lookup(`${origin.url}${path}`);
    return entry !== undefined && (hasHotReads(cache.store) ? cache.store.getBody(entry) : undefined) !== undefined;
  }, `${path} to be stored and held`);
  return entry!;
}

async function metrics(node: StartedCache): Promise<string> {
  return (await admin(node.url, `${PREFIX}/metrics`)).body.toString();
}

describe('a node whose Redis hangs (SIGSTOP)', () => {
  test('serves, reports the outage, refuses to purge what it cannot, and recovers', async () => {
    await storeAndHold('/hot');
    expect(metricValue(await metrics(cache), 'simple_cache_store_up')).toBe(1);
    redis.pause();

    // Held in memory: still a hit (the lookup times out once, then the breaker answers at once).
    const hot = await request(cache.url, '/hot');
    expect([hot.status, hot.headers['x-cache'], hot.body.toString()]).toEqual([200, 'HIT', 'body of /hot']);
    let n = 0;
    await waitFor(async () => {
      await request(cache.url, `/warm-${n++}`);
      return healthOf(cache.store).state === 'degraded';
    }, 'the breaker to open');

    // A miss goes to the origin and is not stored: Cache-Status says so, and why.
    const cold = await request(cache.url, '/cold');
    expect([cold.status, cold.headers['x-cache'], cold.body.toString()]).toEqual([200, 'MISS', 'body of /cold']);
    expect(cold.headers['cache-status']).not.toMatch(/stored/);
    expect(cold.headers['cache-status']).toMatch(/detail=CACHE_ERR_STORE_DEGRADED/);

    const ready = await admin(cache.url, `${PREFIX}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({
      ready: true,
      store: { loaded: true, health: { state: 'degraded', code: 'REDIS_TIMEOUT', since: expect.any(Number) } },
    });
    const stats = await admin(cache.url, `${PREFIX}/stats`);
    expect(stats.json.store).toMatchObject({
      health: { state: 'degraded', code: 'REDIS_TIMEOUT', message: expect.stringMatching(/unavailable/) },
      errors: { timeout: expect.any(Number), unavailable: expect.any(Number) },
    });
    const text = await metrics(cache);
    expect(metricValue(text, 'simple_cache_store_up')).toBe(0);
    expect(metricValue(text, 'simple_cache_store_errors_total', { kind: 'timeout' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'simple_cache_store_errors_total', { kind: 'unavailable' })).toBeGreaterThanOrEqual(1);

    // The purge cannot reach Redis: 503 with the catalogue code, and this node's copy is gone.
    const purge = await admin(cache.url, '/hot', { method: 'PURGE' });
    expect(purge.status).toBe(503);
    expect(purge.headers['x-cache-error']).toBe('CACHE_ERR_STORE_UNAVAILABLE');
    expect(purge.json).toMatchObject({
      error: 'CACHE_ERR_STORE_UNAVAILABLE',
      message: expect.stringMatching(/dropped its own memory copies/),
      local: { dropped: 1 },
    });
    const tagPurge = await admin(cache.url, `${PREFIX}/entries?tag=none`, { method: 'DELETE' });
    expect([tagPurge.status, tagPurge.json.error]).toEqual([503, 'CACHE_ERR_STORE_UNAVAILABLE']);
    const after = await request(cache.url, '/hot');
    expect([after.headers['x-cache'], after.body.toString()]).toEqual(['MISS', 'body of /hot']);

    redis.resume();
    await waitFor(() => healthOf(cache.store).state === 'ok', 'the breaker to close');
    expect(metricValue(await metrics(cache), 'simple_cache_store_up')).toBe(1);
    expect((await request(cache.url, '/back')).headers['cache-status']).toMatch(/; stored/);
  });
});

describe('--ready-needs-store', () => {
  test('a degraded store makes /ready answer 503 on the node that asks for it, 200 on the other', async () => {
    await redis.stop();
    try {
      await waitFor(
        () => [cache, strict].every((node) => healthOf(node.store).state === 'degraded'),
        'both nodes to notice',
      );
      const [lenient, needing] = await Promise.all([
        admin(cache.url, `${PREFIX}/ready`),
        admin(strict.url, `${PREFIX}/ready`),
      ]);
      expect([lenient.status, needing.status]).toEqual([200, 503]);
      expect(needing.json).toMatchObject({
        ready: false,
        store: { health: { state: 'degraded', code: 'REDIS_CONNECTION' } },
      });
    } finally {
      await redis.restart();
    }
    await waitFor(() => healthOf(strict.store).state === 'ok', 'the strict node to reconnect', 20_000);
    expect((await admin(strict.url, `${PREFIX}/ready`)).status).toBe(200);
  });
});
