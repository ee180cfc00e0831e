import { describe, expect, test } from '@jest/globals';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DiskStore } from '../../src/store/disk-store.js';
import { createLayout, hashKey, hashVariant } from '../../src/store/layout.js';
import { bodyFileOf, listFiles, makeDiskStore, metaFileOf, useDiskStore } from './disk-helpers.js';
import { writePart } from './partial-suite.js';
import { describeStoreContract } from './store-suite.js';
import { byKeyAndVariant, collect, makeMeta, randomBody, readBody, writeEntry } from './store-helpers.js';

describeStoreContract('DiskStore', makeDiskStore);

const KEY = 'http://origin.test/page';

describe('DiskStore on disk', () => {
  const disk = useDiskStore();

  test('the versioned layout: v2/meta/<2 hex>/<sha256(key)>.<sha256(variant)>.json and v2/body/<2 hex>/<bodyId>', async () => {
    const entry = await writeEntry(disk.store, makeMeta(KEY), 'body');
    const gzip = await writeEntry(disk.store, makeMeta(KEY, { variant: 'gzip' }), 'zipped');
    expect(await listFiles(disk.temp.dir)).toEqual(
      [
        `v2/body/${entry.bodyId.slice(0, 2)}/${entry.bodyId}`,
        `v2/body/${gzip.bodyId.slice(0, 2)}/${gzip.bodyId}`,
        `v2/meta/${hashKey(KEY).slice(0, 2)}/${hashKey(KEY)}.${hashVariant('')}.json`,
        `v2/meta/${hashKey(KEY).slice(0, 2)}/${hashKey(KEY)}.${hashVariant('gzip')}.json`,
      ].sort(),
    );
    expect(JSON.parse(await readFile(metaFileOf(disk.temp.dir, KEY, 'gzip'), 'utf8'))).toEqual({
      format: 2,
      entry: gzip,
    });
  });

  test('open rejects a maxSize that is not a non-negative integer', async () => {
    await expect(DiskStore.open({ dir: disk.temp.dir, maxSize: -1 })).rejects.toBeInstanceOf(RangeError);
    await expect(DiskStore.open({ dir: disk.temp.dir, maxSize: Number.NaN })).rejects.toBeInstanceOf(RangeError);
  });

  describe('persistence', () => {
    test('entries, variants, bodies and recency survive close and open', async () => {
      const a = await writeEntry(disk.store, makeMeta(KEY, { variant: 'a', headers: { etag: '"a"' } }), 'variant a');
      const b = await writeEntry(disk.store, makeMeta(KEY, { variant: 'b' }), randomBody(100_000));
      const other = await writeEntry(disk.store, makeMeta(`${KEY}/other`), '');
      disk.store.markUsed(a);
      disk.store.markUsed(a);
      await disk.reopen();

      // Before the scan has finished, the key's meta file is read on demand.
      const found = (await disk.store.lookup(KEY)).sort(byKeyAndVariant);
      expect(found).toEqual([{ ...a, hits: 2, lastAccess: expect.any(Number) }, b]);
      expect((await readBody(disk.store, found[0]!)).toString()).toBe('variant a');
      await disk.store.ready();
      expect(disk.store.stats()).toMatchObject({ entries: 3, bodySize: 'variant a'.length + 100_000, evictions: 0 });
      expect((await collect(disk.store.entries())).sort(byKeyAndVariant)).toEqual(
        [...found, other].sort(byKeyAndVariant),
      );
    });

    test('lookups answer before the start-up scan has finished', async () => {
      const bodies = Array.from({ length: 300 }, (_, i) => `body ${i}`);
      await Promise.all(bodies.map((body, i) => writeEntry(disk.store, makeMeta(`${KEY}/${i}`), body)));
      await disk.reopen();
      const checks = [0, 150, 299].map(async (i) => {
        const [entry] = await disk.store.lookup(`${KEY}/${i}`);
        return (await readBody(disk.store, entry!)).toString();
      });
      expect(await Promise.all(checks)).toEqual([bodies[0], bodies[150], bodies[299]]);
      expect(await disk.store.lookup(`${KEY}/not-stored`)).toEqual([]);
      await disk.store.ready();
      expect(disk.store.stats().entries).toBe(300);
    });

    test('a write during the start-up scan is not undone by it', async () => {
      await Promise.all(Array.from({ length: 200 }, (_, i) => writeEntry(disk.store, makeMeta(`${KEY}/${i}`), 'old')));
      await disk.reopen();
      const replaced = await writeEntry(disk.store, makeMeta(`${KEY}/199`), 'new body');
      await disk.store.delete(`${KEY}/198`);
      await disk.store.ready();
      expect(await disk.store.lookup(`${KEY}/199`)).toEqual([replaced]);
      expect(await disk.store.lookup(`${KEY}/198`)).toEqual([]);
      expect(disk.store.stats()).toMatchObject({ entries: 199, bodySize: 198 * 3 + 'new body'.length });
      expect((await listFiles(createLayout(disk.temp.dir).bodyDir)).length).toBe(199);
    });

    test('a part keeps its `part` across a restart, and the scan counts it as partial', async () => {
      const origin = randomBody(1000);
      const stored = await writePart(disk.store, origin, 100, 199, { key: KEY });
      await disk.reopen();
      expect(await disk.store.lookup(KEY)).toEqual([stored]);
      await disk.store.ready();
      expect(disk.store.stats()).toMatchObject({ entries: 1, partialEntries: 1, partialBodySize: 100 });
    });

    test('a part whose `part` does not describe its body is corrupt: a miss, deleted', async () => {
      const stored = await writePart(disk.store, randomBody(1000), 100, 199, { key: KEY });
      const file = metaFileOf(disk.temp.dir, KEY, stored.variant);
      const doc = JSON.parse(await readFile(file, 'utf8'));
      doc.entry.part.end = 299;
      await writeFile(file, JSON.stringify(doc));
      await disk.reopen();
      expect(await disk.store.lookup(KEY)).toEqual([]);
    });

    test('a deleted entry stays deleted after a restart', async () => {
      await writeEntry(disk.store, makeMeta(KEY), 'gone soon');
      await disk.store.delete(KEY);
      await disk.reopen();
      expect(await disk.store.lookup(KEY)).toEqual([]);
      await disk.store.ready();
      expect(await listFiles(disk.temp.dir)).toEqual([]);
    });
  });

  describe('start-up clean-up', () => {
    test('tmp/ is emptied by open, before anything else happens', async () => {
      await disk.store.close();
      const { tmpDir } = createLayout(disk.temp.dir);
      await writeFile(join(tmpDir, 'crashed-write.body'), 'partial');
      await writeFile(join(tmpDir, 'crashed-write.meta'), '{"format":1');
      await disk.reopen();
      expect(await readdir(tmpDir)).toEqual([]);
    });

    test('body files no meta file references are deleted; referenced ones are kept', async () => {
      const kept = await writeEntry(disk.store, makeMeta(KEY), 'kept');
      await disk.store.close();
      const orphan = bodyFileOf(disk.temp.dir, 'ab'.padEnd(32, '0'));
      await mkdir(dirname(orphan), { recursive: true });
      await writeFile(orphan, 'written, then the process died before its meta file');
      await disk.reopen();
      await disk.store.ready();
      await expect(stat(orphan)).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await stat(bodyFileOf(disk.temp.dir, kept.bodyId))).size).toBe(4);
      expect(disk.store.stats()).toMatchObject({ entries: 1, bodySize: 4 });
    });

    test('an entry whose body file is missing is dropped by the scan', async () => {
      const lost = await writeEntry(disk.store, makeMeta(`${KEY}/lost`), 'lost');
      await writeEntry(disk.store, makeMeta(`${KEY}/fine`), 'fine');
      await disk.store.close();
      await rm(bodyFileOf(disk.temp.dir, lost.bodyId));
      await disk.reopen();
      await disk.store.ready();
      expect(await disk.store.lookup(`${KEY}/lost`)).toEqual([]);
      await expect(stat(metaFileOf(disk.temp.dir, `${KEY}/lost`))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(disk.store.stats()).toMatchObject({ entries: 1, bodySize: 4 });
    });

    test('files the disk.store never writes are removed from its fan-out directories', async () => {
      const entry = await writeEntry(disk.store, makeMeta(KEY), 'body');
      await disk.store.close();
      const strayMeta = join(dirname(metaFileOf(disk.temp.dir, KEY)), 'notes.txt');
      const strayBody = join(dirname(bodyFileOf(disk.temp.dir, entry.bodyId)), 'x'.repeat(32));
      await writeFile(strayMeta, 'stray');
      await writeFile(strayBody, 'stray');
      await disk.reopen();
      await disk.store.ready();
      expect(await listFiles(disk.temp.dir)).toEqual([
        `v2/body/${entry.bodyId.slice(0, 2)}/${entry.bodyId}`,
        expect.stringMatching(/^v2\/meta\/.*\.json$/),
      ]);
    });

    test('unexpected entries beside the fan-out directories are left alone', async () => {
      await writeEntry(disk.store, makeMeta(KEY), 'body');
      await disk.store.close();
      const { metaDir, bodyDir } = createLayout(disk.temp.dir);
      await writeFile(join(metaDir, 'README'), 'a note someone left');
      await mkdir(join(bodyDir, 'not-hex'));
      await disk.reopen();
      await disk.store.ready();
      expect(disk.store.stats()).toMatchObject({ entries: 1, bodySize: 4 });
      expect(await listFiles(disk.temp.dir)).toContain('v2/meta/README');
    });

    test('closing while the scan runs stops it cleanly', async () => {
      await Promise.all(Array.from({ length: 100 }, (_, i) => writeEntry(disk.store, makeMeta(`${KEY}/${i}`), 'x')));
      await disk.store.close();
      await disk.reopen();
      await disk.store.close();
      await disk.store.ready();
      await disk.reopen();
      await disk.store.ready();
      expect(disk.store.stats().entries).toBe(100);
    });
  });
});
