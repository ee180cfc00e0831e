import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import type { Redis } from 'ioredis';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { makeMeta, writeEntry } from '../store/store-helpers.js';
import { inspect, openRedisStore } from './redis-helpers.js';

const KEY = 'http://origin.test/hot';

let server: RedisServer;
let admin: Redis;
let nodeA: RedisStore;
let nodeB: RedisStore;

beforeAll(async () => {
  server = await startRedisServer();
  admin = inspect(server);
});
afterAll(async () => {
  await admin.quit();
  await server.cleanup();
});
beforeEach(async () => {
  await admin.flushall();
  nodeA = await openRedisStore(server);
  nodeB = await openRedisStore(server);
});
afterEach(async () => {
  await Promise.all([nodeA.close(), nodeB.close()]);
});

async function findEntry(store: RedisStore) {
  const [found] = await store.lookup(KEY);
  return found;
}

describe('the collapsing lock', () => {
  test('one holder at a time, across nodes; free again once released', async () => {
    const lock = await nodeA.locks.acquire(KEY, 10_000);
    expect(lock).toBeDefined();
    expect(await nodeB.locks.acquire(KEY, 10_000)).toBeUndefined();
    expect(await nodeA.locks.acquire(KEY, 10_000)).toBeUndefined();
    expect(await nodeB.locks.acquire(`${KEY}/other`, 10_000)).toBeDefined();
    expect(await nodeB.locks.isLocked(KEY)).toBe(true);
    expect(await lock!.release()).toBe(true);
    expect(await nodeB.locks.isLocked(KEY)).toBe(false);
    expect(await nodeB.locks.acquire(KEY, 10_000)).toBeDefined();
  });

  test('a lock expires by itself (its holder died), and a stale holder cannot release the next one', async () => {
    const first = await nodeA.locks.acquire(KEY, 50);
    expect(first).toBeDefined();
    let second = await nodeB.locks.acquire(KEY, 10_000);
    const deadline = Date.now() + 5_000;
    while (second === undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      second = await nodeB.locks.acquire(KEY, 10_000);
    }
    expect(second).toBeDefined();
    expect(await first!.release()).toBe(false);
    expect(await first!.extend(10_000)).toBe(false);
    expect(await nodeA.locks.isLocked(KEY)).toBe(true);
    expect(await second!.extend(20_000)).toBe(true);
    expect(await admin.pttl(createRedisKeys().lock(hashKey(KEY)))).toBeGreaterThan(10_000);
  });

  test('waitForEntry: the waiter gets the entry the holder stores', async () => {
    const lock = await nodeA.locks.acquire(KEY, 10_000);
    const waiting = nodeB.locks.waitForEntry(KEY, () => findEntry(nodeB), { timeoutMs: 10_000, pollMs: 5_000 });
    const stored = await writeEntry(nodeA, makeMeta(KEY), 'fetched once');
    await lock!.release();
    // The commit's announcement wakes the waiter long before its 5 s poll.
    expect(await waiting).toEqual({ outcome: 'found', value: stored });
  });

  test('waitForEntry: released without an entry (not storable) → fetch yourself', async () => {
    const lock = await nodeA.locks.acquire(KEY, 10_000);
    const waiting = nodeB.locks.waitForEntry(KEY, () => findEntry(nodeB), { timeoutMs: 10_000, pollMs: 10 });
    await lock!.release();
    expect(await waiting).toEqual({ outcome: 'released' });
  });

  test('waitForEntry: a holder that takes too long → timeout', async () => {
    await nodeA.locks.acquire(KEY, 10_000);
    const started = Date.now();
    expect(await nodeB.locks.waitForEntry(KEY, () => findEntry(nodeB), { timeoutMs: 100, pollMs: 10 })).toEqual({
      outcome: 'timeout',
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  test('waitForEntry: an entry already there is found at once', async () => {
    const stored = await writeEntry(nodeA, makeMeta(KEY), 'there');
    expect(await nodeB.locks.waitForEntry(KEY, () => findEntry(nodeB), { timeoutMs: 10_000 })).toEqual({
      outcome: 'found',
      value: stored,
    });
  });
});
