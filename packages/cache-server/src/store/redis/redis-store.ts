import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import { pino, type Logger } from 'pino';
import type { PolicyOptions } from '../../policy/index.js';
import type { ByteRange, EntryWriter, Store, StoreHealth, StoreStats } from '../store.js';
import { StoreError } from '../store-errors.js';
import { readableOf, resolveRange } from '../body-range.js';
import { createRejectedWriter } from '../rejected-writer.js';
import { ChunkReader } from './chunk-reader.js';
import {
  DEFAULT_REVALIDATION_MARGIN_MS,
  DEFAULT_STALE_MARGIN_MS,
  usefulUntil,
  type LifetimeOptions,
} from './entry-lifetime.js';
import { InvalidationBus, type Invalidation } from './invalidation-bus.js';
import { CollapseLocks } from './lock.js';
import { loadScripts, runScript } from './lua-script.js';
import { parseMetaHash, serializeMeta } from './meta-fields.js';
import { scanEntries } from './meta-scan.js';
import {
  closeClient,
  createRedisClient,
  swallowErrors,
  waitUntilReady,
  type ConnectionOptions,
  type RedisClient,
} from './redis-connection.js';
import { RedisGate, type GateOptions } from './redis-gate.js';
import { RedisEntryWriter, type RedisWriterHost } from './redis-entry-writer.js';
import { CHUNK_SIZE, createBodyId, createRedisKeys, hashKey, type RedisKeys } from './redis-keys.js';
import {
  ALL_SCRIPTS,
  COMMIT,
  DELETE,
  MARK_USED,
  OPEN_BODY,
  READ_CHUNK,
  UPDATE_META,
  WRITE_CHUNK,
} from './redis-scripts.js';
import { RedisStats } from './redis-stats.js';
import { describeRedisTarget, parseRedisTarget, type RedisTarget } from './redis-url.js';

export interface RedisStoreOptions {
  /** `redis://host:port/db`, `rediss://…`, or a comma list of cluster seed nodes (see redis-url.ts). */
  url: string;
  /** Reported as `stats().maxSize`; Redis `maxmemory` is what really bounds the total. */
  maxSize: number;
  /** Largest body stored (CACHE_ERR_ENTRY_TOO_LARGE beyond); default and cap: `maxSize`. */
  maxObjectSize?: number;
  /** The policy the proxy uses: entry lifetimes in Redis follow its freshness rules. */
  policy: Readonly<PolicyOptions>;
  logger?: Logger;
  /** Key prefix (default `sc:v1:`): several caches may share one Redis with different prefixes. */
  prefix?: string;
  /** How long a replaced or deleted body stays readable for readers that already opened it. */
  readGraceMs?: number;
  /** How long chunks of a write that never commits (its node died) survive its last chunk. */
  orphanTtlMs?: number;
  revalidationMarginMs?: number;
  staleMarginMs?: number;
  /** How often the shared counters are re-read for stats(). */
  statsIntervalMs?: number;
  /** How often (at most, across all nodes) the counters are recounted from the stored entries. */
  recountIntervalMs?: number;
  connection?: ConnectionOptions;
  /** Reply timeout and probing of the circuit breakers (redis-gate.ts). */
  gate?: Partial<GateOptions>;
}

const DEFAULTS = {
  readGraceMs: 60_000,
  orphanTtlMs: 10 * 60_000,
  statsIntervalMs: 5_000,
  recountIntervalMs: 5 * 60_000,
};

const BODY_ID = /^[0-9a-f]{32}$/;

/**
 * The Store in Redis, shared by every cache node that points at the same server or cluster.
 *
 * - Metadata: one hash per key with every variant (fields in redis-scripts.ts).
 * - Bodies: one hash per body of CHUNK_SIZE chunks, streamed in and out one chunk at a time
 *   (chunk-writer.ts, chunk-reader.ts), under a fresh body id for every write.
 * - Atomic visibility: the commit script checks that the body has every chunk and exactly the
 *   announced bytes, then points the variant at it — one step, so a reader sees the old entry
 *   or the complete new one. Chunks of a write that never commits carry a TTL and expire.
 * - Lifetime: each variant is kept while useful (entry-lifetime.ts) and Redis expires it
 *   after; under memory pressure Redis's own `maxmemory-policy allkeys-lru` evicts.
 * - Every change of a key is announced on the invalidation bus, for other nodes' memory tiers;
 *   `locks` collapses misses across nodes.
 * - Redis down or hung: every call goes through a gate (redis-gate.ts) with a reply timeout
 *   and a circuit breaker per server (per cluster master): while one is open, calls for it
 *   reject at once and writes are refused up front; it closes when its server answers a probe.
 */
