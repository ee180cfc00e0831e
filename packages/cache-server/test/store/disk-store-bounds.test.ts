/**
 * Issue 12.9 and 12.10: what an entry really costs is counted against --max-size, the number of
 * entries is bounded (--max-entries), so is the number of variants per key (--max-variants), and
 * storing a variant costs the same whatever number of siblings it has.
 */
import { describe, expect, test } from '@jest/globals';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { captureLog } from '../helpers/captured-log.js';
import type { EntryMeta } from '@simple-cache/common';
import { DiskStore } from '../../src/store/disk-store.js';
import { createLayout } from '../../src/store/layout.js';
import { nodeFs, type StoreFs } from '../../src/store/store-fs.js';
import { countedDiskSize, listFiles, makeTempDir, useDiskStore } from './disk-helpers.js';
import { makeMeta, writeEntry } from './store-helpers.js';

const KiB = 1024;
const key = (name: string): string => `http://origin.test/${name}`;

/** What the files below `dir` really take: st_blocks, as du counts them. */
async function allocatedBytes(dir: string): Promise<number> {
  let total = 0;
  for (const file of await listFiles(dir)) total += (await stat(join(dir, file))).blocks * 512;
  return total;
}

describe('--max-size counts what an entry takes on disk, not just its body bytes', () => {
  const MAX = 64 * KiB;
  const disk = useDiskStore({ maxSize: MAX });

  test('100 one-byte entries stay within 64 KiB of disk, as the file system counts it', async () => {
    for (let i = 0; i < 100; i++) await writeEntry(disk.store, makeMeta(key(`tiny/${i}`)), 'x');
    const stats = disk.store.stats();
    const { blockSize } = disk.store;
    // A one-byte body takes a whole block; so does its meta file.
    expect(stats.entries).toBe(Math.floor(MAX / (2 * blockSize)));
    expect(stats).toMatchObject({ size: stats.entries * 2 * blockSize, bodySize: stats.entries });
    expect(stats.evictions).toBe(100 - stats.entries);
    expect(stats.size).toBe(await countedDiskSize(disk.temp.dir, blockSize));
    expect(await allocatedBytes(disk.temp.dir)).toBeLessThanOrEqual(MAX);
    // The most recent ones are those kept.
    expect(await disk.store.lookup(key('tiny/99'))).toHaveLength(1);
    expect(await disk.store.lookup(key('tiny/0'))).toEqual([]);
  });
});

describe('--max-entries bounds the number of entries, and so the index in memory', () => {
  const disk = useDiskStore({ maxEntries: 3 });

  test('a fourth entry evicts the least recently used; serving one protects it', async () => {
    const t0 = Date.now() - 60_000;
    const written: EntryMeta[] = [];
    for (const [i, name] of ['a', 'b', 'c'].entries()) {
      const at = t0 + i * 1000;
      written.push(await writeEntry(disk.store, makeMeta(key(name), { responseTime: at, requestTime: at }), name));
    }
    disk.store.markUsed(written[0]!);
    await writeEntry(disk.store, makeMeta(key('d')), 'd');
    expect(disk.store.stats()).toMatchObject({ entries: 3, evictions: 1, maxEntries: 3 });
    expect(await disk.store.lookup(key('b'))).toEqual([]);
    for (const name of ['a', 'c', 'd']) expect(await disk.store.lookup(key(name))).toHaveLength(1);
  });

  test('300 entries written concurrently end as 3, on disk as in the index', async () => {
    await Promise.all(Array.from({ length: 300 }, (_, i) => writeEntry(disk.store, makeMeta(key(`many/${i}`)), 'x')));
    expect(disk.store.stats()).toMatchObject({ entries: 3, evictions: 297 });
    const layout = createLayout(disk.temp.dir);
    expect(await listFiles(layout.metaDir)).toHaveLength(3);
    expect(await listFiles(layout.bodyDir)).toHaveLength(3);
  });

  test('a smaller --max-entries at the next start trims the store once the scan has seen everything', async () => {
    const store = await disk.reopen({ maxEntries: 10 });
    for (let i = 0; i < 10; i++) await writeEntry(store, makeMeta(key(`k${i}`)), 'x');
    const smaller = await disk.reopen({ maxEntries: 4 });
    await smaller.ready();
    expect(smaller.stats()).toMatchObject({ entries: 4, evictions: 6 });
    expect(await smaller.lookup(key('k9'))).toHaveLength(1);
  });

  test('open rejects a maxEntries or maxVariants that is not a positive integer', async () => {
    for (const bad of [{ maxEntries: 0 }, { maxEntries: 1.5 }, { maxVariants: 0 }, { maxVariants: -1 }]) {
      await expect(DiskStore.open({ dir: disk.temp.dir, maxSize: 1, ...bad })).rejects.toBeInstanceOf(RangeError);
    }
  });
});

