// @system-packages redis-server
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { startCacheServer } from '../../src/app.js';
import { admin, metricValue, PREFIX } from '../helpers/admin.js';
import { tempDir, type StartedCache } from '../helpers/cache.js';
import { request, waitFor } from '../helpers/http.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { fixed, startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { inspect } from './redis-helpers.js';

/**
 * Two caches (two sites, two teams) on one Redis, kept apart by --redis-prefix; each node says
 * who it is (--node-id) in its log lines and its metrics.
 */
let redis: RedisServer;
let origin: TestOrigin;
let dir: Awaited<ReturnType<typeof tempDir>>;
let shop: StartedCache;
let blog: StartedCache;
const shopLog: Record<string, unknown>[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  origin = await startTestOrigin({
    '*': (req, res, body) => fixed(`page ${req.url}`, { 'cache-control': 'max-age=600' })(req, res, body),
  });
  dir = await tempDir();
  const start = (name: string, log: pino.Logger) =>
    startCacheServer(
      {
        host: '127.0.0.1',
        port: 0,
        origin: origin.url,
        cacheDir: `${dir.dir}/${name}`,
        store: redis.url,
        redisPrefix: name,
        nodeId: `${name}-1`,
      },
      { logger: log },
    );
  shop = await start('shop', pino({ level: 'info' }, { write: (line: string) => shopLog.push(JSON.parse(line)) }));
  blog = await start('blog', pino({ level: 'silent' }));
});
afterAll(async () => {
  await Promise.all([shop?.close(), blog?.close()]);
  await origin?.close();
  await redis?.cleanup();
  await dir?.cleanup();
});

async function stored(cache: StartedCache, path: string): Promise<void> {
  await waitFor(async () => (await cache.store.lookup(`${origin.url}${path}`)).length > 0, `${path} to be stored`);
}

describe('--redis-prefix', () => {
  test('each cache keeps its own keys: no shared hits, purges stay on their side', async () => {
    expect((await request(shop.url, '/page')).headers['x-cache']).toBe('MISS');
    await stored(shop, '/page');
    expect((await request(blog.url, '/page')).headers['x-cache']).toBe('MISS');
    await stored(blog, '/page');
    const client = inspect(redis);
    try {
      const keys = await client.keys('*');
      expect(keys.some((key) => key.startsWith('shop:v1:'))).toBe(true);
      expect(keys.some((key) => key.startsWith('blog:v1:'))).toBe(true);
      expect(keys.filter((key) => !/^(shop|blog):v1:/.test(key))).toEqual([]);
    } finally {
      await client.quit();
    }
    const purge = await admin(blog.url, `${PREFIX}/entries?all=1`, { method: 'DELETE' });
    expect(purge.json).toMatchObject({ purged: 1 });
    expect((await request(shop.url, '/page')).headers['x-cache']).toBe('HIT');
    expect((await request(blog.url, '/page')).headers['x-cache']).toBe('MISS');
  });
});

describe('--node-id', () => {
  test('in every log line and in simple_cache_node_info', async () => {
    await request(shop.url, '/logged');
    await waitFor(() => shopLog.length > 0, 'a log line');
    expect(shopLog.every((line) => line.node === 'shop-1')).toBe(true);
    const text = (await admin(shop.url, `${PREFIX}/metrics`)).body.toString();
    expect(metricValue(text, 'simple_cache_node_info', { node: 'shop-1' })).toBe(1);
  });
});
