import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import { pino, type Logger } from 'pino';
import { readBodyFile } from './body-reader.js';
import { DiskEntryWriter, type WriterHost } from './disk-entry-writer.js';
import { EntryIndex } from './entry-index.js';
import { evictLeastRecentlyUsed } from './eviction.js';
import { renameCreatingParent, unlinkQuietly, writeFileAtomically } from './fs-utils.js';
import { KeyedQueue } from './keyed-queue.js';
import { bodyPath, createBodyId, createLayout, hashKey, isBodyId, metaPath, tmpPath, type Layout } from './layout.js';
import { readMetaFile, serializeMetaFile } from './meta-file.js';
import { scanStore, type ScanTarget } from './scan.js';
import type { ByteRange, EntryWriter, Store, StoreStats } from './store.js';
import { StoreError } from './store-errors.js';

export interface DiskStoreOptions {
  /** The cache directory; the store keeps everything in `<dir>/v1/` (see layout.ts). */
  dir: string;
  /** Upper bound for the stored body bytes; least recently used entries are evicted beyond it. */
  maxSize: number;
  logger?: Logger;
}

/**
 * The Store on a local disk: one meta file per key, one file per body, all names hashes or
 * random ids (layout.ts, meta-file.ts), an in-memory index for lookups, size and eviction order
 * (entry-index.ts), filled by a background scan (scan.ts).
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
 * Recency (markUsed) is kept in memory and written with the next rewrite of the key's meta
 * file, and for every touched key at close(); after a crash it survives approximately.
 * One process per directory: two stores sharing one would delete each other's work in progress.
 */
