import { describe, expect, test } from '@jest/globals';
import { MetaCache, type LiveVariant } from '../../src/store/redis/meta-cache.js';
import { makeMeta } from '../store/store-helpers.js';

/** The node's own copy of metadata: what it keeps, when it lets go, and the lookups it refuses to keep. */
const KEY = 'http://origin.test/a';
const NOW = 1_000_000;

function live(key: string, usefulUntil: number, variant = ''): LiveVariant {
  return { meta: { ...makeMeta(key, { variant }), bodyId: `body-${variant}`, checksum: 'x' }, usefulUntil };
}

describe('MetaCache', () => {
  test('a lookup answered without a change meanwhile is kept, and handed out as the same objects', () => {
    const cache = new MetaCache(10, 60_000);
    cache.end(cache.begin(KEY, NOW), [live(KEY, NOW + 5_000)]);
    const first = cache.peek(KEY, NOW + 1);
    expect(first).toHaveLength(1);
    expect(cache.peek(KEY, NOW + 2)).toBe(first);
  });

  test('a change announced while the lookup was on its way keeps its (possibly older) answer out', () => {
    const cache = new MetaCache(10, 60_000);
    const fill = cache.begin(KEY, NOW);
    cache.invalidate(KEY);
    cache.end(fill, [live(KEY, NOW + 5_000)]);
    expect(cache.peek(KEY, NOW)).toBeUndefined();
  });

  test.each<[string, (cache: MetaCache) => void, boolean]>([
    ['a change of that key', (cache) => cache.invalidate(KEY), false],
    ['a change of another key', (cache) => cache.invalidate(`${KEY}/other`), true],
    ['a purge of a prefix of it', (cache) => cache.invalidatePrefix('http://origin.test/'), false],
    ['a purge of another prefix', (cache) => cache.invalidatePrefix('http://elsewhere.test/'), true],
    ['a purge of everything (or a resync)', (cache) => cache.clear(), false],
  ])('%s: held copy kept = %s, racing lookup kept = the same', (_label, act, kept) => {
    const cache = new MetaCache(10, 60_000);
    cache.end(cache.begin(KEY, NOW), [live(KEY, NOW + 5_000)]);
    const racing = cache.begin(KEY, NOW);
    act(cache);
    expect(cache.peek(KEY, NOW) !== undefined).toBe(kept);
    cache.end(racing, [live(KEY, NOW + 5_000)]);
    expect(cache.peek(KEY, NOW) !== undefined).toBe(kept);
  });

  test('variants past their useful life drop out; with none left the key is gone', () => {
    const cache = new MetaCache(10, 60_000);
    cache.end(cache.begin(KEY, NOW), [live(KEY, NOW + 1_000, 'a'), live(KEY, NOW + 3_000, 'b')]);
    expect(cache.peek(KEY, NOW + 2_000)?.map((meta) => meta.variant)).toEqual(['b']);
    expect(cache.peek(KEY, NOW + 3_000)).toBeUndefined();
  });

  test('a copy older than maxAgeMs is asked for again (changes no message announces)', () => {
    const cache = new MetaCache(10, 500);
    cache.end(cache.begin(KEY, NOW), [live(KEY, NOW + 60_000)]);
    expect(cache.peek(KEY, NOW + 500)).toBeDefined();
    expect(cache.peek(KEY, NOW + 501)).toBeUndefined();
  });

  test('nothing stored is not remembered, and the number of keys is bounded', () => {
    const cache = new MetaCache(2, 60_000);
    cache.end(cache.begin(KEY, NOW), []);
    expect(cache.peek(KEY, NOW)).toBeUndefined();
    for (const key of ['a', 'b', 'c']) cache.end(cache.begin(key, NOW), [live(key, NOW + 5_000)]);
    expect(cache.size).toBe(2);
    expect(cache.peek('a', NOW)).toBeUndefined();
  });
});
