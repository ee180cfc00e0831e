// @system-packages redis-server
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Redis } from 'ioredis';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import { startCache, tempDir, type StartedCache } from '../helpers/cache.js';
import { request, waitFor } from '../helpers/http.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { fixed, startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { inspect } from './redis-helpers.js';

/**
 * F10 and F-conf-2 through a real cache server: how long Redis keeps an entry comes from the
 * policy the proxy uses it under — the operator's rules for its key and status, and the
 * disconnected grace — not from the response's own Cache-Control alone.
 */
const DAY = 86_400;
const keys = createRedisKeys();

describe('Redis keeps an entry as long as the rules and the disconnected grace let it be used', () => {
  let server: RedisServer;
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    origin = await startTestOrigin({
      '/static/app.js': fixed('app', { 'cache-control': 'max-age=60' }),
      '/missing': fixed('gone', {}, 404),
      '/plain': fixed('plain', { 'cache-control': 'max-age=60' }),
      '/strict': fixed('strict', { 'cache-control': 'max-age=60, must-revalidate' }),
    });
    dir = await tempDir();
    cache = await startCache(origin.url, dir.dir, {
      store: server.url,
      rules: [
        { name: 'static', match: { path: '/static/**' }, ttl: '365d' },
        { name: 'not-found', match: { path: '/missing', status: [404] }, ttl: '2h' },
      ],
    });
    admin = inspect(server);
  });
  afterAll(async () => {
    admin?.disconnect();
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
    await server?.cleanup();
  });

  /**
   * Seconds Redis keeps the entry of `path`, once it has been stored, counted from the request:
   * the TTL left when read plus the time since the request (a loaded machine may take a second or
   * two), within the second the origin's Date gives the response's age (RFC 9111 §4.2.3).
   */
  async function keptFor(path: string): Promise<number> {
    const metaKey = keys.meta(hashKey(`${origin.url}${path}`));
    const asked = Date.now();
    await request(cache.url, path);
    await waitFor(async () => (await admin.exists(metaKey)) === 1, `the entry of ${path} in Redis`);
    const ttl = await admin.pttl(metaKey);
    return (ttl + (Date.now() - asked)) / 1000;
  }

  function expectAbout(seconds: number, expected: number): void {
    expect(seconds).toBeGreaterThan(expected - 2);
    expect(seconds).toBeLessThan(expected + 2);
  }

  test('a rule ttl of a year keeps a max-age=60 response a year (plus the grace), not two minutes', async () => {
    expectAbout(await keptFor('/static/app.js'), 365 * DAY + DAY + 60);
    const hit = await request(cache.url, '/static/app.js');
    expect(hit.headers['x-cache']).toBe('HIT');
  });

  test('a 404 kept by a status rule lives as the rule says', async () => {
    expectAbout(await keptFor('/missing'), 2 * 3600 + DAY + 60);
  });

  test('without rules: freshness, then the disconnected grace (a day), then the margin', async () => {
    expectAbout(await keptFor('/plain'), 60 + DAY + 60);
  });

  test('a response that may never be served stale is not kept for the disconnected grace', async () => {
    expectAbout(await keptFor('/strict'), 60 + 60);
  });
});
