import type { Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import { createRejectedWriter } from '../rejected-writer.js';
import type {
  BodyEvents,
  ByteRange,
  CountsErrors,
  DeletesMany,
  EntryRef,
  EntrySelection,
  EntryWriter,
  PurgesAll,
  ReportsHealth,
  SelectsEntries,
  Store,
  StoreHealth,
  StoreStats,
  SyncLookup,
} from '../store.js';
import { StoreError } from '../store-errors.js';
import type { EntryPolicy } from './entry-lifetime.js';
import { EntryIndex } from './entry-index.js';
import { InvalidationBus, type Invalidation } from './invalidation-bus.js';
import { CollapseLocks } from './lock.js';
import { MetaCache, type LiveVariant } from './meta-cache.js';
import { parseLiveVariants } from './meta-fields.js';
import { scanEntries } from './meta-scan.js';
import { sweepGeneration } from './generation-sweep.js';
import { PurgeRecord } from './purge-record.js';
import { servableVariants } from './servable.js';
import { openStoredBody } from './redis-body-reads.js';
import { closeClient, dataMasters } from './redis-connection.js';
import type { RedisContext } from './redis-context.js';
import { RedisEntryWriter, type RedisWriterHost } from './redis-entry-writer.js';
import type { RedisStoreOptions } from './redis-options.js';
import { createBodyId, hashKey } from './redis-keys.js';
import { commitBody, discardBody, updateStoredMeta, writeChunk } from './redis-mutations.js';
import { connectRedis } from './redis-open.js';
import { RedisRemovals } from './redis-removals.js';
import { RedisStats } from './redis-stats.js';
import { RecencyBatch, writeRecency } from './recency-batch.js';

export type { RedisStoreOptions };

/** Keys whose metadata a node keeps in memory (meta-cache.ts). */
const META_CACHE_KEYS = 10_000;
/**
 * A key's metadata held in memory is asked for again after this many metaTrustMs, whatever the
 * bus says: the bound for changes that no message announces (made in Redis by hand).
 */
const META_MAX_AGE_FACTOR = 10;

/**
 * The Store in Redis, shared by every cache node that points at the same server or cluster.
 *
 * - Metadata: one hash per key with every variant (fields in redis-scripts.ts).
 * - Bodies: one hash per body of CHUNK_SIZE chunks, streamed in chunk by chunk and read back
 *   with the chunk requests pipelined (chunk-writer.ts, chunk-reader.ts), under a fresh body id
 *   for every write.
 * - Atomic visibility: the commit script checks that the body has every chunk and exactly the
 *   announced bytes, then points the variant at it — one step, so a reader sees the old entry
 *   or the complete new one. Chunks of a write that never commits carry a TTL and expire.
 * - Lifetime: each variant is kept while useful (entry-lifetime.ts) and Redis expires it
 *   after; under memory pressure Redis's own `maxmemory-policy allkeys-lru` evicts.
 * - Every change of a key is announced on the invalidation bus by the script that makes it.
 *   So a node keeps the metadata of hot keys in memory (meta-cache.ts), usable while the bus's
 *   heartbeat proves it current: a hit then needs no Redis round trip, and its recency is
 *   written in batches (recency-batch.ts). `locks` collapses misses across nodes.
 * - Redis down or hung: every call goes through a gate (redis-gate.ts) with a reply timeout
 *   and a circuit breaker per server (per cluster master): while one is open, calls for it
 *   reject at once and writes are refused up front; it closes when its server answers a probe.
 */
// The capabilities are declared so the compiler holds the methods to them (store/store.ts); the
// type guards still decide at run time, as for every store.
export class RedisStore
  implements Store, SyncLookup, BodyEvents, ReportsHealth, CountsErrors, SelectsEntries, PurgesAll, DeletesMany
{
  readonly maxObjectSize: number;
  private readonly writers = new Set<RedisEntryWriter>();
  private readonly writerHost: RedisWriterHost;
  private readonly meta: MetaCache;
  private readonly removals: RedisRemovals;
  private readonly recency = new RecencyBatch();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Adds an entry to the purge indexes before its commit or 304 (redis-mutations.ts). */
  private readonly indexer = (meta: EntryMeta, until: number, now: number) => this.index.add(meta, until, now);
  private closed = false;
  /** The sweep started by the latest purge of everything (generation-sweep.ts); tests wait for it. */
  sweeping: Promise<number> = Promise.resolve(0);
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly ctx: RedisContext,
    readonly bus: InvalidationBus,
    readonly locks: CollapseLocks,
    private readonly counters: RedisStats,
    private readonly maxSize: number,
    maxObjectSize: number | undefined,
    private readonly purges: PurgeRecord,
    private readonly index: EntryIndex,
  ) {
    this.maxObjectSize = Math.min(maxSize, maxObjectSize ?? maxSize);
    this.meta = new MetaCache(META_CACHE_KEYS, META_MAX_AGE_FACTOR * ctx.settings.metaTrustMs);
    this.removals = new RedisRemovals(ctx, this.meta, counters);
    this.writerHost = {
      maxObjectSize: this.maxObjectSize,
      writeChunk: (meta, index, bytes) => writeChunk(this.ctx, meta, index, bytes),
      discardBody: (meta) => discardBody(this.ctx, meta),
      publish: (meta, isAborted) => this.publish(meta, isAborted),
      release: (writer) => this.writers.delete(writer),
    };
  }

  /**
   * Connects (redis-open.ts: never waiting longer than for the first connection or its failure),
   * subscribes to the invalidation channel, starts the heartbeat and the timers.
   */
  static async open(options: RedisStoreOptions): Promise<RedisStore> {
    const { maxSize } = options;
    if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
      throw new RangeError(`maxSize must be a non-negative integer, got ${maxSize}`);
    }
    const { ctx, subscriber } = await connectRedis(options);
    const { client, gate, keys, logger, settings } = ctx;
    const bus = await InvalidationBus.open({
      publisher: client,
      gate,
      subscriber,
      channel: keys.channel,
      logger,
      ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
    });
    ctx.source = bus.nodeId;
    const counters = new RedisStats(client, gate, keys, logger);
    await counters.refresh();
    const locks = new CollapseLocks(ctx, bus);
    const purges = new PurgeRecord(options.entryTags);
    const index = new EntryIndex(ctx, options.entryTags ?? (() => []));
    const store = new RedisStore(ctx, bus, locks, counters, maxSize, options.maxObjectSize, purges, index);
    bus.subscribe((event, { own }) => store.apply(event, own), { includeOwn: true });
    if (settings.metaTrustMs > 0) {
      bus.startHeartbeat(() => dataMasters(client), Math.max(20, Math.floor(settings.metaTrustMs / 4)));
    }
    store.startTimers();
    return store;
  }

  async lookup(key: string): Promise<EntryMeta[]> {
    this.assertOpen();
    const trusted = this.isMetaTrusted();
    const held = trusted ? this.meta.peek(key, Date.now()) : undefined;
    if (held !== undefined) return held.map((entry) => this.withPendingHits(structuredClone(entry)));
    const metaKey = this.ctx.keys.meta(hashKey(key));
    // Kept only if the bus vouched for the node's metadata when the lookup left (a lookup sent
    // while it could not may miss a change that no message will repair).
    const fill = trusted ? this.meta.begin(key, Date.now()) : undefined;
    let live: LiveVariant[] | undefined;
    try {
      const hash = await this.ctx.gate.run(metaKey, () => this.ctx.client.hgetall(metaKey));
      const stored = parseLiveVariants(hash, Date.now(), key);
      const remove = (entry: EntryMeta) => this.removals.remove(entry.key, entry.variant, entry.bodyId);
      live = await servableVariants(stored, this.purges, this.index, this.ctx.logger, remove);
    } finally {
      if (fill) this.meta.end(fill, live);
    }
    return live.map((variant) => this.withPendingHits(structuredClone(variant.meta)));
  }

  /** The key's variants from the node's own metadata, when held and vouched for by the bus. */
  peekSync(key: string): readonly Readonly<EntryMeta>[] | undefined {
    if (this.closed || !this.isMetaTrusted()) return undefined;
    return this.meta.peek(key, Date.now());
  }

  lookupSync(key: string): EntryMeta[] | undefined {
    return this.peekSync(key)?.map((entry) => structuredClone(entry));
  }

  async openBody(entry: EntryMeta, range?: ByteRange): Promise<Readable> {
    this.assertOpen();
    return openStoredBody(this.ctx, entry, range, (lost, code, offset) => this.removals.dropLost(lost, code, offset));
  }

  beginWrite(meta: Omit<EntryMeta, 'bodyId' | 'checksum'>): EntryWriter {
    if (this.closed) return createRejectedWriter(new StoreError('CACHE_ERR_STORE_CLOSED', 'the store is closed'));
    if (meta.size > this.maxObjectSize) {
      return createRejectedWriter(
        new StoreError('CACHE_ERR_ENTRY_TOO_LARGE', `${meta.size} bytes exceed the largest object stored`),
      );
    }
    // Redis is away (or the master of one of its purge indexes): not a byte is buffered for a
    // write that cannot land.
    if (!this.ctx.gate.isAvailable(this.ctx.keys.meta(hashKey(meta.key))) || !this.index.isAvailable(meta)) {
      return createRejectedWriter(new StoreError('CACHE_ERR_STORE_DEGRADED', 'Redis is unavailable'));
    }
    const { bodyId: _bodyId, checksum: _checksum, ...rest } = structuredClone(meta) as EntryMeta;
    const staged = { ...rest, bodyId: createBodyId() };
    // Before its first chunk: a node waiting on this node's lock can follow the write (lock.ts).
    this.locks.announceWrite(staged);
    const writer = new RedisEntryWriter(this.writerHost, staged);
    this.writers.add(writer);
    return writer;
  }

  /** Counted in memory and written with the next batch (recency-batch.ts): a hit never waits for Redis. */
  markUsed(entry: EntryMeta, at?: number): void {
    if (!this.closed) this.recency.add(entry, at ?? Date.now());
  }

  async updateMeta(meta: EntryMeta): Promise<void> {
    this.assertOpen();
    const updated = await updateStoredMeta(this.ctx, meta, this.indexer);
    if (updated) this.meta.invalidate(meta.key);
  }

  async delete(key: string, variant?: string): Promise<void> {
    this.assertOpen();
    await this.removals.remove(key, variant, '');
  }

  /**
   * A purge's deletions, 200 at a time (redis-removals.ts): their scripts leave together on the connection
   * (each on its own key's slot, so a cluster sends each to its master) and the shared counters
   * change once per batch. Each script announces its deletion as delete() does, and every one has
   * answered before this resolves: 100 entries cost about one round trip, not 100.
   */
  async deleteMany(entries: readonly EntryRef[]): Promise<void> {
    this.assertOpen();
    await this.removals.deleteMany(entries);
  }

  async *entries(): AsyncIterable<EntryMeta> {
    this.assertOpen();
    const { client, gate, keys } = this.ctx;
    for await (const variants of scanEntries(client, gate, keys, Date.now)) yield* variants;
  }

  /**
   * The entries a purge by prefix or tag may select, through the purge indexes (entry-index.ts):
   * O(matches), where entries() scans every key.
   */
  async *select(selection: EntrySelection): AsyncIterable<EntryMeta> {
    this.assertOpen();
    for await (const batch of this.index.select(selection)) yield* batch;
  }

  /**
   * A purge of everything, O(1): the store gets a new generation (entry-index.ts), so that no
   * variant written before is served by any node that knows it (they learn it from the purge's
   * announcement); a sweep then deletes them in the background, freeing their memory. Resolves
   * to the entries counted before (the shared counters: approximate).
   */
  async purgeAll(): Promise<number> {
    this.assertOpen();
    await this.counters.refresh();
    const before = this.counters.current().entries;
    const generation = await this.index.renew();
    this.meta.clear();
    if (this.ctx.settings.purgeSweep) {
      const remove = (entries: readonly EntryMeta[]) => this.removals.removeAll(entries);
      this.sweeping = sweepGeneration(this.ctx, generation, remove, () => this.closed);
    }
    return before;
  }

  stats(): StoreStats {
    return { ...this.counters.current(), maxSize: this.maxSize };
  }

  /** Degraded while a breaker is open (partial: some cluster masters): their calls fail at once. */
  health(): StoreHealth {
    return this.ctx.gate.health();
  }

  /** Redis failures so far, by kind (redis-errors.ts). */
  errorCounts(): Readonly<Record<string, number>> {
    return this.ctx.gate.errorCounts();
  }

  /**
   * Bodies that stop being current — here (replaced, deleted, pruned, found unusable) or on
   * another node (announced on the bus) — so that a memory tier in front drops its copy. Redis
   * keeps such a body for the read grace, so the copy never outlives the bytes it mirrors.
   */
  onBodyRemoved(listener: (bodyId: string) => void): () => void {
    return this.removals.onBodyRemoved(listener);
  }

  /**
   * Entry lifetimes from now on follow `policy` (entry-lifetime.ts): the app hands over the live
   * rules once its config is loaded, so that a rule's ttl or stale window keeps the entry in Redis
   * as long as the proxy may use it.
   */
  useEntryPolicy(policy: EntryPolicy): void {
    this.ctx.lifetime.policy = policy;
  }

  /** Recounts the shared counters from what is stored (also done periodically); see RedisStats. */
  recount(): Promise<boolean> {
    return this.counters.recount(this.ctx.settings.recountIntervalMs);
  }

  /** Writes the hits counted since the last batch (also done every recencyIntervalMs). */
  flushRecency(): Promise<void> {
    return writeRecency(this.ctx, this.recency.take());
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  /**
   * An announced change: a purge is remembered, the node's own metadata forgets the change, and
   * another node's retired bodies are dropped.
   */
  private apply(event: Invalidation, own: boolean): void {
    this.purges.record(event, Date.now());
    this.index.forget(event);
    switch (event.kind) {
      case 'key':
        this.meta.invalidate(event.key);
        if (!own) this.removals.notify(event.bodyIds ?? []);
        return;
      case 'prefix':
        this.meta.invalidatePrefix(event.prefix);
        return;
      case 'tag':
      case 'all':
        this.meta.clear();
    }
  }

  /** A copy looked up, with the hits this node counted but has not written yet. */
  private withPendingHits(entry: EntryMeta): EntryMeta {
    const pending = this.recency.pendingFor(entry.bodyId);
    if (pending === undefined) return entry;
    entry.hits = (entry.hits ?? 0) + pending.hits;
    entry.lastAccess = Math.max(entry.lastAccess ?? 0, pending.lastAccess);
    return entry;
  }

  /** True while the bus has recently proven every change reaches this node (InvalidationBus.confirmedAt). */
  private isMetaTrusted(): boolean {
    const trustMs = this.ctx.settings.metaTrustMs;
    if (trustMs <= 0) return false;
    const confirmedAt = this.bus.confirmedAt();
    return confirmedAt !== undefined && performance.now() - confirmedAt <= trustMs;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    this.removals.close();
    this.locks.close();
    for (const timer of this.timers) clearInterval(timer);
    const closedError = new StoreError('CACHE_ERR_STORE_CLOSED', 'the store was closed');
    for (const writer of this.writers) if (!writer.isCommitting) writer.abort(closedError);
    await this.sweeping;
    await Promise.all([...this.writers].map((writer) => writer.settled()));
    await this.flushRecency();
    await this.bus.close();
    this.ctx.gate.close();
    await closeClient(this.ctx.client);
  }

  private startTimers(): void {
    const { statsIntervalMs, recountIntervalMs, recencyIntervalMs } = this.ctx.settings;
    const every = (ms: number, work: () => Promise<unknown>) =>
      this.timers.push(setInterval(() => void work().catch(() => undefined), ms).unref());
    every(statsIntervalMs, () => this.counters.refresh());
    every(recountIntervalMs, () => this.recount());
    every(recencyIntervalMs, () => this.flushRecency());
  }

  /** RedisWriterHost.publish: the commit script makes a complete body visible, atomically. */
  private async publish(meta: EntryMeta, isAborted: () => boolean): Promise<EntryMeta> {
    if (isAborted()) throw new StoreError('CACHE_ERR_WRITE_ABORTED', 'the write was aborted');
    const result = await commitBody(this.ctx, meta, this.indexer);
    if (!result.committed) {
      throw new StoreError(
        'CACHE_ERR_WRITE_ABORTED',
        'the body was lost in Redis before it was complete (expired or evicted)',
      );
    }
    this.meta.invalidate(meta.key);
    this.removals.notify(result.retired);
    await this.counters.apply(result.entries, result.bytes);
    return structuredClone(meta);
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('CACHE_ERR_STORE_CLOSED', 'the store is closed');
  }
}
