// @system-packages redis-server
import { describe, expect, test } from '@jest/globals';
import type { Invalidation } from '../../src/store/redis/invalidation-bus.js';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { waitFor } from '../helpers/http.js';
import { makeMeta, writeEntry } from '../store/store-helpers.js';
import { useRedis } from './redis-helpers.js';

/**
 * Hits on hot keys without a Redis round trip: a node keeps the metadata it looked up, drops it
 * when the bus announces a change of the key (published by the script that made it), uses it only
 * while its heartbeat proves the bus current, and writes hits in batches.
 */
const KEY = 'http://origin.test/hot';
const TRUST_MS = 200;
const keys = createRedisKeys();

// Hits are written by the test's own flushRecency(): the periodic batch (every second by default)
// landing between a test's markUsed() calls and its checks would make them fail at random.
const redis = useRedis({ nodes: 2, options: { metaTrustMs: TRUST_MS, recencyIntervalMs: 3_600_000 } });

async function calls(command: string): Promise<number> {
  const info = await redis.admin.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

/** Looks `key` up on `store` until the node holds it (its heartbeat has to come back first). */
async function hold(store: RedisStore, key = KEY): Promise<void> {
  await waitFor(async () => {
    await store.lookup(key);
    return store.peekSync(key) !== undefined;
  }, 'the node to hold the metadata');
}

/** Resolves with the next event of `kind` that `store`'s bus delivers from another node. */
function nextEvent(store: RedisStore, kind: Invalidation['kind']): Promise<Invalidation> {
  return new Promise((resolve) => {
    const unsubscribe = store.bus.subscribe((event) => {
      if (event.kind !== kind) return;
      unsubscribe();
      resolve(event);
    });
  });
}

/**
 * With the 200 ms trust bound of the tests below, a heartbeat that came back late on a loaded
 * machine (CI, once) made one of the 20 lookups ask Redis again, as it should; here two nodes on
 * the same server trust for 5 s, long enough that only a broken node can make a round trip.
 */
describe('metadata held in the node, while the bus is proven current', () => {
  test('a hot key is looked up in Redis once; later lookups and hits make no round trip', async () => {
    const [nodeA, nodeB] = (await redis.open(2, { metaTrustMs: 5_000 })) as [RedisStore, RedisStore];
    const entry = await writeEntry(nodeA, makeMeta(KEY), 'hot');
    await hold(nodeB);
    const before = await calls('hgetall');
    for (let i = 0; i < 20; i += 1) expect((await nodeB.lookup(KEY))[0]?.bodyId).toBe(entry.bodyId);
    expect(nodeB.peekSync(KEY)?.[0]?.bodyId).toBe(entry.bodyId);
    expect(await calls('hgetall')).toBe(before);
  });
});

describe('metadata held in the node', () => {
  test.each<[string, (a: RedisStore) => Promise<unknown>]>([
    ['a new body for the key', (a) => writeEntry(a, makeMeta(KEY), 'newer')],
    ['a 304 freshening', async (a) => a.updateMeta({ ...(await a.lookup(KEY))[0]!, headers: { etag: '"2"' } })],
    ['a delete', (a) => a.delete(KEY)],
  ])('%s on node A drops node B’s copy as soon as the bus delivers it', async (_label, change) => {
    await writeEntry(redis.nodeA, makeMeta(KEY), 'hot');
    await hold(redis.nodeB);
    const announced = nextEvent(redis.nodeB, 'key');
    await change(redis.nodeA);
    await announced;
    expect(redis.nodeB.peekSync(KEY)).toBeUndefined();
    const [now] = await redis.nodeB.lookup(KEY);
    expect(now).toEqual((await redis.nodeA.lookup(KEY))[0]);
  });

  test.each<[string, Invalidation]>([
    ['a purge by prefix', { kind: 'prefix', prefix: 'http://origin.test/' }],
    ['a purge by tag', { kind: 'tag', tag: 'anything' }],
    ['a purge of everything', { kind: 'all', reason: 'purge' }],
  ])('%s announced by another node drops the copies it may cover', async (_label, event) => {
    await writeEntry(redis.nodeA, makeMeta(KEY), 'hot');
    await hold(redis.nodeB);
    const announced = nextEvent(redis.nodeB, event.kind);
    await redis.nodeA.bus.publish(event);
    await announced;
    expect(redis.nodeB.peekSync(KEY)).toBeUndefined();
  });

  test('a hung Redis: the copy stops being used once the heartbeat has not come back for the trust bound', async () => {
    await writeEntry(redis.nodeA, makeMeta(KEY), 'hot');
    await hold(redis.nodeB);
    redis.server.pause();
    try {
      await waitFor(() => redis.nodeB.peekSync(KEY) === undefined, 'the copy to be distrusted');
    } finally {
      redis.server.resume();
    }
    await hold(redis.nodeB);
  });

  test('a lost subscription (messages may be lost meanwhile) drops every copy; they come back after pings do', async () => {
    await writeEntry(redis.nodeA, makeMeta(KEY), 'hot');
    await hold(redis.nodeB);
    const resync = nextEvent(redis.nodeB, 'all');
    await redis.admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    expect(await resync).toEqual({ kind: 'all', reason: 'resync' });
    expect(redis.nodeB.peekSync(KEY)).toBeUndefined();
    await hold(redis.nodeB);
  });

  test('a change no message announces (a DEL by hand in Redis) is seen within ten trust bounds', async () => {
    await writeEntry(redis.nodeA, makeMeta(KEY), 'hot');
    await hold(redis.nodeB);
    await redis.admin.del(keys.meta(hashKey(KEY)));
    expect(redis.nodeB.peekSync(KEY)).toBeDefined();
    await waitFor(async () => (await redis.nodeB.lookup(KEY)).length === 0, 'the copy to age out', 20 * TRUST_MS);
  });
});

describe('hits are written in batches', () => {
  test('hits cost no Redis call; a flush writes their count and last access, and lookups see them before', async () => {
    const entry = await writeEntry(redis.nodeA, makeMeta(KEY), 'hot');
    const scriptsBefore = (await calls('evalsha')) + (await calls('eval'));
    const before = Date.now();
    for (let i = 0; i < 50; i += 1) redis.nodeA.markUsed(entry);
    expect((await calls('evalsha')) + (await calls('eval'))).toBe(scriptsBefore);
    expect((await redis.nodeA.lookup(KEY))[0]).toMatchObject({ hits: 50 });
    expect(await redis.admin.hget(keys.meta(hashKey(KEY)), 'h:')).toBeNull();

    await redis.nodeA.flushRecency();
    expect(await redis.admin.hget(keys.meta(hashKey(KEY)), 'h:')).toBe('50');
    expect(Number(await redis.admin.hget(keys.meta(hashKey(KEY)), 'a:'))).toBeGreaterThanOrEqual(before);
    expect((await redis.nodeB.lookup(KEY))[0]).toMatchObject({ hits: 50 });
  });
});
