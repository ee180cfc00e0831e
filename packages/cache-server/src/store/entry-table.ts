import type { EntryMeta } from '@simple-cache/common';
import type { Logger } from 'pino';
import type { DiskHealth } from './disk-health.js';
import { entryCost } from './disk-bounds.js';
import { EntryIndex, type StoredVariant } from './entry-index.js';
import { hasErrorCode, renameCreatingParent, stageFile, unlinkQuietly, writeFileAtomically } from './fs-utils.js';
import { KeyedQueue } from './keyed-queue.js';
import {
  bodyPath,
  hashKey,
  hashVariant,
  metaDirOf,
  metaPath,
  parseMetaFileName,
  tmpPath,
  type Layout,
} from './layout.js';
import { readMetaFile, readMetaFileSync, serializeMetaFile, type ReadMetaFile } from './meta-file.js';
import type { StoreFs } from './store-fs.js';

/** A meta file written and fsynced to a temp file, waiting to be renamed into place. */
export interface StagedMeta {
  meta: EntryMeta;
  tmp: string;
  /** What the entry costs with this meta file (entryCost). */
  cost: number;
  /** True once renamed into place (nothing left to discard). */
  placed: boolean;
}

/**
 * The meta files and the in-memory index, kept in step: every change to a key runs on that
 * key's queue, writes or deletes the meta file of each variant it changes (one file per variant,
 * so the cost does not grow with the number of siblings), and only then updates the index: so
 * the index (and the size accounting built on it) never runs ahead of the disk.
 */
export class EntryTable {
  readonly index = new EntryIndex();
  readonly queue = new KeyedQueue();
  private readonly removedListeners = new Set<(bodyId: string) => void>();
  private readonly changedListeners = new Set<(key: string, variants: readonly EntryMeta[]) => void>();

  constructor(
    private readonly layout: Layout,
    private readonly fs: StoreFs,
    private readonly logger: Logger,
    private readonly health: Pick<DiskHealth, 'noteSuccess'> & { noteFailure(err: unknown): boolean },
    /** The file system's allocation unit, for what an entry costs (entryCost). */
    private readonly blockSize: number,
  ) {}

  /** Runs `task` on `key`'s queue once the key's meta files are in the index. */
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

  /** What `meta` costs on disk once `metaText` is its meta file. */
  costOf(meta: EntryMeta, metaText: string): number {
    return entryCost(meta.size, Buffer.byteLength(metaText, 'utf8'), this.blockSize);
  }

  /**
   * The start-up scan's loader: the meta files `names` (of one key, by their names) into the
   * index, unless the index knows that key already; false if one could not be read.
   */
  loadKeyFiles(keyHash: string, names: readonly string[]): Promise<boolean> {
    return this.queue.run(keyHash, async () => {
      const read: Array<[string, ReadMetaFile]> = [];
      for (const name of names) {
        const path = this.pathOf(keyHash, name);
        try {
          read.push([name, await readMetaFile(this.fs, path)]);
        } catch (err) {
          this.logger.warn({ err, path }, 'cannot read meta file');
          return false;
        }
      }
      await this.indexKeyFiles(keyHash, read);
      return true;
    });
  }

  /**
   * loadKeyFiles without waiting, for the scan's fast path: reads the files synchronously
   * unless something is queued for that key (then, and for a file to delete, it takes the
   * queued path). Nothing can interleave between the reads and the index update, so the
   * ordering rules of the queue hold: a key the index already knows is never overwritten.
   */
  loadKeyFilesNow(keyHash: string, names: readonly string[]): boolean | Promise<boolean> {
    if (this.queue.isBusy(keyHash)) return this.loadKeyFiles(keyHash, names);
    const read: Array<[string, ReadMetaFile]> = [];
    for (const name of names) {
      const path = this.pathOf(keyHash, name);
      try {
        const file = readMetaFileSync(this.fs, path);
        if (file.kind !== 'ok' && file.kind !== 'missing') return this.loadKeyFiles(keyHash, names);
        read.push([name, file]);
      } catch (err) {
        this.logger.warn({ err, path }, 'cannot read meta file');
        return false;
      }
    }
    const loaded = this.collect(keyHash, read);
    if (loaded.unusable.length > 0) return this.loadKeyFiles(keyHash, names);
    if (loaded.key !== undefined && !this.index.isKnown(loaded.key))
      this.index.setVariants(loaded.key, loaded.variants);
    return true;
  }

  /**
   * A meta file for `meta` written to a temp file and fsynced, outside any lock (the expensive
   * part of a commit, so that commits of one key's variants overlap); writeVariant renames it
   * into place, or discardStaged removes it.
   */
  async stageVariant(meta: EntryMeta): Promise<StagedMeta> {
    const text = serializeMetaFile(meta);
    const tmp = tmpPath(this.layout, 'meta');
    try {
      await stageFile(this.fs, tmp, text);
    } catch (err) {
      this.health.noteFailure(err);
      throw err;
    }
    return { meta, tmp, cost: this.costOf(meta, text), placed: false };
  }

  async discardStaged(staged: StagedMeta): Promise<void> {
    if (!staged.placed) await unlinkQuietly(this.fs, staged.tmp).catch(() => undefined);
  }

  /**
   * Writes the meta file of `meta`'s variant (new, or replacing it), then the index. Call on the
   * key's queue. With `staged` (stageVariant of the same meta), only its rename is left to do.
   */
  async writeVariant(key: string, hash: string, meta: EntryMeta, staged?: StagedMeta): Promise<void> {
    const path = metaPath(this.layout, hash, hashVariant(meta.variant));
    let cost: number;
    try {
      if (staged === undefined) {
        const text = serializeMetaFile(meta);
        await writeFileAtomically(this.fs, path, tmpPath(this.layout, 'meta'), text);
        cost = this.costOf(meta, text);
      } else {
        await renameCreatingParent(this.fs, staged.tmp, path);
        staged.placed = true;
        cost = staged.cost;
      }
    } catch (err) {
      this.health.noteFailure(err);
      throw err;
    }
    this.health.noteSuccess();
    this.index.putVariant(key, meta, cost);
    this.index.markClean(key, meta.variant);
    this.announceChange(key);
  }