export class RedisStore implements Store {
  readonly maxObjectSize: number;
  private readonly writers = new Set<RedisEntryWriter>();
  private readonly removalListeners = new Set<(bodyId: string) => void>();
  private readonly writerHost: RedisWriterHost;
  private readonly lifetime: LifetimeOptions;
  private readonly settings: typeof DEFAULTS;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly client: RedisClient,
    private readonly gate: RedisGate,
    private readonly keys: RedisKeys,
    readonly bus: InvalidationBus,
    readonly locks: CollapseLocks,
    private readonly counters: RedisStats,
    private readonly maxSize: number,
    private readonly logger: Logger,
    options: RedisStoreOptions,
  ) {
    this.maxObjectSize = Math.min(maxSize, options.maxObjectSize ?? maxSize);
    this.settings = {
      readGraceMs: options.readGraceMs ?? DEFAULTS.readGraceMs,
      orphanTtlMs: options.orphanTtlMs ?? DEFAULTS.orphanTtlMs,
      statsIntervalMs: options.statsIntervalMs ?? DEFAULTS.statsIntervalMs,
      recountIntervalMs: options.recountIntervalMs ?? DEFAULTS.recountIntervalMs,
    };
    this.lifetime = {
      policy: options.policy,
      revalidationMarginMs: options.revalidationMarginMs ?? DEFAULT_REVALIDATION_MARGIN_MS,
      staleMarginMs: options.staleMarginMs ?? DEFAULT_STALE_MARGIN_MS,
    };
    this.writerHost = {
      maxObjectSize: this.maxObjectSize,
      writeChunk: (meta, index, bytes) => this.writeChunk(meta, index, bytes),
      discardBody: (meta) => this.discardBody(meta),
      publish: (meta, isAborted) => this.publish(meta, isAborted),
      release: (writer) => this.writers.delete(writer),
    };
  }

  /**
   * Connects (waiting for the first connection or its failure, never longer: the cache must
   * start while Redis is down), subscribes to the invalidation channel, starts the stats timers.
   */
  static async open(options: RedisStoreOptions): Promise<RedisStore> {
    const { maxSize } = options;
    if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
      throw new RangeError(`maxSize must be a non-negative integer, got ${maxSize}`);
    }
    const target: RedisTarget = parseRedisTarget(options.url);
    const keys = createRedisKeys(options.prefix);
    const logger = (options.logger ?? pino({ enabled: false })).child({ module: 'redis-store' });
    const client = createRedisClient(target, options.connection);
    swallowErrors(client);
    const gate = new RedisGate(client, describeRedisTarget(target), logger, options.gate);
    // A restarted Redis has forgotten the scripts; loading them first keeps EVALSHA ordered.
    client.on('ready', () => void loadScripts(client, ALL_SCRIPTS).catch(() => undefined));
    const subscriber = createRedisClient(target, options.connection, 'subscriber');
    swallowErrors(subscriber);
    if (await waitUntilReady(client)) await loadScripts(client, ALL_SCRIPTS).catch(() => undefined);
    const bus = await InvalidationBus.open({ publisher: client, gate, subscriber, channel: keys.channel, logger });
    const counters = new RedisStats(client, gate, keys, logger);
    await counters.refresh();
    const locks = new CollapseLocks(client, gate, keys, bus);
    const store = new RedisStore(client, gate, keys, bus, locks, counters, maxSize, logger, options);
    // Bodies other nodes replaced or deleted: this node's memory tier drops its copies.
    bus.subscribe((event) => {
      if (event.kind === 'key') store.notifyRemoved(event.bodyIds ?? []);
    });
    store.startTimers();
    return store;
  }

  async lookup(key: string): Promise<EntryMeta[]> {
    this.assertOpen();
    const metaKey = this.keys.meta(hashKey(key));
    const hash = await this.gate.run(metaKey, () => this.client.hgetall(metaKey));
    return parseMetaHash(hash, Date.now(), key);
  }

  async openBody(entry: EntryMeta, range?: ByteRange): Promise<Readable> {
    this.assertOpen();
    const wanted = resolveRange(entry.size, range);
    if (!BODY_ID.test(entry.bodyId)) throw new StoreError('CACHE_ERR_ENTRY_GONE', 'not a body of this store');
    const hash = hashKey(entry.key);
    const whole = entry.size <= CHUNK_SIZE;
    const metaKey = this.keys.meta(hash);
    const [status, first] = (await this.gate.run(metaKey, () =>
      runScript(
        this.client,
        OPEN_BODY,
        [metaKey],
        [entry.variant, entry.bodyId, this.keys.bodyPrefix(hash), this.settings.readGraceMs, whole ? '1' : '0'],
        true,
      ),
    )) as [number, Buffer | null | undefined];
    if (status === 0) throw new StoreError('CACHE_ERR_ENTRY_GONE', 'the entry was replaced or deleted');
    if (status === 2) {
      await this.dropLost(entry, 'CACHE_ERR_ENTRY_GONE');
      throw new StoreError('CACHE_ERR_ENTRY_GONE', 'the body is gone from Redis (expired or evicted)');
    }
    if (entry.size === 0) return readableOf(Buffer.alloc(0));
    if (whole) {
      const problem = checkWholeBody(entry, first ?? null);
      if (problem !== undefined) {
        await this.dropLost(entry, problem.code);
        throw problem;
      }
      return readableOf(first!.subarray(wanted.start, wanted.end + 1));
    }
    const bodyKey = this.keys.body(hash, entry.bodyId);
    const fetch = (index: number) =>
      this.gate.run(bodyKey, () =>
        runScript(this.client, READ_CHUNK, [bodyKey], [index, this.settings.readGraceMs], true),
      ) as Promise<Buffer | null>;
    return new ChunkReader(fetch, entry.size, wanted, (error) => void this.dropLost(entry, error.code));
  }

  beginWrite(meta: Omit<EntryMeta, 'bodyId' | 'checksum'>): EntryWriter {
    if (this.closed) return createRejectedWriter(new StoreError('CACHE_ERR_STORE_CLOSED', 'the store is closed'));
    if (meta.size > this.maxObjectSize) {
      return createRejectedWriter(
        new StoreError('CACHE_ERR_ENTRY_TOO_LARGE', `${meta.size} bytes exceed the largest object stored`),
      );
    }
    // Redis is away: not a byte is buffered for a write that cannot land.
    if (!this.gate.isAvailable(this.keys.meta(hashKey(meta.key)))) {
      return createRejectedWriter(new StoreError('CACHE_ERR_STORE_DEGRADED', 'Redis is unavailable'));
    }
    const { bodyId: _bodyId, checksum: _checksum, ...rest } = structuredClone(meta) as EntryMeta;
    const writer = new RedisEntryWriter(this.writerHost, { ...rest, bodyId: createBodyId() });
    this.writers.add(writer);
    return writer;
  }

  /** One small script per hit, fire-and-forget: a hit never waits for it, and a failure only loses a count. */
  markUsed(entry: EntryMeta): void {
    if (this.closed) return;
    const metaKey = this.keys.meta(hashKey(entry.key));
    if (!this.gate.isAvailable(metaKey)) return;
    this.gate
      .run(metaKey, () => runScript(this.client, MARK_USED, [metaKey], [entry.variant, entry.bodyId, Date.now()]))
      .catch(() => undefined);
  }

  async updateMeta(meta: EntryMeta): Promise<void> {
    this.assertOpen();
    const hash = hashKey(meta.key);
    const metaKey = this.keys.meta(hash);
    const [json, bodyId] = await this.gate.run(metaKey, () =>
      this.client.hmget(metaKey, `m:${meta.variant}`, `b:${meta.variant}`),
    );
    // Only the body that was looked up may be freshened: it may have been replaced meanwhile.
    if (json === null || json === undefined || bodyId !== meta.bodyId) return;
    const stored = JSON.parse(json) as EntryMeta;
    const next: EntryMeta = { ...structuredClone(meta), size: stored.size, bodyId: stored.bodyId };
    delete next.checksum;
    if (stored.checksum !== undefined) next.checksum = stored.checksum;
    const now = Date.now();
    const args = [
      meta.variant,
      meta.bodyId,
      serializeMeta(next),
      usefulUntil(next, now, this.lifetime),
      now,
      this.settings.readGraceMs,
      this.keys.bodyPrefix(hash),
      meta.hits ?? '',
      meta.lastAccess ?? '',
    ];
    const updated = await this.gate.run(metaKey, () => runScript(this.client, UPDATE_META, [metaKey], args));
    if (updated === 1) await this.announce({ kind: 'key', key: meta.key, variant: meta.variant, reason: 'update' });
  }

  async delete(key: string, variant?: string): Promise<void> {
    this.assertOpen();
    const bodyIds = await this.removeVariants(key, variant, '');
    // Announced even when Redis had nothing (expired, evicted): a memory tier may still hold a copy.
    await this.announce({ kind: 'key', key, ...(variant === undefined ? {} : { variant }), reason: 'delete', bodyIds });
  }

  async *entries(): AsyncIterable<EntryMeta> {
    this.assertOpen();
    for await (const variants of scanEntries(this.client, this.gate, this.keys, Date.now)) yield* variants;
  }

  stats(): StoreStats {
    return { ...this.counters.current(), maxSize: this.maxSize };
  }

  /** Degraded while a breaker is open (partial: some cluster masters): their calls fail at once. */
  health(): StoreHealth {
    return this.gate.health();
  }

  /** Redis failures so far, by kind (redis-errors.ts). */
  errorCounts(): Readonly<Record<string, number>> {
    return this.gate.errorCounts();
  }

  /**
   * Bodies that stop being current — here (replaced, deleted, pruned, found unusable) or on
   * another node (announced on the bus) — so that a memory tier in front drops its copy. Redis
   * keeps such a body for the read grace, so the copy never outlives the bytes it mirrors.
   */
  onBodyRemoved(listener: (bodyId: string) => void): () => void {
    this.removalListeners.add(listener);
    return () => this.removalListeners.delete(listener);
  }

  /** Recounts the shared counters from what is stored (also done periodically); see RedisStats. */
  recount(): Promise<boolean> {
    return this.counters.recount(this.settings.recountIntervalMs);
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private notifyRemoved(bodyIds: readonly string[]): void {
    for (const bodyId of bodyIds) {
      for (const listener of this.removalListeners) {
        try {
          listener(bodyId);
        } catch (err) {
          this.logger.warn({ err }, 'a body-removed listener failed');
        }
      }
    }
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    this.removalListeners.clear();
    for (const timer of this.timers) clearInterval(timer);
    const closedError = new StoreError('CACHE_ERR_STORE_CLOSED', 'the store was closed');
    for (const writer of this.writers) if (!writer.isCommitting) writer.abort(closedError);
    await Promise.all([...this.writers].map((writer) => writer.settled()));
    await this.bus.close();
    this.gate.close();
    await closeClient(this.client);
  }

  private startTimers(): void {
    const { statsIntervalMs, recountIntervalMs } = this.settings;
    this.timers.push(setInterval(() => void this.counters.refresh(), statsIntervalMs).unref());
    this.timers.push(
      setInterval(() => {
        this.recount().catch((err: unknown) => this.logger.debug({ err }, 'recount failed'));
      }, recountIntervalMs).unref(),
    );
  }

  private async writeChunk(meta: EntryMeta, index: number, bytes: Buffer): Promise<void> {
    const bodyKey = this.keys.body(hashKey(meta.key), meta.bodyId);
    const args = [index, bytes, this.settings.orphanTtlMs];
    await this.gate.run(bodyKey, () => runScript(this.client, WRITE_CHUNK, [bodyKey], args));
  }

  private async discardBody(meta: EntryMeta): Promise<void> {
    const bodyKey = this.keys.body(hashKey(meta.key), meta.bodyId);
    await this.gate.run(bodyKey, () => this.client.unlink(bodyKey)).catch(() => undefined);
  }

  /** RedisWriterHost.publish: the commit script makes a complete body visible, atomically. */
  private async publish(meta: EntryMeta, isAborted: () => boolean): Promise<EntryMeta> {
    if (isAborted()) throw new StoreError('CACHE_ERR_WRITE_ABORTED', 'the write was aborted');
    const hash = hashKey(meta.key);
    const now = Date.now();
    const metaKey = this.keys.meta(hash);
    const args = [
      meta.variant,
      meta.bodyId,
      serializeMeta(meta),
      meta.size,
      CHUNK_SIZE,
      usefulUntil(meta, now, this.lifetime),
      now,
      this.settings.readGraceMs,
      this.keys.bodyPrefix(hash),
      meta.hits ?? '',
      meta.lastAccess ?? '',
    ];
    const [committed, entries, bytes, ...retired] = (await this.gate.run(metaKey, () =>
      runScript(this.client, COMMIT, [metaKey, this.keys.body(hash, meta.bodyId)], args),
    )) as [number, number, number, ...string[]];
    if (committed !== 1) {
      throw new StoreError(
        'CACHE_ERR_WRITE_ABORTED',
        'the body was lost in Redis before it was complete (expired or evicted)',
      );
    }
    this.notifyRemoved(retired);
    await this.counters.apply(entries, bytes);
    await this.announce({ kind: 'key', key: meta.key, variant: meta.variant, reason: 'update', bodyIds: retired });
    return structuredClone(meta);
  }

  /**
   * Removes `variant` (every one when undefined), only if it holds `bodyId` when that is not '';
   * returns the removed bodies' ids.
   */
  private async removeVariants(key: string, variant: string | undefined, bodyId: string): Promise<string[]> {
    const hash = hashKey(key);
    const metaKey = this.keys.meta(hash);
    const args = [
      this.keys.bodyPrefix(hash),
      this.settings.readGraceMs,
      Date.now(),
      variant === undefined ? 'all' : 'one',
      variant ?? '',
      bodyId,
    ];
    const reply = (await this.gate.run(metaKey, () => runScript(this.client, DELETE, [metaKey], args))) as [
      number,
      number,
      ...string[],
    ];
    const [removed, bytes, ...bodyIds] = reply;
    this.notifyRemoved(bodyIds);
    if (removed > 0) await this.counters.apply(-removed, -bytes);
    return bodyIds;
  }

  /** A body found missing or corrupt: its entry is dropped, unless the variant was replaced meanwhile. */
  private async dropLost(entry: EntryMeta, code: string): Promise<void> {
    this.logger.warn({ key: entry.key, variant: entry.variant, code }, 'dropping an entry whose body is unusable');
    try {
      const bodyIds = await this.removeVariants(entry.key, entry.variant, entry.bodyId);
      await this.announce({ kind: 'key', key: entry.key, variant: entry.variant, reason: 'delete', bodyIds });
    } catch (err) {
      this.logger.warn({ err }, 'delete failed');
    }
  }

  /** Tells the other nodes; the change itself is already in Redis, so a failed publish is only logged. */
  private async announce(event: Invalidation): Promise<void> {
    await this.bus.publish(event).catch((err: unknown) => this.logger.debug({ err }, 'cannot publish invalidation'));
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('CACHE_ERR_STORE_CLOSED', 'the store is closed');
  }
}

/** A body read whole (one chunk): its length and sha1 must match the metadata. */
function checkWholeBody(entry: EntryMeta, body: Buffer | null): StoreError | undefined {
  if (body === null) return new StoreError('CACHE_ERR_ENTRY_GONE', 'the body is gone from Redis');
  if (body.length !== entry.size) {
    return new StoreError('CACHE_ERR_CORRUPT_ENTRY', `body has ${body.length} bytes, expected ${entry.size}`);
  }
  if (entry.checksum !== undefined && createHash('sha1').update(body).digest('hex') !== entry.checksum) {
    return new StoreError('CACHE_ERR_CORRUPT_ENTRY', 'body checksum mismatch');
  }
  return undefined;
}
