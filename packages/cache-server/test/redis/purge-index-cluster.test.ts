// @system-packages redis-server redis-tools
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { EntryMeta } from '@simple-cache/common';
import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import { purgeEntries, type PurgeSelection } from '../../src/admin/purge-entries.js';
import { tagsOf } from '../../src/admin/tags.js';
import { DEFAULT_POLICY_OPTIONS } from '../../src/config/policy-options.js';
import { createRedisKeys, hashKey } from '../../src/store/redis/redis-keys.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { makeMeta, writeEntry } from '../store/store-helpers.js';
import { openRedisStore } from './redis-helpers.js';

/**
 * The purge indexes on a real 3-master Redis Cluster: every index script stays within one slot
 * (a prefix shard's two sets share a hash tag, a tag index is one key), the shards spread over
 * the masters, and purges by tag and prefix find entries whose keys live on every master.
 */
const TAG_HEADERS = ['surrogate-key'];
const entryTags = (entry: Pick<EntryMeta, 'headers'>) => tagsOf(entry.headers, TAG_HEADERS);
const keys = createRedisKeys();
const ORIGIN = 'http://origin.test';

let cluster: RedisCluster;
let store: RedisStore;
let inspector: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
  store = await openRedisStore(cluster, { entryTags });
  inspector = new Cluster(cluster.masters.map((master) => ({ host: '127.0.0.1', port: master.port })));
}, 60_000);
afterAll(async () => {
  await store?.close();
  inspector?.disconnect();
  await cluster?.cleanup();
});

function tagged(path: string, tags: string) {
  const meta = makeMeta(`${ORIGIN}${path}`);
  return { ...meta, headers: { ...meta.headers, 'surrogate-key': tags } };
}

const purge = (selection: PurgeSelection) =>
  purgeEntries(store, selection, {
    soft: false,
    now: Date.now(),
    policy: DEFAULT_POLICY_OPTIONS,
    tagHeaders: TAG_HEADERS,
  });

const stored = async (path: string) => (await store.lookup(`${ORIGIN}${path}`)).length > 0;

/** Which master (by the slot ranges startRedisCluster assigns: 0-5460, 5461-10922, 10923-16383) holds a Redis key. */
function masterOf(redisKey: string): number {
  const slot = calculateSlot(redisKey);
  return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
}

describe('purge indexes on a Redis Cluster', () => {
  test('the 16 prefix shards and the tag indexes spread over the masters', () => {
    const shards = '0123456789abcdef'.split('').map((shard) => keys.prefixShard(shard));
    for (const { lex, until } of shards) expect(calculateSlot(lex)).toBe(calculateSlot(until));
    expect(new Set(shards.map(({ lex }) => masterOf(lex))).size).toBe(3);
    const tags = Array.from({ length: 30 }, (_, i) => keys.tagIndex(`tag-${i}`));
    expect(new Set(tags.map(masterOf)).size).toBe(3);
  });

  test('by tag and by prefix: entries on every master are found, the others kept', async () => {
    const blue = Array.from({ length: 24 }, (_, i) => `/blue/${i}`);
    const under = Array.from({ length: 24 }, (_, i) => `/under/${i}`);
    const others = Array.from({ length: 24 }, (_, i) => `/elsewhere/${i}`);
    expect(new Set(blue.map((path) => masterOf(keys.meta(hashKey(`${ORIGIN}${path}`))))).size).toBe(3);
    for (const path of blue) await writeEntry(store, tagged(path, 'blue'), path);
    for (const path of [...under, ...others]) await writeEntry(store, tagged(path, 'green'), path);

    expect(await purge({ kind: 'tag', tags: ['blue'] })).toEqual({ purged: 24, soft: false });
    expect(await purge({ kind: 'prefix', prefix: `${ORIGIN}/under/` })).toEqual({ purged: 24, soft: false });
    for (const path of [...blue, ...under]) expect(await stored(path)).toBe(false);
    for (const path of others) expect(await stored(path)).toBe(true);
  });

  test('a shard deleted on its master: the entries it held are misses, never served', async () => {
    const path = '/cluster-lost/a';
    await writeEntry(store, tagged(path, 'lost'), 'a');
    const shard = keys.prefixShard(hashKey(`${ORIGIN}${path}`).charAt(0));
    await inspector.del(shard.lex, shard.until);
    const later = await openRedisStore(cluster, { entryTags });
    try {
      expect((await later.lookup(`${ORIGIN}${path}`)).length).toBe(0);
      // Written again, it is indexed in a new incarnation of the shard, and served.
      await writeEntry(later, tagged(path, 'lost'), 'a again');
      expect((await later.lookup(`${ORIGIN}${path}`)).length).toBe(1);
    } finally {
      await later.close();
    }
  });

  test('a purge of everything: no entry on any master is served; the sweep deletes them from every master', async () => {
    const paths = Array.from({ length: 30 }, (_, i) => `/everything/${i}`);
    for (const path of paths) await writeEntry(store, tagged(path, 'x'), path);
    expect(new Set(paths.map((path) => masterOf(keys.meta(hashKey(`${ORIGIN}${path}`))))).size).toBe(3);
    await purge({ kind: 'all' });
    for (const path of paths) expect(await stored(path)).toBe(false);
    await store.sweeping;
    for (const master of cluster.masters) {
      const node = inspector.nodes('master').find((candidate) => candidate.options.port === master.port)!;
      expect(await node.keys(keys.metaPattern)).toEqual([]);
    }
  });
});
