// @system-packages redis-server redis-tools
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import calculateSlot from 'cluster-key-slot';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import { startCache, tempDir, type StartedCache } from '../helpers/cache.js';
import { gatedOrigin } from '../helpers/gated-origin.js';
import { request, streamGet, waitFor, type Streaming } from '../helpers/http.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';

/**
 * Issue 16.8 on a 3-master Redis Cluster: the lock, the holder's write record, the staged body
 * and the variant's metadata share their key's slot (the `{hash}` tag), so the follower's
 * scripts run there as on a single server. Two keys on each master.
 */
const CHUNK = 256 * 1024;
const FIRST = 2 * CHUNK;
const keys = createRedisKeys();
/** The masters' slot ranges, in the order startRedisCluster assigns them. */
const RANGES = [
  [0, 5460],
  [5461, 10922],
  [10923, 16383],
] as const;

/** Two paths whose keys each master owns. */
function pathsOnEveryMaster(): string[] {
  const paths: string[] = [];
  for (const [from, to] of RANGES) {
    let found = 0;
    for (let i = 0; found < 2; i += 1) {
      const path = `/c${from}-${i}`;
      const slot = calculateSlot(keys.lock(hashKey(`${origin.url}${path}`)));
      if (slot >= from && slot <= to) {
        paths.push(path);
        found += 1;
      }
    }
  }
  return paths;
}

const gated = gatedOrigin({ first: FIRST, sizeOf: () => FIRST + 2 * CHUNK + 1000 });
let cluster: RedisCluster;
let origin: TestOrigin;
let dirs: Awaited<ReturnType<typeof tempDir>>[] = [];
let nodeA: StartedCache;
let nodeB: StartedCache;

beforeAll(async () => {
  cluster = await startRedisCluster();
  origin = await startTestOrigin({ '*': gated.route });
  dirs = await Promise.all([tempDir(), tempDir()]);
  const start = (dir: { dir: string }) => startCache(origin.url, dir.dir, { store: cluster.url });
  [nodeA, nodeB] = await Promise.all([start(dirs[0]!), start(dirs[1]!)]);
}, 60_000);
afterAll(async () => {
  await Promise.all([nodeA?.close(), nodeB?.close()]);
  await origin?.close();
  await cluster?.cleanup();
  await Promise.all(dirs.map((dir) => dir.cleanup()));
});

function stream(base: string, path: string): Promise<Streaming> {
  const url = new URL(base);
  return streamGet({ host: url.hostname, port: url.port, path, agent: false });
}

describe('on a Redis Cluster, a node streams the body another node is fetching', () => {
  test('every key, whichever master owns it: bytes before the origin finished, both bodies whole, one origin request', async () => {
    const pairs = await Promise.all(
      pathsOnEveryMaster().map(async (path) => {
        const first = await stream(nodeA.url, path);
        await waitFor(() => first.bytes().length > 0, 'the holder to stream');
        const second = await stream(nodeB.url, path);
        await waitFor(() => second.bytes().length >= CHUNK, `the follower of ${path} to stream`);
        return { path, first, second };
      }),
    );
    for (const { path, first, second } of pairs) {
      gated.open(path);
      expect([await first.done, await second.done]).toEqual(['complete', 'complete']);
      expect(second.bytes().equals(gated.bodyOf(path))).toBe(true);
      expect(second.headers['cache-status']).toMatch(/collapsed/);
      expect(origin.count(path)).toBe(1);
      await waitFor(
        async () => (await request(nodeB.url, path)).headers['x-cache'] === 'HIT',
        'the entry to be stored',
      );
    }
  });
});
