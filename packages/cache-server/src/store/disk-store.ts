import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import { pino, type Logger } from 'pino';
import { openStoredBody, refuseWrite } from './disk-access.js';
import { blockSizeOf, checkBounds, DEFAULT_MAX_ENTRIES, DEFAULT_MAX_VARIANTS } from './disk-bounds.js';
import { EntryCommitter } from './entry-committer.js';
import { DiskEntryWriter, type WriterHost } from './disk-entry-writer.js';
import { DiskHealth } from './disk-health.js';
import { EntryTable } from './entry-table.js';
import { unlinkQuietly } from './fs-utils.js';
import { createBodyId, createLayout, isBodyId, OLDER_FORMAT_DIRS, tmpPath, type Layout } from './layout.js';
import { scanStore, sweepOtherFormats, type ScanTarget } from './scan.js';
import { SpaceKeeper } from './space-keeper.js';
import type {
  BodyEvents,
  ByteRange,
  EntryWriter,
  ReportsHealth,
  StartupWork,
  Store,
  StoreHealth,
  StoreStats,
  SyncLookup,
} from './store.js';
import { StoreError } from './store-errors.js';
import { nodeFs, type StoreFs } from './store-fs.js';

export interface DiskStoreOptions {
  /** The cache directory; the store keeps everything in `<dir>/v1/` (see layout.ts). */
  dir: string;
  /**
   * Upper bound for what the entries take on disk (bodies and meta files, in file-system blocks:
   * entryCost); least recently used entries are evicted beyond it.
   */
  maxSize: number;
  /** Upper bound for the number of entries (variants), which bounds the in-memory index; default 100,000. */
  maxEntries?: number;
  /** Most variants kept per key; storing one more evicts the key's least recently used; default 64. */
  maxVariants?: number;
  /** The file system's allocation unit (default: statfs of the directory, else 4096). */
  blockSize?: number;
  /** Largest body stored (default: maxSize); a larger write is aborted as soon as it is known. */
  maxObjectSize?: number;
  /** Entries not used (served or stored) for this many ms are removed; 0 (default) = never. */
  inactive?: number;
  logger?: Logger;
  /** Wall clock in ms (default Date.now); tests inject one. */
  now?: () => number;
  /** The file-system calls (default node:fs/promises); tests inject failures. */
  fs?: StoreFs;
  /** Degraded mode: first retry of the disk after this many ms (default 1 s), doubling up to 30 s. */
  retryDelay?: number;
}

const MAX_RETRY_DELAY = 30_000;

/**
 * The Store on a local disk: one meta file per key, one file per body, all names hashes or
 * random ids (layout.ts, meta-file.ts), an in-memory index for lookups, size and eviction order
 * (entry-index.ts), filled by a background scan (scan.ts), kept within bounds by a SpaceKeeper
 * (space-keeper.ts) and switched to pass-through when the disk fails (disk-health.ts).
 *
 * Consistency rules, each of which a crash at any point leaves intact:
 * - A body is written to tmp/, fsynced, then renamed into body/ under a never-reused id, and
 *   only then does the key's meta file (rewritten atomically) point at it. Readers therefore
 *   see a whole old body or a whole new one; leftovers are temp files (emptied at open) or
 *   unreferenced bodies (deleted by the scan).
 * - Every read-modify-write of a meta file runs on that file's KeyedQueue, so concurrent
 *   writers, deletes and evictions of one key apply one after the other.
 * - The index changes only after its meta file did, so `stats().size` follows the disk.
 * - A replaced or deleted body is unlinked, not truncated: a reader that already opened it
 *   keeps reading the complete old bytes.
 *
 * Recency (markUsed) is kept in memory and written with the next rewrite of the variant's meta
 * file, and for every touched variant at close(); after a crash it survives approximately.
 * One process per directory: two stores sharing one would delete each other's work in progress.
 */
export class DiskStore implements Store, SyncLookup, BodyEvents, ReportsHealth, StartupWork {
  private readonly table: EntryTable;
  private readonly writers = new Set<DiskEntryWriter>();
  private readonly notedFailures = new WeakSet<object>();
  private readonly writerHost: WriterHost;
  private readonly space: SpaceKeeper;
  private readonly committer: EntryCommitter;
  private readonly diskHealth: DiskHealth;
  readonly maxObjectSize: number;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private scanned: Promise<void> = Promise.resolve();
  private otherFormatsSwept: Promise<void> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;

  private readonly maxEntries: number;
  /** The allocation unit entry costs are counted in (entryCost). */
  readonly blockSize: number;

