import { describe, expect, test } from '@jest/globals';
import type { EntryMeta } from '@simple-cache/common';
import { EntryIndex, RECENCY_INTERVAL_MS } from '../../src/store/entry-index.js';
import { makeMeta } from './store-helpers.js';

const T0 = 1_700_000_000_000;

/** Entries a, b, c … stored one second apart from T0, 100 bytes each. */
function indexOf(names: string[]): { index: EntryIndex; meta: (name: string) => EntryMeta } {
  const index = new EntryIndex();
  for (const [i, name] of names.entries()) {
    const at = T0 + i * 1000;
    index.setVariants(name, [
      { meta: { ...makeMeta(name, { responseTime: at, requestTime: at }), size: 100, bodyId: name }, cost: 100 },
    ]);
  }
  index.markComplete();
  return { index, meta: (name) => index.find(name, '') as EntryMeta };
}

const order = (index: EntryIndex): string[] => index.leastRecentlyUsedMany(Infinity, 100).map((meta) => meta.key);

describe('EntryIndex recency (what eviction and --inactive read)', () => {
  test('a use moves an entry to the most recent end', () => {
    const { index } = indexOf(['a', 'b', 'c']);
    index.touch('a', '', 'a', T0 + 10_000);
    expect(order(index)).toEqual(['b', 'c', 'a']);
  });

  test('uses within the recency interval count as hits but move the entry once', () => {
    const { index, meta } = indexOf(['a', 'b', 'c']);
    index.touch('a', '', 'a', T0 + 10_000);
    index.touch('b', '', 'b', T0 + 10_001);
    index.touch('a', '', 'a', T0 + 10_000 + RECENCY_INTERVAL_MS - 1);
    expect(order(index)).toEqual(['c', 'a', 'b']);
    expect(meta('a')).toMatchObject({ hits: 2, lastAccess: T0 + 10_000 });
    index.touch('a', '', 'a', T0 + 10_000 + RECENCY_INTERVAL_MS);
    expect(order(index)).toEqual(['c', 'b', 'a']);
    expect(meta('a')).toMatchObject({ hits: 3, lastAccess: T0 + 10_000 + RECENCY_INTERVAL_MS });
  });

  test('a clock that went back moves the entry (never stuck in the future)', () => {
    const { index, meta } = indexOf(['a', 'b']);
    index.touch('a', '', 'a', T0 + 60_000);
    index.touch('a', '', 'a', T0 + 30_000);
    expect(meta('a').lastAccess).toBe(T0 + 30_000);
  });

  test('after many uses over many intervals (stale heap facts compacted) the order is still exact', () => {
    const { index, meta } = indexOf(['a', 'b', 'c', 'd']);
    let now = T0 + 10_000;
    for (let i = 0; i < 300; i++) {
      for (const name of ['d', 'a', 'c']) index.touch(name, '', name, (now += RECENCY_INTERVAL_MS));
    }
    expect(order(index)).toEqual(['b', 'd', 'a', 'c']);
    expect(meta('c').hits).toBe(300);
    expect(
      index
        .dirtyVariants()
        .map(({ key }) => key)
        .sort(),
    ).toEqual(['a', 'c', 'd']);
  });

  test('a use of a replaced body changes nothing', () => {
    const { index, meta } = indexOf(['a', 'b']);
    expect(index.touch('a', '', 'old-body', T0 + 10_000)).toBe(false);
    expect(meta('a').hits).toBeUndefined();
    expect(order(index)).toEqual(['a', 'b']);
  });
});
