import { describe, expect, test } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import { createLayout } from '../../src/store/layout.js';
import { listFiles, useDiskStore } from './disk-helpers.js';
import { makeMeta, randomBody, writeEntry, type NewEntry } from './store-helpers.js';

/** Counted in blocks of 1 KiB: a body of up to 1 KiB takes one block, its meta file (< 1 KiB here) another. */
const BLOCK = 1024;
const ENTRY = 2 * BLOCK;
/** Room for three small entries. */
const MAX_SIZE = 3 * ENTRY;
const key = (name: string): string => `http://origin.test/${name}`;

describe('DiskStore keeps its size bounded', () => {
  const disk = useDiskStore({ maxSize: MAX_SIZE, blockSize: BLOCK });

  /** Entries a, b, c … of 300 bytes, each response a second younger than the previous. */
  async function writeAged(names: string[], since = Date.now() - 60_000): Promise<void> {
    for (const [i, name] of names.entries()) {
      const meta: NewEntry = makeMeta(key(name), { responseTime: since + i * 1000, requestTime: since + i * 1000 });
      await writeEntry(disk.store, meta, randomBody(300));
    }
  }

  async function storedNames(): Promise<string[]> {
    const names: string[] = [];
    for (const name of ['a', 'b', 'c', 'd', 'e']) if ((await disk.store.lookup(key(name))).length > 0) names.push(name);
    return names;
  }

  test('the least recently stored entry is evicted first', async () => {
    await writeAged(['a', 'b', 'c']);
    expect(disk.store.stats()).toMatchObject({ size: 3 * ENTRY, bodySize: 900, evictions: 0 });
    await writeAged(['d'], Date.now());
    expect(await storedNames()).toEqual(['b', 'c', 'd']);
    expect(disk.store.stats()).toMatchObject({ entries: 3, size: 3 * ENTRY, maxSize: MAX_SIZE, evictions: 1 });
    expect((await listFiles(createLayout(disk.temp.dir).bodyDir)).length).toBe(3);
  });

  test('serving an entry (markUsed) protects it', async () => {
    await writeAged(['a', 'b', 'c']);
    const [a] = await disk.store.lookup(key('a'));
    disk.store.markUsed(a!);
    await writeAged(['d'], Date.now());
    expect(await storedNames()).toEqual(['a', 'c', 'd']);
  });

  test('after many uses (stale recency facts compacted away) the order is still least recently used', async () => {
    await writeAged(['a', 'b', 'c']);
    const [a] = await disk.store.lookup(key('a'));
    const [c] = await disk.store.lookup(key('c'));
    for (let i = 0; i < 200; i++) {
      disk.store.markUsed(a!);
      disk.store.markUsed(c!);
    }
    await writeAged(['d'], Date.now());
    expect(await storedNames()).toEqual(['a', 'c', 'd']);
    const [d] = await disk.store.lookup(key('d'));
    for (let i = 0; i < 200; i++) {
      disk.store.markUsed(c!);
      disk.store.markUsed(d!);
    }
    await writeAged(['e'], Date.now());
    expect(await storedNames()).toEqual(['c', 'd', 'e']);
    expect((await disk.store.lookup(key('c')))[0]?.hits).toBe(400);
  });

  test('recency survives a restart', async () => {
    await writeAged(['a', 'b', 'c']);
    const [a] = await disk.store.lookup(key('a'));
    disk.store.markUsed(a!);
    await disk.store.close();
    await disk.reopen();
    await disk.store.ready();
    await writeAged(['d'], Date.now());
    expect(await storedNames()).toEqual(['a', 'c', 'd']);
  });

  test('an evicted entry stays evicted after a restart', async () => {
    await writeAged(['a', 'b', 'c', 'd']);
    await disk.store.close();
    await disk.reopen();
    await disk.store.ready();
    expect(await storedNames()).toEqual(['b', 'c', 'd']);
    expect(disk.store.stats()).toMatchObject({ entries: 3, size: 3 * ENTRY, bodySize: 900 });
  });

  test('the size never exceeds maxSize after a commit, whatever the mix', async () => {
    const sizes = [10, 999, 1, 500, 501, 0, 1000, 250, 250, 250, 250, 333, 700, 64, 900, 5];
    let evictions = 0;
    for (const [i, size] of sizes.entries()) {
      await writeEntry(disk.store, makeMeta(key(`mix/${i}`), { size }), randomBody(size));
      const stats = disk.store.stats();
      expect(stats.size).toBeLessThanOrEqual(MAX_SIZE);
      expect(stats.evictions).toBeGreaterThanOrEqual(evictions);
      evictions = stats.evictions;
      expect((await disk.store.lookup(key(`mix/${i}`))).length).toBe(1);
    }
    expect(evictions).toBeGreaterThan(0);
  });

  test('concurrent commits together still end within maxSize', async () => {
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => writeEntry(disk.store, makeMeta(key(`c/${i}`)), randomBody(200))),
    );
    expect(disk.store.stats()).toMatchObject({ entries: 3, size: 3 * ENTRY, bodySize: 600, evictions: 9 });
  });

  test('an entry that takes exactly maxSize (body and meta file) is stored and evicts everything else', async () => {
    await writeAged(['a', 'b']);
    await writeEntry(disk.store, makeMeta(key('big')), randomBody(MAX_SIZE - BLOCK));
    expect(disk.store.stats()).toMatchObject({ entries: 1, size: MAX_SIZE, evictions: 2 });
  });

  test.each([
    ['a body of maxSize (with its meta file it takes more)', MAX_SIZE, MAX_SIZE],
    ['a body larger than maxSize, announced', MAX_SIZE + 1, MAX_SIZE + 1],
    ['a body larger than maxSize, unknown in advance', -1, MAX_SIZE + 1],
  ])('%s: rejected at commit, nothing stored', async (_label, size, length) => {
    await writeAged(['a']);
    await expect(writeEntry(disk.store, makeMeta(key('huge'), { size }), randomBody(length))).rejects.toMatchObject({
      code: 'CACHE_ERR_ENTRY_TOO_LARGE',
    });
    expect(await disk.store.lookup(key('huge'))).toEqual([]);
    expect(disk.store.stats()).toMatchObject({ entries: 1, size: ENTRY, bodySize: 300, evictions: 0 });
    expect(await readdir(createLayout(disk.temp.dir).tmpDir)).toEqual([]);
  });
});
