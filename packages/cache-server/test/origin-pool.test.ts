import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type http from 'node:http';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

/**
 * Issue 12.4: misses on URLs whose origin answers slowly must not hold up a miss on any other URL.
 * Node's default agent queues requests past 256 connections per origin; the cache's pool opens
 * connections as needed and only bounds the idle ones (nginx's `keepalive N`).
 */
const SLOW = 300;

describe('one slow origin URL never starves the misses for other URLs', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const held = new Set<http.ServerResponse>();
  /** Slow requests still open at the origin when /fast reached it. */
  let openWhenFastArrived = -1;

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '/fast': (_req, res) => {
        openWhenFastArrived = [...held].filter((slow) => !slow.destroyed && !slow.writableEnded).length;
        res.writeHead(200, { 'content-length': 4 });
        res.end('fast');
      },
      '*': (_req, res) => void held.add(res),
    });
    // Long enough that a miss queued behind the slow ones would be seen waiting for them.
    cache = await startCache(origin.url, dir.dir, { originTimeout: 5_000 });
  });
  afterAll(async () => {
    for (const res of held) res.destroy();
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test(`${SLOW} misses held by the origin, then a miss on another URL: it reaches the origin at once`, async () => {
    const slow = Array.from({ length: SLOW }, (_, i) => request(cache.url, `/slow/${i}`));
    await waitFor(() => held.size >= 256, 'the slow misses to reach the origin');
    const fast = await request(cache.url, '/fast');
    expect(fast.status).toBe(200);
    expect(fast.body.toString()).toBe('fast');
    // It did not wait for a slow one to finish or time out: all of them were still open.
    expect(openWhenFastArrived).toBe(SLOW);
    for (const res of held) {
      res.writeHead(200, { 'content-length': 4, 'cache-control': 'no-store' });
      res.end('slow');
    }
    const answers = await Promise.all(slow);
    expect(answers.every((reply) => reply.status === 200 && reply.body.toString() === 'slow')).toBe(true);
  });
});