  private constructor(
    private readonly layout: Layout,
    private readonly maxSize: number,
    private readonly fs: StoreFs,
    private readonly now: () => number,
    private readonly logger: Logger,
    options: DiskStoreOptions & { blockSize: number },
  ) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.blockSize = options.blockSize;
    this.diskHealth = new DiskHealth({
      logger,
      now,
      dir: layout.root,
      retryDelay: options.retryDelay ?? 1000,
      maxRetryDelay: MAX_RETRY_DELAY,
    });
    this.table = new EntryTable(
      layout,
      fs,
      logger,
      { noteFailure: (err) => this.noteFailure(err), noteSuccess: () => this.diskHealth.noteSuccess() },
      options.blockSize,
    );
    this.maxObjectSize = Math.min(maxSize, options.maxObjectSize ?? maxSize);
    this.writerHost = {
      fs,
      maxObjectSize: this.maxObjectSize,
      noteFailure: (err) => this.noteFailure(err),
      publish: (meta, tmp, isAborted) => this.committer.publish(meta, tmp, isAborted),
      release: (writer) => this.writers.delete(writer),
    };
    const inactive = options.inactive ?? 0;
    this.space = new SpaceKeeper({
      index: this.table.index,
      maxSize,
      maxEntries: this.maxEntries,
      inactive,
      now,
      logger,
      remove: (victim) => this.table.deleteIfCurrent(victim),
    });
    this.committer = new EntryCommitter({
      layout,
      fs,
      table: this.table,
      space: this.space,
      maxSize,
      maxVariants: options.maxVariants ?? DEFAULT_MAX_VARIANTS,
    });
    if (inactive > 0) {
      // Checked at lookup too; the sweep is what frees the space of entries nobody asks for.
      const every = Math.min(Math.max(inactive / 10, 1000), 60_000);
      this.sweepTimer = setInterval(() => void this.space.expireInactive(), every);
      this.sweepTimer.unref();
    }
  }

  /**
   * Creates the directories, empties tmp/ and starts the background scan (see `ready`). A
   * directory that cannot be written (full, read-only) does not stop start-up: the store opens
   * degraded and serves what it can read.
   */
  static async open(options: DiskStoreOptions): Promise<DiskStore> {
    const { maxSize } = options;
    checkBounds(options);
    const layout = createLayout(resolve(options.dir));
    const fs = options.fs ?? nodeFs;
    const logger = (options.logger ?? pino({ enabled: false })).child({ module: 'disk-store' });
    const blockSize = options.blockSize ?? (await blockSizeOf(options.dir));
    const store = new DiskStore(layout, maxSize, fs, options.now ?? Date.now, logger, { ...options, blockSize });
    try {
      await fs.mkdir(layout.metaDir, { recursive: true });
      await fs.mkdir(layout.bodyDir, { recursive: true });
      // Anything in tmp/ is a write a previous process never finished.
      await fs.rm(layout.tmpDir, { recursive: true, force: true });
      await fs.mkdir(layout.tmpDir, { recursive: true });
    } catch (err) {
      if (!store.noteFailure(err)) throw err;
    }
    store.otherFormatsSwept = sweepOtherFormats(fs, layout, OLDER_FORMAT_DIRS, logger);
    store.scanned = scanStore(store.scanTarget())
      .then(() => store.afterScan())
      .catch((err: unknown) => {
        logger.error({ err }, 'the start-up scan of the cache directory failed');
      });
    return store;
  }

  /** Resolves when the start-up scan is done: stats() and entries() then cover the whole disk. */
  ready(): Promise<void> {
    return this.scanned;
  }

  async lookup(key: string): Promise<EntryMeta[]> {
    this.assertOpen();
    await this.table.load(key);
    return this.currentVariants(key);
  }

  lookupSync(key: string): EntryMeta[] | undefined {
    this.assertOpen();
    return this.table.index.isKnown(key) ? this.currentVariants(key) : undefined;
  }

  async openBody(entry: EntryMeta, range?: ByteRange): Promise<Readable> {
    this.assertOpen();
    return openStoredBody(this.fs, this.layout, entry, range, this.logger, (gone) => this.table.deleteIfCurrent(gone));
  }

  beginWrite(meta: Omit<EntryMeta, 'bodyId' | 'checksum'>): EntryWriter {
    const refused = refuseWrite(this.closed, meta.size, this.maxObjectSize, this.diskHealth);
    if (refused) return refused;
    // Whatever else the caller's object carries, the store owns a copy with a fresh body id.
    const { bodyId: _bodyId, checksum: _checksum, ...rest } = structuredClone(meta) as EntryMeta;
    const writer = new DiskEntryWriter(
      this.writerHost,
      { ...rest, bodyId: createBodyId() },
      tmpPath(this.layout, 'body'),
    );
    this.writers.add(writer);
    return writer;
  }

  markUsed(entry: EntryMeta, at?: number): void {
    if (!this.closed) this.table.index.touch(entry.key, entry.variant, entry.bodyId, at ?? this.now());
  }

  /** markUsed for uses made elsewhere (a worker's batch): `hits` uses, the last at `at`. */
  recordUses(uses: readonly { key: string; variant: string; bodyId: string; hits: number; at: number }[]): void {
    if (this.closed) return;
    for (const use of uses) this.table.index.touch(use.key, use.variant, use.bodyId, use.at, use.hits);
  }

  async updateMeta(meta: EntryMeta): Promise<void> {
    this.assertOpen();
    // Degraded: the update is dropped, not failed. The entry stays as stored (at worst it is
    // revalidated again), and the one log line about the disk has been written already.
    if (!this.diskHealth.allowsWrite()) return;
    await this.table.withKey(meta.key, async (hash) => {
      const old = this.table.index.find(meta.key, meta.variant);
      // Only the body that was looked up may be freshened: it may have been replaced meanwhile.
      if (old === undefined || old.bodyId !== meta.bodyId) return;
      await this.table.writeVariant(meta.key, hash, withStoredBody(structuredClone(meta), old));
    });
    // Different headers make a meta file of another size; over by a block at most, until trimmed.
    if (this.space.isOverBounds()) await this.space.trim();
  }

  async delete(key: string, variant?: string): Promise<void> {
    this.assertOpen();
    await this.table.removeVariants(key, (entry) => variant === undefined || entry.variant === variant);
  }

  /** Deletes `entry` unless its variant holds another body by now (one found gone or corrupt elsewhere). */
  async deleteIfCurrent(entry: Pick<EntryMeta, 'key' | 'variant' | 'bodyId'>): Promise<void> {
    this.assertOpen();
    // The table compares the key, variant and body id only.
    await this.table.deleteIfCurrent(entry as EntryMeta);
  }

  async *entries(): AsyncIterable<EntryMeta> {
    this.assertOpen();
    await this.ready();
    const live = this.table.index.all().filter((entry) => !this.space.isInactive(entry));
    for (const entry of live.map((e) => structuredClone(e))) yield entry;
  }

  /**
   * `size` is what the entries take on disk (entryCost: bodies and meta files in blocks), which
   * --max-size bounds; `bodySize` the body bytes alone.
   */
  stats(): StoreStats & { bodySize: number; maxEntries: number } {
    const { index } = this.table;
    const partial = index.partial;
    return {
      entries: index.count,
      size: index.size,
      maxSize: this.maxSize,
      evictions: this.space.evictions,
      bodySize: index.bodySize,
      maxEntries: this.maxEntries,
      partialEntries: partial.entries,
      partialBodySize: partial.bodySize,
    };
  }

  onBodyRemoved(listener: (bodyId: string) => void): () => void {
    return this.table.onBodyRemoved(listener);
  }

  /**
   * Calls `listener` after every change of a key's variants (commit, update, delete, eviction,
   * expiry), with the variants it now has: what the workers' index replicas follow (cluster/).
   */
  onKeyChanged(listener: (key: string, variants: readonly EntryMeta[]) => void): () => void {
    return this.table.onKeyChanged(listener);
  }

  /** Where writers outside this process stage their bodies (see publishStaged). */
  get tmpDir(): string {
    return this.layout.tmpDir;
  }

  /**
   * Publishes a body another process (a worker) wrote into tmpDir, fsynced and verified against
   * `meta` (size, checksum): the same commit as this store's own writers, room reserved first.
   */
  publishStaged(meta: EntryMeta, tmpPath: string): Promise<EntryMeta> {
    this.assertOpen();
    if (!isBodyId(meta.bodyId) || dirname(resolve(tmpPath)) !== this.layout.tmpDir) {
      return Promise.reject(new StoreError('CACHE_ERR_WRITE_ABORTED', 'not a staged body of this store'));
    }
    if (meta.size > this.maxObjectSize) {
      return Promise.reject(
        new StoreError('CACHE_ERR_ENTRY_TOO_LARGE', `${meta.size} bytes exceed the largest object stored`),
      );
    }
    return this.committer.publish(structuredClone(meta), tmpPath, () => this.closed);
  }

  health(): StoreHealth {
    return this.diskHealth.snapshot();
  }

  /** Removes every entry not used within `inactive` now (also runs on a timer). */
  expireInactive(): Promise<void> {
    return this.space.expireInactive();
  }

  /** Entries removed because they were not used within `inactive`. */
  get expirations(): number {
    return this.space.expirations;
  }

  /** Aborts writers not yet committing, waits for commits and the scan, persists recency. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const closedError = new StoreError('CACHE_ERR_STORE_CLOSED', 'the store was closed');
    for (const writer of this.writers) if (!writer.isCommitting) writer.abort(closedError);
    await Promise.all([...this.writers].map((writer) => writer.settled()));
    await this.scanned;
    await this.otherFormatsSwept;
    await this.space.idle();
    await this.table.queue.idle();
    await this.persistRecency();
    // Nothing writes any more; this only catches what a failed cleanup left behind.
    const leftovers = await this.fs.readdir(this.layout.tmpDir).catch(() => []);
    await Promise.all(
      leftovers.map((name) => unlinkQuietly(this.fs, join(this.layout.tmpDir, name)).catch(() => undefined)),
    );
  }

  /** Writes the meta files whose recency changed; gives up at the first disk failure (one log line, not one per key). */
  private async persistRecency(): Promise<void> {
    const { index } = this.table;
    for (const { key, variant } of index.dirtyVariants()) {
      try {
        await this.table.withKey(key, async (hash) => {
          const entry = index.find(key, variant);
          if (entry !== undefined) await this.table.writeVariant(key, hash, entry);
        });
      } catch (err) {
        this.logger.warn({ err, key }, 'cannot persist recency');
        if (this.diskHealth.isDegraded) return;
      }
    }
  }

  /** Variants of a known key that may be served: copies, without inactive ones (which are removed). */
  private currentVariants(key: string): EntryMeta[] {
    return this.liveVariants(key).map((entry) => structuredClone(entry));
  }

  peekSync(key: string): readonly Readonly<EntryMeta>[] | undefined {
    this.assertOpen();
    return this.table.index.isKnown(key) ? this.liveVariants(key) : undefined;
  }

  private liveVariants(key: string): EntryMeta[] {
    const variants = this.table.index.variants(key);
    // Usually every variant is live and the array goes out as it is (no second one per hit).
    for (const entry of variants) {
      if (this.space.isInactive(entry)) {
        void this.space.expireInactive();
        return variants.filter((variant) => !this.space.isInactive(variant));
      }
    }
    return variants;
  }

  /** After the scan the index is complete: enforce the bounds it could not see before. */
  private async afterScan(): Promise<void> {
    if (this.closed) return;
    await this.space.trim();
    await this.space.expireInactive();
  }

  /** Records a disk failure once per error object; true when it was disk trouble (degraded mode). */
  private noteFailure(err: unknown): boolean {
    if (typeof err !== 'object' || err === null || this.notedFailures.has(err)) return false;
    this.notedFailures.add(err);
    return this.diskHealth.noteFailure(err);
  }

  private scanTarget(): ScanTarget {
    return {
      layout: this.layout,
      fs: this.fs,
      index: this.table.index,
      logger: this.logger,
      isStopped: () => this.closed,
      loadKeyFiles: (keyHash, names) => this.table.loadKeyFilesNow(keyHash, names),
      isBodyPending: (bodyId) => this.committer.isBodyPending(bodyId),
      deleteIfCurrent: (entry) => this.table.deleteIfCurrent(entry),
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('CACHE_ERR_STORE_CLOSED', 'the store is closed');
  }
}

/**
 * `meta` with the stored body's fields (an update never changes the body) and the larger of
 * the two recency counters (markUsed may have run since the caller looked the entry up).
 */
function withStoredBody(meta: EntryMeta, stored: EntryMeta): EntryMeta {
  const next: EntryMeta = { ...meta, size: stored.size, bodyId: stored.bodyId };
  delete next.checksum;
  if (stored.checksum !== undefined) next.checksum = stored.checksum;
  const lastAccess = Math.max(meta.lastAccess ?? -Infinity, stored.lastAccess ?? -Infinity);
  if (Number.isFinite(lastAccess)) next.lastAccess = lastAccess;
  const hits = Math.max(meta.hits ?? 0, stored.hits ?? 0);
  if (meta.hits !== undefined || stored.hits !== undefined) next.hits = hits;
  return next;
}
