// @system-packages redis-server
import { describe, expect, test } from '@jest/globals';
import type { EntryMeta } from '@simple-cache/common';
import type { Redis } from 'ioredis';
import { purgeEntries, type PurgeSelection } from '../../src/admin/purge-entries.js';
import { tagsOf } from '../../src/admin/tags.js';
import { DEFAULT_POLICY_OPTIONS } from '../../src/config/policy-options.js';
import { INDEX_MARGIN_MS } from '../../src/store/redis/entry-index.js';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import type { Store } from '../../src/store/store.js';
import { invalidationsOf, type PurgeNotice } from '../../src/store/redis/tier-sync.js';
import { collect, makeMeta, writeEntry } from '../store/store-helpers.js';
import { openRedisStore, useRedis } from './redis-helpers.js';

/**
 * Issue 16.7: purges by tag and by prefix find their entries through indexes (entry-index.ts),
 * at a cost that grows with what they select, never with the store; an index Redis lost
 * (evicted, deleted by hand) never lets a purge miss an entry that is then served.
 */
const TAG_HEADERS = ['surrogate-key'];
const entryTags = (entry: Pick<EntryMeta, 'headers'>) => tagsOf(entry.headers, TAG_HEADERS);
const keys = createRedisKeys();
const ORIGIN = 'http://origin.test';

// No heartbeat and no periodic work: the commands Redis counts during a purge are the purge's.
// (Without the heartbeat no node keeps metadata in memory: every lookup asks Redis.)
const QUIET = {
  metaTrustMs: 0,
  statsIntervalMs: 3_600_000,
  recountIntervalMs: 3_600_000,
  recencyIntervalMs: 3_600_000,
};
const redis = useRedis({ nodes: 2, options: { entryTags, ...QUIET } });

function tagged(path: string, tags: string, extra: Parameters<typeof makeMeta>[1] = {}) {
  const meta = makeMeta(`${ORIGIN}${path}`, extra);
  return { ...meta, headers: { ...meta.headers, 'surrogate-key': tags } };
}

function purge(store: Store, selection: PurgeSelection, soft = false) {
  return purgeEntries(store, selection, {
    soft,
    now: Date.now(),
    policy: DEFAULT_POLICY_OPTIONS,
    tagHeaders: TAG_HEADERS,
  });
}

/**
 * As the purge endpoint does (admin/purge.ts): the purge, then its announcement on the bus,
 * waited for until every one of `nodes` has heard it.
 */
async function purgeAndAnnounce(through: RedisStore, selection: PurgeSelection, nodes: RedisStore[]) {
  const result = await purge(through, selection);
  await announce(through, selection, nodes);
  return result;
}

/** The announcement of a purge (admin/purge.ts, after purging), waited for until every one of `nodes` has heard it. */
async function announce(through: RedisStore, selection: PurgeSelection, nodes: RedisStore[]): Promise<void> {
  const events = invalidationsOf(selection as PurgeNotice).map((event) => JSON.stringify(event));
  const heard = nodes.map(
    (node) =>
      new Promise<void>((resolve) => {
        const waiting = new Set(events);
        const stop = node.bus.subscribe(
          (event) => {
            waiting.delete(JSON.stringify(event));
            if (waiting.size > 0) return;
            stop();
            resolve();
          },
          { includeOwn: true },
        );
      }),
  );
  await Promise.all(invalidationsOf(selection as PurgeNotice).map((event) => through.bus.publish(event)));
  await Promise.all(heard);
}

async function writeMany(store: RedisStore, metas: ReturnType<typeof tagged>[]): Promise<void> {
  for (let i = 0; i < metas.length; i += 100) {
    await Promise.all(metas.slice(i, i + 100).map((meta) => writeEntry(store, meta, 'x')));
  }
}

