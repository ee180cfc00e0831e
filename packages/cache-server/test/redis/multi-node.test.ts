// @system-packages redis-server
import { beforeAll, describe, expect, test } from '@jest/globals';
import type { EntryMeta } from '@simple-cache/common';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import { admin } from '../helpers/admin.js';
import { startCache, tempDir, type StartedCache } from '../helpers/cache.js';
import { request, waitFor } from '../helpers/http.js';
import { fixed, type Route } from '../helpers/test-origin.js';
import { useRedisNodes } from './redis-helpers.js';
import { hasHotReads, healthOf } from '../../src/store/store.js';

/**
 * Two cache nodes sharing one Redis, as behind a load balancer: what one stores the other
 * serves, a purge on either reaches both memory tiers, simultaneous misses make one origin
 * fetch, and both keep serving while Redis is away. (A writer killed mid-write leaving nothing
 * visible is redis-store-chunks.test.ts: the same store code, without the HTTP around it.)
 */
const FRESH = { 'cache-control': 'max-age=600' };
const keys = createRedisKeys();

const lab = useRedisNodes({ '*': (req, res, body) => page(req.url ?? '/')(req, res, body) });
let nodeA: StartedCache;
let nodeB: StartedCache;

beforeAll(async () => {
  ({ nodeA, nodeB } = await lab.twoNodes());
});

/** Every path answers its own name, fresh for 10 min, tagged by its first segment. */
function page(path: string): Route {
  return fixed(`body of ${path}`, { ...FRESH, 'surrogate-key': `tag-${path.split('/')[1]}` });
}

const keyOf = (path: string) => `${lab.origin.url}${path}`;

async function storedEntry(node: StartedCache, path: string): Promise<EntryMeta | undefined> {
  const [entry] = await node.store.lookup(keyOf(path));
  return entry;
}

/**
 * A MISS through `node`, waited for until its entry is committed in Redis and its body held in
 * the node's memory tier (which keeps it once the commit has returned, just after Redis has it).
 */
async function missAndStore(node: StartedCache, path: string): Promise<EntryMeta> {
  const reply = await request(node.url, path);
  expect([reply.headers['x-cache'], reply.body.toString()]).toEqual(['MISS', `body of ${path}`]);
  let entry: EntryMeta | undefined;
  await waitFor(async () => {
    entry = await storedEntry(node, path);
    return entry !== undefined && holds(node, entry);
  }, `${path} to be committed and held`);
  return entry!;
}

/** True while `node`'s memory tier holds the body of `entry`. */
function holds(node: StartedCache, entry: EntryMeta): boolean {
  return (hasHotReads(node.store) ? node.store.getBody(entry) : undefined) !== undefined;
}

