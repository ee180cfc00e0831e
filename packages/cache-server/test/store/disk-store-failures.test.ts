import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DiskStore } from '../../src/store/disk-store.js';
import { createLayout } from '../../src/store/layout.js';
import { listFiles, makeTempDir, metaFileOf, openDiskStore, type TempDir } from './disk-helpers.js';
import { collect, makeMeta, readBody, writeEntry } from './store-helpers.js';

const KEY = 'http://origin.test/page';

/**
 * Failures at the fs boundary. The tests run as root, which ignores permission bits, so
 * instead of chmod a directory the store needs is replaced by a plain file: every open, rename
 * or mkdir below it then fails with ENOTDIR/EEXIST, as honestly as EACCES or EROFS would.
 */
describe('DiskStore when the disk fails', () => {
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

  async function replaceWithFile(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, 'not a directory');
  }

  async function tmpFiles(): Promise<string[]> {
    return readdir(createLayout(temp.dir).tmpDir);
  }

  test('body/ unusable: commit rejects, nothing visible, no temp file', async () => {
    await replaceWithFile(createLayout(temp.dir).bodyDir);
    const writer = store.beginWrite(makeMeta(KEY, { size: 4 }));
    writer.body.write('body');
    await expect(writer.commit()).rejects.toMatchObject({ code: expect.stringMatching(/^E/) });
    expect(await store.lookup(KEY)).toEqual([]);
    expect(store.stats()).toMatchObject({ entries: 0, size: 0 });
    expect(await tmpFiles()).toEqual([]);
  });

  test('tmp/ unusable: beginWrite and writing do not throw, commit rejects', async () => {
    await replaceWithFile(createLayout(temp.dir).tmpDir);
    const writer = store.beginWrite(makeMeta(KEY));
    expect(() => writer.body.write('body')).not.toThrow();
    await expect(writer.commit()).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(await store.lookup(KEY)).toEqual([]);
  });

  test("the key's meta directory unusable: commit rejects and the moved body is removed again", async () => {
    await writeEntry(store, makeMeta(`${KEY}/other`), 'other');
    await replaceWithFile(dirname(metaFileOf(temp.dir, KEY)));
    await expect(writeEntry(store, makeMeta(KEY), 'body')).rejects.toMatchObject({ code: expect.stringMatching(/^E/) });
    expect(await store.lookup(KEY)).toEqual([]);
    expect(store.stats()).toMatchObject({ entries: 1, size: 5 });
    expect((await listFiles(createLayout(temp.dir).bodyDir)).length).toBe(1);
    expect(await tmpFiles()).toEqual([]);
  });

  test('a replacement that cannot be recorded leaves the previous entry served', async () => {
    const old = await writeEntry(store, makeMeta(KEY), 'old');
    await replaceWithFile(createLayout(temp.dir).tmpDir);
    await expect(writeEntry(store, makeMeta(KEY), 'new')).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(await store.lookup(KEY)).toEqual([old]);
    expect((await readBody(store, old)).toString()).toBe('old');
  });

  test('a delete that cannot be recorded rejects and changes nothing', async () => {
    const entry = await writeEntry(store, makeMeta(KEY), 'body');
    await replaceWithFile(dirname(metaFileOf(temp.dir, KEY)));
    await expect(store.delete(KEY)).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(await store.lookup(KEY)).toEqual([entry]);
    expect(store.stats()).toMatchObject({ entries: 1, size: 4 });
  });
});

describe('DiskStore.close', () => {
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

  test('aborts writers still writing and leaves no temp file', async () => {
    const writer = store.beginWrite(makeMeta(KEY));
    writer.body.write('half of it');
    const ended = store.beginWrite(makeMeta(`${KEY}/ended`));
    ended.body.end('all of it, but never committed');
    await store.close();
    await expect(writer.commit()).rejects.toMatchObject({
      code: 'CACHE_ERR_WRITE_ABORTED',
      cause: { code: 'CACHE_ERR_STORE_CLOSED' },
    });
    await expect(ended.commit()).rejects.toMatchObject({ code: 'CACHE_ERR_WRITE_ABORTED' });
    expect(await listFiles(temp.dir)).toEqual([]);
  });

  test('waits for a commit in flight, which then survives a restart', async () => {
    const writer = store.beginWrite(makeMeta(KEY));
    writer.body.end('committed while closing');
    const committed = writer.commit();
    await store.close();
    const entry = await committed;
    expect(await readdir(createLayout(temp.dir).tmpDir)).toEqual([]);
    store = await openDiskStore(temp.dir);
    expect(await store.lookup(KEY)).toEqual([entry]);
  });

  test('afterwards operations reject with CACHE_ERR_STORE_CLOSED and nothing throws', async () => {
    const entry = await writeEntry(store, makeMeta(KEY), 'body');
    await store.close();
    const closed = { code: 'CACHE_ERR_STORE_CLOSED' };
    await expect(store.lookup(KEY)).rejects.toMatchObject(closed);
    await expect(store.openBody(entry)).rejects.toMatchObject(closed);
    await expect(store.updateMeta(entry)).rejects.toMatchObject(closed);
    await expect(store.delete(KEY)).rejects.toMatchObject(closed);
    await expect(collect(store.entries())).rejects.toMatchObject(closed);
    expect(() => store.markUsed(entry)).not.toThrow();
    const writer = store.beginWrite(makeMeta(KEY));
    writer.body.end('ignored');
    await expect(writer.commit()).rejects.toMatchObject(closed);
    writer.abort();
    expect(store.stats()).toMatchObject({ entries: 1, size: 4 });
    await expect(store.close()).resolves.toBeUndefined();
    expect(await readdir(createLayout(temp.dir).tmpDir)).toEqual([]);
  });
});
