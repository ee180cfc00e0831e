import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import type { EntryMeta } from '@simple-cache/common';
import { tagsOf } from '../../src/admin/tags.js';
import type { DiskStore } from '../../src/store/disk-store.js';
import { MemoryTier, type InnerStore } from '../../src/store/memory-tier.js';
import type { Invalidation, InvalidationBus } from '../../src/store/redis/invalidation-bus.js';
import { applyToTier, createPurgeAnnouncer, type PurgeNotice } from '../../src/store/redis/tier-sync.js';
import { makeTempDir, openDiskStore, type TempDir } from '../store/disk-helpers.js';
import { makeMeta, writeEntry } from '../store/store-helpers.js';

/**
 * The memory tier in front of a shared store: what each bus event drops, and what it serves by
 * itself while its inner store fails (Redis away). A disk store stands in for Redis here; the
 * wrapper makes its calls fail on demand.
 */
const ORIGIN = 'http://origin.test';
const TAGS = ['surrogate-key'];
const entryTags = (entry: EntryMeta) => tagsOf(entry.headers, TAGS);

/** Held entries by name: key and purge tags. */
const HELD = {
  red1: { key: `${ORIGIN}/a/1`, tags: 'red' },
  blue2: { key: `${ORIGIN}/a/2`, tags: 'blue' },
  red3: { key: `${ORIGIN}/b/3`, tags: 'red green' },
} as const;
type Name = keyof typeof HELD;
const NAMES = Object.keys(HELD) as Name[];

let temp: TempDir;
let disk: DiskStore;
let down: boolean;
let tier: MemoryTier;
let entries: Record<Name, EntryMeta>;

/** `disk` behind an InnerStore whose lookups, reads, updates and deletes reject while `down`. */
function failing(inner: DiskStore): InnerStore {
  const away = () => Promise.reject(new Error('the inner store is away'));
  return {
    maxObjectSize: inner.maxObjectSize,
    lookup: (key) => (down ? away() : inner.lookup(key)),
    openBody: (entry, range) => (down ? away() : inner.openBody(entry, range)),
    beginWrite: (meta) => inner.beginWrite(meta),
    markUsed: (entry) => inner.markUsed(entry),
    updateMeta: (meta) => (down ? away() : inner.updateMeta(meta)),
    delete: (key, variant) => (down ? away() : inner.delete(key, variant)),
    entries: () => inner.entries(),
    stats: () => inner.stats(),
    close: () => inner.close(),
    onBodyRemoved: (listener) => inner.onBodyRemoved(listener),
  };
}

beforeEach(async () => {
  temp = await makeTempDir();
  disk = await openDiskStore(temp.dir);
  down = false;
  tier = new MemoryTier(failing(disk), { maxSize: 1024 * 1024, maxObjectSize: 64 * 1024 });
  entries = {} as Record<Name, EntryMeta>;
  for (const name of NAMES) {
    const { key, tags } = HELD[name];
    const meta = makeMeta(key, { headers: { 'cache-control': 'max-age=60', 'surrogate-key': tags } });
    entries[name] = await writeEntry(tier, meta, `body of ${name}`);
  }
});
afterEach(async () => {
  await tier.close();
  await temp.cleanup();
});

const held = () => NAMES.filter((name) => tier.getBody(entries[name]) !== undefined);

