import { describe, expect, test } from '@jest/globals';
import { readdir, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DiskStore } from '../../src/store/disk-store.js';
import { createLayout } from '../../src/store/layout.js';
import { nodeFs, type StoreFs } from '../../src/store/store-fs.js';
import { listFiles, makeTempDir, metaFileOf, useDiskStore } from './disk-helpers.js';
import { chunksOf, makeMeta, randomBody, readBody, writeEntry } from './store-helpers.js';
import { createTestFs } from './test-fs.js';

const KiB = 1024;
const key = (name: string): string => `http://origin.test/${name}`;

describe('--max-object-size: larger bodies are passed through, never stored', () => {
  const testFs = createTestFs();
  const disk = useDiskStore({ maxSize: 100 * KiB, maxObjectSize: 10 * KiB, fs: testFs.fs });

  test('announced larger: the writer is aborted before any file is made, and says why', async () => {
    testFs.resetCounts();
    const writer = disk.store.beginWrite(makeMeta(key('big'), { size: 10 * KiB + 1 }));
    expect(writer.body.destroyed).toBe(true);
    await expect(writer.commit()).rejects.toMatchObject({ code: 'CACHE_ERR_ENTRY_TOO_LARGE' });
    expect(testFs.total()).toBe(0);
  });

  test('unknown size, found larger mid-stream: the body closes at once, without an error, and its temp file goes', async () => {
    const writer = disk.store.beginWrite(makeMeta(key('big')));
    const errors: unknown[] = [];
    writer.body.on('error', (err) => errors.push(err));
    const closed = new Promise((resolve) => writer.body.once('close', resolve));
    const body = randomBody(50 * KiB);
    // A tee keeps feeding its other consumers; the store's body just stops taking bytes.
    await pipeline(Readable.from(chunksOf(body, 4 * KiB)), writer.body).catch(() => undefined);
    await closed;
    await expect(writer.commit()).rejects.toMatchObject({ code: 'CACHE_ERR_ENTRY_TOO_LARGE' });
    expect(errors).toEqual([]);
    expect(await readdir(createLayout(disk.temp.dir).tmpDir)).toEqual([]);
    expect(await disk.store.lookup(key('big'))).toEqual([]);
  });

  test('the temp file is deleted as soon as the limit is passed, not when the stream ends', async () => {
    const writer = disk.store.beginWrite(makeMeta(key('big')));
    const closed = new Promise((resolve) => writer.body.once('close', resolve));
    writer.body.write(randomBody(8 * KiB));
    writer.body.write(randomBody(8 * KiB));
    await closed;
    // Neither ended nor committed: the store dropped the file on its own.
    const { tmpDir } = createLayout(disk.temp.dir);
    const deadline = Date.now() + 5000;
    while ((await readdir(tmpDir)).length > 0) {
      if (Date.now() > deadline) throw new Error('the temp file stayed');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await expect(writer.commit()).rejects.toMatchObject({ code: 'CACHE_ERR_ENTRY_TOO_LARGE' });
  });

  test('exactly the limit is stored', async () => {
    const body = randomBody(10 * KiB);
    const entry = await writeEntry(disk.store, makeMeta(key('fits')), body);
    expect((await readBody(disk.store, entry)).equals(body)).toBe(true);
    expect(disk.store.maxObjectSize).toBe(10 * KiB);
  });

  test('a limit above maxSize is capped to maxSize', async () => {
    const store = await disk.reopen({ maxSize: 5 * KiB, maxObjectSize: 50 * KiB });
    expect(store.maxObjectSize).toBe(5 * KiB);
    await expect(writeEntry(store, makeMeta(key('big')), randomBody(6 * KiB))).rejects.toMatchObject({
      code: 'CACHE_ERR_ENTRY_TOO_LARGE',
    });
  });

  test('open rejects a maxObjectSize that is not a non-negative integer', async () => {
    await expect(DiskStore.open({ dir: disk.temp.dir, maxSize: 1, maxObjectSize: -1 })).rejects.toBeInstanceOf(
      RangeError,
    );
  });
});

describe('--max-size holds before a body becomes visible', () => {
  const BLOCK = 4 * KiB;
  /**
   * Tracks what body/ and meta/ take as the file system sees them (each file in whole blocks),
   * at every rename into them and every unlink: what the store counts against --max-size.
   */
  function createMeteredFs() {
    const files = new Map<string, number>();
    let current = 0;
    let peak = 0;
    const blocks = (bytes: number) => Math.ceil(bytes / BLOCK) * BLOCK;
    const forget = (path: string) => {
      current -= files.get(path) ?? 0;
      files.delete(path);
    };
    const fs: StoreFs = {
      ...nodeFs,
      rename: async (from, to) => {
        const { size } = await stat(from);
        await nodeFs.rename(from, to);
        const target = String(to);
        if (target.includes('/body/') || target.includes('/meta/')) {
          forget(target);
          files.set(target, blocks(size));
          current += blocks(size);
          peak = Math.max(peak, current);
        }
      },
      unlink: async (path) => {
        await nodeFs.unlink(path);
        forget(String(path));
      },
    };
    return { fs, peak: () => peak, current: () => current };
  }

  const MAX = 100 * KiB;
  const metered = createMeteredFs();
  const disk = useDiskStore({ maxSize: MAX, fs: metered.fs, blockSize: BLOCK });

  test('40 concurrent commits of mixed sizes, some replacing each other: body/ and meta/ never take more than maxSize', async () => {
    const sizes = Array.from({ length: 40 }, (_, i) => ((i * 7919) % 30) * KiB + 1);
    await Promise.all(sizes.map((size, i) => writeEntry(disk.store, makeMeta(key(`k${i % 30}`)), randomBody(size))));
    expect(metered.peak()).toBeLessThanOrEqual(MAX);
    expect(disk.store.stats().size).toBe(metered.current());
    expect(disk.store.stats().evictions).toBeGreaterThan(0);
  });

  test('a smaller --max-size at the next start trims the store once the scan has seen everything', async () => {
    // Each entry takes 12 KiB of body blocks and a 4 KiB block of metadata: 6 fit in 100 KiB, 3 in 50 KiB.
    for (let i = 0; i < 10; i++) await writeEntry(disk.store, makeMeta(key(`k${i}`)), randomBody(10 * KiB));
    expect(disk.store.stats()).toMatchObject({ entries: 6, size: 96 * KiB, evictions: 4 });
    const store = await disk.reopen({ maxSize: 50 * KiB });
    await store.ready();
    expect(store.stats()).toMatchObject({ entries: 3, size: 48 * KiB, bodySize: 30 * KiB, evictions: 3 });
    // The most recently stored survive.
    expect((await store.lookup(key('k9'))).length).toBe(1);
    expect((await listFiles(createLayout(disk.temp.dir).bodyDir)).length).toBe(3);
  });
});

describe('--inactive: entries nobody used for that long are removed', () => {
  const HOUR = 3_600_000;
  let now = Date.now();
  const disk = useDiskStore({ inactive: HOUR, now: () => now });

  test('at lookup: an entry unused for longer is a miss, and its files go', async () => {
    await writeEntry(disk.store, makeMeta(key('old'), { responseTime: now }), 'old');
    now += HOUR + 1;
    expect(await disk.store.lookup(key('old'))).toEqual([]);
    await disk.store.expireInactive();
    expect(await listFiles(disk.temp.dir)).toEqual([]);
    expect(disk.store.expirations).toBe(1);
  });

  test('serving an entry (markUsed) keeps it; the sweep removes only the unused', async () => {
    const start = now;
    await writeEntry(disk.store, makeMeta(key('used'), { responseTime: start }), 'used');
    await writeEntry(disk.store, makeMeta(key('unused'), { responseTime: start }), 'unused');
    now = start + HOUR / 2;
    const [used] = await disk.store.lookup(key('used'));
    disk.store.markUsed(used!);
    now = start + HOUR + 1;
    await disk.store.expireInactive();
    expect((await disk.store.lookup(key('used'))).length).toBe(1);
    expect(await disk.store.lookup(key('unused'))).toEqual([]);
    expect(disk.store.stats()).toMatchObject({ entries: 1, bodySize: 4 });
    expect(disk.store.lookupSync(key('unused'))).toEqual([]);
  });

  test('entries() leaves them out', async () => {
    await writeEntry(disk.store, makeMeta(key('old'), { responseTime: now - 2 * HOUR }), 'old');
    const fresh = await writeEntry(disk.store, makeMeta(key('fresh'), { responseTime: now }), 'fresh');
    const listed = [];
    for await (const entry of disk.store.entries()) listed.push(entry);
    expect(listed).toEqual([fresh]);
  });

  test('at start-up, once the scan is done', async () => {
    await writeEntry(disk.store, makeMeta(key('old'), { responseTime: now }), 'old');
    now += 2 * HOUR;
    const store = await disk.reopen();
    await store.ready();
    expect(store.stats()).toMatchObject({ entries: 0, bodySize: 0 });
    expect(await listFiles(disk.temp.dir)).toEqual([]);
  });

  test('on a timer, without any lookup', async () => {
    const temp = await makeTempDir();
    // The sweep runs every inactive/10, at least every second: so 1 s here.
    const store = await DiskStore.open({ dir: temp.dir, maxSize: 1e6, inactive: 5000, now: () => now });
    try {
      await writeEntry(store, makeMeta(key('old'), { responseTime: now }), 'old');
      now += 10_000;
      const deadline = Date.now() + 5000;
      while (store.expirations === 0) {
        if (Date.now() > deadline) throw new Error('the sweep never ran');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await expect(stat(metaFileOf(temp.dir, key('old')))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(store.expirations).toBe(1);
    } finally {
      await store.close();
      await temp.cleanup();
    }
  });
});
