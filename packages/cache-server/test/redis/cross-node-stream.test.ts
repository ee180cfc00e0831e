// @system-packages redis-server
import { beforeAll, describe, expect, test } from '@jest/globals';
import type { StartedCache } from '../helpers/cache.js';
import { gatedOrigin } from '../helpers/gated-origin.js';
import { request, streamGet, waitFor, type Streaming } from '../helpers/http.js';
import { spawnCli } from '../helpers/spawn.js';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import { useRedisNodes } from './redis-helpers.js';

/**
 * Issue 16.8: a node that misses a key another node is fetching streams that node's write as
 * its chunks land in Redis, instead of waiting for the commit (528 ms for 50 MiB). Two real cache
 * nodes on one real redis-server; the origin holds each body mid-way until the test opens it, so
 * the follower is seen sending bytes the origin has not finished sending. Every fault must end
 * the follower's response loudly (a reset, an incomplete chunked body), never short and
 * framed complete.
 */
const CHUNK = 256 * 1024;
/** Sent at once: two whole chunks, so the holder has written some before the gate opens. */
const FIRST = 2 * CHUNK;

function stream(base: string, path: string): Promise<Streaming> {
  const url = new URL(base);
  return streamGet({ host: url.hostname, port: url.port, path, agent: false });
}

const gated = gatedOrigin({
  first: FIRST,
  sizeOf: (path) => (path.includes('big') ? 6 * 1024 * 1024 : FIRST + 2 * CHUNK + 1000),
});
const keys = createRedisKeys();
const lab = useRedisNodes({ '*': gated.route });
let nodeA: StartedCache;
let nodeB: StartedCache;

beforeAll(async () => {
  ({ nodeA, nodeB } = await lab.twoNodes());
});

/** Node A takes the key and streams; node B asks meanwhile and has bytes before the origin has sent them all. */
async function holdAndFollow(path: string, holder = nodeA.url): Promise<{ first: Streaming; second: Streaming }> {
  const first = await stream(holder, path);
  await waitFor(() => first.bytes().length > 0, 'the holder to stream');
  const second = await stream(nodeB.url, path);
  return { first, second };
}

