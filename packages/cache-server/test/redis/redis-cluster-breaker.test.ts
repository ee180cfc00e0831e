// @system-packages redis-server redis-tools
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { waitFor } from '../helpers/http.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { makeMeta, readBody, writeEntry } from '../store/store-helpers.js';
import { openRedisStore } from './redis-helpers.js';

/**
 * A 3-master Redis Cluster (no replicas) where one master hangs, then dies: only the keys in
 * its slots are affected. Their calls fail at once once that master's breaker is open; every
 * other key keeps being read and written as before.
 */
const TIMEOUT_MS = 300;
const keys = createRedisKeys();
const KEYS = Array.from({ length: 30 }, (_, i) => `http://origin.test/k${i}`);

let cluster: RedisCluster;
let store: RedisStore;
/** The port of the master owning each key's slot. */
const ownerOf = new Map<string, number>();
let slotTable: [number, number, [string, number]][] = [];

/** The port of the master owning a Redis key's slot. */
function masterOf(redisKey: string): number {
  const slot = calculateSlot(redisKey);
  return slotTable.find(([from, to]) => slot >= from && slot <= to)![2][1];
}

/** The master holding the key's prefix-index shard (entry-index.ts), which its writes need too. */
function shardMasterOf(key: string): number {
  return masterOf(keys.prefixShard(hashKey(key).charAt(0)).lex);
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  const admin = new Redis(cluster.masters[0]!.port, '127.0.0.1');
  slotTable = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
  admin.disconnect();
  for (const key of KEYS) ownerOf.set(key, masterOf(keys.meta(hashKey(key))));
  store = await openRedisStore(cluster, { gate: { timeoutMs: TIMEOUT_MS, probeMs: 50 } });
  for (const key of KEYS) await writeEntry(store, makeMeta(key), `body of ${key}`);
}, 60_000);
afterAll(async () => {
  await store?.close();
  await cluster?.cleanup();
});

function split(port: number): { on: string[]; off: string[] } {
  return { on: KEYS.filter((key) => ownerOf.get(key) === port), off: KEYS.filter((key) => ownerOf.get(key) !== port) };
}

async function expectServed(key: string): Promise<void> {
  const [entry] = await store.lookup(key);
  expect((await readBody(store, entry!)).toString()).toBe(`body of ${key}`);
}

describe('a cluster with one master down', () => {
  test('a hung master (SIGSTOP): its keys fail fast once its breaker opens, the rest work; SIGCONT heals', async () => {
    const hung = cluster.masters[1]!;
    const { on, off } = split(hung.port);
    expect(on.length).toBeGreaterThan(0);
    expect(off.length).toBeGreaterThan(0);
    hung.pause();
    try {
      const results = await Promise.allSettled(on.map((key) => store.lookup(key)));
      expect(results.every((result) => result.status === 'rejected')).toBe(true);
      expect(store.health()).toMatchObject({
        state: 'degraded',
        partial: true,
        code: 'REDIS_TIMEOUT',
        parts: [{ name: `127.0.0.1:${hung.port}`, code: 'REDIS_TIMEOUT' }],
      });
      const timeouts = store.errorCounts().timeout;
      // Open for that master only: its keys are refused at once, no new timeout.
      await expect(store.lookup(on[0]!)).rejects.toMatchObject({ code: 'CACHE_ERR_STORE_UNAVAILABLE' });
      expect(store.beginWrite(makeMeta(on[0]!)).refused).toBe('CACHE_ERR_STORE_DEGRADED');
      expect(store.errorCounts().timeout).toBe(timeouts);
      // Every other key is read as before, and written when its purge index is elsewhere too.
      for (const key of off) await expectServed(key);
      const writable = off.find((key) => shardMasterOf(key) !== hung.port)!;
      const rewritten = await writeEntry(store, makeMeta(writable), 'rewritten');
      expect((await readBody(store, rewritten)).toString()).toBe('rewritten');
      await writeEntry(store, makeMeta(writable), `body of ${writable}`);
      // A key stored elsewhere whose prefix shard is on the hung master cannot be indexed: refused up front.
      const unindexable = Array.from({ length: 200 }, (_, i) => `http://origin.test/elsewhere${i}`).find(
        (key) => masterOf(keys.meta(hashKey(key))) !== hung.port && shardMasterOf(key) === hung.port,
      )!;
      expect(store.beginWrite(makeMeta(unindexable)).refused).toBe('CACHE_ERR_STORE_DEGRADED');
    } finally {
      hung.resume();
    }
    await waitFor(() => store.health().state === 'ok', 'the hung master’s breaker to close');
    for (const key of on) await expectServed(key);
  });

  test('a dead master (SIGKILL, no replica): its keys fail fast, the rest work', async () => {
    const dead = cluster.masters[2]!;
    const { on, off } = split(dead.port);
    await dead.stop('SIGKILL');
    await waitFor(async () => {
      await Promise.allSettled(on.map((key) => store.lookup(key)));
      return store.health().state === 'degraded';
    }, 'the dead master’s breaker to open');
    expect(store.health()).toMatchObject({ partial: true, parts: [{ name: `127.0.0.1:${dead.port}` }] });
    await expect(store.lookup(on[0]!)).rejects.toMatchObject({ code: 'CACHE_ERR_STORE_UNAVAILABLE' });
    for (const key of off) await expectServed(key);
  });
});
