import type { Readable, Writable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import type { ByteRange } from '../policy/range.js';

/** An inclusive byte range of a body, as in `Content-Range` (declared in policy/range.ts). */
export type { ByteRange };

/**
 * A write in progress. The entry becomes visible to `lookup` only after `commit()` resolves,
 * and only if exactly `meta.size` bytes were written (when the size was known up front) —
 * otherwise commit rejects and nothing is stored. `abort()` (or destroying the stream)
 * discards everything written so far. Either way no temporary file is left behind.
 */
export interface EntryWriter {
  /** Write the body here; back-pressure as any Writable. */
  readonly body: Writable;
  /**
   * Ends the body, verifies it, and makes the entry visible (replacing the same key+variant).
   * Rejects (never throws) with code CACHE_ERR_SIZE_MISMATCH, CACHE_ERR_ENTRY_TOO_LARGE (larger
   * than the store's maxSize), CACHE_ERR_WRITE_ABORTED, or the I/O error that stopped it.
   * Once rejected, the temporary data is already gone.
   */
  commit(): Promise<EntryMeta>;
  abort(reason?: Error): void;
  /**
   * Set when the store refused the write up front (its StoreError code, e.g.
   * CACHE_ERR_STORE_DEGRADED): nothing will be stored, and a response must not say `stored`.
   */
  readonly refused?: string;
}

/**
 * Whether the store works: the disk store's degraded mode (writes refused after the disk
 * failed), or a Redis store whose server (or some cluster masters) does not answer.
 */
export type StoreHealth =
  | { state: 'ok' }
  | {
      state: 'degraded';
      /** Wall clock (ms) when it started. */
      since: number;
      /** The error code that started it, e.g. ENOSPC, EROFS, REDIS_TIMEOUT. */
      code: string;
      message: string;
      /** Only part of the store is affected (some masters of a Redis Cluster); the rest works. */
      partial?: boolean;
      /** The affected parts, each with its own reason (e.g. every unavailable cluster master). */
      parts?: { name: string; since: number; code: string; message: string }[];
    };

export interface StoreStats {
  entries: number;
  /**
   * What the entries take, as counted against `maxSize`: body bytes, or more when the store
   * counts its overhead too (the disk store: bodies and meta files in file-system blocks).
   */
  size: number;
  maxSize: number;
  evictions: number;
  /** Body bytes alone, when `size` counts more than them. */
  bodySize?: number;
  /**
   * Of `entries`, how many are parts (stored 206s, `EntryMeta.part`) and their body bytes, when the
   * store can tell without a scan. They count in `entries` and `size` like any entry.
   */
  partialEntries?: number;
  partialBodySize?: number;
}

/**
 * Where stored responses live. Small on purpose (after undici's cache stores): the HTTP and
 * policy code only ever talk to this, so a memory tier or a network store can stand in.
 */
export interface Store {
  /** Every stored variant of a primary key (copies: changing them changes nothing): metadata only, no body I/O. */
  lookup(key: string): Promise<EntryMeta[]>;
  /**
   * Streams a stored body, or a byte range of it. Rejects with CACHE_ERR_ENTRY_GONE or
   * CACHE_ERR_CORRUPT_ENTRY if the entry is gone or corrupt (then it is deleted, unless the
   * variant has been replaced meanwhile), CACHE_ERR_BAD_RANGE if the range is not inside it.
   * A stream once returned keeps delivering the complete old body even if the entry is then
   * replaced or deleted.
   */
  openBody(entry: EntryMeta, range?: ByteRange): Promise<Readable>;
  /**
   * Begins writing a new body for `meta.key` + `meta.variant`. `meta.size` may be -1 when unknown.
   * Never throws. When the store cannot take the write at all (closed, degraded, announced larger
   * than it stores) the writer comes back already aborted: its `body` is destroyed (without an
   * error event, so a tee simply skips it) and `commit()` rejects with the reason.
   */
  beginWrite(meta: Omit<EntryMeta, 'bodyId' | 'checksum'>): EntryWriter;
  /**
   * Records that `entry` was served (recency for eviction, hit count). In memory; persisted
   * lazily. `at`: when (ms since the epoch), from a caller that has read the clock already (a
   * fast hit); otherwise the store reads its own.
   */
  markUsed(entry: EntryMeta, at?: number): void;
  /**
   * Replaces the metadata of a stored entry without touching its body (304 freshening, hits).
   * Does nothing if that variant is gone or holds another body (`bodyId`) by now.
   */
  updateMeta(meta: EntryMeta): Promise<void>;
  /** Deletes one variant, or every variant of the key when `variant` is undefined. */
  delete(key: string, variant?: string): Promise<void>;
  /** Every stored entry, in no particular order. */
  entries(): AsyncIterable<EntryMeta>;
  stats(): StoreStats;
  /** Finishes pending writes and releases resources; leaves no temporary files. */
  close(): Promise<void>;

  /**
   * The largest body a write can store (at most `stats().maxSize`): a writer aborts itself
   * once its body grows past this. Whoever relies on a body being stored should check it.
   */
  readonly maxObjectSize?: number;
}

/*
 * Optional capabilities. The core above is all a caller may assume; what some stores add is one
 * of these small interfaces, and a caller asks with the type guard beside it (never `instanceof`
 * a store class, never by guessing at the shape of what a method returns). Each guard checks
 * every method of its interface, so a wrapper that forwards half of one does not pass.
 */

/** Metadata held in memory, read without I/O: the disk store's index, a Redis node's meta cache. */
export interface SyncLookup {
  /**
   * `lookup` without waiting, when the answer needs no I/O (the key's metadata is in memory);
   * undefined when only the async `lookup` can tell. Same copies-not-references rule.
   */
  lookupSync(key: string): EntryMeta[] | undefined;
  /**
   * lookupSync without the defensive copies, for the hit fast path (proxy/fast-hit.ts): the
   * entries are the store's own and must not be changed by the caller.
   */
  peekSync(key: string): readonly Readonly<EntryMeta>[] | undefined;
}

export function hasSyncLookup<S extends Store>(store: S): store is S & SyncLookup {
  const candidate = store as Partial<SyncLookup>;
  return typeof candidate.lookupSync === 'function' && typeof candidate.peekSync === 'function';
}

/** Hot reads: small bodies held in memory (the memory tier), served with no I/O and no stream. */
export interface HotReads extends SyncLookup {
  /**
   * The whole body of `entry` if it is held in memory, else undefined. The buffer is shared:
   * callers must not modify it.
   */
  getBody(entry: EntryMeta): Buffer | undefined;
}

export function hasHotReads<S extends Store>(store: S): store is S & HotReads {
  return hasSyncLookup(store) && typeof (store as Partial<HotReads>).getBody === 'function';
}

/** Body events: the memory tier in front of a store drops its copy of a body the store let go. */
export interface BodyEvents {
  /**
   * Calls `listener` with the bodyId of every body that stops being referenced (replaced,
   * deleted, evicted, expired, found corrupt), before its bytes are deleted. Returns a function
   * that unsubscribes.
   */
  onBodyRemoved(listener: (bodyId: string) => void): () => void;
}

export function hasBodyEvents<S extends Store>(store: S): store is S & BodyEvents {
  return typeof (store as Partial<BodyEvents>).onBodyRemoved === 'function';
}

/** What a memory tier holds (admin stats, metrics; a cluster sums its workers'). */
export interface MemoryTierStats {
  /** Bodies held in memory. */
  entries: number;
  /** Bytes they take. */
  size: number;
  maxSize: number;
  /** openBody answered from memory / had to read the inner store (small bodies only). */
  hits: number;
  misses: number;
}

/** Tier stats: the store is (or stands for) a memory tier in front of another store. */
export interface TierStats {
  memoryStats(): MemoryTierStats;
}

export function hasTierStats<S extends Store>(store: S): store is S & TierStats {
  return typeof (store as Partial<TierStats>).memoryStats === 'function';
}

/** Health: whether the store works (a degraded disk, Redis away). */
export interface ReportsHealth {
  /** Whether writes are currently accepted (docs/storage.md, degraded mode). */
  health(): StoreHealth;
}

export function reportsHealth<S extends Store>(store: S): store is S & ReportsHealth {
  return typeof (store as Partial<ReportsHealth>).health === 'function';
}

/** Error counts: failures of the service behind the store (Redis), for metrics. */
export interface CountsErrors {
  /**
   * Failures so far, by kind (timeout, connection, oom, …; `unavailable`: calls refused at once
   * while it was known to be down).
   */
  errorCounts(): Readonly<Record<string, number>>;
}

export function countsErrors<S extends Store>(store: S): store is S & CountsErrors {
  return typeof (store as Partial<CountsErrors>).errorCounts === 'function';
}

const HEALTHY: StoreHealth = Object.freeze({ state: 'ok' });
const NO_ERRORS: Readonly<Record<string, number>> = Object.freeze({});

/** A store's health; a store that does not report it is taken to work. */
export function healthOf(store: Store): StoreHealth {
  return reportsHealth(store) ? store.health() : HEALTHY;
}

/** A store's service failures by kind; none for a store that does not count them. */
export function errorCountsOf(store: Store): Readonly<Record<string, number>> {
  return countsErrors(store) ? store.errorCounts() : NO_ERRORS;
}

/** What a purge by prefix or by tag selects (admin/purge-entries.ts). */
export type EntrySelection = { kind: 'prefix'; prefix: string } | { kind: 'tag'; tags: readonly string[] };

/** Indexed selection: entries found through an index rather than by reading every entry (Redis). */
export interface SelectsEntries {
  /**
   * Every stored entry `selection` selects, at a cost that grows with what it selects, not with
   * the store. May yield more (the caller matches each entry again), never less.
   */
  select(selection: EntrySelection): AsyncIterable<EntryMeta>;
}

export function selectsEntries<S extends Store>(store: S): store is S & SelectsEntries {
  return typeof (store as Partial<SelectsEntries>).select === 'function';
}

/** Purge of everything in O(1) (the Redis store's generation): nothing is read or deleted on the way. */
export interface PurgesAll {
  /**
   * Makes every stored entry unservable at once (they are deleted later, in the background);
   * resolves to about how many there were.
   */
  purgeAll(): Promise<number>;
}

export function purgesAll<S extends Store>(store: S): store is S & PurgesAll {
  return typeof (store as Partial<PurgesAll>).purgeAll === 'function';
}

/** One variant to delete (a purge's victim). */
export type EntryRef = Pick<EntryMeta, 'key' | 'variant'>;

/** Batched deletion (the Redis store): many variants for a few round trips, not one each. */
export interface DeletesMany {
  /**
   * Deletes each of `entries` as `delete(key, variant)` would, several at a time. Rejects with
   * the first failure once the deletions sent with it have settled.
   */
  deleteMany(entries: readonly EntryRef[]): Promise<void>;
}

export function deletesMany<S extends Store>(store: S): store is S & DeletesMany {
  return typeof (store as Partial<DeletesMany>).deleteMany === 'function';
}

/** Deletes `entries` from any store: batched where it can, else one after the other. */
export async function deleteEntries(store: Store, entries: readonly EntryRef[]): Promise<void> {
  if (deletesMany(store)) return store.deleteMany(entries);
  for (const entry of entries) await store.delete(entry.key, entry.variant);
}

/** Start-up work: the disk store scans its directory before stats() and entries() cover it all. */
export interface StartupWork {
  /** Resolves when the start-up work is done. */
  ready(): Promise<void>;
}

export function hasStartupWork<S extends Store>(store: S): store is S & StartupWork {
  return typeof (store as Partial<StartupWork>).ready === 'function';
}
