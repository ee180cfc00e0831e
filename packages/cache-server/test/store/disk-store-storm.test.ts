import { describe, expect, test } from '@jest/globals';
import type { EntryMeta } from '@simple-cache/common';
import { createLayout } from '../../src/store/layout.js';
import { countedDiskSize, listFiles, useDiskStore } from './disk-helpers.js';
import { byKeyAndVariant, collect, makeMeta, readAll, readBody, sha1, writeEntry } from './store-helpers.js';

const MAX_SIZE = 200_000;
const KEYS = ['a', 'b', 'c', 'd'].map((name) => `http://origin.test/${name}`);
const VARIANTS = ['', 'gzip', 'br'];

/** A small seeded PRNG: each worker replays the same operations (their interleaving varies). */
function createRandom(seed: number): (n: number) => number {
  // mulberry32
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

describe('DiskStore under a storm of concurrent operations on few keys', () => {
  const disk = useDiskStore({ maxSize: MAX_SIZE });

  async function readIfPresent(entry: EntryMeta): Promise<void> {
    try {
      const body = await readAll(await disk.store.openBody(entry));
      // A body that could be opened is always complete and the one the entry names.
      expect(sha1(body)).toBe(entry.checksum);
    } catch (err) {
      expect(err).toMatchObject({ code: 'CACHE_ERR_ENTRY_GONE' });
    }
  }

  async function runOperation(random: (n: number) => number): Promise<void> {
    const key = KEYS[random(KEYS.length)]!;
    const variant = VARIANTS[random(VARIANTS.length)]!;
    switch (random(6)) {
      case 0:
      case 1: {
        const body = Buffer.alloc(1 + random(40_000), random(256));
        await writeEntry(disk.store, makeMeta(key, { variant, size: random(10) === 0 ? 1 : body.length }), body).catch(
          (err: unknown) => expect(err).toMatchObject({ code: 'CACHE_ERR_SIZE_MISMATCH' }),
        );
        return;
      }
      case 2:
        await Promise.all((await disk.store.lookup(key)).map((entry) => readIfPresent(entry)));
        return;
      case 3:
        for (const entry of await disk.store.lookup(key)) disk.store.markUsed(entry);
        return;
      case 4:
        for (const entry of await disk.store.lookup(key)) await disk.store.updateMeta({ ...entry, status: 203 });
        return;
      default:
        await disk.store.delete(key, random(2) === 0 ? variant : undefined);
    }
  }

  test('bodies stay whole, accounting matches the disk, and a restart sees the same entries', async () => {
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        const random = createRandom(worker + 1);
        for (let i = 0; i < 40; i++) await runOperation(random);
      }),
    );

    const entries = (await collect(disk.store.entries())).sort(byKeyAndVariant);
    for (const entry of entries) expect(sha1(await readBody(disk.store, entry))).toBe(entry.checksum);
    const stats = disk.store.stats();
    expect(stats.bodySize).toBe(entries.reduce((sum, entry) => sum + entry.size, 0));
    // What the store counts against maxSize is what its files take, block by block.
    expect(stats.size).toBe(await countedDiskSize(disk.temp.dir, disk.store.blockSize));
    expect(stats.size).toBeLessThanOrEqual(MAX_SIZE);

    await disk.store.close();
    const bodyFiles = (await listFiles(createLayout(disk.temp.dir).bodyDir)).map((path) => path.split('/')[1]);
    expect(bodyFiles.sort()).toEqual(entries.map((entry) => entry.bodyId).sort());
    expect(await listFiles(createLayout(disk.temp.dir).tmpDir)).toEqual([]);

    await disk.reopen();
    await disk.store.ready();
    const reloaded = (await collect(disk.store.entries())).sort(byKeyAndVariant);
    expect(reloaded.map((e) => [e.key, e.variant, e.bodyId])).toEqual(entries.map((e) => [e.key, e.variant, e.bodyId]));
    expect(disk.store.stats()).toMatchObject({ entries: entries.length, size: stats.size, bodySize: stats.bodySize });
  });
});
