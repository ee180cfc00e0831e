import type { EntryMeta } from '@simple-cache/common';
import type { Logger } from 'pino';
import type { DiskHealth } from './disk-health.js';
import { EntryIndex } from './entry-index.js';
import { unlinkQuietly, writeFileAtomically } from './fs-utils.js';
import { KeyedQueue } from './keyed-queue.js';
import { bodyPath, hashKey, metaPath, tmpPath, type Layout } from './layout.js';
import { readMetaFile, readMetaFileSync, serializeMetaFile } from './meta-file.js';
import type { StoreFs } from './store-fs.js';

/**
 * The meta files and the in-memory index, kept in step: every change to a key runs on that
 * key's queue, rewrites its meta file, and only then updates the index — so the index (and
 * the size accounting built on it) never runs ahead of the disk.
 */
export class EntryTable {
  readonly index = new EntryIndex();
  readonly queue = new KeyedQueue();
  private readonly removedListeners = new Set<(bodyId: string) => void>();

  constructor(
    private readonly layout: Layout,
    private readonly fs: StoreFs,
    private readonly logger: Logger,
    private readonly health: Pick<DiskHealth, 'noteSuccess'> & { noteFailure(err: unknown): boolean },
  ) {}

  /** Runs `task` on `key`'s queue once the key's meta file is in the index. */
  withKey<T>(key: string, task: (hash: string) => Promise<T>): Promise<T> {
    const hash = hashKey(key);
    return this.queue.run(hash, async () => {
      await this.ensureLoaded(key, hash);
      return task(hash);
    });
  }

  /** Loads `key` unless the index can already answer for it. */
  async load(key: string): Promise<void> {
    if (!this.index.isKnown(key)) await this.withKey(key, async () => undefined);
  }

  /** The start-up scan's loader: one meta file by name; false if it could not be read. */
  loadMetaFile(hash: string): Promise<boolean> {
    return this.queue.run(hash, async () => {
      const path = metaPath(this.layout, hash);
      try {
        const file = await readMetaFile(this.fs, path);
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

  /**
   * loadMetaFile without waiting, for the scan's fast path: reads the file synchronously unless
   * something is queued for that key (then, and for a file to delete, it takes the queued path).
   * Nothing can interleave between the read and the index update, so the ordering rules of the
   * queue hold: a key the index already knows is never overwritten with what was read.
   */
  loadMetaFileNow(hash: string): boolean | Promise<boolean> {
    if (this.queue.isBusy(hash)) return this.loadMetaFile(hash);
    const path = metaPath(this.layout, hash);
    try {
      const file = readMetaFileSync(this.fs, path);
      if (file.kind === 'missing') return true;
      if (file.kind !== 'ok' || hashKey(file.key) !== hash) return this.loadMetaFile(hash);
      if (!this.index.isKnown(file.key)) this.index.setVariants(file.key, file.variants);
      return true;
    } catch (err) {
      this.logger.warn({ err, path }, 'cannot read meta file');
      return false;
    }
  }

  /** Writes `key`'s meta file with exactly `variants` (deleting it when none), then the index. Call on the key's queue. */
  async writeMeta(key: string, hash: string, variants: EntryMeta[]): Promise<void> {
    const path = metaPath(this.layout, hash);
    try {
      if (variants.length === 0) await unlinkQuietly(this.fs, path);
      else await writeFileAtomically(this.fs, path, tmpPath(this.layout, 'meta'), serializeMetaFile(key, variants));
    } catch (err) {
      this.health.noteFailure(err);
      throw err;
    }
    // Only a write that created data proves the disk takes writes again: deleting works on a full disk.
    if (variants.length > 0) this.health.noteSuccess();
    this.index.setVariants(key, variants);
    this.index.markClean(key);
  }

  /** Removes the variants `shouldRemove` picks (under the key's lock), then their bodies; resolves with them. */
  async removeVariants(key: string, shouldRemove: (entry: EntryMeta) => boolean): Promise<EntryMeta[]> {
    const removed = await this.withKey(key, async (hash) => {
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

  /** Deletes `entry` unless its variant holds another body by now. */
  async deleteIfCurrent(entry: EntryMeta): Promise<void> {
    await this.removeVariants(entry.key, (e) => isSameBody(e, entry));
  }

  /** A body no meta file references any more: tell the listeners, then delete it (the next scan retries a failure). */
  async unlinkBody(bodyId: string): Promise<void> {
    for (const listener of this.removedListeners) listener(bodyId);
    const path = bodyPath(this.layout, bodyId);
    await unlinkQuietly(this.fs, path).catch((err: unknown) =>
      this.logger.warn({ err, path }, 'cannot delete body file'),
    );
  }

  onBodyRemoved(listener: (bodyId: string) => void): () => void {
    this.removedListeners.add(listener);
    return () => this.removedListeners.delete(listener);
  }

  /** Loads `key`'s meta file into the index unless known. Call on the key's queue. */
  private async ensureLoaded(key: string, hash: string): Promise<void> {
    if (this.index.isKnown(key)) return;
    const path = metaPath(this.layout, hash);
    const file = await readMetaFile(this.fs, path);
    if (file.kind === 'ok' && file.key === key) {
      this.index.setVariants(key, file.variants);
      return;
    }
    if (file.kind !== 'missing') await this.dropMetaFile(path, file.kind);
    this.index.setVariants(key, []);
  }

  /** An unknown format or a corrupt file is a miss, and deleted (its bodies become orphans). */
  private async dropMetaFile(path: string, reason: string): Promise<void> {
    this.logger.warn({ path, reason }, 'deleting unusable meta file');
    await unlinkQuietly(this.fs, path);
  }
}

export function isSameBody(a: EntryMeta, b: EntryMeta): boolean {
  return a.variant === b.variant && a.bodyId === b.bodyId;
}
