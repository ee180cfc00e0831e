// @system-packages redis-server
import { beforeAll, describe, expect, test } from '@jest/globals';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import { admin } from '../helpers/admin.js';
import type { StartedCache } from '../helpers/cache.js';
import { request, waitFor } from '../helpers/http.js';
import { fixed } from '../helpers/test-origin.js';
import { useRedisNodes } from './redis-helpers.js';

/**
 * Issue 16.7 from the outside: purges by tag and by prefix sent to one node of two sharing a
 * Redis, found through the indexes (not a scan), reach both nodes; one whose index Redis lost
 * still leaves nothing that any node, even one started later, serves.
 */
const keys = createRedisKeys();

/** Every path answers its name and how often it was asked, fresh for 10 min, tagged by its first segment and `all`. */
const asked = new Map<string, number>();
const shared = useRedisNodes({
  '*': (req, res, body) => {
    const path = req.url ?? '/';
    asked.set(path, (asked.get(path) ?? 0) + 1);
    fixed(`${path} #${asked.get(path)}`, {
      'cache-control': 'max-age=600',
      'surrogate-key': `seg-${path.split('/')[1]} all`,
    })(req, res, body);
  },
});
let nodeA: StartedCache;
let nodeB: StartedCache;

beforeAll(async () => {
  [nodeA, nodeB] = await Promise.all([shared.start(), shared.start()]);
});

async function get(node: StartedCache, path: string): Promise<{ xCache: unknown; body: string }> {
  const reply = await request(node.url, path);
  return { xCache: reply.headers['x-cache'], body: reply.body.toString() };
}

/** The first response of `path` (`#1`): a MISS through node A, then a HIT through node B once committed in Redis. */
async function store(path: string): Promise<void> {
  expect(await get(nodeA, path)).toEqual({ xCache: 'MISS', body: `${path} #1` });
  await waitFor(async () => (await get(nodeB, path)).xCache === 'HIT', `${path} to be stored`);
}

/** Until `node` stops serving the first response of `path` (purges reach other nodes over the bus). */
async function dropsFirst(node: StartedCache, path: string): Promise<void> {
  await waitFor(async () => (await get(node, path)).body !== `${path} #1`, `${path} #1 to be gone`);
}

async function hgetallCalls(): Promise<number> {
  const info = await shared.admin.info('commandstats');
  return Number(/cmdstat_hgetall:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

describe('purges by tag and prefix through two nodes', () => {
  test.each([
    ['tag', 'tag=seg-by-tag'],
    ['prefix', 'prefix=/by-prefix/'],
  ])(
    'by %s: neither node serves what it selects any more, both hit the rest; Redis reads only the selected entries',
    async (kind, query) => {
      const selected = ['a', 'b', 'c'].map((name) => `/by-${kind}/${name}`);
      const others = Array.from({ length: 30 }, (_, i) => `/by-${kind}x/${i}`);
      for (const path of [...selected, ...others]) await store(path);
      const reads = await hgetallCalls();
      const purge = await admin(nodeB.url, `/_cache/entries?${query}`, { method: 'DELETE' });
      expect(purge.json).toEqual({ purged: 3, soft: false });
      // A scan would have read all 33 meta hashes (and every other entry in Redis).
      expect((await hgetallCalls()) - reads).toBe(3);
      // The purging node dropped its copies before answering; the other one hears of it.
      expect(await get(nodeB, selected[0]!)).toEqual({ xCache: 'MISS', body: `${selected[0]} #2` });
      for (const path of selected) await dropsFirst(nodeA, path);
      for (const node of [nodeA, nodeB]) {
        expect(await get(node, others[7]!)).toEqual({ xCache: 'HIT', body: `${others[7]} #1` });
      }
    },
  );

  test.each([
    ['tag', () => [keys.tagIndex('seg-lost-tag')], 'tag=seg-lost-tag'],
    [
      'prefix',
      (path: string) => Object.values(keys.prefixShard(hashKey(`${shared.origin.url}${path}`).charAt(0))),
      'prefix=/lost-prefix/',
    ],
  ])(
    'by %s, its index evicted: no node serves the entry after the purge, nor does a node started after it',
    async (kind, indexKeys, query) => {
      const path = `/lost-${kind}/entry`;
      await store(path);
      await shared.admin.del(...indexKeys(path));
      const purge = await admin(nodeB.url, `/_cache/entries?${query}`, { method: 'DELETE' });
      // It could not find the entry, which is still in Redis.
      expect(purge.json).toEqual({ purged: 0, soft: false });
      expect(await shared.admin.exists(keys.meta(hashKey(`${shared.origin.url}${path}`)))).toBe(1);
      // A node that never heard of the purge finds the entry missing from its index: a miss.
      const nodeC = await shared.start();
      expect(await get(nodeC, path)).toEqual({ xCache: 'MISS', body: `${path} #2` });
      for (const node of [nodeA, nodeB]) await dropsFirst(node, path);
    },
  );

  test('a soft purge by tag through node B: node A asks the origin again', async () => {
    await store('/soft/a');
    const purge = await admin(nodeB.url, '/_cache/entries?tag=seg-soft', {
      method: 'DELETE',
      headers: { 'soft-purge': '1' },
    });
    expect(purge.json).toEqual({ purged: 1, soft: true });
    await dropsFirst(nodeA, '/soft/a');
    expect(shared.origin.count('/soft/a')).toBe(2);
  });

  // Last: it purges everything.
  test('a purge of everything through node B (a new generation): no node serves what was stored, nor one started after', async () => {
    const paths = ['/everything/a', '/everything/b', '/everything/c'];
    for (const path of paths) await store(path);
    const purge = await admin(nodeB.url, '/_cache/entries?all=1', { method: 'DELETE' });
    expect(purge.status).toBe(200);
    expect((purge.json as { purged: number }).purged).toBeGreaterThanOrEqual(paths.length);
    const nodeC = await shared.start();
    expect(await get(nodeC, paths[0]!)).toEqual({ xCache: 'MISS', body: `${paths[0]} #2` });
    expect(await get(nodeB, paths[1]!)).toEqual({ xCache: 'MISS', body: `${paths[1]} #2` });
    for (const path of paths) await dropsFirst(nodeA, path);
  });
});
