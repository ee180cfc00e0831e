import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import type { EntryMeta } from '@simple-cache/common';
import type { Store } from '../../src/store/store.js';
import {
  byKeyAndVariant,
  chunksOf,
  collect,
  makeMeta,
  randomBody,
  readAll,
  readBody,
  sha1,
  writeEntry,
} from './store-helpers.js';
import { describePartialEntries } from './partial-suite.js';

export interface StoreUnderTest {
  store: Store;
  cleanup(): Promise<void>;
  /** Temporary files the store left behind (omit if it has none to show). */
  leftovers?(): Promise<string[]>;
}

/** Builds a fresh, empty store; `maxSize` defaults to something the suite never reaches. */
export type MakeStore = (options?: { maxSize?: number }) => Promise<StoreUnderTest>;

const MAX_SIZE = 64 * 1024 * 1024;

/**
 * stats() with the body bytes as `bodySize` (a store whose `size` counts more reports them
 * there; otherwise `size` is the body bytes), checking that `size` never counts less.
 */
function countedBytes(store: Store): { entries: number; bodySize: number; maxSize: number; evictions: number } {
  const { entries, size, maxSize, evictions, bodySize = size } = store.stats();
  expect(size).toBeGreaterThanOrEqual(bodySize);
  return { entries, bodySize, maxSize, evictions };
}
const KEY = 'http://origin.test/resource';

/**
 * The Store contract, runnable against any implementation (after undici's shared cache-store
 * tests): what the proxy relies on, nothing about how bytes are kept.
 */
