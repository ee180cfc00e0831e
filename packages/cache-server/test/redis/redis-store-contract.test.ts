// @system-packages redis-server
import { afterAll, beforeAll } from '@jest/globals';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { describeStoreContract } from '../store/store-suite.js';
import { MemoryTier } from '../../src/store/memory-tier.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { makeRedisStoreFactory } from './redis-helpers.js';

let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.cleanup();
});

describeStoreContract(
  'RedisStore',
  makeRedisStoreFactory(() => server),
);

// As the server runs it: the memory tier in front of Redis (src/compose-store.ts).
describeStoreContract('MemoryTier over RedisStore', async (options) => {
  const subject = await makeRedisStoreFactory(() => server)(options);
  const tier = new MemoryTier(subject.store as RedisStore, { maxSize: 8 * 1024 * 1024, maxObjectSize: 1024 * 1024 });
  return { ...subject, store: tier, cleanup: subject.cleanup };
});