/** Calls of a Redis command so far, from INFO commandstats. */
async function commandCalls(command: string): Promise<number> {
  const info = await lab.admin.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

describe('two cache nodes on one Redis', () => {
  test('a miss through node A is a hit through node B; the origin is asked once', async () => {
    await missAndStore(nodeA, '/shared');
    const hit = await request(nodeB.url, '/shared');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.toString()).toBe('body of /shared');
    expect(lab.origin.count('/shared')).toBe(1);
  });

  test('a purge on node B removes the entry from node A’s memory tier; A’s next request is a miss', async () => {
    const entry = await missAndStore(nodeA, '/purged');
    const purge = await admin(nodeB.url, '/_cache/entries?url=/purged', { method: 'DELETE' });
    expect(purge.json).toEqual({ purged: 1, soft: false });
    await waitFor(() => !holds(nodeA, entry), 'node A to drop its copy');
    expect((await request(nodeA.url, '/purged')).headers['x-cache']).toBe('MISS');
    expect(lab.origin.count('/purged')).toBe(2);
  });

  // Redis may have expired or evicted an entry a node still holds in memory (and would serve
  // while Redis is away): a purge must reach that copy too, though Redis finds nothing to delete.
  test.each([
    ['url', '/gone/url', 'url=/gone/url'],
    ['prefix', '/gone-prefix/a', 'prefix=/gone-prefix/'],
    ['tag', '/gone-tag/a', 'tag=tag-gone-tag'],
    ['all', '/gone-all/a', 'all=1'],
  ])('a purge by %s reaches node A’s copy of an entry Redis no longer has', async (_kind, path, query) => {
    const entry = await missAndStore(nodeA, path);
    await lab.admin.del(keys.meta(hashKey(keyOf(path))));
    const purge = await admin(nodeB.url, `/_cache/entries?${query}`, { method: 'DELETE' });
    expect(purge.status).toBe(200);
    await waitFor(() => !holds(nodeA, entry), `node A to drop its copy of ${path}`);
  });

  test('simultaneous misses on A and B make exactly one origin fetch; the other node streams the holder’s write', async () => {
    let answer!: () => void;
    const originAnswers = new Promise<void>((resolve) => (answer = resolve));
    lab.origin.route('/together', (req, res, body) => void originAnswers.then(() => page('/together')(req, res, body)));
    const waitsBefore = await commandCalls('pttl');

    const replies = Promise.all([request(nodeA.url, '/together'), request(nodeB.url, '/together')]);
    // One node holds the lock and has asked the origin; the other is waiting for its entry (it
    // polls the lock). Without cross-node collapsing the origin would see the second request now.
    await waitFor(() => lab.origin.count('/together') === 1, 'the lock holder to ask the origin');
    await waitFor(async () => (await commandCalls('pttl')) > waitsBefore, 'the other node to wait');
    answer();

    const [fromA, fromB] = await replies;
    expect([fromA.status, fromB.status]).toEqual([200, 200]);
    expect([fromA.body.toString(), fromB.body.toString()]).toEqual(['body of /together', 'body of /together']);
    // Both are the one fetch's response: the follower's says it was collapsed onto it (issue 16.8).
    expect([fromA.headers['x-cache'], fromB.headers['x-cache']]).toEqual(['MISS', 'MISS']);
    expect(
      [fromA.headers['cache-status'], fromB.headers['cache-status']].filter((s) => /collapsed/.test(String(s))),
    ).toHaveLength(1);
    expect(lab.origin.count('/together')).toBe(1);
  });

  // Issue 16.8: a 6 s origin with the 5 s --collapse-wait made three origin requests (the waiter
  // gave up, the lock expired and a third node took it). The holder now renews its lock while its
  // fetch runs, and the waiters wait for it as long as it does.
  test('an origin slower than --collapse-wait is still asked once: the lock is renewed while the fetch runs', async () => {
    const WAIT = 300;
    const slowDirs = await Promise.all([tempDir(), tempDir()]);
    const slowNodes = await Promise.all(
      slowDirs.map((dir) => startCache(lab.origin.url, dir.dir, { store: `${lab.redis.url}/0`, collapseWait: WAIT })),
    );
    try {
      let answer!: () => void;
      const originAnswers = new Promise<void>((resolve) => (answer = resolve));
      lab.origin.route(
        '/slow-origin',
        (req, res, body) => void originAnswers.then(() => page('/slow-origin')(req, res, body)),
      );
      const replies = Promise.all(slowNodes.map((node) => request(node.url, '/slow-origin')));
      await waitFor(() => lab.origin.count('/slow-origin') === 1, 'the lock holder to ask the origin');
      // The origin takes four times --collapse-wait (and the lock's TTL) to answer.
      const asked = Date.now();
      await waitFor(() => Date.now() - asked > 4 * WAIT, 'the origin to be slow', 10_000);
      answer();
      const answered = await replies;
      expect(answered.map((reply) => reply.status)).toEqual([200, 200]);
      expect(answered.map((reply) => reply.headers['x-cache'])).toEqual(['MISS', 'MISS']);
      expect(answered.map((reply) => reply.body.toString())).toEqual(['body of /slow-origin', 'body of /slow-origin']);
      expect(lab.origin.count('/slow-origin')).toBe(1);
    } finally {
      await Promise.all(slowNodes.map((node) => node.close()));
      await Promise.all(slowDirs.map((dir) => dir.cleanup()));
    }
  });

  test('with Redis stopped both nodes keep serving (memory tier, else the origin); restarted, they use it again', async () => {
    await missAndStore(nodeA, '/hot');
    expect((await request(nodeB.url, '/hot')).headers['x-cache']).toBe('HIT');
    const hotFetches = lab.origin.count('/hot');

    await lab.redis.stop();
    for (const node of [nodeA, nodeB]) {
      const hot = await request(node.url, '/hot');
      expect([hot.status, hot.headers['x-cache'], hot.body.toString()]).toEqual([200, 'HIT', 'body of /hot']);
      const cold = await request(node.url, '/cold');
      expect([cold.status, cold.headers['x-cache'], cold.body.toString()]).toEqual([200, 'MISS', 'body of /cold']);
    }
    expect(lab.origin.count('/hot')).toBe(hotFetches);
    expect(lab.origin.count('/cold')).toBe(2);
    await waitFor(
      () => [nodeA, nodeB].every((node) => healthOf(node.store).state === 'degraded'),
      'both nodes to notice',
    );

    await lab.redis.restart();
    await waitFor(
      () => [nodeA, nodeB].every((node) => healthOf(node.store).state === 'ok'),
      'both nodes to reconnect',
      20_000,
    );
    // (Not missAndStore: a node's resync after the outage may empty its memory tier at any time.)
    expect((await request(nodeB.url, '/after')).headers['x-cache']).toBe('MISS');
    await waitFor(async () => (await storedEntry(nodeB, '/after')) !== undefined, 'the commit into Redis');
    expect((await request(nodeA.url, '/after')).headers['x-cache']).toBe('HIT');
    expect(lab.origin.count('/after')).toBe(1);
  });
});
