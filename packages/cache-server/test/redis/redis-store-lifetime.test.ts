// @system-packages redis-server
import { describe, expect, test } from '@jest/globals';
import type { HeaderMap } from '@simple-cache/common';
import { DEFAULT_POLICY_OPTIONS } from '../../src/config.js';
import { usefulUntil, type LifetimeOptions } from '../../src/store/redis/entry-lifetime.js';
import { CHUNK_SIZE, createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import { useFakeClock } from '../helpers/clock.js';
import { makeMeta, randomBody, readAll, writeEntry } from '../store/store-helpers.js';
import { useRedis } from './redis-helpers.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const HOUR = 3_600_000;
const MINUTE = 60_000;
const OPTIONS: LifetimeOptions = {
  policy: DEFAULT_POLICY_OPTIONS,
  revalidationMarginMs: HOUR,
  staleMarginMs: MINUTE,
};

function entryWith(headers: HeaderMap, receivedAgo = 0) {
  return { status: 200, headers, requestTime: NOW - receivedAgo, responseTime: NOW - receivedAgo };
}

describe('usefulUntil: fresh time left + stale windows + a margin for revalidation', () => {
  test.each<[string, HeaderMap, number, number]>([
    // RFC 9111 §4.2.1: the freshness lifetime; no validator → the short margin.
    ['max-age, no validator', { 'cache-control': 'max-age=100' }, 0, 100_000 + MINUTE],
    // RFC 9110 §8.8: a validator makes a stale entry worth revalidating → the long margin.
    ['max-age with ETag', { 'cache-control': 'max-age=100', etag: '"a"' }, 0, 100_000 + HOUR],
    [
      'max-age with Last-Modified',
      { 'cache-control': 'max-age=100', 'last-modified': new Date(NOW).toUTCString() },
      0,
      100_000 + HOUR,
    ],
    // RFC 9111 §4.2.3: only the freshness left counts.
    ['40 s of the lifetime already used', { 'cache-control': 'max-age=100' }, 40_000, 60_000 + MINUTE],
    ['long stale: nothing left but the margin', { 'cache-control': 'max-age=100' }, 500_000, MINUTE],
    // RFC 5861 §3, §4: the stale windows.
    ['stale-while-revalidate', { 'cache-control': 'max-age=100, stale-while-revalidate=30' }, 0, 130_000 + MINUTE],
    ['stale-if-error', { 'cache-control': 'max-age=100, stale-if-error=300' }, 0, 400_000 + MINUTE],
    [
      'the larger window wins',
      { 'cache-control': 'max-age=100, stale-while-revalidate=500, stale-if-error=300' },
      0,
      600_000 + MINUTE,
    ],
    // RFC 9111 §5.2.2.2, §5.2.2.10: no stale serving → no stale window.
    ['must-revalidate', { 'cache-control': 'max-age=100, must-revalidate, stale-if-error=300' }, 0, 100_000 + MINUTE],
    [
      's-maxage (implies proxy-revalidate)',
      { 'cache-control': 's-maxage=50, max-age=100, stale-while-revalidate=30' },
      0,
      50_000 + MINUTE,
    ],
    // RFC 9111 §5.2.2.4: no-cache is only ever used after revalidation.
    [
      'no-cache with ETag',
      { 'cache-control': 'no-cache, max-age=100, stale-if-error=300', etag: '"a"' },
      0,
      100_000 + HOUR,
    ],
    // RFC 9213: the targeted field replaces Cache-Control.
    [
      'CDN-Cache-Control',
      { 'cache-control': 'max-age=10', 'cdn-cache-control': 'max-age=1000' },
      0,
      1_000_000 + MINUTE,
    ],
    ['nothing explicit, no validator', {}, 0, MINUTE],
  ])('%s', (_label, headers, receivedAgo, expected) => {
    expect(usefulUntil(entryWith(headers, receivedAgo), NOW, OPTIONS) - NOW).toBe(expected);
  });

  test('the policy grace extends the stale-if-error window', () => {
    const withGrace = { ...OPTIONS, policy: { ...DEFAULT_POLICY_OPTIONS, grace: 120 } };
    const entry = entryWith({ 'cache-control': 'max-age=10' });
    expect(usefulUntil(entry, NOW, withGrace) - NOW).toBe(130_000 + MINUTE);
  });
});

describe('TTLs in Redis', () => {
  const KEY = 'http://origin.test/ttl';
  const keys = createRedisKeys();
  const redis = useRedis({ options: { readGraceMs: 30_000 } });

  /** Remaining TTL, to the second (the write itself takes a few milliseconds). */
  async function ttlSeconds(redisKey: string): Promise<number> {
    return Math.round((await redis.admin.pttl(redisKey)) / 1000);
  }

  test('the meta key lives as long as its most useful variant; each body a read grace longer', async () => {
    const short = await writeEntry(
      redis.store,
      makeMeta(KEY, { variant: 'a', headers: { 'cache-control': 'max-age=100' } }),
      'a',
    );
    const metaKey = keys.meta(hashKey(KEY));
    expect(await ttlSeconds(metaKey)).toBe(160);
    const long = await writeEntry(
      redis.store,
      makeMeta(KEY, { variant: 'b', headers: { 'cache-control': 'max-age=1000', etag: '"b"' } }),
      'b',
    );
    expect(await ttlSeconds(metaKey)).toBe(1000 + 3600);
    expect(await ttlSeconds(keys.body(hashKey(KEY), short.bodyId))).toBe(160 + 30);
    expect(await ttlSeconds(keys.body(hashKey(KEY), long.bodyId))).toBe(1000 + 3600 + 30);
    await redis.store.delete(KEY, 'b');
    expect(await ttlSeconds(metaKey)).toBe(160);
  });

  test('updateMeta (a 304) moves the TTLs to the new lifetime', async () => {
    const entry = await writeEntry(redis.store, makeMeta(KEY, { headers: { 'cache-control': 'max-age=100' } }), 'body');
    await redis.store.updateMeta({ ...entry, headers: { 'cache-control': 'max-age=5000' }, responseTime: Date.now() });
    expect(await ttlSeconds(keys.meta(hashKey(KEY)))).toBe(5060);
    expect(await ttlSeconds(keys.body(hashKey(KEY), entry.bodyId))).toBe(5060 + 30);
  });

  test('a replaced body nobody reads is deleted at once; one being read stays for the read grace', async () => {
    const headers = { 'cache-control': 'max-age=1000' };
    const old = await writeEntry(redis.store, makeMeta(KEY, { headers }), 'x'.repeat(1000));
    await writeEntry(redis.store, makeMeta(KEY, { headers }), 'new');
    expect(await redis.admin.exists(keys.body(hashKey(KEY), old.bodyId))).toBe(0);

    // A body of several chunks being streamed: the reader's lease keeps it for the read grace.
    const big = randomBody(3 * CHUNK_SIZE + 5);
    const streamed = await writeEntry(redis.store, makeMeta(KEY, { headers, size: big.length }), big);
    const stream = await redis.store.openBody(streamed);
    await writeEntry(redis.store, makeMeta(KEY, { headers }), 'newer');
    expect(await ttlSeconds(keys.body(hashKey(KEY), streamed.bodyId))).toBe(30);
    expect((await readAll(stream)).equals(big)).toBe(true);
  });

  test('a variant past its useful life is a miss before Redis expires it, and the next write prunes it', async () => {
    const clock = useFakeClock();
    try {
      await writeEntry(
        redis.store,
        makeMeta(KEY, { variant: 'old', headers: { 'cache-control': 'max-age=10' } }),
        'old',
      );
      await writeEntry(
        redis.store,
        makeMeta(KEY, { variant: 'kept', headers: { 'cache-control': 'max-age=1000' } }),
        'kept',
      );
      expect(redis.store.stats()).toMatchObject({ entries: 2, size: 7 });
      clock.advance(10 + 60 + 1);
      expect((await redis.store.lookup(KEY)).map((e) => e.variant)).toEqual(['kept']);
      await writeEntry(
        redis.store,
        makeMeta(KEY, { variant: 'new', headers: { 'cache-control': 'max-age=1000' } }),
        'new',
      );
      expect(
        Object.keys(await redis.admin.hgetall(keys.meta(hashKey(KEY))))
          .filter((f) => f.startsWith('b:'))
          .sort(),
      ).toEqual(['b:kept', 'b:new']);
      expect(redis.store.stats()).toMatchObject({ entries: 2, size: 7 });
    } finally {
      clock.restore();
    }
  });
});
