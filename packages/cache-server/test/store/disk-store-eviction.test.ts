import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import type { DiskStore } from '../../src/store/disk-store.js';
import { createLayout } from '../../src/store/layout.js';
import { listFiles, makeTempDir, openDiskStore, type TempDir } from './disk-helpers.js';
import { makeMeta, randomBody, writeEntry, type NewEntry } from './store-helpers.js';

const MAX_SIZE = 1000;
const key = (name: string): string => `http://origin.test/${name}`;

describe('DiskStore keeps its size bounded', () => {
  let temp: TempDir;
  let store: DiskStore;

  beforeEach(async () => {
    temp = await makeTempDir();
    store = await openDiskStore(temp.dir, MAX_SIZE);
  });
  afterEach(async () => {
    await store.close();
    await temp.cleanup();
  });

  /** Entries a, b, c … of 300 bytes, each response a second younger than the previous. */
  async function writeAged(names: string[], since = Date.now() - 60_000): Promise<void> {
    for (const [i, name] of names.entries()) {
      const meta: NewEntry = makeMeta(key(name), { responseTime: since + i * 1000, requestTime: since + i * 1000 });
      await writeEntry(store, meta, randomBody(300));
    }
  }

  async function storedNames(): Promise<string[]> {
    const names: string[] = [];
    for (const name of ['a', 'b', 'c', 'd', 'e']) if ((await store.lookup(key(name))).length > 0) names.push(name);
    return names;
  }

  test('the least recently stored entry is evicted first', async () => {
    await writeAged(['a', 'b', 'c']);
    expect(store.stats()).toMatchObject({ size: 900, evictions: 0 });
    await writeAged(['d'], Date.now());
    expect(await storedNames()).toEqual(['b', 'c', 'd']);
    expect(store.stats()).toEqual({ entries: 3, size: 900, maxSize: MAX_SIZE, evictions: 1 });
    expect((await listFiles(createLayout(temp.dir).bodyDir)).length).toBe(3);
  });

  test('serving an entry (markUsed) protects it', async () => {
    await writeAged(['a', 'b', 'c']);
    const [a] = await store.lookup(key('a'));
    store.markUsed(a!);
    await writeAged(['d'], Date.now());
    expect(await storedNames()).toEqual(['a', 'c', 'd']);
  });

  test('after many uses (stale recency facts compacted away) the order is still least recently used', async () => {
    await writeAged(['a', 'b', 'c']);
    const [a] = await store.lookup(key('a'));
    const [c] = await store.lookup(key('c'));
    for (let i = 0; i < 200; i++) {
      store.markUsed(a!);
      store.markUsed(c!);
    }
    await writeAged(['d'], Date.now());
    expect(await storedNames()).toEqual(['a', 'c', 'd']);
    const [d] = await store.lookup(key('d'));
    for (let i = 0; i < 200; i++) {
      store.markUsed(c!);
      store.markUsed(d!);
    }
    await writeAged(['e'], Date.now());
    expect(await storedNames()).toEqual(['c', 'd', 'e']);
    expect((await store.lookup(key('c')))[0]?.hits).toBe(400);
  });

  test('recency survives a restart', async () => {
    await writeAged(['a', 'b', 'c']);
    const [a] = await store.lookup(key('a'));
    store.markUsed(a!);
    await store.close();
    store = await openDiskStore(temp.dir, MAX_SIZE);
    await store.ready();
    await writeAged(['d'], Date.now());
    expect(await storedNames()).toEqual(['a', 'c', 'd']);
  });

  test('an evicted entry stays evicted after a restart', async () => {
    await writeAged(['a', 'b', 'c', 'd']);
    await store.close();
    store = await openDiskStore(temp.dir, MAX_SIZE);
    await store.ready();
    expect(await storedNames()).toEqual(['b', 'c', 'd']);
    expect(store.stats()).toMatchObject({ entries: 3, size: 900 });
  });

  test('the size never exceeds maxSize after a commit, whatever the mix', async () => {
    const sizes = [10, 999, 1, 500, 501, 0, 1000, 250, 250, 250, 250, 333, 700, 64, 900, 5];
    let evictions = 0;
    for (const [i, size] of sizes.entries()) {
      await writeEntry(store, makeMeta(key(`mix/${i}`), { size }), randomBody(size));
      const stats = store.stats();
      expect(stats.size).toBeLessThanOrEqual(MAX_SIZE);
      expect(stats.evictions).toBeGreaterThanOrEqual(evictions);
      evictions = stats.evictions;
      expect((await store.lookup(key(`mix/${i}`))).length).toBe(1);
    }
    expect(evictions).toBeGreaterThan(0);
  });

  test('concurrent commits together still end within maxSize', async () => {
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => writeEntry(store, makeMeta(key(`c/${i}`)), randomBody(200))),
    );
    expect(store.stats()).toMatchObject({ entries: 5, size: 1000, evictions: 7 });
  });

  test('an object of exactly maxSize is stored and evicts everything else', async () => {
    await writeAged(['a', 'b']);
    await writeEntry(store, makeMeta(key('big')), randomBody(MAX_SIZE));
    expect(store.stats()).toMatchObject({ entries: 1, size: MAX_SIZE, evictions: 2 });
  });

  test.each([
    ['announced', MAX_SIZE + 1],
    ['unknown in advance', -1],
  ])('an object larger than maxSize (size %s) is rejected at commit, nothing stored', async (_label, size) => {
    await writeAged(['a']);
    await expect(writeEntry(store, makeMeta(key('huge'), { size }), randomBody(MAX_SIZE + 1))).rejects.toMatchObject({
      code: 'CACHE_ERR_ENTRY_TOO_LARGE',
    });
    expect(await store.lookup(key('huge'))).toEqual([]);
    expect(store.stats()).toMatchObject({ entries: 1, size: 300, evictions: 0 });
    expect(await readdir(createLayout(temp.dir).tmpDir)).toEqual([]);
  });
});