export function describeStoreContract(name: string, makeStore: MakeStore): void {
  describe(`Store contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: Store;

    beforeEach(async () => {
      subject = await makeStore({ maxSize: MAX_SIZE });
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    async function expectNoLeftovers(): Promise<void> {
      if (subject.leftovers) expect(await subject.leftovers()).toEqual([]);
    }

    describe('write, commit, read back', () => {
      test.each([
        ['text', Buffer.from('Hello, cache!\n'.repeat(100))],
        ['random binary', randomBody(100_000)],
        ['0 bytes', Buffer.alloc(0)],
        ['3 MiB', randomBody(3 * 1024 * 1024)],
      ])('%s: lookup + openBody give identical bytes', async (_label, body) => {
        const committed = await writeEntry(store, makeMeta(KEY, { size: body.length }), body);
        const [found, ...rest] = await store.lookup(KEY);
        expect(rest).toEqual([]);
        expect(found).toEqual(committed);
        expect((await readBody(store, found!)).equals(body)).toBe(true);
      });

      test('commit returns the stored metadata: size, a body id and the sha1 of the body', async () => {
        const meta = makeMeta(KEY, { size: 5, headers: { etag: '"x"' } });
        const committed = await writeEntry(store, meta, 'hello');
        expect(committed).toMatchObject({ ...meta, size: 5, checksum: sha1('hello') });
        expect(typeof committed.bodyId).toBe('string');
      });

      test('an unknown size (-1) becomes the number of bytes written', async () => {
        const body = randomBody(70_001);
        const committed = await writeEntry(store, makeMeta(KEY, { size: -1 }), body, 4096);
        expect(committed.size).toBe(body.length);
        expect((await store.lookup(KEY))[0]?.size).toBe(body.length);
        expect((await readBody(store, committed)).equals(body)).toBe(true);
      });

      test('a miss is an empty list', async () => {
        expect(await store.lookup('http://origin.test/never-stored')).toEqual([]);
      });

      test('lookup hands out copies: changing them does not change the store', async () => {
        await writeEntry(store, makeMeta(KEY), 'abc');
        const [first] = await store.lookup(KEY);
        first!.headers['x-mutated'] = 'yes';
        first!.status = 500;
        const [again] = await store.lookup(KEY);
        expect(again!.headers['x-mutated']).toBeUndefined();
        expect(again!.status).toBe(200);
      });

      test('each body is a new bodyId', async () => {
        const first = await writeEntry(store, makeMeta(KEY), 'one');
        const second = await writeEntry(store, makeMeta(KEY), 'two');
        expect(second.bodyId).not.toBe(first.bodyId);
      });
    });

    describe('ranges', () => {
      const small = Buffer.from('abcdefghijklmnopqrstuvwxyz');
      const large = randomBody(3 * 1024 * 1024);
      test.each([
        ['small, first byte', small, 0, 0],
        ['small, middle', small, 3, 9],
        ['small, last byte', small, 25, 25],
        ['small, everything', small, 0, 25],
        ['large, first 100 bytes', large, 0, 99],
        ['large, across chunk boundaries', large, 65_000, 200_000],
        ['large, last byte', large, large.length - 1, large.length - 1],
        ['large, everything', large, 0, large.length - 1],
      ])('%s (%#)', async (_label, body, start, end) => {
        const entry = await writeEntry(store, makeMeta(KEY, { size: body.length }), body);
        const part = await readBody(store, entry, { start, end });
        expect(part.equals(body.subarray(start, end + 1))).toBe(true);
      });

      test.each([
        ['end before start', 5, 4],
        ['end past the body', 0, 26],
        ['negative start', -1, 3],
      ])('a range outside the body rejects: %s', async (_label, start, end) => {
        const entry = await writeEntry(store, makeMeta(KEY), small);
        await expect(store.openBody(entry, { start, end })).rejects.toMatchObject({ code: 'CACHE_ERR_BAD_RANGE' });
      });
    });

    describe('variants', () => {
      const gzip = makeMeta(KEY, {
        variant: 'accept-encoding=gzip',
        vary: ['accept-encoding'],
        varyValues: { 'accept-encoding': 'gzip' },
      });
      const identity = makeMeta(KEY, { variant: 'accept-encoding=', vary: ['accept-encoding'], varyValues: {} });

      test('variants of one key are stored side by side', async () => {
        await writeEntry(store, gzip, 'gzipped');
        await writeEntry(store, identity, 'plain');
        const found = (await store.lookup(KEY)).sort(byKeyAndVariant);
        expect(found.map((e) => e.variant)).toEqual(['accept-encoding=', 'accept-encoding=gzip']);
        expect((await readBody(store, found[0]!)).toString()).toBe('plain');
        expect((await readBody(store, found[1]!)).toString()).toBe('gzipped');
        expect(found[1]!.varyValues).toEqual({ 'accept-encoding': 'gzip' });
      });

      test('writing the same variant again replaces it', async () => {
        await writeEntry(store, gzip, 'old body');
        await writeEntry(store, identity, 'plain');
        const replaced = await writeEntry(store, { ...gzip, status: 203 }, 'new, longer body');
        const found = await store.lookup(KEY);
        expect(found).toHaveLength(2);
        const gz = found.find((e) => e.variant === gzip.variant)!;
        expect(gz).toEqual(replaced);
        expect((await readBody(store, gz)).toString()).toBe('new, longer body');
        expect(countedBytes(store)).toMatchObject({ entries: 2, bodySize: 'new, longer body'.length + 'plain'.length });
      });

      test('delete(key, variant) removes only that variant', async () => {
        await writeEntry(store, gzip, 'gzipped');
        const plain = await writeEntry(store, identity, 'plain');
        await store.delete(KEY, gzip.variant);
        expect(await store.lookup(KEY)).toEqual([plain]);
        expect(countedBytes(store)).toMatchObject({ entries: 1, bodySize: 5 });
      });

      test('delete(key) removes every variant, and their bodies can no longer be opened', async () => {
        const gz = await writeEntry(store, gzip, 'gzipped');
        await writeEntry(store, identity, 'plain');
        await store.delete(KEY);
        expect(await store.lookup(KEY)).toEqual([]);
        expect(countedBytes(store)).toMatchObject({ entries: 0, bodySize: 0 });
        await expect(store.openBody(gz)).rejects.toMatchObject({ code: 'CACHE_ERR_ENTRY_GONE' });
      });

      test('deleting what is not there is not an error', async () => {
        await expect(store.delete('http://origin.test/none')).resolves.toBeUndefined();
        await writeEntry(store, gzip, 'gzipped');
        await expect(store.delete(KEY, 'no-such-variant')).resolves.toBeUndefined();
        expect(await store.lookup(KEY)).toHaveLength(1);
      });
    });

    describe('failed and aborted writes leave nothing visible', () => {
      test.each([
        ['shorter than announced', 10, 'short'],
        ['longer than announced', 3, 'longer than three'],
      ])('body %s: commit rejects with CACHE_ERR_SIZE_MISMATCH', async (_label, size, body) => {
        await expect(writeEntry(store, makeMeta(KEY, { size }), body)).rejects.toMatchObject({
          code: 'CACHE_ERR_SIZE_MISMATCH',
        });
        expect(await store.lookup(KEY)).toEqual([]);
        expect(countedBytes(store)).toMatchObject({ entries: 0, bodySize: 0 });
        await expectNoLeftovers();
      });

      test('a failed replacement keeps the previous entry intact', async () => {
        const old = await writeEntry(store, makeMeta(KEY, { size: 3 }), 'old');
        await expect(writeEntry(store, makeMeta(KEY, { size: 100 }), 'too short')).rejects.toMatchObject({
          code: 'CACHE_ERR_SIZE_MISMATCH',
        });
        expect(await store.lookup(KEY)).toEqual([old]);
        expect((await readBody(store, old)).toString()).toBe('old');
      });

      test('abort() discards what was written; commit then rejects', async () => {
        const writer = store.beginWrite(makeMeta(KEY, { size: 1000 }));
        writer.body.write(Buffer.alloc(500, 1));
        writer.abort(new Error('client went away'));
        await expect(writer.commit()).rejects.toMatchObject({ code: 'CACHE_ERR_WRITE_ABORTED' });
        expect(await store.lookup(KEY)).toEqual([]);
        await expectNoLeftovers();
      });

      test('destroying the body stream is an abort', async () => {
        const writer = store.beginWrite(makeMeta(KEY));
        writer.body.write('partial');
        writer.body.destroy(new Error('origin reset'));
        await expect(writer.commit()).rejects.toThrow('origin reset');
        expect(await store.lookup(KEY)).toEqual([]);
        await expectNoLeftovers();
      });

      test('abort() after the body ended but before commit still discards it', async () => {
        const writer = store.beginWrite(makeMeta(KEY));
        await new Promise<void>((resolve) => writer.body.end('all of it', resolve));
        writer.abort();
        await expect(writer.commit()).rejects.toMatchObject({ code: 'CACHE_ERR_WRITE_ABORTED' });
        expect(await store.lookup(KEY)).toEqual([]);
        await expectNoLeftovers();
      });

      test('commit() and abort() never throw synchronously', () => {
        const writer = store.beginWrite(makeMeta(KEY, { size: 1 }));
        const committed = writer.commit();
        expect(() => writer.abort()).not.toThrow();
        return expect(committed).rejects.toHaveProperty('code');
      });
    });

    describe('metadata', () => {
      test('updateMeta replaces the metadata and keeps the body', async () => {
        const body = randomBody(1000);
        const entry = await writeEntry(store, makeMeta(KEY), body);
        const freshened: EntryMeta = {
          ...entry,
          headers: { ...entry.headers, etag: '"v2"' },
          responseTime: entry.responseTime + 60_000,
        };
        await store.updateMeta(freshened);
        const [found] = await store.lookup(KEY);
        expect(found).toMatchObject({ headers: { etag: '"v2"' }, responseTime: freshened.responseTime });
        expect(found).toMatchObject({ bodyId: entry.bodyId, size: entry.size, checksum: entry.checksum });
        expect((await readBody(store, found!)).equals(body)).toBe(true);
      });

      test('updateMeta for a body that has been replaced meanwhile changes nothing', async () => {
        const first = await writeEntry(store, makeMeta(KEY), 'first');
        const second = await writeEntry(store, makeMeta(KEY), 'second');
        await store.updateMeta({ ...first, status: 299 });
        expect(await store.lookup(KEY)).toEqual([second]);
      });

      test('updateMeta for an entry that is gone does not bring it back', async () => {
        const entry = await writeEntry(store, makeMeta(KEY), 'body');
        await store.delete(KEY);
        await store.updateMeta(entry);
        expect(await store.lookup(KEY)).toEqual([]);
      });

      test('markUsed counts hits and records the last access', async () => {
        const entry = await writeEntry(store, makeMeta(KEY), 'body');
        const before = Date.now();
        store.markUsed(entry);
        store.markUsed(entry);
        const [found] = await store.lookup(KEY);
        expect(found!.hits).toBe(2);
        expect(found!.lastAccess).toBeGreaterThanOrEqual(before);
      });

      test('markUsed with the time of use (a fast hit read the clock already) records that time', async () => {
        const entry = await writeEntry(store, makeMeta(KEY), 'body');
        const at = Date.now() + 60_000;
        store.markUsed(entry, at);
        const [found] = await store.lookup(KEY);
        expect(found!.hits).toBe(1);
        expect(found!.lastAccess).toBe(at);
      });

      test('stats count entries and body bytes', async () => {
        expect(countedBytes(store)).toEqual({ entries: 0, bodySize: 0, maxSize: MAX_SIZE, evictions: 0 });
        await writeEntry(store, makeMeta(`${KEY}/a`), randomBody(1000));
        await writeEntry(store, makeMeta(`${KEY}/b`), randomBody(234));
        await writeEntry(store, makeMeta(`${KEY}/b`, { variant: 'v' }), randomBody(1));
        expect(countedBytes(store)).toEqual({ entries: 3, bodySize: 1235, maxSize: MAX_SIZE, evictions: 0 });
        await store.delete(`${KEY}/b`);
        expect(countedBytes(store)).toEqual({ entries: 1, bodySize: 1000, maxSize: MAX_SIZE, evictions: 0 });
      });

      test('entries() lists every stored entry', async () => {
        const written = [
          await writeEntry(store, makeMeta(`${KEY}/a`), 'a'),
          await writeEntry(store, makeMeta(`${KEY}/b`, { variant: 'x' }), 'bx'),
          await writeEntry(store, makeMeta(`${KEY}/b`, { variant: 'y' }), 'by'),
        ];
        expect((await collect(store.entries())).sort(byKeyAndVariant)).toEqual(written.sort(byKeyAndVariant));
      });
    });

    describePartialEntries(() => store);

    describe('concurrency', () => {
      test('two writers for the same key and variant: one complete body wins, never a mix', async () => {
        const a = Buffer.alloc(300_000, 'A');
        const b = Buffer.alloc(200_000, 'B');
        const writerA = store.beginWrite(makeMeta(KEY, { size: a.length }));
        const writerB = store.beginWrite(makeMeta(KEY, { size: b.length }));
        // Interleave the two bodies chunk by chunk.
        const chunksA = [...chunksOf(a, 10_000)];
        const chunksB = [...chunksOf(b, 10_000)];
        for (let i = 0; i < Math.max(chunksA.length, chunksB.length); i++) {
          if (chunksA[i]) writerA.body.write(chunksA[i]);
          if (chunksB[i]) writerB.body.write(chunksB[i]);
        }
        const results = await Promise.all([writerA.commit(), writerB.commit()]);
        const [found, ...rest] = await store.lookup(KEY);
        expect(rest).toEqual([]);
        expect(results.map((r) => r.bodyId)).toContain(found!.bodyId);
        const body = await readBody(store, found!);
        expect(body.equals(a) || body.equals(b)).toBe(true);
        expect(countedBytes(store)).toMatchObject({ entries: 1, bodySize: body.length });
      });

      test('many concurrent writers of different keys all land', async () => {
        const bodies = Array.from({ length: 20 }, (_, i) => randomBody(1000 + i));
        await Promise.all(bodies.map((body, i) => writeEntry(store, makeMeta(`${KEY}/${i}`), body)));
        for (const [i, body] of bodies.entries()) {
          const [found] = await store.lookup(`${KEY}/${i}`);
          expect((await readBody(store, found!)).equals(body)).toBe(true);
        }
        expect(store.stats().entries).toBe(20);
      });

      test.each([
        ['small', 1024],
        ['large', 3 * 1024 * 1024],
      ])('a %s body opened before it is replaced still reads complete and old', async (_label, size) => {
        const oldBody = randomBody(size);
        const old = await writeEntry(store, makeMeta(KEY), oldBody);
        const reading = await store.openBody(old);
        const newBody = randomBody(size);
        await writeEntry(store, makeMeta(KEY), newBody);
        expect((await readAll(reading)).equals(oldBody)).toBe(true);
        const [current] = await store.lookup(KEY);
        expect((await readBody(store, current!)).equals(newBody)).toBe(true);
      });

      test('a body opened before a delete still reads complete', async () => {
        const body = randomBody(500_000);
        const entry = await writeEntry(store, makeMeta(KEY), body);
        const reading = await store.openBody(entry);
        await store.delete(KEY);
        expect((await readAll(reading)).equals(body)).toBe(true);
      });
    });
  });
}
