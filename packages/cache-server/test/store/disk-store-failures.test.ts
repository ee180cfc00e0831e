import { describe, expect, test } from '@jest/globals';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createLayout } from '../../src/store/layout.js';
import { listFiles, metaFileOf, useDiskStore } from './disk-helpers.js';
import { collect, makeMeta, readBody, writeEntry } from './store-helpers.js';

const KEY = 'http://origin.test/page';

/**
 * Failures at the fs boundary. The tests run as root, which ignores permission bits, so
 * instead of chmod a directory the disk.store needs is replaced by a plain file: every open, rename
 * or mkdir below it then fails with ENOTDIR/EEXIST, as honestly as EACCES or EROFS would.
 */
describe('DiskStore when the disk fails', () => {
  const disk = useDiskStore();

  async function replaceWithFile(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, 'not a directory');
  }

  async function tmpFiles(): Promise<string[]> {
    return readdir(createLayout(disk.temp.dir).tmpDir);
  }

  test('body/ unusable: commit rejects, nothing visible, no temp file', async () => {
    await replaceWithFile(createLayout(disk.temp.dir).bodyDir);
    const writer = disk.store.beginWrite(makeMeta(KEY, { size: 4 }));
    writer.body.write('body');
    await expect(writer.commit()).rejects.toMatchObject({ code: expect.stringMatching(/^E/) });
    expect(await disk.store.lookup(KEY)).toEqual([]);
    expect(disk.store.stats()).toMatchObject({ entries: 0, bodySize: 0 });
    expect(await tmpFiles()).toEqual([]);
  });

  test('tmp/ unusable: beginWrite and writing do not throw, commit rejects', async () => {
    await replaceWithFile(createLayout(disk.temp.dir).tmpDir);
    const writer = disk.store.beginWrite(makeMeta(KEY));
    expect(() => writer.body.write('body')).not.toThrow();
    await expect(writer.commit()).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(await disk.store.lookup(KEY)).toEqual([]);
  });

  test("the key's meta directory unusable: commit rejects and the moved body is removed again", async () => {
    await writeEntry(disk.store, makeMeta(`${KEY}/other`), 'other');
    await replaceWithFile(dirname(metaFileOf(disk.temp.dir, KEY)));
    await expect(writeEntry(disk.store, makeMeta(KEY), 'body')).rejects.toMatchObject({
      code: expect.stringMatching(/^E/),
    });
    expect(await disk.store.lookup(KEY)).toEqual([]);
    expect(disk.store.stats()).toMatchObject({ entries: 1, bodySize: 5 });
    expect((await listFiles(createLayout(disk.temp.dir).bodyDir)).length).toBe(1);
    expect(await tmpFiles()).toEqual([]);
  });

  test('a replacement that cannot be recorded leaves the previous entry served', async () => {
    const old = await writeEntry(disk.store, makeMeta(KEY), 'old');
    await replaceWithFile(createLayout(disk.temp.dir).tmpDir);
    await expect(writeEntry(disk.store, makeMeta(KEY), 'new')).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(await disk.store.lookup(KEY)).toEqual([old]);
    expect((await readBody(disk.store, old)).toString()).toBe('old');
  });

  test('a delete that cannot be recorded rejects and changes nothing', async () => {
    const entry = await writeEntry(disk.store, makeMeta(KEY), 'body');
    await replaceWithFile(dirname(metaFileOf(disk.temp.dir, KEY)));
    await expect(disk.store.delete(KEY)).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(await disk.store.lookup(KEY)).toEqual([entry]);
    expect(disk.store.stats()).toMatchObject({ entries: 1, bodySize: 4 });
  });
});

describe('DiskStore.close', () => {
  const disk = useDiskStore();

  test('aborts writers still writing and leaves no temp file', async () => {
    const writer = disk.store.beginWrite(makeMeta(KEY));
    writer.body.write('half of it');
    const ended = disk.store.beginWrite(makeMeta(`${KEY}/ended`));
    ended.body.end('all of it, but never committed');
    await disk.store.close();
    await expect(writer.commit()).rejects.toMatchObject({
      code: 'CACHE_ERR_WRITE_ABORTED',
      cause: { code: 'CACHE_ERR_STORE_CLOSED' },
    });
    await expect(ended.commit()).rejects.toMatchObject({ code: 'CACHE_ERR_WRITE_ABORTED' });
    expect(await listFiles(disk.temp.dir)).toEqual([]);
  });

  test('waits for a commit in flight, which then survives a restart', async () => {
    const writer = disk.store.beginWrite(makeMeta(KEY));
    writer.body.end('committed while closing');
    const committed = writer.commit();
    await disk.store.close();
    const entry = await committed;
    expect(await readdir(createLayout(disk.temp.dir).tmpDir)).toEqual([]);
    await disk.reopen();
    expect(await disk.store.lookup(KEY)).toEqual([entry]);
  });

  test('afterwards operations reject with CACHE_ERR_STORE_CLOSED and nothing throws', async () => {
    const entry = await writeEntry(disk.store, makeMeta(KEY), 'body');
    await disk.store.close();
    const closed = { code: 'CACHE_ERR_STORE_CLOSED' };
    await expect(disk.store.lookup(KEY)).rejects.toMatchObject(closed);
    await expect(disk.store.openBody(entry)).rejects.toMatchObject(closed);
    await expect(disk.store.updateMeta(entry)).rejects.toMatchObject(closed);
    await expect(disk.store.delete(KEY)).rejects.toMatchObject(closed);
    await expect(collect(disk.store.entries())).rejects.toMatchObject(closed);
    expect(() => disk.store.markUsed(entry)).not.toThrow();
    const writer = disk.store.beginWrite(makeMeta(KEY));
    writer.body.end('ignored');
    await expect(writer.commit()).rejects.toMatchObject(closed);
    writer.abort();
    expect(disk.store.stats()).toMatchObject({ entries: 1, bodySize: 4 });
    await expect(disk.store.close()).resolves.toBeUndefined();
    expect(await readdir(createLayout(disk.temp.dir).tmpDir)).toEqual([]);
  });
});