describe('a node streams the body another node is fetching, as its chunks land in Redis', () => {
  test.each([
    ['with Content-Length', '/cl'],
    ['chunked (no Content-Length)', '/chunked'],
  ])(
    '%s: the follower sends bytes before the origin has finished; both bodies whole; one origin request',
    async (_, path) => {
      const { first, second } = await holdAndFollow(path);
      // A node that waited for the commit would send nothing before the gate opens.
      await waitFor(() => second.bytes().length >= CHUNK, 'the follower to stream before the origin finished');
      expect(lab.origin.count(path)).toBe(1);
      gated.open(path);
      expect([await first.done, await second.done]).toEqual(['complete', 'complete']);
      expect(first.bytes().equals(gated.bodyOf(path))).toBe(true);
      expect(second.bytes().equals(gated.bodyOf(path))).toBe(true);
      // The holder's head, as the holder will store it: framed as the origin framed it.
      expect(second.status).toBe(200);
      expect(second.headers['content-length']).toBe(first.headers['content-length']);
      expect(second.headers['transfer-encoding']).toBe(first.headers['transfer-encoding']);
      expect(second.headers['x-cache']).toBe('MISS');
      expect(second.headers['cache-status']).toMatch(/collapsed/);
      expect(lab.origin.count(path)).toBe(1);
      await waitFor(
        async () => (await request(nodeB.url, path)).headers['x-cache'] === 'HIT',
        'the entry to be stored',
      );
      expect(lab.origin.count(path)).toBe(1);
      // The write's record went with the lock.
      await waitFor(async () => (await lab.admin.keys('*lock:*')).length === 0, 'the lock and its record to go');
    },
  );

  test.each([
    ['with Content-Length', '/cut-cl'],
    ['chunked', '/cut-chunked'],
  ])(
    '%s: the holder’s origin cuts the body: the follower’s response breaks too, nothing is stored',
    async (_, path) => {
      const { first, second } = await holdAndFollow(path);
      await waitFor(() => second.bytes().length >= CHUNK, 'the follower to stream');
      gated.open(path);
      expect([await first.done, await second.done]).toEqual(['broken', 'broken']);
      expect(second.bytes().length).toBeLessThan(gated.bodyOf(path).length);
      expect(lab.origin.count(path)).toBe(1);
      expect(await nodeB.store.lookup(`${lab.origin.url}${path}`)).toEqual([]);
    },
  );

  test('the holder’s write ends before its first byte: the follower, having sent nothing, asks the origin itself', async () => {
    const path = '/headfirst-cut-once';
    const first = await stream(nodeA.url, path);
    // Node B follows the write (it stands in for its own fetch), and has sent its client nothing.
    const following = stream(nodeB.url, path);
    await waitFor(() => nodeB.proxy.inFlight.has(`${lab.origin.url}${path}`), 'node B to follow the write');
    gated.open(path);
    expect(await first.done).toBe('broken');
    await waitFor(() => lab.origin.count(path) === 2, 'node B to ask the origin itself');
    gated.open(path);
    const second = await following;
    expect(await second.done).toBe('complete');
    expect(second.status).toBe(200);
    expect(second.bytes().equals(gated.bodyOf(path))).toBe(true);
    expect(second.headers['cache-status']).not.toMatch(/collapsed/);
  });

  test('the holder’s response is not storable: the other node fetches it itself', async () => {
    const path = '/nostore';
    const { first, second } = await holdAndFollow(path);
    await waitFor(() => lab.origin.count(path) === 2, 'the other node to fetch for itself');
    gated.open(path);
    expect([await first.done, await second.done]).toEqual(['complete', 'complete']);
    expect(second.bytes().equals(gated.bodyOf(path))).toBe(true);
    expect(second.headers['cache-status']).not.toMatch(/collapsed/);
  });

  test('the staged chunks vanish (evicted) while followed: the follower fails loudly, the holder’s client is whole', async () => {
    const path = '/vanish';
    const { first, second } = await holdAndFollow(path);
    // The follower has both chunks written so far and waits for the third.
    await waitFor(() => second.bytes().length === FIRST, 'the follower to catch up');
    // The body the holder's write record names (what a follower reads), as maxmemory would evict it.
    const [record] = await lab.admin.keys('*lock:*:write');
    const { entry } = JSON.parse((await lab.admin.get(record!))!) as { entry: { key: string; bodyId: string } };
    expect(await lab.admin.del(keys.body(hashKey(entry.key), entry.bodyId))).toBe(1);
    // Seen from the chunk count, before the holder writes another chunk or tries to commit.
    expect(await second.done).toBe('broken');
    gated.open(path);
    expect(await first.done).toBe('complete');
    expect(first.bytes().equals(gated.bodyOf(path))).toBe(true);
    expect(await nodeB.store.lookup(`${lab.origin.url}${path}`)).toEqual([]);
  });

  test('a slow follower client holds nobody up and still gets the whole body (it continues from the store)', async () => {
    const path = '/big-slow';
    const { first, second } = await holdAndFollow(path);
    second.response.pause();
    gated.open(path);
    // The holder's client and its commit do not wait for the paused one.
    expect(await first.done).toBe('complete');
    await waitFor(async () => (await nodeA.store.lookup(`${lab.origin.url}${path}`)).length === 1, 'the commit');
    second.response.resume();
    expect(await second.done).toBe('complete');
    expect(second.bytes().equals(gated.bodyOf(path))).toBe(true);
    expect(lab.origin.count(path)).toBe(1);
  });

  test('the holder dies mid-body (SIGKILL): the follower’s response breaks once its lock expires', async () => {
    const path = '/holder-dies';
    const holder = spawnCli(
      [
        '0',
        '--host',
        '127.0.0.1',
        '--origin',
        lab.origin.url,
        '--cache-dir',
        lab.tempDir(),
        '--store',
        `${lab.redis.url}/0`,
      ],
      { CACHE_COLLAPSE_WAIT: '500ms' },
    );
    try {
      const { second } = await holdAndFollow(path, await holder.listening());
      await waitFor(() => second.bytes().length >= CHUNK, 'the follower to stream');
      holder.child.kill('SIGKILL');
      await holder.exited;
      expect(await second.done).toBe('broken');
      expect(second.bytes().length).toBeLessThan(gated.bodyOf(path).length);
    } finally {
      holder.child.kill('SIGKILL');
      gated.open(path);
    }
    // A CLI process starts slowly on a loaded machine.
  }, 60_000);

  // Last: it stops the server.
  test('Redis goes away mid-stream: the follower’s response breaks, the holder’s client is whole', async () => {
    const path = '/redis-down';
    const { first, second } = await holdAndFollow(path);
    await waitFor(() => second.bytes().length === FIRST, 'the follower to catch up');
    await lab.redis.stop();
    expect(await second.done).toBe('broken');
    gated.open(path);
    expect(await first.done).toBe('complete');
    expect(first.bytes().equals(gated.bodyOf(path))).toBe(true);
  });
});