/** Calls of one Redis command so far (INFO commandstats). */
async function commandCalls(admin: Redis, command: string): Promise<number> {
  const info = await admin.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

const stored = async (store: RedisStore, path: string) => (await store.lookup(`${ORIGIN}${path}`)).length > 0;

/** Redis commands served so far (INFO commandstats, summed). */
async function commandsServed(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
}

describe('the purge indexes', () => {
  test('a purge by tag removes exactly the entries carrying one of its tags, every variant of them', async () => {
    const { store } = redis;
    await writeEntry(store, tagged('/a', 'news sport'), 'a');
    await writeEntry(store, tagged('/b', 'sport', { variant: 'gzip' }), 'b gzip');
    await writeEntry(store, tagged('/b', 'sport', { variant: 'br' }), 'b br');
    await writeEntry(store, tagged('/c', 'weather'), 'c');
    await writeEntry(store, makeMeta(`${ORIGIN}/untagged`), 'd');
    expect((await collect(store.select({ kind: 'tag', tags: ['sport'] }))).map((e) => e.key).sort()).toEqual([
      `${ORIGIN}/a`,
      `${ORIGIN}/b`,
      `${ORIGIN}/b`,
    ]);
    expect(await purge(store, { kind: 'tag', tags: ['sport', 'nothing'] })).toEqual({ purged: 3, soft: false });
    expect(await Promise.all(['/a', '/b', '/c', '/untagged'].map((path) => stored(store, path)))).toEqual([
      false,
      false,
      true,
      true,
    ]);
  });

  test('a purge by prefix removes the keys under it and nothing else, across all 16 shards', async () => {
    const { store } = redis;
    const under = Array.from({ length: 40 }, (_, i) => `/docs/${i}`);
    for (const path of [...under, '/docs', '/docsx', '/other/docs/1']) {
      await writeEntry(store, makeMeta(`${ORIGIN}${path}`), path);
    }
    // The keys under /docs/ spread over the shards (first hex digit of their hash).
    expect(new Set(under.map((path) => hashKey(`${ORIGIN}${path}`).charAt(0))).size).toBeGreaterThan(10);
    expect(await purge(store, { kind: 'prefix', prefix: `${ORIGIN}/docs/` })).toEqual({ purged: 40, soft: false });
    for (const path of under) expect(await stored(store, path)).toBe(false);
    for (const path of ['/docs', '/docsx', '/other/docs/1']) expect(await stored(store, path)).toBe(true);
  });

  test('a prefix with characters outside ASCII, selecting more than a page (200) of keys of one shard', async () => {
    const { store } = redis;
    const many = Array.from({ length: 8000 }, (_, i) => `/caf%C3%A9/ü${i}`)
      .filter((path) => hashKey(`${ORIGIN}${path}`).startsWith('0'))
      .slice(0, 450);
    expect(many).toHaveLength(450);
    await Promise.all(many.map((path) => writeEntry(store, makeMeta(`${ORIGIN}${path}`), path)));
    await writeEntry(store, makeMeta(`${ORIGIN}/caf%C3%A9x`), 'next to it');
    expect(await purge(store, { kind: 'prefix', prefix: `${ORIGIN}/caf%C3%A9/ü` })).toEqual({
      purged: 450,
      soft: false,
    });
    expect(await stored(store, '/caf%C3%A9x')).toBe(true);
  });

  test('O(matches): with 2,000 other entries, a tag or prefix purge selecting 3 makes a bounded number of Redis commands', async () => {
    const { store, admin } = redis;
    await writeMany(
      store,
      Array.from({ length: 2000 }, (_, i) => tagged(`/other/${i}`, `other-${i % 50}`)),
    );
    for (const path of ['/hot/1', '/hot/2', '/hot/3']) await writeEntry(store, tagged(path, 'hot'), path);

    const measure = async (selection: PurgeSelection, through: Store = store) => {
      const [before, readsBefore] = [await commandsServed(admin), await commandCalls(admin, 'hgetall')];
      const result = await purge(through, selection);
      const reads = (await commandCalls(admin, 'hgetall')) - readsBefore;
      return { result, reads, commands: (await commandsServed(admin)) - before };
    };
    const byTag = await measure({ kind: 'tag', tags: ['hot'] });
    expect(byTag.result.purged).toBe(3);
    // One ZSCAN, 3 HGETALL, 3 delete scripts (each ~10 commands inside, counted by Redis too)
    // and their counter updates, and the INFO calls: 43.
    expect(byTag.reads).toBe(3);
    expect(byTag.commands).toBeLessThanOrEqual(50);

    for (const path of ['/hot/1', '/hot/2', '/hot/3']) await writeEntry(store, tagged(path, 'hot'), path);
    const byPrefix = await measure({ kind: 'prefix', prefix: `${ORIGIN}/hot/` });
    expect(byPrefix.result.purged).toBe(3);
    // 16 ZRANGEBYLEX (one per shard), then as above.
    expect(byPrefix.reads).toBe(3);
    expect(byPrefix.commands).toBeLessThanOrEqual(65);
    expect(await stored(store, '/other/7')).toBe(true);

    // What it was before the indexes (and still is for a store without one): every entry read.
    for (const path of ['/hot/1', '/hot/2', '/hot/3']) await writeEntry(store, tagged(path, 'hot'), path);
    const scanning = { entries: () => store.entries(), delete: (key: string) => store.delete(key) } as Store;
    const scan = await measure({ kind: 'tag', tags: ['hot'] }, scanning);
    expect(scan.result.purged).toBe(3);
    expect(scan.reads).toBeGreaterThanOrEqual(2003);
  });

  test('a purge deletes in batches: every selected entry gone, the shared counters changed once per batch and exact', async () => {
    const { store, admin } = redis;
    const paths = Array.from({ length: 250 }, (_, i) => `/batched/${i}`);
    await writeMany(
      store,
      paths.map((path) => tagged(path, 'batched')),
    );
    await writeEntry(store, tagged('/batched-not', 'other'), 'kept');
    const count = async () => Number(await admin.hget(keys.stats, 'entries'));
    const [entriesBefore, incrementsBefore] = [await count(), await commandCalls(admin, 'hincrby')];
    expect(await purge(store, { kind: 'tag', tags: ['batched'] })).toEqual({ purged: 250, soft: false });
    // Two batches (200 + 50), each one HINCRBY of the entries and one of the bytes: not two per entry.
    expect((await commandCalls(admin, 'hincrby')) - incrementsBefore).toBe(4);
    expect(await count()).toBe(entriesBefore - 250);
    expect(store.stats().entries).toBe(entriesBefore - 250);
    for (const path of paths) expect(await admin.exists(keys.meta(hashKey(`${ORIGIN}${path}`)))).toBe(0);
    expect(await stored(store, '/batched-not')).toBe(true);
  });

  test('a soft purge by tag marks the tagged entries stale through the index, and keeps them', async () => {
    const { store } = redis;
    await writeEntry(store, tagged('/soft', 'soft', { headers: { 'cache-control': 'max-age=600' } }), 'soft');
    expect(await purge(store, { kind: 'tag', tags: ['soft'] }, true)).toEqual({ purged: 1, soft: true });
    const [entry] = await store.lookup(`${ORIGIN}/soft`);
    expect(entry?.headers['age']).toBe('600');
  });
});

describe('an index Redis lost (evicted under maxmemory, or deleted by hand)', () => {
  test.each([
    ['tag', () => [keys.tagIndex('lost')], { kind: 'tag', tags: ['lost'] } as PurgeSelection],
    [
      'prefix',
      (path: string) => Object.values(keys.prefixShard(hashKey(`${ORIGIN}${path}`).charAt(0))),
      { kind: 'prefix', prefix: `${ORIGIN}/lost/` } as PurgeSelection,
    ],
  ])(
    'by %s: the purge cannot find the entry, and no node serves it again, not even one started after the purge',
    async (_kind, indexKeys, selection) => {
      const { store, nodeB, admin, server } = redis;
      await writeEntry(store, tagged('/lost/old', 'lost'), 'old');
      // Node B has looked the entry up: it knows the index as it was.
      expect(await stored(nodeB, '/lost/old')).toBe(true);
      await admin.del(...indexKeys('/lost/old'));
      // A later write re-creates the tag index (and maybe the shard), without the old entry.
      await writeEntry(store, tagged('/lost/new', 'lost'), 'new');
      const result = await purgeAndAnnounce(store, selection, [store, nodeB]);
      expect(result.purged).toBe(1);
      // A node started after the purge has not heard of it (purge-record.ts cannot help it).
      const later = await openRedisStore(server, { entryTags, ...QUIET });
      try {
        for (const node of [store, nodeB, later]) expect(await stored(node, '/lost/old')).toBe(false);
        // Deleted from Redis too: found missing from its index by the lookups.
        expect(await admin.exists(keys.meta(hashKey(`${ORIGIN}/lost/old`)))).toBe(0);
      } finally {
        await later.close();
      }
    },
  );

  test('without any purge, an entry whose index was lost is a miss for a node that did not know the index (never a hit a purge could not reach)', async () => {
    const { store, admin, server } = redis;
    await writeEntry(store, tagged('/lost/quiet', 'quiet'), 'quiet');
    await admin.del(keys.tagIndex('quiet'));
    const later = await openRedisStore(server, { entryTags, ...QUIET });
    try {
      expect(await stored(later, '/lost/quiet')).toBe(false);
      // Written again, it is indexed again and served.
      await writeEntry(later, tagged('/lost/quiet', 'quiet'), 'quiet again');
      expect(await stored(later, '/lost/quiet')).toBe(true);
      expect(await stored(store, '/lost/quiet')).toBe(true);
    } finally {
      await later.close();
    }
  });

  test('entries written before the indexes existed (no record) are misses', async () => {
    const { store, admin } = redis;
    const meta = tagged('/legacy', 'legacy');
    await writeEntry(store, meta, 'legacy');
    await admin.hdel(keys.meta(hashKey(meta.key)), 'x:');
    const fresh = await openRedisStore(redis.server, { entryTags, ...QUIET });
    try {
      expect(await stored(fresh, '/legacy')).toBe(false);
    } finally {
      await fresh.close();
    }
  });
});

describe('index lifetimes and writers racing purges', () => {
  test('index keys live as long as their entries; a 304 that extends an entry extends its indexes first', async () => {
    const { store, admin } = redis;
    const meta = tagged('/ttl', 'ttl', { headers: { 'cache-control': 'max-age=600' } });
    const entry = await writeEntry(store, meta, 'ttl');
    const metaTtl = await admin.pttl(keys.meta(hashKey(meta.key)));
    const shard = keys.prefixShard(hashKey(meta.key).charAt(0));
    for (const key of [keys.tagIndex('ttl'), shard.lex, shard.until]) {
      expect(await admin.pttl(key)).toBeGreaterThanOrEqual(metaTtl);
    }
    await store.updateMeta({ ...entry, headers: { ...entry.headers, 'cache-control': 'max-age=86400' } });
    const longer = await admin.pttl(keys.meta(hashKey(meta.key)));
    expect(longer).toBeGreaterThan(metaTtl + 80_000_000);
    expect(await admin.pttl(keys.tagIndex('ttl'))).toBeGreaterThanOrEqual(longer);
    expect(Number(await admin.zscore(keys.tagIndex('ttl'), hashKey(meta.key)))).toBeGreaterThanOrEqual(
      Date.now() + longer,
    );
  });

  test('members whose time has passed are trimmed by later writes of the index', async () => {
    const { store, admin } = redis;
    await writeEntry(store, tagged('/trim/old', 'trim'), 'old');
    const member = hashKey(`${ORIGIN}/trim/old`);
    // As if its time had passed (an entry expired by Redis long ago).
    await admin.zadd(keys.tagIndex('trim'), Date.now() - INDEX_MARGIN_MS, member);
    await writeEntry(store, tagged('/trim/new', 'trim'), 'new');
    expect(await admin.zscore(keys.tagIndex('trim'), member)).toBeNull();
  });

  test('an entry committed just after a tag purge: covered when its response arrived before the purge, kept when after', async () => {
    const { nodeA, nodeB } = redis;
    const before = Date.now() - 1000;
    // Node B's fetch was under way when node A purged: its response predates the purge.
    const racing = nodeB.beginWrite(tagged('/race/before', 'race', { responseTime: before, requestTime: before - 5 }));
    racing.body.end('old content');
    await purgeAndAnnounce(nodeA, { kind: 'tag', tags: ['race'] }, [nodeA, nodeB]);
    await racing.commit();
    expect(await stored(nodeA, '/race/before')).toBe(false);
    // A response that arrived after the purge is new content.
    await writeEntry(nodeB, tagged('/race/after', 'race', { responseTime: Date.now() + 1000 }), 'new content');
    expect(await stored(nodeA, '/race/after')).toBe(true);
  });
});

describe('a purge of everything (a new generation)', () => {
  test('O(1): with 2,000 entries it reads none of them, makes a handful of Redis commands, and no node serves them after', async () => {
    const { admin, server, nodeB } = redis;
    const node = await openRedisStore(server, { entryTags, ...QUIET, purgeSweep: false });
    try {
      await writeMany(
        node,
        Array.from({ length: 2000 }, (_, i) => tagged(`/all/${i}`, 'all')),
      );
      const [before, readsBefore] = [await commandsServed(admin), await commandCalls(admin, 'hgetall')];
      expect(await purge(node, { kind: 'all' })).toEqual({ purged: 2000, soft: false });
      expect((await commandCalls(admin, 'hgetall')) - readsBefore).toBe(0);
      // The shared counters read, the generation replaced, and the INFO calls: 5.
      expect((await commandsServed(admin)) - before).toBeLessThanOrEqual(8);
      await announce(node, { kind: 'all' }, [node, nodeB]);
      const later = await openRedisStore(server, { entryTags, ...QUIET });
      try {
        for (const store of [node, nodeB, later]) {
          for (const path of ['/all/0', '/all/999', '/all/1999']) expect(await stored(store, path)).toBe(false);
        }
        // Written after the purge: served everywhere.
        await writeEntry(nodeB, tagged('/all/new', 'all'), 'new');
        for (const store of [node, nodeB, later]) expect(await stored(store, '/all/new')).toBe(true);
      } finally {
        await later.close();
      }
    } finally {
      await node.close();
    }
  });

  test('the sweep then deletes in the background what was written before; what is written after stays', async () => {
    const { store, admin } = redis;
    await writeMany(
      store,
      Array.from({ length: 300 }, (_, i) => tagged(`/swept/${i}`, 'swept')),
    );
    expect(await purge(store, { kind: 'all' })).toEqual({ purged: 300, soft: false });
    await writeEntry(store, tagged('/kept', 'kept'), 'kept');
    const incrementsBefore = await commandCalls(admin, 'hincrby');
    expect(await store.sweeping).toBe(300);
    // The shared counters change once per batch of deletions (64 or more), not per entry, and end exact.
    expect((await commandCalls(admin, 'hincrby')) - incrementsBefore).toBeLessThanOrEqual(12);
    expect(await admin.hget(keys.stats, 'entries')).toBe('1');
    expect(await admin.keys(keys.metaPattern)).toEqual([keys.meta(hashKey(`${ORIGIN}/kept`))]);
    expect(await admin.keys(`${keys.prefix}{*}:body:*`)).toHaveLength(1);
  });

  test('a generation key Redis lost: what was written under it is a miss for a node that did not know it, and served once written again', async () => {
    const { store, admin, server } = redis;
    await writeEntry(store, tagged('/generation/a', 'g'), 'a');
    await admin.del(keys.generation);
    const later = await openRedisStore(server, { entryTags, ...QUIET });
    try {
      expect(await stored(later, '/generation/a')).toBe(false);
      await writeEntry(later, tagged('/generation/a', 'g'), 'a again');
      for (const node of [store, later]) expect(await stored(node, '/generation/a')).toBe(true);
    } finally {
      await later.close();
    }
  });
});
