// @system-packages redis-server
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { waitFor } from '../helpers/http.js';
import { startRedisSentinel, type RedisSentinelSetup } from '../helpers/redis-cluster.js';
import { makeMeta, readBody, writeEntry } from '../store/store-helpers.js';
import { openRedisStore } from './redis-helpers.js';

/**
 * redis-sentinel://…/<name>: the store finds the master through Sentinel and follows a failover
 * to the promoted replica (ioredis's Sentinel support), the set-up most teams run.
 */
const keys = createRedisKeys();
let setup: RedisSentinelSetup;
let store: RedisStore;

beforeAll(async () => {
  setup = await startRedisSentinel();
  store = await openRedisStore(setup, { gate: { timeoutMs: 500, probeMs: 50 } });
}, 60_000);
afterAll(async () => {
  await store?.close();
  await setup?.cleanup();
});

async function holds(port: number, key: string): Promise<boolean> {
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  try {
    return (await client.exists(keys.meta(hashKey(key)))) === 1;
  } finally {
    client.disconnect();
  }
}

describe('Redis Sentinel', () => {
  test('the store writes to the master the sentinel names, and follows a failover to the replica', async () => {
    const before = await writeEntry(store, makeMeta('http://origin.test/before'), 'written to the first master');
    expect(await holds(setup.master.port, before.key)).toBe(true);
    // Replication is asynchronous: the failover must not outrun it (WAIT for the replica's ack).
    const master = new Redis(setup.master.port, '127.0.0.1');
    try {
      expect(await master.wait(1, 5_000)).toBe(1);
    } finally {
      master.disconnect();
    }

    const ask = new Redis(setup.sentinelPort, '127.0.0.1');
    try {
      await ask.call('SENTINEL', 'FAILOVER', 'cache');
    } finally {
      ask.disconnect();
    }
    await waitFor(async () => (await setup.masterPort()) === setup.replica.port, 'the replica to be promoted', 20_000);

    // Writes land on the new master once ioredis has followed the switch (a READONLY reply from
    // the demoted one, or the sentinel's +switch-master, makes it ask again).
    let after: Awaited<ReturnType<typeof writeEntry>> | undefined;
    await waitFor(
      async () => {
        after = await writeEntry(store, makeMeta('http://origin.test/after'), 'written to the promoted one').catch(
          () => undefined,
        );
        return after !== undefined && (await holds(setup.replica.port, after.key));
      },
      'a write on the promoted master',
      20_000,
    );
    expect((await readBody(store, after!)).toString()).toBe('written to the promoted one');
    const [replicated] = await store.lookup(before.key);
    expect((await readBody(store, replicated!)).toString()).toBe('written to the first master');
  });
});