describe('bus events drop what they name from the memory tier', () => {
  test.each<[string, Invalidation, Name[]]>([
    ['a key changed on another node (every variant)', { kind: 'key', key: HELD.red1.key, reason: 'update' }, ['red1']],
    ['a key deleted on another node', { kind: 'key', key: HELD.blue2.key, reason: 'delete' }, ['blue2']],
    ['another variant of a key', { kind: 'key', key: HELD.red1.key, variant: 'gzip', reason: 'update' }, []],
    ['one variant of a key', { kind: 'key', key: HELD.red1.key, variant: '', reason: 'update' }, ['red1']],
    ['a purge by prefix', { kind: 'prefix', prefix: `${ORIGIN}/a/` }, ['red1', 'blue2']],
    ['a purge by tag', { kind: 'tag', tag: 'red' }, ['red1', 'red3']],
    ['a purge by a tag nothing has', { kind: 'tag', tag: 'purple' }, []],
    ['a purge of everything', { kind: 'all', reason: 'purge' }, NAMES],
    ['a resync after missed events', { kind: 'all', reason: 'resync' }, NAMES],
  ])('%s', (_rule, event, dropped) => {
    expect(held()).toEqual(NAMES);
    applyToTier(tier, event, entryTags);
    expect(held()).toEqual(NAMES.filter((name) => !dropped.includes(name)));
  });
});

describe('a purge announced by this node', () => {
  test.each<[PurgeNotice, Invalidation[], Name[]]>([
    [{ kind: 'url', key: HELD.red3.key }, [{ kind: 'key', key: HELD.red3.key, reason: 'delete' }], ['red3']],
    [{ kind: 'prefix', prefix: `${ORIGIN}/b/` }, [{ kind: 'prefix', prefix: `${ORIGIN}/b/` }], ['red3']],
    [
      { kind: 'tag', tags: ['blue', 'green'] },
      [
        { kind: 'tag', tag: 'blue' },
        { kind: 'tag', tag: 'green' },
      ],
      ['blue2', 'red3'],
    ],
    [{ kind: 'all' }, [{ kind: 'all', reason: 'purge' }], NAMES],
  ])('%j: dropped here at once, published for the others', async (notice, published, dropped) => {
    const sent: Invalidation[] = [];
    const bus = { publish: async (event: Invalidation) => void sent.push(event) } as unknown as InvalidationBus;
    await createPurgeAnnouncer(tier, bus, entryTags)(notice);
    expect(sent).toEqual(published);
    expect(held()).toEqual(NAMES.filter((name) => !dropped.includes(name)));
  });
});

describe('while the inner store fails', () => {
  test('lookups answer from what the tier holds, and bodies are served from memory', async () => {
    down = true;
    const [found] = await tier.lookup(HELD.red1.key);
    expect(found).toEqual(entries.red1);
    expect(tier.getBody(found!)?.toString()).toBe('body of red1');
    await expect(tier.lookup(`${ORIGIN}/not-held`)).rejects.toThrow('the inner store is away');
  });

  test('a delete (a purge, an invalidation) still drops the held copy, and the failure is reported', async () => {
    down = true;
    await expect(tier.delete(HELD.blue2.key)).rejects.toThrow('the inner store is away');
    expect(held()).toEqual(['red1', 'red3']);
    await expect(tier.lookup(HELD.blue2.key)).rejects.toThrow('the inner store is away');
  });

  test('an update (a soft purge, a 304) still replaces the held metadata', async () => {
    down = true;
    const staled: EntryMeta = { ...entries.red3, headers: { ...entries.red3.headers, age: '60' } };
    await expect(tier.updateMeta(staled)).rejects.toThrow('the inner store is away');
    expect(await tier.lookup(HELD.red3.key)).toEqual([staled]);
  });

  test('a body the tier evicted (least recently used) is no longer answered', async () => {
    const small = new MemoryTier(failing(disk), { maxSize: 100 * 1024, maxObjectSize: 64 * 1024 });
    const keys = [1, 2, 3].map((n) => `${ORIGIN}/big/${n}`);
    for (const key of keys) await writeEntry(small, makeMeta(key), Buffer.alloc(40 * 1024, key));
    down = true;
    await expect(small.lookup(keys[0]!)).rejects.toThrow('the inner store is away');
    expect(await small.lookup(keys[2]!)).toHaveLength(1);
  });

  test('what is no longer held is no longer answered', async () => {
    applyToTier(tier, { kind: 'all', reason: 'resync' }, entryTags);
    down = true;
    await expect(tier.lookup(HELD.red1.key)).rejects.toThrow('the inner store is away');
  });
});
