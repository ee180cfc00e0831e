// @system-packages redis-server
import { afterAll, beforeAll } from '@jest/globals';
import { describeFuzz } from './helpers/fuzz-runner.js';
import { startRedisServer, type RedisServer } from './helpers/redis-server.js';

/**
 * The HTTP fuzzer of fuzz-http.test.ts, with the cache storing in Redis (`--store redis://…`):
 * the same scenarios and invariants through the other store's code paths (chunked bodies in
 * Redis, its metadata, its invalidation events), fewer of them in `pnpm test`.
 */
let redis: RedisServer | undefined;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.cleanup();
});

describeFuzz('HTTP fuzzing, Redis store', {
  runs: 30,
  seconds: 10,
  cacheArgs: () => ['--store', redis?.url ?? 'redis://127.0.0.1:1'],
});