  /** Deletes the meta file of one variant, then forgets it in the index. Call on the key's queue. */
  async deleteVariant(key: string, hash: string, variant: string): Promise<void> {
    try {
      await unlinkQuietly(this.fs, metaPath(this.layout, hash, hashVariant(variant)));
    } catch (err) {
      this.health.noteFailure(err);
      throw err;
    }
    this.index.removeVariant(key, variant);
    this.announceChange(key);
  }

  /** Removes the variants `shouldRemove` picks (under the key's lock), then their bodies; resolves with them. */
  async removeVariants(key: string, shouldRemove: (entry: EntryMeta) => boolean): Promise<EntryMeta[]> {
    const removed = await this.withKey(key, async (hash) => {
      const gone = this.index.variants(key).filter(shouldRemove);
      for (const entry of gone) await this.deleteVariant(key, hash, entry.variant);
      return gone;
    });
    await Promise.all(removed.map((entry) => this.unlinkBody(entry.bodyId)));
    return removed;
  }

  /** Deletes `entry` unless its variant holds another body by now; resolves with what was deleted. */
  async deleteIfCurrent(entry: EntryMeta): Promise<EntryMeta[]> {
    const removed = await this.withKey(entry.key, async (hash) => {
      const current = this.index.find(entry.key, entry.variant);
      if (current === undefined || !isSameBody(current, entry)) return [];
      await this.deleteVariant(entry.key, hash, entry.variant);
      return [current];
    });
    await Promise.all(removed.map((gone) => this.unlinkBody(gone.bodyId)));
    return removed;
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

  /** Calls `listener` after every meta-file change of a key, with every variant it now has (none: deleted). */
  onKeyChanged(listener: (key: string, variants: readonly EntryMeta[]) => void): () => void {
    this.changedListeners.add(listener);
    return () => this.changedListeners.delete(listener);
  }

  private announceChange(key: string): void {
    if (this.changedListeners.size === 0) return;
    const variants = this.index.variants(key);
    for (const listener of this.changedListeners) listener(key, variants);
  }

  /**
   * Loads `key`'s meta files into the index unless known: the names starting with its hash in
   * its fan-out directory (one readdir, only until the start-up scan has read everything).
   * Call on the key's queue.
   */
  private async ensureLoaded(key: string, hash: string): Promise<void> {
    if (this.index.isKnown(key)) return;
    const names = await this.fs.readdir(metaDirOf(this.layout, hash)).catch((err: unknown) => {
      if (hasErrorCode(err, 'ENOENT')) return [] as string[];
      throw err;
    });
    const read: Array<[string, ReadMetaFile]> = [];
    for (const name of names) {
      if (parseMetaFileName(name)?.keyHash !== hash) continue;
      read.push([name, await readMetaFile(this.fs, this.pathOf(hash, name))]);
    }
    await this.indexKeyFiles(hash, read, key);
  }

  /** Indexes what was read for one key (unless known), deleting the files that are unusable. */
  private async indexKeyFiles(keyHash: string, read: Array<[string, ReadMetaFile]>, key?: string): Promise<void> {
    const loaded = this.collect(keyHash, read);
    for (const [name, reason] of loaded.unusable) await this.dropMetaFile(this.pathOf(keyHash, name), reason);
    const loadedKey = loaded.key ?? key;
    if (loadedKey !== undefined && !this.index.isKnown(loadedKey)) this.index.setVariants(loadedKey, loaded.variants);
  }

  /**
   * The variants among `read` that belong where their file is (the key and variant hash to
   * the file's name; a file elsewhere was tampered with or misplaced), and the unusable files.
   */
  private collect(
    keyHash: string,
    read: Array<[string, ReadMetaFile]>,
  ): { key: string | undefined; variants: StoredVariant[]; unusable: Array<[string, string]> } {
    const variants: StoredVariant[] = [];
    const unusable: Array<[string, string]> = [];
    let key: string | undefined;
    for (const [name, file] of read) {
      if (file.kind === 'missing') continue;
      if (file.kind !== 'ok') {
        unusable.push([name, file.kind]);
        continue;
      }
      const { entry } = file;
      const parsed = parseMetaFileName(name);
      if (hashKey(entry.key) !== keyHash || parsed?.variantHash !== hashVariant(entry.variant)) {
        unusable.push([name, 'misplaced']);
        continue;
      }
      key = entry.key;
      variants.push({ meta: entry, cost: entryCost(entry.size, file.bytes, this.blockSize) });
    }
    return { key, variants, unusable };
  }

  private pathOf(keyHash: string, name: string): string {
    const parsed = parseMetaFileName(name);
    if (parsed === undefined || parsed.keyHash !== keyHash) throw new Error(`not a meta file of ${keyHash}: ${name}`);
    return metaPath(this.layout, parsed.keyHash, parsed.variantHash);
  }

  /** An unknown format or a corrupt file is a miss, and deleted (its body becomes an orphan). */
  private async dropMetaFile(path: string, reason: string): Promise<void> {
    this.logger.warn({ path, reason }, 'deleting unusable meta file');
    await unlinkQuietly(this.fs, path);
  }
}

export function isSameBody(a: EntryMeta, b: EntryMeta): boolean {
  return a.variant === b.variant && a.bodyId === b.bodyId;
}
