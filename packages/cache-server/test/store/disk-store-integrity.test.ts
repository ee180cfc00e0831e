import { describe, expect, test } from '@jest/globals';
import { readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { EntryMeta } from '@simple-cache/common';
import { hashKey, hashVariant } from '../../src/store/layout.js';
import { bodyFileOf, listFiles, metaFileOf, useDiskStore } from './disk-helpers.js';
import { makeMeta, randomBody, readBody, writeEntry } from './store-helpers.js';

const KEY = 'http://origin.test/page';

describe('DiskStore integrity', () => {
  const disk = useDiskStore();

  async function exists(path: string): Promise<boolean> {
    return stat(path).then(
      () => true,
      () => false,
    );
  }

  describe('an unusable meta file is a miss and is deleted', () => {
    type Doc = { format: unknown; entry: Record<string, unknown> };
    const withEntry = (doc: Doc, fields: Record<string, unknown>) =>
      JSON.stringify({ ...doc, entry: { ...doc.entry, ...fields } });
    const rows: Array<[string, (doc: Doc) => string]> = [
      ['invalid JSON', (doc) => JSON.stringify(doc).slice(0, -10)],
      ['not an object', () => '[1, 2, 3]'],
      ['an unknown format', (doc) => JSON.stringify({ ...doc, format: 3 })],
      ['the format before (v1)', (doc) => JSON.stringify({ format: 1, key: KEY, variants: [doc.entry] })],
      ['no format', (doc) => JSON.stringify({ ...doc, format: undefined })],
      ['an entry that is not an object', (doc) => JSON.stringify({ ...doc, entry: [doc.entry] })],
      ['a key that does not hash to the file name', (doc) => withEntry(doc, { key: `${KEY}/other` })],
      ['a variant that does not hash to the file name', (doc) => withEntry(doc, { variant: 'gzip' })],
      ['a body id that is a path', (doc) => withEntry(doc, { bodyId: '../../x' })],
      ['a negative size', (doc) => withEntry(doc, { size: -1 })],
      ['headers of the wrong type', (doc) => withEntry(doc, { headers: [] })],
      ['a bad checksum', (doc) => withEntry(doc, { checksum: 'zz' })],
    ];

    async function corruptMetaFile(mutate: (doc: Doc) => string): Promise<{ entry: EntryMeta; path: string }> {
      const entry = await writeEntry(disk.store, makeMeta(KEY), 'body');
      await disk.store.close();
      const path = metaFileOf(disk.temp.dir, KEY);
      await writeFile(path, mutate(JSON.parse(await readFile(path, 'utf8')) as Doc));
      await disk.reopen();
      return { entry, path };
    }

    test.each(rows)('%s: found by lookup before the scan', async (_label, mutate) => {
      const { path } = await corruptMetaFile(mutate);
      expect(await disk.store.lookup(KEY)).toEqual([]);
      expect(await exists(path)).toBe(false);
    });

    test.each(rows)('%s: found by the scan, and the body is deleted as an orphan', async (_label, mutate) => {
      const { entry, path } = await corruptMetaFile(mutate);
      await disk.store.ready();
      expect(await exists(path)).toBe(false);
      expect(await exists(bodyFileOf(disk.temp.dir, entry.bodyId))).toBe(false);
      expect(disk.store.stats()).toMatchObject({ entries: 0, bodySize: 0 });
      expect(await disk.store.lookup(KEY)).toEqual([]);
    });
  });

  describe('a damaged body is detected when opened, and its entry deleted', () => {
    test.each([
      ['a small body cut short', 1000, (path: string) => truncate(path, 500)],
      ['a large body cut short', 500_000, (path: string) => truncate(path, 250_000)],
      ['a small body with a flipped byte', 1000, flipFirstByte],
      ['a small body grown', 1000, (path: string) => writeFile(path, 'extra', { flag: 'a' })],
    ])('%s: CACHE_ERR_CORRUPT_ENTRY', async (_label, size, damage) => {
      const entry = await writeEntry(disk.store, makeMeta(KEY), randomBody(size));
      await damage(bodyFileOf(disk.temp.dir, entry.bodyId));
      await expect(disk.store.openBody(entry)).rejects.toMatchObject({ code: 'CACHE_ERR_CORRUPT_ENTRY' });
      expect(await disk.store.lookup(KEY)).toEqual([]);
      expect(await listFiles(disk.temp.dir)).toEqual([]);
      expect(disk.store.stats()).toMatchObject({ entries: 0, bodySize: 0 });
    });

    test('a body file that vanished: CACHE_ERR_ENTRY_GONE, entry deleted', async () => {
      const entry = await writeEntry(disk.store, makeMeta(KEY), 'body');
      await rm(bodyFileOf(disk.temp.dir, entry.bodyId));
      await expect(disk.store.openBody(entry)).rejects.toMatchObject({ code: 'CACHE_ERR_ENTRY_GONE' });
      expect(await disk.store.lookup(KEY)).toEqual([]);
    });

    test('opening a replaced entry rejects without touching its successor', async () => {
      const old = await writeEntry(disk.store, makeMeta(KEY), 'old');
      const current = await writeEntry(disk.store, makeMeta(KEY), 'current');
      await expect(disk.store.openBody(old)).rejects.toMatchObject({ code: 'CACHE_ERR_ENTRY_GONE' });
      expect(await disk.store.lookup(KEY)).toEqual([current]);
      expect((await readBody(disk.store, current)).toString()).toBe('current');
    });

    async function flipFirstByte(path: string): Promise<void> {
      const bytes = await readFile(path);
      bytes[0] = bytes[0]! ^ 0xff;
      await writeFile(path, bytes);
    }
  });

  describe('no request can reach outside the cache directory', () => {
    const hostileKeys = [
      '../../../../etc/passwd',
      'http://origin.test/../../../etc/passwd',
      'http://origin.test/%2e%2e%2f%2e%2e%2fescape',
      'http://origin.test/a\0b',
      'C:\\Windows\\system32',
      `http://origin.test/${'long/'.repeat(2000)}`,
      'http://origin.test/ünïcødé/☃',
    ];

    test('whatever the key and variant, files are named by hashes and random ids only', async () => {
      for (const key of hostileKeys) {
        await writeEntry(disk.store, makeMeta(key, { variant: '../../variant/..' }), key);
        await writeEntry(disk.store, makeMeta(key, { variant: '/etc/shadow' }), key);
      }
      expect(await listFiles(disk.temp.parent)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^cache\/v2\/meta\/[0-9a-f]{2}\/[0-9a-f]{64}\.[0-9a-f]{64}\.json$/),
        ]),
      );
      for (const file of await listFiles(disk.temp.parent)) {
        expect(file).toMatch(
          /^cache\/v2\/(meta\/([0-9a-f]{2})\/\2[0-9a-f]{62}\.[0-9a-f]{64}\.json|body\/([0-9a-f]{2})\/\3[0-9a-f]{30})$/,
        );
      }
      expect(await listFiles(disk.temp.parent)).toHaveLength(hostileKeys.length * 4);
      for (const key of hostileKeys) {
        const found = await disk.store.lookup(key);
        expect(found.map((e) => e.variant).sort()).toEqual(['../../variant/..', '/etc/shadow']);
        expect((await readBody(disk.store, found[0]!)).toString()).toBe(key);
      }
    });

    test('a forged bodyId is refused before it becomes a path', async () => {
      const secret = join(disk.temp.parent, 'secret');
      await writeFile(secret, 'do not serve');
      const entry = await writeEntry(disk.store, makeMeta(KEY), 'body');
      for (const bodyId of ['../../secret', `..${sep}..${sep}secret`, secret, '']) {
        await expect(disk.store.openBody({ ...entry, bodyId })).rejects.toMatchObject({ code: 'CACHE_ERR_ENTRY_GONE' });
      }
      expect(await readFile(secret, 'utf8')).toBe('do not serve');
      expect(await disk.store.lookup(KEY)).toEqual([entry]);
    });

    test('the meta file name is the sha256 of the key and of the variant', async () => {
      await writeEntry(disk.store, makeMeta(KEY, { variant: '../gzip' }), 'body');
      const hash = hashKey(KEY);
      expect(await listFiles(disk.temp.dir)).toContain(
        `v2/meta/${hash.slice(0, 2)}/${hash}.${hashVariant('../gzip')}.json`,
      );
    });
  });
});
