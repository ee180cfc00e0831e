import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import type { EntryMeta } from '@simple-cache/common';
import { listEntries, summarizeEntry, type EntrySummary } from '../src/admin/entry-listing.js';
import { readStoreStats } from '../src/admin/store-stats.js';
import { createTelemetry } from '../src/admin/telemetry.js';
import { TrafficHistory, type TrafficSeries } from '../src/admin/traffic-history.js';
import { DiskStore } from '../src/store/disk-store.js';
import { MemoryTier } from '../src/store/memory-tier.js';
import {
  countsErrors,
  errorCountsOf,
  hasBodyEvents,
  hasHotReads,
  hasSyncLookup,
  hasTierStats,
  healthOf,
  reportsHealth,
  type MemoryTierStats,
  type Store,
  type StoreStats,
} from '../src/store/store.js';
import { admin, metricValue, PREFIX } from './helpers/admin.js';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { fixed } from './helpers/test-origin.js';
import { at, entry, options, T0 } from './policy/fixtures.js';

describe('TrafficHistory: one bucket per second, the last N seconds', () => {
  test('records into the current second and reads back zeros for quiet ones', () => {
    let now = 1_000_500;
    const history = new TrafficHistory(5, () => now);
    history.record({ requests: 1, fromCache: 1, cacheable: 1, bytesFromCache: 10 });
    history.record({ requests: 1, cacheable: 1, bytesFromOrigin: 7 });
    now += 2000;
    history.record({ requests: 1 });
    expect(history.series(4)).toEqual({
      end: 1002,
      step: 1,
      requests: [0, 2, 0, 1],
      fromCache: [0, 1, 0, 0],
      cacheable: [0, 2, 0, 0],
      bytesFromCache: [0, 10, 0, 0],
      bytesFromOrigin: [0, 7, 0, 0],
    });
  });

  test('a bucket from a lap ago is forgotten, not added to', () => {
    let now = 10_000;
    const history = new TrafficHistory(3, () => now);
    history.record({ requests: 5 });
    now += 3000; // the same slot of the ring, three seconds later
    history.record({ requests: 1 });
    expect(history.series().requests).toEqual([0, 0, 1]);
    expect(history.series(100).requests).toHaveLength(3);
  });
});

