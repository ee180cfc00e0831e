import type { Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import { LRUCache } from 'lru-cache';
import { readableOf, resolveRange } from './body-range.js';
import { HeldEntries } from './held-entries.js';
import { MemoryTeeWriter } from './memory-tee-writer.js';
import {
  deleteEntries,
  errorCountsOf,
  hasStartupWork,
  hasSyncLookup,
  healthOf,
  purgesAll,
  selectsEntries,
  type BodyEvents,
  type CountsErrors,
  type ByteRange,
  type DeletesMany,
  type EntryRef,
  type EntrySelection,
  type EntryWriter,
  type HotReads,
  type MemoryTierStats,
  type PurgesAll,
  type ReportsHealth,
  type SelectsEntries,
  type StartupWork,
  type Store,
  type StoreHealth,
  type StoreStats,
  type TierStats,
} from './store.js';

/** Where it was declared before the store's capabilities were (cluster/ imports it from here). */
export type { MemoryTierStats } from './store.js';

export interface MemoryTierOptions {
  /** Byte budget for the bodies held in memory. */
  maxSize: number;
  /** Bodies up to this many bytes are held; larger ones always stream from the inner store. */
  maxObjectSize: number;
}

/** What the tier needs from the store it wraps: the hook that tells it a body is gone. */
export type InnerStore = Store & BodyEvents;

/**
 * A Store in front of another one (the disk store) that keeps small bodies in memory, least
 * recently used out first, so a hit on a hot small object does no disk I/O: metadata comes
 * from the inner store's in-memory index, the body from a Buffer.
 *
 * Coherence is simple because body ids are never reused: the bytes held for a bodyId are the
 * bytes of that body forever. Everything that changes what is stored goes through to the inner
 * store; a body that stops being referenced (replaced, deleted, evicted, expired, corrupt) is
 * reported by the inner store's onBodyRemoved and dropped here before its file is deleted. A
 * body gets here when it is committed (copied while it is written, if small enough) or on its
 * first read.
 */
export class MemoryTier
  implements
    Store,
    HotReads,
    BodyEvents,
    TierStats,
    ReportsHealth,
    CountsErrors,
    StartupWork,
    SelectsEntries,
    PurgesAll,
    DeletesMany
{
  private readonly bodies: LRUCache<string, Buffer>;
  private readonly loading = new Map<string, Promise<Buffer>>();
  /** The metadata of what `bodies` holds: lookups while the inner store is away, purges by key. */
  private readonly held = new HeldEntries();
  private readonly unsubscribe: () => void;
  /** The largest body held: the smaller of maxObjectSize and maxSize. */
  private readonly holdLimit: number;
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly inner: InnerStore,
    options: MemoryTierOptions,
  ) {
    const { maxSize, maxObjectSize } = options;
    if (![maxSize, maxObjectSize].every((n) => Number.isSafeInteger(n) && n > 0)) {
      throw new RangeError(`memory tier sizes must be positive integers, got ${maxSize} and ${maxObjectSize}`);
    }
    // Never above maxSize: lru-cache miscounts an entry larger than its whole budget.
    this.holdLimit = Math.min(maxObjectSize, maxSize);
    this.bodies = new LRUCache<string, Buffer>({
      maxSize,
      maxEntrySize: this.holdLimit,
      // An empty body still costs a map slot.
      sizeCalculation: (body) => Math.max(1, body.length),
      dispose: (_body, bodyId) => this.held.forget(bodyId),
    });
    this.unsubscribe = inner.onBodyRemoved((bodyId) => this.bodies.delete(bodyId));
  }

  get maxObjectSize(): number | undefined {
    return this.inner.maxObjectSize;
  }

  /**
   * The inner store's answer; when it cannot answer (Redis away), what this tier holds for the
   * key, so that a node keeps serving its hot entries (the policy still judges their freshness).
   */
  lookup(key: string): Promise<EntryMeta[]> {
    return this.inner.lookup(key).catch((error: unknown) => {
      const held = this.held.variantsOf(key);
      if (held.length === 0) throw error;
      return held;
    });
  }

  lookupSync(key: string): EntryMeta[] | undefined {
    return hasSyncLookup(this.inner) ? this.inner.lookupSync(key) : undefined;
  }

  peekSync(key: string): readonly Readonly<EntryMeta>[] | undefined {
    return hasSyncLookup(this.inner) ? this.inner.peekSync(key) : undefined;
  }

  getBody(entry: EntryMeta): Buffer | undefined {
    const body = this.bodies.get(entry.bodyId);
    return body !== undefined && body.length === entry.size ? body : undefined;
  }

  async openBody(entry: EntryMeta, range?: ByteRange): Promise<Readable> {
    const held = this.getBody(entry);
    if (held !== undefined) {
      this.hits += 1;
      return sliceOf(held, entry, range);
    }
    if (entry.size > this.holdLimit) return this.inner.openBody(entry, range);
    this.misses += 1;
    // Small: read it whole once (the disk store verifies its checksum), keep it, serve the slice.
    return sliceOf(await this.load(entry), entry, range);
  }

  beginWrite(meta: Omit<EntryMeta, 'bodyId' | 'checksum'>): EntryWriter {
    const writer = this.inner.beginWrite(meta);
    if (writer.body.destroyed || meta.size > this.holdLimit) return writer;
    return new MemoryTeeWriter(writer, this.holdLimit, (entry, body) => this.keep(entry, body));
  }

  markUsed(entry: EntryMeta, at?: number): void {
    this.inner.markUsed(entry, at);
  }

  updateMeta(meta: EntryMeta): Promise<void> {
    // The body does not change, so neither does what is held for it; its metadata does, also
    // when the inner store is away (a soft purge or a 304 must hold for what is served from here).
    return this.inner.updateMeta(meta).finally(() => this.held.update(meta));
  }

  delete(key: string, variant?: string): Promise<void> {
    // Dropped here even if the inner store fails: a purge must hold for what this tier serves.
    return this.inner.delete(key, variant).finally(() => this.dropKey(key, variant));
  }

  /** The inner store's batched deletion (or one delete after another); dropped here whatever happens there. */
  deleteMany(entries: readonly EntryRef[]): Promise<void> {
    return deleteEntries(this.inner, entries).finally(() => {
      for (const entry of entries) this.dropKey(entry.key, entry.variant);
    });
  }

  /** Drops every body held (a purge of everything, or a resync after missed purge events); returns how many. */
  clear(): number {
    const dropped = this.bodies.size;
    this.bodies.clear();
    this.held.clear();
    return dropped;
  }

  /** Drops what is held for `key` (one variant, or all): another node changed or purged it. */
  dropKey(key: string, variant?: string): number {
    return this.drop(this.held.bodyIdsOf(key, variant));
  }

  /** Drops the bodies of the held entries `matches` selects (a purge by prefix or tag); returns how many. */
  dropWhere(matches: (entry: EntryMeta) => boolean): number {
    return this.drop(this.held.bodyIdsWhere(matches));
  }

  entries(): AsyncIterable<EntryMeta> {
    return this.inner.entries();
  }

  /**
   * The inner store's purge of everything, else one delete per entry; what this tier holds goes
   * too, whatever happens to the inner store (a purge must hold for what this tier serves).
   */
  async purgeAll(): Promise<number> {
    try {
      if (purgesAll(this.inner)) return await this.inner.purgeAll();
      const entries: EntryMeta[] = [];
      for await (const entry of this.inner.entries()) entries.push(entry);
      await deleteEntries(this.inner, entries);
      return entries.length;
    } finally {
      this.clear();
    }
  }

  /** The inner store's index, or all its entries (a superset, which the caller matches). */
  select(selection: EntrySelection): AsyncIterable<EntryMeta> {
    return selectsEntries(this.inner) ? this.inner.select(selection) : this.inner.entries();
  }

  stats(): StoreStats {
    return this.inner.stats();
  }

  memoryStats(): MemoryTierStats {
    const { bodies } = this;
    return {
      entries: bodies.size,
      size: bodies.calculatedSize,
      maxSize: bodies.maxSize,
      hits: this.hits,
      misses: this.misses,
    };
  }

  onBodyRemoved(listener: (bodyId: string) => void): () => void {
    return this.inner.onBodyRemoved(listener);
  }

  health(): StoreHealth {
    return healthOf(this.inner);
  }

  errorCounts(): Readonly<Record<string, number>> {
    return errorCountsOf(this.inner);
  }

  /** The inner store's start-up work (the disk store's scan): readiness waits for it through the tier too. */
  ready(): Promise<void> {
    return hasStartupWork(this.inner) ? this.inner.ready() : Promise.resolve();
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.clear();
    await this.inner.close();
  }

  private drop(bodyIds: readonly string[]): number {
    for (const bodyId of bodyIds) this.bodies.delete(bodyId);
    return bodyIds.length;
  }

  /** Reads a small body whole from the inner store, once however many ask at the same time. */
  private load(entry: EntryMeta): Promise<Buffer> {
    let pending = this.loading.get(entry.bodyId);
    if (pending === undefined) {
      pending = this.inner
        .openBody(entry)
        .then(readAll)
        .then((body) => {
          this.keep(entry, body);
          return body;
        })
        .finally(() => this.loading.delete(entry.bodyId));
      this.loading.set(entry.bodyId, pending);
    }
    return pending;
  }

  /** Holds `body` unless its entry is already gone again (a removal that raced the write or read). */
  private keep(entry: EntryMeta, body: Buffer): void {
    if (body.length !== entry.size || !this.isStillStored(entry)) return;
    this.bodies.set(entry.bodyId, body);
    if (this.bodies.has(entry.bodyId)) this.held.set(entry);
  }

  private isStillStored(entry: EntryMeta): boolean {
    try {
      const variants = this.lookupSync(entry.key);
      return variants === undefined || variants.some((stored) => stored.bodyId === entry.bodyId);
    } catch {
      return false; // closed meanwhile
    }
  }
}

function sliceOf(body: Buffer, entry: EntryMeta, range: ByteRange | undefined): Readable {
  const { start, end } = resolveRange(entry.size, range);
  return readableOf(range === undefined ? body : body.subarray(start, end + 1));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
