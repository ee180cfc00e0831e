import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DiskStore } from '../../src/store/disk-store.js';
import { createLayout } from '../../src/store/layout.js';
import {
  bodyFileOf,
  listFiles,
  makeDiskStore,
  makeTempDir,
  metaFileOf,
  openDiskStore,
  type TempDir,
} from './disk-helpers.js';
import { describeStoreContract } from './store-suite.js';
import { byKeyAndVariant, collect, makeMeta, randomBody, readBody, writeEntry } from './store-helpers.js';

describeStoreContract('DiskStore', makeDiskStore);

const KEY = 'http://origin.test/page';

describe('DiskStore on disk', () => {
  let temp: TempDir;
  let store: DiskStore;

  beforeEach(async () => {
    temp = await makeTempDir();
    store = await openDiskStore(temp.dir);
  });
  afterEach(async () => {
    await store.close();
    await temp.cleanup();
  });

  async function reopen(maxSize?: number): Promise<DiskStore> {
    await store.close();
    store = await openDiskStore(temp.dir, maxSize);
    return store;
  }

  test('the versioned layout: v1/meta/<2 hex>/<sha256>.json and v1/body/<2 hex>/<bodyId>', async () => {
    const entry = await writeEntry(store, makeMeta(KEY), 'body');
    expect(await listFiles(temp.dir)).toEqual([
      `v1/body/${entry.bodyId.slice(0, 2)}/${entry.bodyId}`,
      expect.stringMatching(/^v1\/meta\/([0-9a-f]{2})\/\1[0-9a-f]{62}\.json$/),
    ]);
  });

  test('open rejects a maxSize that is not a non-negative integer', async () => {
    await expect(DiskStore.open({ dir: temp.dir, maxSize: -1 })).rejects.toBeInstanceOf(RangeError);
    await expect(DiskStore.open({ dir: temp.dir, maxSize: Number.NaN })).rejects.toBeInstanceOf(RangeError);
  });

  describe('persistence', () => {
    test('entries, variants, bodies and recency survive close and open', async () => {
      const a = await writeEntry(store, makeMeta(KEY, { variant: 'a', headers: { etag: '"a"' } }), 'variant a');
      const b = await writeEntry(store, makeMeta(KEY, { variant: 'b' }), randomBody(100_000));
      const other = await writeEntry(store, makeMeta(`${KEY}/other`), '');
      store.markUsed(a);
      store.markUsed(a);
      await reopen();

      // Before the scan has finished, the key's meta file is read on demand.
      const found = (await store.lookup(KEY)).sort(byKeyAndVariant);
      expect(found).toEqual([{ ...a, hits: 2, lastAccess: expect.any(Number) }, b]);
      expect((await readBody(store, found[0]!)).toString()).toBe('variant a');
      await store.ready();
      expect(store.stats()).toEqual({
        entries: 3,
        size: 'variant a'.length + 100_000,
        maxSize: expect.any(Number),
        evictions: 0,
      });
      expect((await collect(store.entries())).sort(byKeyAndVariant)).toEqual([...found, other].sort(byKeyAndVariant));
    });

    test('lookups answer before the start-up scan has finished', async () => {
      const bodies = Array.from({ length: 300 }, (_, i) => `body ${i}`);
      await Promise.all(bodies.map((body, i) => writeEntry(store, makeMeta(`${KEY}/${i}`), body)));
      await reopen();
      const checks = [0, 150, 299].map(async (i) => {
        const [entry] = await store.lookup(`${KEY}/${i}`);
        return (await readBody(store, entry!)).toString();
      });
      expect(await Promise.all(checks)).toEqual([bodies[0], bodies[150], bodies[299]]);
      expect(await store.lookup(`${KEY}/not-stored`)).toEqual([]);
      await store.ready();
      expect(store.stats().entries).toBe(300);
    });

    test('a write during the start-up scan is not undone by it', async () => {
      await Promise.all(Array.from({ length: 200 }, (_, i) => writeEntry(store, makeMeta(`${KEY}/${i}`), 'old')));
      await reopen();
      const replaced = await writeEntry(store, makeMeta(`${KEY}/199`), 'new body');
      await store.delete(`${KEY}/198`);
      await store.ready();
      expect(await store.lookup(`${KEY}/199`)).toEqual([replaced]);
      expect(await store.lookup(`${KEY}/198`)).toEqual([]);
      expect(store.stats()).toMatchObject({ entries: 199, size: 198 * 3 + 'new body'.length });
      expect((await listFiles(createLayout(temp.dir).bodyDir)).length).toBe(199);
    });

    test('a deleted entry stays deleted after a restart', async () => {
      await writeEntry(store, makeMeta(KEY), 'gone soon');
      await store.delete(KEY);
      await reopen();
      expect(await store.lookup(KEY)).toEqual([]);
      await store.ready();
      expect(await listFiles(temp.dir)).toEqual([]);
    });
  });

  describe('start-up clean-up', () => {
    test('tmp/ is emptied by open, before anything else happens', async () => {
      await store.close();
      const { tmpDir } = createLayout(temp.dir);
      await writeFile(join(tmpDir, 'crashed-write.body'), 'partial');
      await writeFile(join(tmpDir, 'crashed-write.meta'), '{"format":1');
      store = await openDiskStore(temp.dir);
      expect(await readdir(tmpDir)).toEqual([]);
    });

    test('body files no meta file references are deleted; referenced ones are kept', async () => {
      const kept = await writeEntry(store, makeMeta(KEY), 'kept');
      await store.close();
      const orphan = bodyFileOf(temp.dir, 'ab'.padEnd(32, '0'));
      await mkdir(dirname(orphan), { recursive: true });
      await writeFile(orphan, 'written, then the process died before its meta file');
      store = await openDiskStore(temp.dir);
      await store.ready();
      await expect(stat(orphan)).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await stat(bodyFileOf(temp.dir, kept.bodyId))).size).toBe(4);
      expect(store.stats()).toMatchObject({ entries: 1, size: 4 });
    });

    test('an entry whose body file is missing is dropped by the scan', async () => {
      const lost = await writeEntry(store, makeMeta(`${KEY}/lost`), 'lost');
      await writeEntry(store, makeMeta(`${KEY}/fine`), 'fine');
      await store.close();
      await rm(bodyFileOf(temp.dir, lost.bodyId));
      store = await openDiskStore(temp.dir);
      await store.ready();
      expect(await store.lookup(`${KEY}/lost`)).toEqual([]);
      await expect(stat(metaFileOf(temp.dir, `${KEY}/lost`))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(store.stats()).toMatchObject({ entries: 1, size: 4 });
    });

    test('files the store never writes are removed from its fan-out directories', async () => {
      const entry = await writeEntry(store, makeMeta(KEY), 'body');
      await store.close();
      const strayMeta = join(dirname(metaFileOf(temp.dir, KEY)), 'notes.txt');
      const strayBody = join(dirname(bodyFileOf(temp.dir, entry.bodyId)), 'x'.repeat(32));
      await writeFile(strayMeta, 'stray');
      await writeFile(strayBody, 'stray');
      store = await openDiskStore(temp.dir);
      await store.ready();
      expect(await listFiles(temp.dir)).toEqual([
        `v1/body/${entry.bodyId.slice(0, 2)}/${entry.bodyId}`,
        expect.stringMatching(/^v1\/meta\/.*\.json$/),
      ]);
    });

    test('unexpected entries beside the fan-out directories are left alone', async () => {
      await writeEntry(store, makeMeta(KEY), 'body');
      await store.close();
      const { metaDir, bodyDir } = createLayout(temp.dir);
      await writeFile(join(metaDir, 'README'), 'a note someone left');
      await mkdir(join(bodyDir, 'not-hex'));
      store = await openDiskStore(temp.dir);
      await store.ready();
      expect(store.stats()).toMatchObject({ entries: 1, size: 4 });
      expect(await listFiles(temp.dir)).toContain('v1/meta/README');
    });

    test('closing while the scan runs stops it cleanly', async () => {
      await Promise.all(Array.from({ length: 100 }, (_, i) => writeEntry(store, makeMeta(`${KEY}/${i}`), 'x')));
      await store.close();
      store = await openDiskStore(temp.dir);
      await store.close();
      await store.ready();
      store = await openDiskStore(temp.dir);
      await store.ready();
      expect(store.stats().entries).toBe(100);
    });
  });
});
