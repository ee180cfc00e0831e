import type { EntryMeta } from '@simple-cache/common';
import { RecencyHeap, type RecencyItem } from './recency-heap.js';

/** Recency resolution for eviction and --inactive: uses closer together than this count once. */
export const RECENCY_INTERVAL_MS = 1000;

/** A variant as the index holds it: its metadata and what it costs on disk (see entryCost). */
export interface StoredVariant {
  meta: EntryMeta;
  /** Bytes it takes on disk, its meta file included, counted against `--max-size`. */
  cost: number;
}

interface Slot extends StoredVariant {
  recency: number;
  /** Matches the heap fact that is current for this slot; older facts are stale. */
  seq: number;
}

/**
 * The disk store's in-memory picture of what is on disk: every variant of every key loaded so
 * far, what they cost on disk, which body files are referenced, and least-recently-used order.
 * Pure bookkeeping, no I/O: the store changes it only after the matching meta file write
 * succeeded, so size accounting follows the disk. Every change to one variant is O(1) (plus a
 * heap push), whatever number of siblings it has.
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
  /** Variants (by key) whose recency changed since their meta file was last written. */
  private readonly dirty = new Map<string, Set<string>>();
  private nextSeq = 0;
  private complete = false;
  private totalCost = 0;
  private totalBodySize = 0;
  private totalCount = 0;
  private partialCount = 0;
  private partialBodySize = 0;

  /** What every indexed variant costs on disk (bodies in blocks, meta files included). */
  get size(): number {
    return this.totalCost;
  }

  /** Body bytes of every indexed variant. */
  get bodySize(): number {
    return this.totalBodySize;
  }

  get count(): number {
    return this.totalCount;
  }

  /** How many indexed variants are parts (stored 206s, `EntryMeta.part`), and their body bytes. */
  get partial(): { entries: number; bodySize: number } {
    return { entries: this.partialCount, bodySize: this.partialBodySize };
  }

  get isComplete(): boolean {
    return this.complete;
  }

  /** True when the index can answer for `key` without reading its meta files. */
  isKnown(key: string): boolean {
    return this.complete || this.keys.has(key);
  }

  markComplete(): void {
    this.complete = true;
    for (const [key, variants] of this.keys) if (variants.size === 0) this.keys.delete(key);
  }

  /** The stored objects themselves: callers copy before handing them out. One array (fast hits look up per request). */
  variants(key: string): EntryMeta[] {
    const metas: EntryMeta[] = [];
    const slots = this.keys.get(key);
    if (slots !== undefined) for (const slot of slots.values()) metas.push(slot.meta);
    return metas;
  }

  /** How many variants `key` has. */
  variantCount(key: string): number {
    return this.keys.get(key)?.size ?? 0;
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

  /** Records that `key`'s meta files on disk hold exactly `variants` (none: there are none). */
  setVariants(key: string, variants: readonly StoredVariant[]): void {
    const kept = new Set(variants.map((stored) => stored.meta.variant));
    for (const variant of [...(this.keys.get(key)?.keys() ?? [])])
      if (!kept.has(variant)) this.removeVariant(key, variant);
    for (const { meta, cost } of variants) this.putVariant(key, meta, cost);
    if (!this.keys.has(key) && !this.complete) this.keys.set(key, new Map());
  }

  /** Records that one variant's meta file now holds `meta` (new, or replacing the variant). */
  putVariant(key: string, meta: EntryMeta, cost: number): void {
    let variants = this.keys.get(key);
    if (variants === undefined) {
      variants = new Map();
      this.keys.set(key, variants);
    }
    const old = variants.get(meta.variant);
    if (old !== undefined) this.forget(old);
    const recency = recencyOf(meta);
    const unchanged = old !== undefined && old.meta.bodyId === meta.bodyId && old.recency === recency;
    const slot = unchanged
      ? { meta, cost, recency, seq: old.seq }
      : this.pushFact(key, meta.variant, meta, cost, recency);
    variants.set(meta.variant, slot);
    this.totalCost += cost;
    this.totalBodySize += meta.size;
    this.totalCount += 1;
    if (meta.part !== undefined) {
      this.partialCount += 1;
      this.partialBodySize += meta.size;
    }
    this.bodies.add(meta.bodyId);
    this.compactHeap();
  }

  /** Records that one variant's meta file is gone. */
  removeVariant(key: string, variant: string): void {
    const variants = this.keys.get(key);
    const slot = variants?.get(variant);
    if (variants === undefined || slot === undefined) return;
    this.forget(slot);
    variants.delete(variant);
    this.dirty.get(key)?.delete(variant);
    if (this.dirty.get(key)?.size === 0) this.dirty.delete(key);
    if (variants.size === 0 && this.complete) this.keys.delete(key);
  }

  /**
   * markUsed: bumps recency and hits (`hits` at once: a worker's batch) in memory; persisted the
   * next time the file is written.
   */
  touch(key: string, variant: string, bodyId: string, now: number, hits = 1): boolean {
    const slot = this.keys.get(key)?.get(variant);
    if (slot === undefined || slot.meta.bodyId !== bodyId) return false;
    slot.meta.hits = (slot.meta.hits ?? 0) + hits;
    let dirtyVariants = this.dirty.get(key);
    if (dirtyVariants === undefined) this.dirty.set(key, (dirtyVariants = new Set()));
    dirtyVariants.add(variant);
    // Like Varnish's lru_interval: a hot entry's recency moves at most once per interval, so a
    // hit does not push a heap fact (and trigger compactions) thousands of times a second.
    const last = slot.meta.lastAccess;
    if (last !== undefined && now >= last && now - last < RECENCY_INTERVAL_MS) return true;
    slot.meta.lastAccess = now;
    const fresh = this.pushFact(key, variant, slot.meta, slot.cost, now);
    slot.recency = fresh.recency;
    slot.seq = fresh.seq;
    this.compactHeap();
    return true;
  }

  /** Variants whose recency changed since their meta file was last written. */
  dirtyVariants(): { key: string; variant: string }[] {
    const result: { key: string; variant: string }[] = [];
    for (const [key, variants] of this.dirty) for (const variant of variants) result.push({ key, variant });
    return result;
  }

  markClean(key: string, variant: string): void {
    const variants = this.dirty.get(key);
    variants?.delete(variant);
    if (variants?.size === 0) this.dirty.delete(key);
  }

  /**
   * The least recently used variant, other than the one whose body is `sparedBodyId` (the entry
   * just committed must not pay for its own room). It stays indexed until the caller deletes it.
   */
  leastRecentlyUsed(sparedBodyId?: string): EntryMeta | undefined {
    return this.leastRecentlyUsedMany(1, 1, sparedBodyId)[0];
  }

  /**
   * The least recently used variants, oldest first, until their costs add up to `bytes` or
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
      sum += slot.cost;
      if (found.length >= max || sum >= bytes) break;
    }
    for (const item of popped) this.heap.push(item);
    return found;
  }

  /**
   * `key`'s variants beyond the `keep` most recently used, least recently used first, never
   * the one named `spared` (the variant just stored). For --max-variants.
   */
  surplusVariants(key: string, keep: number, spared: string): EntryMeta[] {
    const variants = this.keys.get(key);
    if (variants === undefined || variants.size <= keep) return [];
    const others = [...variants.values()].filter((slot) => slot.meta.variant !== spared);
    others.sort((a, b) => a.recency - b.recency || a.seq - b.seq);
    return others.slice(0, variants.size - keep).map((slot) => slot.meta);
  }

  private forget(slot: Slot): void {
    this.totalCost -= slot.cost;
    this.totalBodySize -= slot.meta.size;
    this.totalCount -= 1;
    if (slot.meta.part !== undefined) {
      this.partialCount -= 1;
      this.partialBodySize -= slot.meta.size;
    }
    this.bodies.delete(slot.meta.bodyId);
  }

  private pushFact(key: string, variant: string, meta: EntryMeta, cost: number, recency: number): Slot {
    const seq = this.nextSeq++;
    this.heap.push({ recency, seq, key, variant });
    return { meta, cost, recency, seq };
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