export class DiskStore implements Store {
  private readonly index = new EntryIndex();
  private readonly queue = new KeyedQueue();
  private readonly writers = new Set<DiskEntryWriter>();
  /** Bodies already in body/ whose meta file is still being written (the scan must spare them). */
  private readonly pendingBodies = new Set<string>();
  private readonly writerHost: WriterHost;
  private scanned: Promise<void> = Promise.resolve();
  private evicting: Promise<void> = Promise.resolve();
  private evictions = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly layout: Layout,
    private readonly maxSize: number,
    private readonly logger: Logger,
  ) {
    this.writerHost = {
      maxSize,
      publish: (meta, tmp, isAborted) => this.publish(meta, tmp, isAborted),
      release: (writer) => this.writers.delete(writer),
    };
  }

  /** Creates the directories, empties tmp/ and starts the background scan (see `ready`). */
  static async open(options: DiskStoreOptions): Promise<DiskStore> {
    const { maxSize } = options;
    if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
      throw new RangeError(`maxSize must be a non-negative integer, got ${maxSize}`);
    }
    const layout = createLayout(resolve(options.dir));
    await mkdir(layout.metaDir, { recursive: true });
    await mkdir(layout.bodyDir, { recursive: true });
    // Anything in tmp/ is a write a previous process never finished.
    await rm(layout.tmpDir, { recursive: true, force: true });
    await mkdir(layout.tmpDir, { recursive: true });
    const logger = (options.logger ?? pino({ enabled: false })).child({ module: 'disk-store' });
    const store = new DiskStore(layout, maxSize, logger);
    store.scanned = scanStore(store.scanTarget()).catch((err: unknown) => {
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
    if (!this.index.isKnown(key)) {
      const hash = hashKey(key);
      await this.queue.run(hash, () => this.ensureLoaded(key, hash));
    }
    return this.index.variants(key).map((entry) => structuredClone(entry));
  }

  async openBody(entry: EntryMeta, range?: ByteRange): Promise<Readable> {
    this.assertOpen();
    if (!isBodyId(entry.bodyId)) throw new StoreError('CACHE_ERR_ENTRY_GONE', 'not a body of this store');
    try {
      return await readBodyFile(bodyPath(this.layout, entry.bodyId), entry, range);
    } catch (err) {
      if (
        err instanceof StoreError &&
        (err.code === 'CACHE_ERR_CORRUPT_ENTRY' || err.code === 'CACHE_ERR_ENTRY_GONE')
      ) {
        this.logger.warn({ key: entry.key, variant: entry.variant, code: err.code }, err.message);
        await this.deleteIfCurrent(entry).catch((cause: unknown) => this.logger.warn({ err: cause }, 'delete failed'));
      }
      throw err;
    }
  }

  beginWrite(meta: Omit<EntryMeta, 'bodyId' | 'checksum'>): EntryWriter {
    if (this.closed) return createRejectedWriter(new StoreError('CACHE_ERR_STORE_CLOSED', 'the store is closed'));
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

  markUsed(entry: EntryMeta): void {
    if (!this.closed) this.index.touch(entry.key, entry.variant, entry.bodyId, Date.now());
  }

  async updateMeta(meta: EntryMeta): Promise<void> {
    this.assertOpen();
    const hash = hashKey(meta.key);
    await this.queue.run(hash, async () => {
      await this.ensureLoaded(meta.key, hash);
      const current = this.index.variants(meta.key);
      const old = current.find((entry) => entry.variant === meta.variant);
      // Only the body that was looked up may be freshened: it may have been replaced meanwhile.
      if (old === undefined || old.bodyId !== meta.bodyId) return;
      const next = withStoredBody(structuredClone(meta), old);
      await this.writeMeta(
        meta.key,
        hash,
        current.map((entry) => (entry === old ? next : entry)),
      );
    });
  }

  async delete(key: string, variant?: string): Promise<void> {
    this.assertOpen();
    await this.removeVariants(key, (entry) => variant === undefined || entry.variant === variant);
  }

  async *entries(): AsyncIterable<EntryMeta> {
    this.assertOpen();
    await this.ready();
    for (const entry of this.index.all().map((e) => structuredClone(e))) yield entry;
  }

  stats(): StoreStats {
    return { entries: this.index.count, size: this.index.size, maxSize: this.maxSize, evictions: this.evictions };
  }

  /** Aborts writers not yet committing, waits for commits and the scan, persists recency. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    const closedError = new StoreError('CACHE_ERR_STORE_CLOSED', 'the store was closed');
    for (const writer of this.writers) if (!writer.isCommitting) writer.abort(closedError);
    await Promise.all([...this.writers].map((writer) => writer.settled()));
    await this.scanned;
    await this.evicting;
    await this.queue.idle();
    for (const key of this.index.dirtyKeys()) {
      const hash = hashKey(key);
      await this.queue
        .run(hash, () => this.writeMeta(key, hash, this.index.variants(key)))
        .catch((err: unknown) => this.logger.warn({ err, key }, 'cannot persist recency'));
    }
    // Nothing writes any more; this only catches what a failed cleanup left behind.
    const leftovers = await readdir(this.layout.tmpDir).catch(() => []);
    await Promise.all(leftovers.map((name) => unlinkQuietly(join(this.layout.tmpDir, name)).catch(() => undefined)));
  }

  /** WriterHost.publish: moves a verified body into place and points the key's meta file at it. */
  private async publish(meta: EntryMeta, tmp: string, isAborted: () => boolean): Promise<EntryMeta> {
    const hash = hashKey(meta.key);
    const target = bodyPath(this.layout, meta.bodyId);
    let replaced: EntryMeta | undefined;
    this.pendingBodies.add(meta.bodyId);
    try {
      if (isAborted()) throw new StoreError('CACHE_ERR_WRITE_ABORTED', 'the write was aborted');
      await renameCreatingParent(tmp, target);
      try {
        replaced = await this.queue.run(hash, async () => {
          await this.ensureLoaded(meta.key, hash);
          if (isAborted()) throw new StoreError('CACHE_ERR_WRITE_ABORTED', 'the write was aborted');
          const current = this.index.variants(meta.key);
          const old = current.find((entry) => entry.variant === meta.variant);
          const next = old === undefined ? [...current, meta] : current.map((entry) => (entry === old ? meta : entry));
          await this.writeMeta(meta.key, hash, next);
          return old;
        });
      } catch (err) {
        await unlinkQuietly(target).catch(() => undefined);
        throw err;
      }
    } finally {
      this.pendingBodies.delete(meta.bodyId);
    }
    if (replaced !== undefined) await this.unlinkBody(replaced.bodyId);
    await this.evictOverflow(meta.bodyId);
    return structuredClone(meta);
  }

  /** One eviction run at a time, each re-checking the size, so two commits never over-evict. */
  private evictOverflow(sparedBodyId: string): Promise<void> {
    const run = this.evicting.then(() =>
      evictLeastRecentlyUsed({
        index: this.index,
        maxSize: this.maxSize,
        sparedBodyId,
        remove: (victim) => this.removeVariants(victim.key, (e) => isSameBody(e, victim)),
      }),
    );
    this.evicting = run.then(
      (evicted) => {
        this.evictions += evicted;
      },
      // The commit that triggered it has succeeded anyway; the next commit tries again.
      (err: unknown) => this.logger.warn({ err }, 'eviction failed'),
    );
    return this.evicting;
  }

  /** Loads `key`'s meta file into the index unless known. Call on the key's queue. */
  private async ensureLoaded(key: string, hash: string): Promise<void> {
    if (this.index.isKnown(key)) return;
    const path = metaPath(this.layout, hash);
    const file = await readMetaFile(path);
    if (file.kind === 'ok' && file.key === key) {
      this.index.setVariants(key, file.variants);
      return;
    }
    if (file.kind !== 'missing') await this.dropMetaFile(path, file.kind);
    this.index.setVariants(key, []);
  }

  /** ScanTarget.loadMetaFile. */
  private loadMetaFile(hash: string): Promise<boolean> {
    return this.queue.run(hash, async () => {
      const path = metaPath(this.layout, hash);
      try {
        const file = await readMetaFile(path);
        if (file.kind === 'missing') return true;
        if (file.kind !== 'ok' || hashKey(file.key) !== hash) {
          await this.dropMetaFile(path, file.kind === 'ok' ? 'misplaced' : file.kind);
        } else if (!this.index.isKnown(file.key)) {
          this.index.setVariants(file.key, file.variants);
        }
        return true;
      } catch (err) {
        this.logger.warn({ err, path }, 'cannot read meta file');
        return false;
      }
    });
  }

  /** An unknown format or a corrupt file is a miss, and deleted (its bodies become orphans). */
  private async dropMetaFile(path: string, reason: string): Promise<void> {
    this.logger.warn({ path, reason }, 'deleting unusable meta file');
    await unlinkQuietly(path);
  }

  /** Writes `key`'s meta file with exactly `variants` (deleting it when none), then the index. */
  private async writeMeta(key: string, hash: string, variants: EntryMeta[]): Promise<void> {
    const path = metaPath(this.layout, hash);
    if (variants.length === 0) await unlinkQuietly(path);
    else await writeFileAtomically(path, tmpPath(this.layout, 'meta'), serializeMetaFile(key, variants));
    this.index.setVariants(key, variants);
    this.index.markClean(key);
  }

  private async removeVariants(key: string, shouldRemove: (entry: EntryMeta) => boolean): Promise<EntryMeta[]> {
    const hash = hashKey(key);
    const removed = await this.queue.run(hash, async () => {
      await this.ensureLoaded(key, hash);
      const current = this.index.variants(key);
      const gone = current.filter(shouldRemove);
      if (gone.length > 0)
        await this.writeMeta(
          key,
          hash,
          current.filter((entry) => !shouldRemove(entry)),
        );
      return gone;
    });
    await Promise.all(removed.map((entry) => this.unlinkBody(entry.bodyId)));
    return removed;
  }

  private async deleteIfCurrent(entry: EntryMeta): Promise<void> {
    await this.removeVariants(entry.key, (e) => isSameBody(e, entry));
  }

  /** A body no meta file references any more; if unlinking fails the next scan retries. */
  private async unlinkBody(bodyId: string): Promise<void> {
    const path = bodyPath(this.layout, bodyId);
    await unlinkQuietly(path).catch((err: unknown) => this.logger.warn({ err, path }, 'cannot delete body file'));
  }

  private scanTarget(): ScanTarget {
    return {
      layout: this.layout,
      index: this.index,
      logger: this.logger,
      isStopped: () => this.closed,
      loadMetaFile: (hash) => this.loadMetaFile(hash),
      isBodyPending: (bodyId) => this.pendingBodies.has(bodyId),
      deleteIfCurrent: (entry) => this.deleteIfCurrent(entry),
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('CACHE_ERR_STORE_CLOSED', 'the store is closed');
  }
}

function isSameBody(a: EntryMeta, b: EntryMeta): boolean {
  return a.variant === b.variant && a.bodyId === b.bodyId;
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

/** What beginWrite hands out once the store is closed: accepts bytes, commit() rejects. */
function createRejectedWriter(error: StoreError): EntryWriter {
  const body = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  return { body, commit: () => Promise.reject(error), abort: () => body.destroy() };
}
