import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { DiskStore } from '../../src/store/disk-store.js';
import { MemoryTier } from '../../src/store/memory-tier.js';
import { bodyFileOf, makeTempDir, type TempDir } from './disk-helpers.js';
import { describeStoreContract, type MakeStore } from './store-suite.js';
import { makeMeta, randomBody, readAll, readBody, writeEntry } from './store-helpers.js';
import { createTestFs, type TestFs } from './test-fs.js';

const KiB = 1024;
const THRESHOLD = 64 * KiB;
const KEY = 'http://origin.test/hot';

/** The contract again, on the tier in front of a disk store: every rule must hold through it. */
const makeMemoryTier: MakeStore = async (options) => {
  const temp = await makeTempDir();
  const disk = await DiskStore.open({ dir: temp.dir, maxSize: options?.maxSize ?? 64 * 1024 * KiB });
  const store = new MemoryTier(disk, { maxSize: 1024 * KiB, maxObjectSize: THRESHOLD });
  return {
    store,
    async cleanup() {
      await store.close();
      await temp.cleanup();
    },
  };
};

describeStoreContract('MemoryTier(DiskStore)', makeMemoryTier);

describe('MemoryTier', () => {
  let temp: TempDir;
  let testFs: TestFs;
  let disk: DiskStore;
  let tier: MemoryTier;

  async function open(memory = { maxSize: 1024 * KiB, maxObjectSize: THRESHOLD }, maxSize = 64 * 1024 * KiB) {
    disk = await DiskStore.open({ dir: temp.dir, maxSize, fs: testFs.fs, blockSize: 4 * KiB });
    await disk.ready();
    tier = new MemoryTier(disk, memory);
  }

  beforeEach(async () => {
    temp = await makeTempDir();
    testFs = createTestFs();
    await open();
  });
  afterEach(async () => {
    await tier.close();
    await temp.cleanup();
  });

  /** Runs `work` and returns the file-system calls it made. */
  async function fsCallsOf(work: () => Promise<unknown>): Promise<Record<string, number>> {
    testFs.resetCounts();
    await work();
    return testFs.counts();
  }

  test('a small body committed through the tier is served with no file-system call at all', async () => {
    const body = randomBody(10 * KiB);
    await writeEntry(tier, makeMeta(KEY), body);
    let served: Buffer | undefined;
    const calls = await fsCallsOf(async () => {
      const [entry] = await tier.lookup(KEY);
      tier.markUsed(entry!);
      served = await readBody(tier, entry!);
    });
    expect(calls).toEqual({});
    expect(served!.equals(body)).toBe(true);
    expect(tier.memoryStats()).toMatchObject({ entries: 1, size: body.length, hits: 1, misses: 0 });
  });

  test('getBody hands out the held bytes synchronously; ranges are sliced from them', async () => {
    const body = randomBody(5000);
    const entry = await writeEntry(tier, makeMeta(KEY, { size: body.length }), body);
    expect(tier.getBody(entry)?.equals(body)).toBe(true);
    expect(tier.lookupSync(KEY)).toEqual([entry]);
    const calls = await fsCallsOf(async () => {
      expect((await readBody(tier, entry, { start: 100, end: 199 })).equals(body.subarray(100, 200))).toBe(true);
    });
    expect(calls).toEqual({});
    await expect(tier.openBody(entry, { start: 10, end: 5000 })).rejects.toMatchObject({ code: 'CACHE_ERR_BAD_RANGE' });
  });

  test('a body stored before the tier existed is read from disk once, then from memory', async () => {
    const body = randomBody(20 * KiB);
    const entry = await writeEntry(disk, makeMeta(KEY), body);
    expect(tier.getBody(entry)).toBeUndefined();
    const first = await fsCallsOf(async () => expect((await readBody(tier, entry)).equals(body)).toBe(true));
    expect(first.open).toBe(1);
    const second = await fsCallsOf(async () => expect((await readBody(tier, entry)).equals(body)).toBe(true));
    expect(second).toEqual({});
    expect(tier.memoryStats()).toMatchObject({ hits: 1, misses: 1 });
  });

  test('concurrent first reads of one body read the disk once', async () => {
    const body = randomBody(30 * KiB);
    const entry = await writeEntry(disk, makeMeta(KEY), body);
    const calls = await fsCallsOf(async () => {
      const bodies = await Promise.all(Array.from({ length: 10 }, () => readBody(tier, entry)));
      expect(bodies.every((b) => b.equals(body))).toBe(true);
    });
    expect(calls.open).toBe(1);
  });

  test.each([
    ['announced larger than the threshold', THRESHOLD + 1, THRESHOLD + 1],
    ['of unknown size, found larger while written', -1, THRESHOLD + 1],
  ])('a body %s is stored on disk but not held in memory', async (_label, size, length) => {
    const body = randomBody(length);
    const entry = await writeEntry(tier, makeMeta(KEY, { size }), body);
    expect(tier.getBody(entry)).toBeUndefined();
    const calls = await fsCallsOf(async () => expect((await readBody(tier, entry)).equals(body)).toBe(true));
    expect(calls.open).toBe(1);
    expect(tier.getBody(entry)).toBeUndefined();
    expect(tier.memoryStats()).toMatchObject({ entries: 0, size: 0 });
  });

  test('a body of exactly the threshold is held', async () => {
    const entry = await writeEntry(tier, makeMeta(KEY), randomBody(THRESHOLD));
    expect(tier.getBody(entry)?.length).toBe(THRESHOLD);
  });

  describe('coherence: the held copy goes when the disk entry goes', () => {
    test('replacing an entry drops the old body and holds the new one', async () => {
      const old = await writeEntry(tier, makeMeta(KEY), 'old body');
      const next = await writeEntry(tier, makeMeta(KEY), 'new body');
      expect(tier.getBody(old)).toBeUndefined();
      expect(tier.getBody(next)?.toString()).toBe('new body');
      const [found] = await tier.lookup(KEY);
      expect((await readBody(tier, found!)).toString()).toBe('new body');
      expect(tier.memoryStats().entries).toBe(1);
    });

    test('delete drops it: the old entry can no longer be opened', async () => {
      const entry = await writeEntry(tier, makeMeta(KEY), 'doomed');
      await tier.delete(KEY);
      expect(tier.getBody(entry)).toBeUndefined();
      await expect(tier.openBody(entry)).rejects.toMatchObject({ code: 'CACHE_ERR_ENTRY_GONE' });
    });

    test('eviction on disk drops it', async () => {
      await tier.close();
      // Room for one entry of 2 KiB (a 4 KiB block for its body, one for its meta file), not two.
      await open(undefined, 12 * KiB);
      const first = await writeEntry(tier, makeMeta(`${KEY}/1`), randomBody(2 * KiB));
      const second = await writeEntry(tier, makeMeta(`${KEY}/2`), randomBody(2 * KiB));
      expect(disk.stats()).toMatchObject({ entries: 1, evictions: 1 });
      expect(tier.getBody(first)).toBeUndefined();
      expect(tier.getBody(second)).toBeDefined();
    });

    test('a body found corrupt on disk is never held', async () => {
      const entry = await writeEntry(disk, makeMeta(KEY), 'intact');
      await rm(bodyFileOf(temp.dir, entry.bodyId));
      await expect(tier.openBody(entry)).rejects.toMatchObject({ code: 'CACHE_ERR_ENTRY_GONE' });
      expect(tier.getBody(entry)).toBeUndefined();
      expect(await tier.lookup(KEY)).toEqual([]);
    });

    test('updateMeta keeps the held body and its metadata change is visible', async () => {
      const entry = await writeEntry(tier, makeMeta(KEY), 'body');
      await tier.updateMeta({ ...entry, headers: { etag: '"2"' } });
      const [found] = await tier.lookup(KEY);
      expect(found?.headers).toEqual({ etag: '"2"' });
      expect(tier.getBody(found!)?.toString()).toBe('body');
    });

    test('a body opened from memory before it is replaced still reads complete and old', async () => {
      const oldBody = randomBody(8 * KiB);
      const old = await writeEntry(tier, makeMeta(KEY), oldBody);
      const reading = await tier.openBody(old);
      await writeEntry(tier, makeMeta(KEY), randomBody(8 * KiB));
      expect((await readAll(reading)).equals(oldBody)).toBe(true);
    });
  });

  test('the memory budget is kept: least recently used bodies leave first', async () => {
    await tier.close();
    await open({ maxSize: 100 * KiB, maxObjectSize: THRESHOLD });
    const entries = [];
    for (let i = 0; i < 5; i++) entries.push(await writeEntry(tier, makeMeta(`${KEY}/${i}`), randomBody(30 * KiB)));
    // 150 KiB written into 100 KiB: the first two, least recently used, had to go.
    expect(tier.memoryStats().size).toBeLessThanOrEqual(100 * KiB);
    const held = entries.map((entry) => tier.getBody(entry) !== undefined);
    expect(held).toEqual([false, false, true, true, true]);
    expect(tier.memoryStats()).toMatchObject({ entries: 3, size: 90 * KiB, maxSize: 100 * KiB });
    // Dropped from memory only: still on disk.
    expect((await readBody(tier, entries[0]!)).length).toBe(30 * KiB);
  });

  test('recency: a body read recently outlives one that was not', async () => {
    await tier.close();
    await open({ maxSize: 70 * KiB, maxObjectSize: THRESHOLD });
    const a = await writeEntry(tier, makeMeta(`${KEY}/a`), randomBody(30 * KiB));
    const b = await writeEntry(tier, makeMeta(`${KEY}/b`), randomBody(30 * KiB));
    await readBody(tier, a);
    const c = await writeEntry(tier, makeMeta(`${KEY}/c`), randomBody(30 * KiB));
    expect([a, b, c].map((entry) => tier.getBody(entry) !== undefined)).toEqual([true, false, true]);
  });

  test('a failed write holds nothing', async () => {
    const writer = tier.beginWrite(makeMeta(KEY, { size: 100 }));
    writer.body.write(Buffer.alloc(50));
    await expect(writer.commit()).rejects.toMatchObject({ code: 'CACHE_ERR_SIZE_MISMATCH' });
    expect(tier.memoryStats()).toMatchObject({ entries: 0, size: 0 });
  });

  test('stats, health and maxObjectSize are the disk store’s', async () => {
    await writeEntry(tier, makeMeta(KEY), 'abc');
    expect(tier.stats()).toEqual(disk.stats());
    expect(tier.health()).toEqual({ state: 'ok' });
    expect(tier.maxObjectSize).toBe(disk.maxObjectSize);
  });

  test('a memory budget smaller than the object threshold caps the threshold', async () => {
    await tier.close();
    await open({ maxSize: 8 * KiB, maxObjectSize: THRESHOLD });
    const big = await writeEntry(tier, makeMeta(`${KEY}/big`), randomBody(10 * KiB));
    const small = await writeEntry(tier, makeMeta(`${KEY}/small`), randomBody(6 * KiB));
    expect(tier.getBody(big)).toBeUndefined();
    await readBody(tier, big);
    expect(tier.getBody(big)).toBeUndefined();
    expect(tier.getBody(small)).toBeDefined();
    expect(tier.memoryStats()).toMatchObject({ entries: 1, size: 6 * KiB });
  });

  test('purges of everything and selections go to the inner store when it has its own, else through its entries', async () => {
    const body = randomBody(KiB);
    const held = await writeEntry(tier, makeMeta(`${KEY}/a`), body);
    await writeEntry(tier, makeMeta(`${KEY}/b`), body);
    expect(tier.getBody(held)).toBeDefined();
    // The disk store has neither: every entry is a candidate, and everything is deleted one by one.
    const selected = [];
    for await (const entry of tier.select({ kind: 'tag', tags: ['t'] })) selected.push(entry.key);
    expect(selected.sort()).toEqual([`${KEY}/a`, `${KEY}/b`]);
    expect(await tier.purgeAll()).toBe(2);
    expect(await tier.lookup(`${KEY}/a`)).toEqual([]);
    expect(tier.getBody(held)).toBeUndefined();

    // An inner store that has both (the Redis store) is asked; what the tier holds goes anyway.
    const asked: string[] = [];
    const inner = new Proxy(disk, {
      get(target, name) {
        if (name === 'purgeAll') return () => (asked.push('purgeAll'), Promise.resolve(7));
        if (name === 'select') return () => (asked.push('select'), target.entries());
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const front = new MemoryTier(inner, { maxSize: 1024 * KiB, maxObjectSize: THRESHOLD });
    const kept = await writeEntry(front, makeMeta(`${KEY}/c`), body);
    let candidates = 0;
    for await (const entry of front.select({ kind: 'prefix', prefix: KEY }))
      candidates += entry.key === kept.key ? 1 : 0;
    expect(candidates).toBe(1);
    expect(await front.purgeAll()).toBe(7);
    expect(asked).toEqual(['select', 'purgeAll']);
    expect(front.getBody(kept)).toBeUndefined();
  });

  test('deleteMany: the inner store’s batched deletion when it has one, else one delete after another; held bodies go even when the inner store fails', async () => {
    const body = randomBody(KiB);
    const [a, b, kept] = [
      await writeEntry(tier, makeMeta(`${KEY}/a`), body),
      await writeEntry(tier, makeMeta(`${KEY}/b`), body),
      await writeEntry(tier, makeMeta(`${KEY}/kept`), body),
    ];
    // The disk store has none: each is deleted through delete().
    await tier.deleteMany([a, b]);
    expect(await tier.lookup(a.key)).toEqual([]);
    expect(await tier.lookup(b.key)).toEqual([]);
    expect(tier.getBody(a)).toBeUndefined();
    expect(tier.getBody(kept)).toBeDefined();
    expect(await tier.lookup(kept.key)).toHaveLength(1);

    // An inner store that batches (the Redis store) gets the whole list, once; failing, it leaves
    // nothing held here.
    const asked: string[][] = [];
    const inner = new Proxy(disk, {
      get(target, name) {
        if (name === 'deleteMany')
          return (entries: { key: string }[]) => (
            asked.push(entries.map((entry) => entry.key)),
            Promise.reject(new Error('Redis went away'))
          );
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const front = new MemoryTier(inner, { maxSize: 1024 * KiB, maxObjectSize: THRESHOLD });
    const [c, d] = [
      await writeEntry(front, makeMeta(`${KEY}/c`), body),
      await writeEntry(front, makeMeta(`${KEY}/d`), body),
    ];
    await expect(front.deleteMany([c, d])).rejects.toThrow('Redis went away');
    expect(asked).toEqual([[c.key, d.key]]);
    expect(front.getBody(c)).toBeUndefined();
    expect(front.getBody(d)).toBeUndefined();
  });

  test('sizes must be positive integers', () => {
    expect(() => new MemoryTier(disk, { maxSize: 0, maxObjectSize: 1 })).toThrow(RangeError);
    expect(() => new MemoryTier(disk, { maxSize: 1, maxObjectSize: 1.5 })).toThrow(RangeError);
  });
});
