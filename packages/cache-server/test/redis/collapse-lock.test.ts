// @system-packages redis-server
import { describe, expect, test } from '@jest/globals';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { makeMeta, writeEntry } from '../store/store-helpers.js';
import { openRedisStore, useRedis } from './redis-helpers.js';

const KEY = 'http://origin.test/hot';

const redis = useRedis({ nodes: 2 });

async function findEntry(store: RedisStore) {
  const [found] = await store.lookup(KEY);
  return found;
}

describe('the collapsing lock', () => {
  test('one holder at a time, across nodes; free again once released', async () => {
    const lock = await redis.nodeA.locks.acquire(KEY, 10_000);
    expect(lock).toBeDefined();
    expect(await redis.nodeB.locks.acquire(KEY, 10_000)).toBeUndefined();
    expect(await redis.nodeA.locks.acquire(KEY, 10_000)).toBeUndefined();
    expect(await redis.nodeB.locks.acquire(`${KEY}/other`, 10_000)).toBeDefined();
    expect(await redis.nodeB.locks.isLocked(KEY)).toBe(true);
    expect(await lock!.release()).toBe(true);
    expect(await redis.nodeB.locks.isLocked(KEY)).toBe(false);
    expect(await redis.nodeB.locks.acquire(KEY, 10_000)).toBeDefined();
  });

  test('a lock expires by itself (its holder died), and a stale holder cannot release the next one', async () => {
    // A node that dies (or hangs) stops renewing its locks: locks.close() does that here, with its
    // connection left open so that it can try to release the next holder's lock afterwards.
    const dying = await openRedisStore(redis.server);
    const first = await dying.locks.acquire(KEY, 50);
    expect(first).toBeDefined();
    dying.locks.close();
    let second = await redis.nodeB.locks.acquire(KEY, 10_000);
    const deadline = Date.now() + 5_000;
    while (second === undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      second = await redis.nodeB.locks.acquire(KEY, 10_000);
    }
    expect(second).toBeDefined();
    try {
      expect(await first!.release()).toBe(false);
      expect(await first!.extend(10_000)).toBe(false);
      expect(await redis.nodeA.locks.isLocked(KEY)).toBe(true);
      expect(await second!.extend(20_000)).toBe(true);
      expect(await redis.admin.pttl(createRedisKeys().lock(hashKey(KEY)))).toBeGreaterThan(10_000);
    } finally {
      await dying.close();
    }
  });

  // Issue 16.8: a fetch that takes longer than the lock's TTL (and than --collapse-wait) keeps
  // the lock, and the waiters keep waiting for its entry rather than fetching too.
  test('the holder renews its lock until it releases it; a waiter keeps waiting while it does', async () => {
    const TTL = 1_000;
    const lock = await redis.nodeA.locks.acquire(KEY, TTL);
    const lockKey = createRedisKeys().lock(hashKey(KEY));
    const started = Date.now();
    const waiting = redis.nodeB.locks.waitForEntry(KEY, () => findEntry(redis.nodeB), { timeoutMs: TTL, pollMs: 50 });
    // The holder's fetch takes three TTLs: its lock is renewed all along.
    let renewed = 0;
    let lastTtl = await redis.admin.pttl(lockKey);
    while (Date.now() - started < 3 * TTL) {
      const ttl = await redis.admin.pttl(lockKey);
      expect(ttl).toBeGreaterThan(0);
      if (ttl > lastTtl) renewed += 1;
      lastTtl = ttl;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(renewed).toBeGreaterThanOrEqual(3);
    const stored = await writeEntry(redis.nodeA, makeMeta(KEY), 'fetched once, slowly');
    expect(await lock!.release()).toBe(true);
    expect(await waiting).toEqual({ outcome: 'found', value: stored });
    // Released: no renewal brings it back.
    await new Promise((resolve) => setTimeout(resolve, TTL / 2));
    expect(await redis.admin.exists(lockKey)).toBe(0);
  });

  test('waitForEntry: the waiter gets the entry the holder stores', async () => {
    const lock = await redis.nodeA.locks.acquire(KEY, 10_000);
    const waiting = redis.nodeB.locks.waitForEntry(KEY, () => findEntry(redis.nodeB), {
      timeoutMs: 10_000,
      pollMs: 5_000,
    });
    const stored = await writeEntry(redis.nodeA, makeMeta(KEY), 'fetched once');
    await lock!.release();
    // The commit's announcement wakes the waiter long before its 5 s poll.
    expect(await waiting).toEqual({ outcome: 'found', value: stored });
  });

  test('waitForEntry: released without an entry (not storable) → fetch yourself', async () => {
    const lock = await redis.nodeA.locks.acquire(KEY, 10_000);
    const waiting = redis.nodeB.locks.waitForEntry(KEY, () => findEntry(redis.nodeB), {
      timeoutMs: 10_000,
      pollMs: 10,
    });
    await lock!.release();
    expect(await waiting).toEqual({ outcome: 'released' });
  });

  test('waitForEntry: a holder that takes too long → timeout', async () => {
    await redis.nodeA.locks.acquire(KEY, 10_000);
    const started = Date.now();
    expect(
      await redis.nodeB.locks.waitForEntry(KEY, () => findEntry(redis.nodeB), { timeoutMs: 100, pollMs: 10 }),
    ).toEqual({
      outcome: 'timeout',
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  test('waitForEntry: an entry already there is found at once', async () => {
    const stored = await writeEntry(redis.nodeA, makeMeta(KEY), 'there');
    expect(await redis.nodeB.locks.waitForEntry(KEY, () => findEntry(redis.nodeB), { timeoutMs: 10_000 })).toEqual({
      outcome: 'found',
      value: stored,
    });
  });
});
