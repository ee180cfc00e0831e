import { describe, expect, test } from '@jest/globals';
import type { EntryMeta, EntryPart } from '@simple-cache/common';
import { contentRange } from '../../src/policy/range.js';
import { isPart, locateRange, partVariant, partVary, selectParts, type PartEntry } from '../../src/policy/partial.js';
import { assembleParts, openPieces, settleParts } from '../../src/store/partial-bodies.js';
import type { Store } from '../../src/store/store.js';
import { collect, makeMeta, randomBody, readAll, readBody, writeEntry } from './store-helpers.js';

const KEY = 'http://origin.test/partial';

/** Stores bytes start–end of `origin` as a part (a 206 with that Content-Range), as the proxy does. */
export async function writePart(
  store: Store,
  origin: Buffer,
  start: number,
  end: number,
  options: { etag?: string; variant?: string; key?: string } = {},
): Promise<PartEntry> {
  const part: EntryPart = { variant: options.variant ?? '', start, end, length: origin.length };
  const meta = makeMeta(options.key ?? KEY, {
    status: 206,
    variant: partVariant(part.variant, part),
    vary: partVary([]),
    size: end - start + 1,
    headers: {
      'cache-control': 'max-age=60',
      etag: options.etag ?? '"v1"',
      'content-range': contentRange({ start, end }, origin.length),
      'content-length': String(end - start + 1),
    },
    part,
  });
  return (await writeEntry(store, meta, origin.subarray(start, end + 1))) as PartEntry;
}

/**
 * Partial entries through a store (any of them: the suite runs in describeStoreContract): a part
 * is an entry whose body is its bytes, read by range, counted, purged, and combined into a
 * complete entry by store/partial-bodies.ts.
 */
export function describePartialEntries(storeOf: () => Store): void {
  describe('partial entries (stored 206s, RFC 9111 §3.3–3.4)', () => {
    const origin = randomBody(100_000);

    test('a part reads back with its `part`, by body offsets, and is never a complete variant', async () => {
      const store = storeOf();
      const stored = await writePart(store, origin, 40_000, 69_999);
      const [found] = await store.lookup(KEY);
      expect(found).toEqual(stored);
      expect(found?.part).toEqual({ variant: '', start: 40_000, end: 69_999, length: 100_000 });
      expect(isPart(found as EntryMeta)).toBe(true);
      const bytes = await readBody(store, found as EntryMeta, { start: 5, end: 9 });
      expect(bytes.equals(origin.subarray(40_005, 40_010))).toBe(true);
      expect(selectParts([found as EntryMeta], {}).held).toHaveLength(1);
    });

    test('a range across parts reads exactly the origin bytes', async () => {
      const store = storeOf();
      await writePart(store, origin, 0, 29_999);
      await writePart(store, origin, 20_000, 59_999);
      const { held } = selectParts(await store.lookup(KEY), {});
      expect(held).toHaveLength(2);
      const segments = locateRange(
        held.map((entry) => entry.part),
        { start: 10_000, end: 49_999 },
      );
      const body = await openPieces(store, held, [
        { text: '<' },
        ...(segments ?? []).map((segment) => ({ segment })),
        { text: '>' },
      ]);
      const read = await readAll(body);
      expect(read.equals(Buffer.concat([Buffer.from('<'), origin.subarray(10_000, 50_000), Buffer.from('>')]))).toBe(
        true,
      );
    });

    test('openPieces rejects up front when a part is gone', async () => {
      const store = storeOf();
      const gone = await writePart(store, origin, 0, 9);
      await store.delete(KEY);
      await expect(openPieces(store, [gone], [{ segment: { index: 0, from: 0, to: 9 } }])).rejects.toBeDefined();
    });

    test('parts that add up become one complete 200 entry; the parts are deleted', async () => {
      const store = storeOf();
      await writePart(store, origin, 50_000, 99_999);
      await writePart(store, origin, 0, 50_999);
      const { held } = selectParts(await store.lookup(KEY), {});
      const complete = await assembleParts(store, held);
      expect(complete).toMatchObject({ status: 200, variant: '', vary: [], size: 100_000 });
      expect(complete?.part).toBeUndefined();
      expect(complete?.headers['content-range']).toBeUndefined();
      expect(complete?.headers['content-length']).toBe('100000');
      const variants = await store.lookup(KEY);
      expect(variants).toHaveLength(1);
      expect((await readBody(store, variants[0] as EntryMeta)).equals(origin)).toBe(true);
    });

    test('settleParts: a part of another validator goes; parts that add up become complete', async () => {
      const store = storeOf();
      await writePart(store, origin, 0, 59_999, { etag: '"old"' });
      const newer = await writePart(store, origin, 60_000, 99_999, { etag: '"new"' });
      expect(await settleParts(store, KEY, {}, newer)).toBeUndefined();
      expect((await store.lookup(KEY)).map((entry) => entry.headers.etag)).toEqual(['"new"']);
      const rest = await writePart(store, origin, 0, 60_000, { etag: '"new"' });
      const complete = await settleParts(store, KEY, {}, rest);
      expect(complete).toMatchObject({ status: 200, size: 100_000 });
      const [only, ...none] = await store.lookup(KEY);
      expect(none).toEqual([]);
      expect((await readBody(store, only as EntryMeta)).equals(origin)).toBe(true);
    });

    test('settleParts: beside a complete response of their variant, parts go', async () => {
      const store = storeOf();
      await writePart(store, origin, 0, 9);
      const complete = await writeEntry(store, makeMeta(KEY, { size: origin.length }), origin);
      await settleParts(store, KEY, {}, complete);
      expect(await store.lookup(KEY)).toEqual([complete]);
    });

    test('parts count as entries with their bytes, and purging the URL removes them', async () => {
      const store = storeOf();
      await writePart(store, origin, 0, 999);
      await writePart(store, origin, 5000, 5099);
      await writeEntry(store, makeMeta(`${KEY}/other`, { size: 10 }), randomBody(10));
      const stats = store.stats();
      expect(stats.entries).toBe(3);
      expect(stats.bodySize ?? stats.size).toBeGreaterThanOrEqual(1110);
      if (stats.partialEntries !== undefined) {
        expect(stats.partialEntries).toBe(2);
        expect(stats.partialBodySize).toBe(1100);
      }
      expect((await collect(store.entries())).filter((entry) => entry.part !== undefined)).toHaveLength(2);
      await store.delete(KEY);
      expect(await store.lookup(KEY)).toEqual([]);
      expect(store.stats().entries).toBe(1);
      if (stats.partialEntries !== undefined) expect(store.stats().partialEntries).toBe(0);
    });
  });
}
