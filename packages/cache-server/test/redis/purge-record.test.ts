// @system-packages redis-server
import { describe, expect, test } from '@jest/globals';
import type { EntryMeta } from '@simple-cache/common';
import { PurgeRecord } from '../../src/store/redis/purge-record.js';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import type { Invalidation } from '../../src/store/redis/invalidation-bus.js';
import { waitFor } from '../helpers/http.js';
import { makeMeta, writeEntry } from '../store/store-helpers.js';
import { useRedis } from './redis-helpers.js';

/**
 * Issue 16.6: a Redis restarted from a snapshot taken before a purge brings the purged entries
 * back. Every node remembers the purges it heard of, and an entry stored before a purge that
 * selects it is neither served nor kept.
 */
const T = Date.UTC(2026, 0, 1);
const KEY = 'http://origin.test/page';

function entry(key: string, responseTime: number, extra: Partial<EntryMeta> = {}) {
  return { key, variant: '', headers: { 'surrogate-key': 'news sport' }, responseTime, ...extra };
}

describe('PurgeRecord: which entries a purge heard at T selects', () => {
  const tagsOf = (e: Pick<EntryMeta, 'headers'>) => String(e.headers['surrogate-key'] ?? '').split(' ');
  test.each<[string, Invalidation, ReturnType<typeof entry>, boolean]>([
    ['a deleted key: an entry of before', { kind: 'key', key: KEY, reason: 'delete' }, entry(KEY, T - 1), true],
    [
      'a deleted key: an entry of after (stored again)',
      { kind: 'key', key: KEY, reason: 'delete' },
      entry(KEY, T + 1),
      false,
    ],
    ['a deleted key: another key', { kind: 'key', key: KEY, reason: 'delete' }, entry(`${KEY}2`, T - 1), false],
    [
      'a deletion that says when it happened: that time counts',
      { kind: 'key', key: KEY, reason: 'delete', at: T - 10 },
      entry(KEY, T - 5),
      false,
    ],
    ['an update is no purge', { kind: 'key', key: KEY, reason: 'update' }, entry(KEY, T - 1), false],
    [
      'one deleted variant: that variant',
      { kind: 'key', key: KEY, variant: 'br', reason: 'delete' },
      entry(KEY, T - 1, { variant: 'br' }),
      true,
    ],
    [
      'one deleted variant: another variant',
      { kind: 'key', key: KEY, variant: 'br', reason: 'delete' },
      entry(KEY, T - 1, { variant: 'gz' }),
      false,
    ],
    ['a prefix: a key under it', { kind: 'prefix', prefix: 'http://origin.test/pa' }, entry(KEY, T - 1), true],
    ['a prefix: a key outside it', { kind: 'prefix', prefix: 'http://origin.test/x' }, entry(KEY, T - 1), false],
    ['a tag: an entry carrying it', { kind: 'tag', tag: 'sport' }, entry(KEY, T - 1), true],
    ['a tag: an entry without it', { kind: 'tag', tag: 'weather' }, entry(KEY, T - 1), false],
    ['all: any entry of before', { kind: 'all', reason: 'purge' }, entry(KEY, T - 1), true],
    ['all: an entry of after', { kind: 'all', reason: 'purge' }, entry(KEY, T + 1), false],
    ['a resync is no purge', { kind: 'all', reason: 'resync' }, entry(KEY, T - 1), false],
  ])('%s', (_label, event, candidate, purged) => {
    const record = new PurgeRecord(tagsOf);
    record.record(event, T);
    expect(record.purged(candidate)).toBe(purged);
  });
});

describe('a Redis restarted from a snapshot older than a purge', () => {
  const redis = useRedis();
  const keys = createRedisKeys();

  test('does not bring the purged entry back: it is not served, and deleted again', async () => {
    const metaKey = keys.meta(hashKey(KEY));
    await writeEntry(redis.store, makeMeta(KEY, { responseTime: Date.now() - 10 }), 'before the purge');
    await writeEntry(redis.store, makeMeta(`${KEY}/kept`), 'never purged');
    await redis.admin.save(); // the snapshot (RDB), taken before the purge
    await redis.store.delete(KEY);
    expect(await redis.admin.exists(metaKey)).toBe(0);

    // Restarted from the snapshot (redis-server loads dump.rdb from its directory); the clients reconnect.
    await redis.server.restart();
    const { admin } = redis;
    await waitFor(
      async () => (await admin.exists(metaKey).catch(() => 0)) === 1,
      'the purged entry to be back in Redis',
    );
    await waitFor(
      async () => (await redis.store.lookup(`${KEY}/kept`).catch(() => [])).length === 1,
      'the store to use Redis again',
    );
    expect(await redis.store.lookup(KEY)).toEqual([]);
    await waitFor(async () => (await admin.exists(metaKey)) === 0, 'the purged entry to be deleted again');

    // Stored again after the purge: an ordinary entry.
    await writeEntry(redis.store, makeMeta(KEY), 'after the purge');
    expect(await redis.store.lookup(KEY)).toHaveLength(1);
  });
});
