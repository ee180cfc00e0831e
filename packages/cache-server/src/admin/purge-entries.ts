import type { EntryMeta, HeaderMap } from '@simple-cache/common';
import type { PolicyOptions } from '../policy/types.js';
import { markStale } from '../policy/soft-purge.js';
import { deleteEntries, purgesAll, selectsEntries, type Store } from '../store/store.js';
import { tagsOf } from './tags.js';

/** What to purge: one key (every variant), every key starting with a prefix, a tag, or all. */
export type PurgeSelection =
  { kind: 'url'; key: string } | { kind: 'prefix'; prefix: string } | { kind: 'tag'; tags: string[] } | { kind: 'all' };

export interface PurgeOptions {
  /** Mark stale instead of deleting (see policy/soft-purge.ts). */
  soft: boolean;
  now: number;
  policy: Readonly<PolicyOptions>;
  tagHeaders: readonly string[];
}

export interface PurgeResult {
  /** Variants deleted, or marked stale when soft (already stale ones count too: they were hit). */
  purged: number;
  soft: boolean;
}

/** Purges the selected entries through the Store interface (so any store, tiered or not, works). */
export async function purgeEntries(
  store: Store,
  selection: PurgeSelection,
  options: PurgeOptions,
): Promise<PurgeResult> {
  // A store that purges everything at once (Redis: a new generation) reads and deletes nothing.
  if (selection.kind === 'all' && !options.soft && purgesAll(store))
    return { purged: await store.purgeAll(), soft: false };
  const victims =
    selection.kind === 'url' ? await store.lookup(selection.key) : await collect(store, selection, options);
  if (options.soft) {
    for (const entry of victims) {
      const stale = markStale(entry, options.now, options.policy);
      if (stale) await store.updateMeta(stale);
    }
  } else {
    // Batched where the store can (Redis: a round trip per batch, not per entry).
    await deleteEntries(store, victims);
  }
  return { purged: victims.length, soft: options.soft };
}

/**
 * Which origin fetches in flight a purge abandons (proxy/in-flight.ts abandon()): the same
 * selection, judged on a fetch's key and, once its response head is here, its header fields.
 * Before that a purge by tag cannot tell, and counts the fetch in.
 */
export function selectsFetch(
  selection: PurgeSelection,
  tagHeaders: readonly string[],
): (key: string, headers: HeaderMap | undefined) => boolean {
  const matches = matcherFor(selection, tagHeaders);
  return (key, headers) =>
    (headers === undefined && selection.kind === 'tag') || matches({ key, headers: headers ?? {} });
}

async function collect(store: Store, selection: PurgeSelection, options: PurgeOptions): Promise<EntryMeta[]> {
  const matches = matcherFor(selection, options.tagHeaders);
  // An index (the Redis store's) finds what a purge by prefix or tag selects without reading every entry.
  const candidates =
    (selection.kind === 'prefix' || selection.kind === 'tag') && selectsEntries(store)
      ? store.select(selection)
      : store.entries();
  const found: EntryMeta[] = [];
  for await (const entry of candidates) if (matches(entry)) found.push(entry);
  return found;
}

function matcherFor(
  selection: PurgeSelection,
  tagHeaders: readonly string[],
): (entry: Pick<EntryMeta, 'key' | 'headers'>) => boolean {
  switch (selection.kind) {
    case 'url':
      return (entry) => entry.key === selection.key;
    case 'prefix':
      return (entry) => entry.key.startsWith(selection.prefix);
    case 'tag':
      return (entry) => tagsOf(entry.headers, tagHeaders).some((tag) => selection.tags.includes(tag));
    case 'all':
      return () => true;
  }
}