describe('readStoreStats: the core figures, and the hot tier only through the TierStats capability', () => {
  const CORE = { entries: 2, size: 10, maxSize: 100, evictions: 1 };
  const TIER = { entries: 1, size: 4, maxSize: 64, hits: 7, misses: 2 };
  const storeWith = (stats: StoreStats, tier?: () => MemoryTierStats) =>
    ({ stats: () => stats, ...(tier ? { memoryStats: tier } : {}) }) as unknown as Store;

  test('a store without a tier reports none, whatever its stats() returns', () => {
    const withNested = { ...CORE, memory: TIER, hotSize: 4 } as unknown as StoreStats;
    expect(readStoreStats(storeWith(withNested)).hotTier).toBeUndefined();
    expect(readStoreStats(storeWith(CORE))).toEqual({ ...CORE, other: {} });
  });

  test('the tier’s memoryStats() is the hot tier', () => {
    expect(readStoreStats(storeWith(CORE, () => TIER))).toEqual({ ...CORE, hotTier: TIER, other: {} });
  });

  test('the store’s other figures pass through by name (the disk store’s bodySize)', () => {
    expect(readStoreStats(storeWith({ ...CORE, bodySize: 8 })).other).toEqual({ bodySize: 8 });
  });

  test('a real memory tier over a real disk store: the capability guards see what they are', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sc-capabilities-'));
    const disk = await DiskStore.open({ dir, maxSize: 1024 * 1024 });
    const tier = new MemoryTier(disk, { maxSize: 1024, maxObjectSize: 512 });
    try {
      expect([hasHotReads(disk), hasSyncLookup(disk), hasBodyEvents(disk), hasTierStats(disk)]).toEqual([
        false,
        true,
        true,
        false,
      ]);
      expect([hasHotReads(tier), hasTierStats(tier), reportsHealth(tier), countsErrors(tier)]).toEqual([
        true,
        true,
        true,
        true,
      ]);
      expect(countsErrors(disk)).toBe(false);
      expect(errorCountsOf(disk)).toEqual({});
      expect(healthOf(disk)).toEqual({ state: 'ok' });
      expect(readStoreStats(tier).hotTier).toEqual({ entries: 0, size: 0, maxSize: 1024, hits: 0, misses: 0 });
      expect(readStoreStats(disk).hotTier).toBeUndefined();
    } finally {
      await tier.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a memory tier is ready when the store behind it is (readiness waits for the disk scan)', async () => {
    let finishScan: () => void = () => {};
    const scanning = new Promise<void>((resolve) => (finishScan = resolve));
    const inner = { onBodyRemoved: () => () => {}, ready: () => scanning, close: async () => {} };
    const tier = new MemoryTier(inner as unknown as DiskStore, { maxSize: 1024, maxObjectSize: 512 });
    let ready = false;
    void tier.ready().then(() => (ready = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(ready).toBe(false);
    finishScan();
    await tier.ready();
    expect(ready).toBe(true);
  });

  test('the hot tier appears in the metrics when the store has one', async () => {
    const plain = createTelemetry({ store: storeWith(CORE) });
    expect(await plain.metrics()).not.toContain('simple_cache_hot_tier');
    const telemetry = createTelemetry({ store: storeWith(CORE, () => ({ ...TIER, size: 6, hits: 3, misses: 1 })) });
    const text = await telemetry.metrics();
    expect(metricValue(text, 'simple_cache_hot_tier_hits_total')).toBe(3);
    expect(metricValue(text, 'simple_cache_hot_tier_misses_total')).toBe(1);
    expect(metricValue(text, 'simple_cache_hot_tier_size_bytes')).toBe(6);
    expect(metricValue(text, 'simple_cache_hot_tier_entries')).toBe(1);
    expect(metricValue(text, 'simple_cache_hot_tier_max_size_bytes')).toBe(64);
  });
});

describe('listEntries: filter, sort, page', () => {
  const context = { origin: 'http://origin.test', now: at(100), policy: options(), tagHeaders: ['surrogate-key'] };
  const make = (path: string, overrides: Partial<EntryMeta>, tags = '') =>
    summarizeEntry(
      entry(
        {
          'cache-control': 'max-age=60',
          date: new Date(overrides.responseTime ?? T0).toUTCString(),
          ...(tags ? { 'surrogate-key': tags } : {}),
        },
        { key: `http://origin.test${path}`, ...overrides },
      ),
      context,
    );
  const all: EntrySummary[] = [
    make('/a', { hits: 5, size: 10, lastAccess: at(90) }, 'x'),
    make('/b', { hits: 9, size: 30, responseTime: at(50), requestTime: at(50) }, 'x y'),
    make('/img/c', { hits: 1, size: 20, lastAccess: at(99) }),
    make('/img/d', { hits: 5, size: 5 }, 'y'),
  ];
  const paths = (page: { items: EntrySummary[] }) => page.items.map((item) => item.path);

  test('a summary: path, age, ttl, hits, tags', () => {
    expect(all[1]).toMatchObject({
      path: '/b',
      age: 50,
      ttl: 10,
      hits: 9,
      size: 30,
      tags: ['x', 'y'],
      storedAt: at(50),
    });
    expect(all[0]).toMatchObject({ age: 100, ttl: -40, lastAccess: at(90) });
  });

  test.each<[string, Parameters<typeof listEntries>[1], string[], number]>([
    ['by hits, ties by key', { sort: 'hits', offset: 0, limit: 10 }, ['/b', '/a', '/img/d', '/img/c'], 4],
    ['by size', { sort: 'size', offset: 0, limit: 10 }, ['/b', '/img/c', '/a', '/img/d'], 4],
    ['by age', { sort: 'age', offset: 0, limit: 10 }, ['/a', '/img/c', '/img/d', '/b'], 4],
    ['by recent use (else arrival)', { sort: 'recent', offset: 0, limit: 10 }, ['/img/c', '/a', '/b', '/img/d'], 4],
    ['by key', { sort: 'key', offset: 0, limit: 10 }, ['/a', '/b', '/img/c', '/img/d'], 4],
    ['a page', { sort: 'key', offset: 1, limit: 2 }, ['/b', '/img/c'], 4],
    ['past the end', { sort: 'key', offset: 9, limit: 2 }, [], 4],
    ['a prefix', { sort: 'key', offset: 0, limit: 10, prefix: 'http://origin.test/img/' }, ['/img/c', '/img/d'], 2],
    ['a tag', { sort: 'key', offset: 0, limit: 10, tag: 'y' }, ['/b', '/img/d'], 2],
    [
      'prefix and tag',
      { sort: 'key', offset: 0, limit: 10, tag: 'y', prefix: 'http://origin.test/img' },
      ['/img/d'],
      1,
    ],
  ])('%s', (_case, query, expected, total) => {
    const page = listEntries([...all], query);
    expect(paths(page)).toEqual(expected);
    expect(page.total).toBe(total);
  });
});

describe('<prefix>/stats and <prefix>/entries', () => {
  const env = useOriginAndCache(
    {
      '/one': fixed('1'.repeat(100), { 'cache-control': 'max-age=600', 'surrogate-key': 'numbers odd' }),
      '/two': fixed('2'.repeat(200), { 'cache-control': 'max-age=600', 'cache-tag': 'numbers' }),
      '/dir/three': fixed('3'.repeat(300), { 'cache-control': 'max-age=600' }),
      '/post': fixed('ok'),
    },
    { adminToken: 'token' },
  );
  beforeAll(async () => {
    for (const path of ['/one', '/two', '/dir/three']) await request(env.cache.url, path);
    await waitFor(() => env.cache.store.stats().entries === 3, 'three entries');
    for (const path of ['/one', '/one', '/one', '/two']) await request(env.cache.url, path);
    await request(env.cache.url, '/post', { method: 'POST', body: 'x' });
  });

  test('stats: totals, hit ratio, bytes, store, auth and the per-second history', async () => {
    let json: Record<string, unknown> = {};
    await waitFor(async () => {
      json = (await admin(env.cache.url, `${PREFIX}/stats?history=60`)).json;
      return (json.requests as { total: number }).total === 8;
    }, 'every exchange to be counted');
    expect(json).toMatchObject({
      name: 'simple-cache',
      requests: {
        total: 8,
        cacheable: 7,
        fromCache: 4,
        hitRatio: 4 / 7,
        byCacheStatus: { MISS: 3, HIT: 4, BYPASS: 1 },
        collapsed: 0,
        errors: {},
      },
      bytes: { fromCache: 3 * 100 + 200, fromOrigin: 100 + 200 + 300 + 2 },
      origin: { url: env.origin.url, requests: 4, errors: {}, inFlight: 0 },
      // size: what the entries take on disk (in blocks, meta files included); bodySize: their bytes.
      store: {
        entries: 3,
        size: env.cache.store.stats().size,
        maxSize: env.cache.config.maxSize,
        evictions: 0,
        other: { bodySize: 600, maxEntries: env.cache.config.maxEntries },
      },
      auth: { tokenRequired: true },
    });
    const history = json.history as TrafficSeries;
    expect(history.requests).toHaveLength(60);
    expect(history.requests.reduce((a, b) => a + b, 0)).toBe(8);
    expect(history.fromCache.reduce((a, b) => a + b, 0)).toBe(4);
    expect(history.bytesFromCache.reduce((a, b) => a + b, 0)).toBe(500);
    expect(Math.abs(history.end - Date.now() / 1000)).toBeLessThan(5);
  });

  test('entries: sorted by hits by default, with size, age, TTL, hits and tags', async () => {
    const { json } = await admin(env.cache.url, `${PREFIX}/entries`);
    expect(json).toMatchObject({ total: 3, offset: 0, limit: 50 });
    const items = json.items as EntrySummary[];
    expect(items.map((item) => [item.path, item.hits, item.size, item.tags])).toEqual([
      ['/one', 3, 100, ['numbers', 'odd']],
      ['/two', 1, 200, ['numbers']],
      ['/dir/three', 0, 300, []],
    ]);
    for (const item of items) {
      expect(item.key).toBe(`${env.origin.url}${item.path}`);
      expect(item.age).toBeGreaterThanOrEqual(0);
      expect(item.ttl).toBe(600 - item.age);
    }
  });

  test.each([
    ['?tag=numbers', ['/one', '/two']],
    ['?tag=odd', ['/one']],
    ['?prefix=/dir/', ['/dir/three']],
    ['?sort=size', ['/dir/three', '/two', '/one']],
    ['?sort=size&limit=1&offset=1', ['/two']],
  ])('entries%s', async (query, expected) => {
    const { json } = await admin(env.cache.url, `${PREFIX}/entries${query}`);
    expect((json.items as EntrySummary[]).map((item) => item.path)).toEqual(expected);
  });

  test('entries with a bad sort or prefix → 400', async () => {
    for (const query of ['?sort=colour', '?prefix=nowhere']) {
      const reply = await admin(env.cache.url, `${PREFIX}/entries${query}`);
      expect({ query, status: reply.status, error: reply.json.error }).toEqual({
        query,
        status: 400,
        error: 'CACHE_ERR_ADMIN_BAD_REQUEST',
      });
    }
  });
});
