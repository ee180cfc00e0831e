// @system-packages redis-server
import { describe, expect, test } from '@jest/globals';
import type { Invalidation } from '../../src/store/redis/invalidation-bus.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { makeMeta, writeEntry } from '../store/store-helpers.js';
import { useRedis } from './redis-helpers.js';

const KEY = 'http://origin.test/page';

const redis = useRedis({ nodes: 2 });

/** Collects what `store`'s bus delivers; `next()` resolves with the next event. */
function listen(store: RedisStore, includeOwn = false) {
  const events: Invalidation[] = [];
  const waiters: ((event: Invalidation) => void)[] = [];
  store.bus.subscribe(
    (event) => {
      const waiter = waiters.shift();
      if (waiter) waiter(event);
      else events.push(event);
    },
    { includeOwn },
  );
  return {
    next: () =>
      new Promise<Invalidation>((resolve) => {
        const queued = events.shift();
        if (queued) resolve(queued);
        else waiters.push(resolve);
      }),
    pending: () => events,
  };
}

describe('the invalidation bus: every change of a key reaches the other nodes', () => {
  test.each<[string, (store: RedisStore) => Promise<unknown>, Invalidation]>([
    [
      'a commit',
      (store) => writeEntry(store, makeMeta(KEY, { variant: 'v' }), 'body'),
      { kind: 'key', key: KEY, variant: 'v', reason: 'update' },
    ],
    ['delete(key)', (store) => store.delete(KEY), { kind: 'key', key: KEY, reason: 'delete' }],
    [
      'delete(key, variant)',
      (store) => store.delete(KEY, 'gzip'),
      { kind: 'key', key: KEY, variant: 'gzip', reason: 'delete' },
    ],
  ])('%s on node A is announced to node B', async (_label, act, expected) => {
    const onB = listen(redis.nodeB);
    const before = Date.now();
    await act(redis.nodeA);
    const received = await onB.next();
    // A deletion says when it happened (every node's purge record keeps that time).
    const at = expected.kind === 'key' && expected.reason === 'delete' ? { at: expect.any(Number) } : {};
    expect(received).toEqual({ ...expected, bodyIds: [], ...at });
    if ('at' in received) {
      expect(received.at).toBeGreaterThanOrEqual(before);
      expect(received.at).toBeLessThanOrEqual(Date.now());
    }
  });

  test('updateMeta (a 304 freshening) is announced', async () => {
    const onB = listen(redis.nodeB);
    const entry = await writeEntry(redis.nodeA, makeMeta(KEY), 'body');
    expect(await onB.next()).toMatchObject({ reason: 'update' });
    await redis.nodeA.updateMeta({ ...entry, headers: { etag: '"v2"' } });
    expect(await onB.next()).toEqual({ kind: 'key', key: KEY, variant: '', reason: 'update' });
  });

  test('a node hears its own events only when it asks to', async () => {
    const own = listen(redis.nodeA, true);
    const others = listen(redis.nodeA);
    const onB = listen(redis.nodeB);
    await redis.nodeA.delete(KEY);
    expect(await own.next()).toMatchObject({ kind: 'key', key: KEY });
    expect(await onB.next()).toMatchObject({ kind: 'key', key: KEY });
    // B received it, so A's own copy has been delivered too by now: only the opt-in listener got it.
    expect(others.pending()).toEqual([]);
  });

  test.each<[string, Invalidation]>([
    ['a prefix purge', { kind: 'prefix', prefix: 'http://origin.test/assets/' }],
    ['a tag purge', { kind: 'tag', tag: 'product-42' }],
    ['a purge of everything', { kind: 'all', reason: 'purge' }],
  ])('%s published by one node reaches the others', async (_label, event) => {
    const onB = listen(redis.nodeB);
    await redis.nodeA.bus.publish(event);
    expect(await onB.next()).toEqual(event);
  });

  test('an unreadable message on the channel is ignored', async () => {
    const onB = listen(redis.nodeB);
    await redis.admin.publish('sc:v1:invalidate', 'not json');
    await redis.admin.publish('sc:v1:invalidate', JSON.stringify({ nope: true }));
    await redis.nodeA.delete(KEY);
    expect(await onB.next()).toMatchObject({ kind: 'key', key: KEY });
  });

  test('replaced and deleted bodies are announced by id: the other node reports them removed', async () => {
    const removedOnB: string[] = [];
    redis.nodeB.onBodyRemoved((bodyId) => removedOnB.push(bodyId));
    const removedOnA: string[] = [];
    redis.nodeA.onBodyRemoved((bodyId) => removedOnA.push(bodyId));
    const onB = listen(redis.nodeB);
    const first = await writeEntry(redis.nodeA, makeMeta(KEY), 'first');
    await onB.next();
    const second = await writeEntry(redis.nodeA, makeMeta(KEY), 'second');
    expect(await onB.next()).toMatchObject({ reason: 'update', bodyIds: [first.bodyId] });
    await redis.nodeA.delete(KEY);
    expect(await onB.next()).toMatchObject({ reason: 'delete', bodyIds: [second.bodyId] });
    expect(removedOnB).toEqual([first.bodyId, second.bodyId]);
    expect(removedOnA).toEqual([first.bodyId, second.bodyId]);
  });
});
