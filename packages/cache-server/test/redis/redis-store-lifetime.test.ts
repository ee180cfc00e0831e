// @system-packages redis-server
import { describe, expect, test } from '@jest/globals';
import type { HeaderMap } from '@simple-cache/common';
import { DEFAULT_POLICY_OPTIONS } from '../../src/config/policy-options.js';
import type { PolicyOptions } from '../../src/policy/index.js';
import { usefulUntil, type LifetimeOptions } from '../../src/store/redis/entry-lifetime.js';
import { CHUNK_SIZE, createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import { useFakeClock } from '../helpers/clock.js';
import { makeMeta, randomBody, readAll, writeEntry } from '../store/store-helpers.js';
import { useRedis } from './redis-helpers.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const HOUR = 3_600_000;
const MINUTE = 60_000;
const DAY = 24 * HOUR;
/** The windows one at a time: the disconnected grace (a day by default) has rows of its own. */
const BASE: PolicyOptions = { ...DEFAULT_POLICY_OPTIONS, disconnectedGrace: 0 };
const OPTIONS: LifetimeOptions = {
  policy: () => BASE,
  revalidationMarginMs: HOUR,
  staleMarginMs: MINUTE,
};

function entryWith(headers: HeaderMap, receivedAgo = 0, status = 200) {
  return {
    key: 'http://origin.test/x',
    status,
    headers,
    requestTime: NOW - receivedAgo,
    responseTime: NOW - receivedAgo,
  };
}

function withPolicy(policy: Partial<PolicyOptions>): LifetimeOptions {
  return { ...OPTIONS, policy: () => ({ ...BASE, ...policy }) };
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
    const entry = entryWith({ 'cache-control': 'max-age=10' });
    expect(usefulUntil(entry, NOW, withPolicy({ grace: 120 })) - NOW).toBe(130_000 + MINUTE);
  });
});

// F-conf-2: RFC 9111 §4.2.4 lets a cache cut off from the origin serve a stale response for
// --disconnected-grace (a day by default); the entry must still be in Redis by then.
describe('usefulUntil: the disconnected grace', () => {
  test.each<[string, HeaderMap, number]>([
    ['plain max-age', { 'cache-control': 'max-age=100' }, 100_000 + DAY + MINUTE],
    [
      'a longer stale-if-error still wins',
      { 'cache-control': 'max-age=100, stale-if-error=172800' },
      100_000 + 2 * DAY + MINUTE,
    ],
    // policy/use.ts mayServeStaleOnError: never for these, so no window.
    ['must-revalidate', { 'cache-control': 'max-age=100, must-revalidate' }, 100_000 + MINUTE],
    ['no-cache', { 'cache-control': 'no-cache, max-age=100' }, 100_000 + MINUTE],
  ])('%s', (_label, headers, expected) => {
    const entry = entryWith(headers);
    expect(usefulUntil(entry, NOW, { ...OPTIONS, policy: () => DEFAULT_POLICY_OPTIONS }) - NOW).toBe(expected);
  });

  test('--disconnected-grace 0 counts nothing', () => {
    expect(
      usefulUntil(entryWith({ 'cache-control': 'max-age=100' }), NOW, withPolicy({ disconnectedGrace: 0 })) - NOW,
    ).toBe(100_000 + MINUTE);
  });
});

// F10: the operator's rules (issue 14) decide how long an entry is used, so they decide how long
// Redis keeps it; the store asks the policy of each entry's key and status.
describe('usefulUntil: under the rules for the entry', () => {
  test.each<[string, Partial<PolicyOptions>, HeaderMap, number, number]>([
    ['a ttl replaces max-age', { ttl: 365 * 86_400 }, { 'cache-control': 'max-age=60' }, 200, 365 * DAY + MINUTE],
    [
      'a forced ttl ignores no-store',
      { ttl: 600, force: true },
      { 'cache-control': 'no-store' },
      200,
      600_000 + MINUTE,
    ],
    [
      'a forced ttl ignores must-revalidate',
      { ttl: 10, force: true, grace: 50 },
      { 'cache-control': 'max-age=5, must-revalidate' },
      200,
      60_000 + MINUTE,
    ],
    ['a default-ttl where the response gives none', { defaultTtl: 300 }, {}, 200, 300_000 + MINUTE],
    ['a 404 kept by a status rule', { ttl: 120 }, {}, 404, 120_000 + MINUTE],
    [
      'a rule stale-if-error replaces the directive',
      { staleIfError: 1000 },
      { 'cache-control': 'max-age=10, stale-if-error=5' },
      200,
      1_010_000 + MINUTE,
    ],
    [
      'a rule stale-while-revalidate replaces the directive',
      { staleWhileRevalidate: 900 },
      { 'cache-control': 'max-age=10' },
      200,
      910_000 + MINUTE,
    ],
    [
      'a rule grace adds to stale-if-error',
      { grace: 60 },
      { 'cache-control': 'max-age=10, stale-if-error=30' },
      200,
      100_000 + MINUTE,
    ],
  ])('%s', (_label, rule, headers, status, expected) => {
    expect(usefulUntil(entryWith(headers, 0, status), NOW, withPolicy(rule)) - NOW).toBe(expected);
  });

  test("the policy is asked for with the entry's key and status", () => {
    const asked: { key: string; status: number }[] = [];
    usefulUntil(entryWith({}, 0, 410), NOW, {
      ...OPTIONS,
      policy: (entry) => (asked.push({ key: entry.key, status: entry.status }), BASE),
    });
    expect(asked).toEqual([{ key: 'http://origin.test/x', status: 410 }]);
  });
});