describe('--max-variants: a key keeps its most recently used variants', () => {
  const disk = useDiskStore({ maxVariants: 4 });
  const variantOf = (i: number) => `x-v:${i}`;

  test('the fifth variant evicts the least recently used one; serving one protects it', async () => {
    const t0 = Date.now() - 60_000;
    const written: EntryMeta[] = [];
    for (let i = 0; i < 4; i++) {
      const at = t0 + i * 1000;
      const meta = makeMeta(key('page'), { variant: variantOf(i), responseTime: at, requestTime: at });
      written.push(await writeEntry(disk.store, meta, `body ${i}`));
    }
    disk.store.markUsed(written[0]!);
    await writeEntry(disk.store, makeMeta(key('page'), { variant: variantOf(4) }), 'body 4');
    const kept = (await disk.store.lookup(key('page'))).map((entry) => entry.variant).sort();
    expect(kept).toEqual([0, 2, 3, 4].map(variantOf));
    expect(disk.store.stats()).toMatchObject({ entries: 4, evictions: 1 });
    // Its meta file and its body are gone too.
    expect(await listFiles(createLayout(disk.temp.dir).metaDir)).toHaveLength(4);
    expect(await listFiles(createLayout(disk.temp.dir).bodyDir)).toHaveLength(4);
  });

  test('replacing a variant is not a new one: nothing is evicted', async () => {
    for (let i = 0; i < 4; i++) await writeEntry(disk.store, makeMeta(key('page'), { variant: variantOf(i) }), 'old');
    await writeEntry(disk.store, makeMeta(key('page'), { variant: variantOf(2) }), 'new');
    expect(disk.store.stats()).toMatchObject({ entries: 4, evictions: 0 });
  });

  test('300 variants stored concurrently end as 4 of them, the same after a restart', async () => {
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        writeEntry(disk.store, makeMeta(key('page'), { variant: variantOf(i) }), 'x'),
      ),
    );
    expect(disk.store.stats()).toMatchObject({ entries: 4, evictions: 296 });
    const before = (await disk.store.lookup(key('page'))).map((entry) => entry.bodyId).sort();
    await disk.reopen();
    await disk.store.ready();
    expect((await disk.store.lookup(key('page'))).map((entry) => entry.bodyId).sort()).toEqual(before);
  });
});

describe("a variant's commit costs the same whatever number of siblings it has", () => {
  /** Counts the bytes written into meta files (their temp files), per commit. */
  function createMeteredFs(): { fs: StoreFs; metaBytes(): number } {
    let bytes = 0;
    const fs: StoreFs = {
      ...nodeFs,
      open: (async (path, flags, mode) => {
        const handle = await nodeFs.open(path, flags, mode);
        if (!String(path).endsWith('.meta')) return handle;
        const writeFile = handle.writeFile.bind(handle);
        handle.writeFile = (async (data: string) => {
          bytes += Buffer.byteLength(data);
          return writeFile(data, 'utf8');
        }) as typeof handle.writeFile;
        return handle;
      }) as StoreFs['open'],
    };
    return { fs, metaBytes: () => bytes };
  }

  const metered = createMeteredFs();
  const disk = useDiskStore({ fs: metered.fs, maxVariants: 1000 });

  test('the 500th variant of a key writes as many metadata bytes as the first', async () => {
    const commitBytes = async (i: number) => {
      const before = metered.metaBytes();
      await writeEntry(disk.store, makeMeta(key('page'), { variant: `x-v:${String(i).padStart(3, '0')}` }), 'x');
      return metered.metaBytes() - before;
    };
    const first = await commitBytes(0);
    for (let i = 1; i < 499; i++) await commitBytes(i);
    const last = await commitBytes(499);
    expect(disk.store.stats().entries).toBe(500);
    // One small file per variant (a v1 file held all of them: the 500th commit wrote ~500x).
    expect(first).toBeLessThan(1000);
    expect(last).toBe(first);
  });
});

describe('the format directory', () => {
  test('an older format (v1) beside it is removed at open; an unknown one (v9) is left alone; both logged', async () => {
    const temp = await makeTempDir();
    try {
      const v1 = join(temp.dir, 'v1', 'meta', 'ab');
      await mkdir(v1, { recursive: true });
      await writeFile(join(v1, `ab${'0'.repeat(62)}.json`), JSON.stringify({ format: 1, key: 'k', variants: [] }));
      const v9 = join(temp.dir, 'v9');
      await mkdir(v9, { recursive: true });
      await writeFile(join(v9, 'future.bin'), 'kept');
      const { logger, lines } = captureLog('info');
      const store = await DiskStore.open({ dir: temp.dir, maxSize: 1024 * KiB, logger });
      await store.close();
      expect((await readdir(temp.dir)).sort()).toEqual(['v2', 'v9']);
      expect(await readdir(v9)).toEqual(['future.bin']);
      expect(lines).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ path: join(temp.dir, 'v1'), msg: expect.stringMatching(/older format/) }),
          expect.objectContaining({ path: v9, msg: expect.stringMatching(/unknown/) }),
        ]),
      );
    } finally {
      await temp.cleanup();
    }
  });
});
