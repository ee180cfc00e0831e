import { Redis } from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis/redis-store.js';
import type { StoreUnderTest } from '../store/store-suite.js';
import type { RedisServer } from '../helpers/redis-server.js';

export const MAX_SIZE = 64 * 1024 * 1024;

/** A plain client to look at (and tamper with) what the store keeps. */
export function inspect(server: RedisServer): Redis {
  return new Redis(server.port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 });
}

export async function openRedisStore(
  server: RedisServer,
  options: Partial<RedisStoreOptions> = {},
): Promise<RedisStore> {
  return RedisStore.open({ url: server.url, maxSize: MAX_SIZE, ...options });
}

/** Body keys that no variant points at: what a failed or aborted write must not leave. */
export async function unreferencedBodies(redis: Redis): Promise<string[]> {
  const bodies = await redis.keys('*:body:*');
  const referenced = new Set<string>();
  for (const metaKey of await redis.keys('*:meta')) {
    const hash = await redis.hgetall(metaKey);
    const prefix = metaKey.replace(/meta$/, 'body:');
    for (const [field, value] of Object.entries(hash)) if (field.startsWith('b:')) referenced.add(prefix + value);
  }
  return bodies.filter((key) => !referenced.has(key)).sort();
}

/** The contract suite's factory: a fresh store on an emptied server. */
export function makeRedisStoreFactory(server: () => RedisServer) {
  return async (options: { maxSize?: number } = {}): Promise<StoreUnderTest> => {
    const admin = inspect(server());
    await admin.flushall();
    const store = await openRedisStore(server(), { maxSize: options.maxSize ?? MAX_SIZE });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await admin.quit();
      },
      leftovers: () => unreferencedBodies(admin),
    };
  };
}