describe('TTLs in Redis', () => {
  const KEY = 'http://origin.test/ttl';
  const keys = createRedisKeys();
  const redis = useRedis({ options: { readGraceMs: 30_000 } });

  /**
   * A key's remaining TTL against the lifetime `seconds` it was given by a write made after
   * `since`: not more than that lifetime, and less by no more than the time since (plus a second
   * for the Date header's precision). Exact-second equality failed on a loaded machine, where a
   * second can pass between the write and the read.
   */
  async function expectTtl(redisKey: string, seconds: number, since: number): Promise<void> {
    const remaining = await redis.admin.pttl(redisKey);
    const elapsed = Date.now() - since;
    expect(remaining).toBeLessThanOrEqual(seconds * 1000 + 500);
    expect(remaining).toBeGreaterThanOrEqual(seconds * 1000 - elapsed - 1000);
  }

  test('the meta key lives as long as its most useful variant; each body a read grace longer', async () => {
    const since = Date.now();
    const short = await writeEntry(
      redis.store,
      makeMeta(KEY, { variant: 'a', headers: { 'cache-control': 'max-age=100' } }),
      'a',
    );
    const metaKey = keys.meta(hashKey(KEY));
    await expectTtl(metaKey, 160, since);
    const long = await writeEntry(
      redis.store,
      makeMeta(KEY, { variant: 'b', headers: { 'cache-control': 'max-age=1000', etag: '"b"' } }),
      'b',
    );
    await expectTtl(metaKey, 1000 + 3600, since);
    await expectTtl(keys.body(hashKey(KEY), short.bodyId), 160 + 30, since);
    await expectTtl(keys.body(hashKey(KEY), long.bodyId), 1000 + 3600 + 30, since);
    await redis.store.delete(KEY, 'b');
    await expectTtl(metaKey, 160, since);
  });

  test('updateMeta (a 304) moves the TTLs to the new lifetime', async () => {
    const since = Date.now();
    const entry = await writeEntry(redis.store, makeMeta(KEY, { headers: { 'cache-control': 'max-age=100' } }), 'body');
    await redis.store.updateMeta({ ...entry, headers: { 'cache-control': 'max-age=5000' }, responseTime: Date.now() });
    await expectTtl(keys.meta(hashKey(KEY)), 5060, since);
    await expectTtl(keys.body(hashKey(KEY), entry.bodyId), 5060 + 30, since);
  });

  test('a replaced body nobody reads is deleted at once; one being read stays for the read grace', async () => {
    const since = Date.now();
    const headers = { 'cache-control': 'max-age=1000' };
    const old = await writeEntry(redis.store, makeMeta(KEY, { headers }), 'x'.repeat(1000));
    await writeEntry(redis.store, makeMeta(KEY, { headers }), 'new');
    expect(await redis.admin.exists(keys.body(hashKey(KEY), old.bodyId))).toBe(0);

    // A body of several chunks being streamed: the reader's lease keeps it for the read grace.
    const big = randomBody(3 * CHUNK_SIZE + 5);
    const streamed = await writeEntry(redis.store, makeMeta(KEY, { headers, size: big.length }), big);
    const stream = await redis.store.openBody(streamed);
    await writeEntry(redis.store, makeMeta(KEY, { headers }), 'newer');
    await expectTtl(keys.body(hashKey(KEY), streamed.bodyId), 30, since);
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
