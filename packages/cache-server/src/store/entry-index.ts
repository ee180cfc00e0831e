import type { EntryMeta } from '@simple-cache/common';
import { RecencyHeap, type RecencyItem } from './recency-heap.js';

/** Recency resolution for eviction and --inactive: uses closer together than this count once. */
export const RECENCY_INTERVAL_MS = 1000;

interface Slot {
  meta: EntryMeta;
  recency: number;
  /** Matches the heap fact that is current for this slot; older facts are stale. */
  seq: number;
}

/**
 * The disk store's in-memory picture of what is on disk: every variant of every key loaded so
 * far, the total body bytes, which body files are referenced, and least-recently-used order.
 * Pure bookkeeping, no I/O: the store changes it only after the matching meta file write
 * succeeded, so size accounting follows the disk.
 *
 * Until the start-up scan has loaded every meta file the index is *incomplete*: a key it does
 * not know may still be on disk. Keys loaded meanwhile are remembered even when they have no
 * variants (a tombstone), so a scan that read a meta file before a delete cannot bring it back.
 * `markComplete` drops the tombstones; from then on an unknown key is a miss.
 */
export class EntryIndex {
  private readonly keys = new Map<string, Map<string, Slot>>();
  private readonly bodies = new Set<string>();
  private readonly heap = new RecencyHeap();
  private readonly dirty = new Set<string>();
  private nextSeq = 0;
  private complete = false;
  private totalSize = 0;
  private totalCount = 0;

  /** Body bytes of every indexed variant. */
  get size(): number {
    return this.totalSize;
  }

  get count(): number {
    return this.totalCount;
  }

  get isComplete(): boolean {
    return this.complete;
  }

  /** True when the index can answer for `key` without reading its meta file. */
  isKnown(key: string): boolean {
    return this.complete || this.keys.has(key);
  }

  markComplete(): void {
    this.complete = true;
    for (const [key, variants] of this.keys) if (variants.size === 0) this.keys.delete(key);
  }

  /** The stored objects themselves: callers copy before handing them out. */
  variants(key: string): EntryMeta[] {
    return [...(this.keys.get(key)?.values() ?? [])].map((slot) => slot.meta);
  }

  find(key: string, variant: string): EntryMeta | undefined {
    return this.keys.get(key)?.get(variant)?.meta;
  }

  all(): EntryMeta[] {
    const result: EntryMeta[] = [];
    for (const variants of this.keys.values()) for (const slot of variants.values()) result.push(slot.meta);
    return result;
  }

  hasBody(bodyId: string): boolean {
    return this.bodies.has(bodyId);
  }

  /** Records that `key`'s meta file now holds exactly `metas` (none: the file is gone). */
  setVariants(key: string, metas: readonly EntryMeta[]): void {
    const previous = this.keys.get(key) ?? new Map<string, Slot>();
    for (const slot of previous.values()) this.forget(slot.meta);
    const next = new Map<string, Slot>();
    for (const meta of metas) {
      const old = previous.get(meta.variant);
      const recency = recencyOf(meta);
      const unchanged = old !== undefined && old.meta.bodyId === meta.bodyId && old.recency === recency;
      const slot = unchanged ? { meta, recency, seq: old.seq } : this.pushFact(key, meta.variant, meta, recency);
      next.set(meta.variant, slot);
      this.totalSize += meta.size;
      this.totalCount += 1;
      this.bodies.add(meta.bodyId);
    }
    if (next.size > 0 || !this.complete) this.keys.set(key, next);
    else this.keys.delete(key);
    if (next.size === 0) this.dirty.delete(key);
    this.compactHeap();
  }

  /** markUsed: bumps recency and hits in memory; persisted the next time the file is written. */
  touch(key: string, variant: string, bodyId: string, now: number): boolean {
    const slot = this.keys.get(key)?.get(variant);
    if (slot === undefined || slot.meta.bodyId !== bodyId) return false;
    slot.meta.hits = (slot.meta.hits ?? 0) + 1;
    this.dirty.add(key);
    // Like Varnish's lru_interval: a hot entry's recency moves at most once per interval, so a
    // hit does not push a heap fact (and trigger compactions) thousands of times a second.
    const last = slot.meta.lastAccess;
    if (last !== undefined && now >= last && now - last < RECENCY_INTERVAL_MS) return true;
    slot.meta.lastAccess = now;
    const fresh = this.pushFact(key, variant, slot.meta, now);
    slot.recency = fresh.recency;
    slot.seq = fresh.seq;
    this.compactHeap();
    return true;
  }

  /** Keys whose recency changed since their meta file was last written. */
  dirtyKeys(): string[] {
    return [...this.dirty];
  }

  markClean(key: string): void {
    this.dirty.delete(key);
  }

  /**
   * The least recently used variant, other than the one whose body is `sparedBodyId` (the entry
   * just committed must not pay for its own room). It stays indexed until the caller deletes it.
   */
  leastRecentlyUsed(sparedBodyId?: string): EntryMeta | undefined {
    return this.leastRecentlyUsedMany(1, 1, sparedBodyId)[0];
  }

  /**
   * The least recently used variants, oldest first, until their sizes add up to `bytes` or
   * there are `max` of them (eviction removes them concurrently). They stay indexed until
   * the caller deletes them.
   */
  leastRecentlyUsedMany(bytes: number, max: number, sparedBodyId?: string): EntryMeta[] {
    const popped: RecencyItem[] = [];
    const found: EntryMeta[] = [];
    let sum = 0;
    for (let item = this.heap.pop(); item !== undefined; item = this.heap.pop()) {
      const slot = this.keys.get(item.key)?.get(item.variant);
      if (slot === undefined || slot.seq !== item.seq) continue;
      popped.push(item);
      if (slot.meta.bodyId === sparedBodyId) continue;
      found.push(slot.meta);
      sum += slot.meta.size;
      if (found.length >= max || sum >= bytes) break;
    }
    for (const item of popped) this.heap.push(item);
    return found;
  }

  private forget(meta: EntryMeta): void {
    this.totalSize -= meta.size;
    this.totalCount -= 1;
    this.bodies.delete(meta.bodyId);
  }

  private pushFact(key: string, variant: string, meta: EntryMeta, recency: number): Slot {
    const seq = this.nextSeq++;
    this.heap.push({ recency, seq, key, variant });
    return { meta, recency, seq };
  }

  /** Stale facts accumulate with every touch; rebuild once they outnumber the live ones. */
  private compactHeap(): void {
    if (this.heap.length <= 2 * this.totalCount + 64) return;
    const items = [];
    for (const [key, variants] of this.keys) {
      for (const [variant, slot] of variants) items.push({ recency: slot.recency, seq: slot.seq, key, variant });
    }
    this.heap.replaceAll(items);
  }
}

/** Eviction order, and what --inactive measures: last served, else when the response arrived. */
export function recencyOf(meta: EntryMeta): number {
  return meta.lastAccess ?? meta.responseTime;
}
