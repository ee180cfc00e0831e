import type { EntryMeta } from '@simple-cache/common';
import type { EntryTable, StagedMeta } from './entry-table.js';
import { renameCreatingParent, unlinkQuietly } from './fs-utils.js';
import { bodyPath, type Layout } from './layout.js';
import type { SpaceKeeper } from './space-keeper.js';
import { StoreError } from './store-errors.js';
import type { StoreFs } from './store-fs.js';

export interface CommitterDeps {
  layout: Layout;
  fs: StoreFs;
  table: EntryTable;
  space: SpaceKeeper;
  /** --max-size: an entry that alone takes more is refused. */
  maxSize: number;
  /** --max-variants: most variants kept per key. */
  maxVariants: number;
}

/**
 * The disk store's commits (WriterHost.publish): a verified body moved into place and its
 * variant's meta file written. A commit costs the same whatever number of siblings its variant
 * has: one body rename, one small meta file (staged and fsynced outside the key's lock, so
 * commits of one key's variants overlap), and, when a new variant takes its key past
 * maxVariants, the removal of that key's least recently used variant.
 */
export class EntryCommitter {
  /** Bodies already in body/ whose meta file is still being written (the scan must spare them). */
  private readonly pendingBodies = new Set<string>();

  constructor(private readonly deps: CommitterDeps) {}

  isBodyPending(bodyId: string): boolean {
    return this.pendingBodies.has(bodyId);
  }

  async publish(meta: EntryMeta, tmp: string, isAborted: () => boolean): Promise<EntryMeta> {
    const { table, space, fs } = this.deps;
    const target = bodyPath(this.deps.layout, meta.bodyId);
    if (isAborted()) throw aborted();
    const staged = await table.stageVariant(meta);
    try {
      if (staged.cost > this.deps.maxSize) {
        throw new StoreError(
          'CACHE_ERR_ENTRY_TOO_LARGE',
          `the entry would take ${staged.cost} bytes, more than maxSize`,
        );
      }
      // Room first: the entry counts against the bounds from the moment its body is renamed into body/.
      const isNew = table.index.find(meta.key, meta.variant) === undefined;
      const release = await space.reserve(staged.cost, isNew ? 1 : 0);
      this.pendingBodies.add(meta.bodyId);
      try {
        if (isAborted()) throw aborted();
        await renameCreatingParent(fs, tmp, target);
        let removed: EntryMeta[];
        try {
          removed = await table.withKey(meta.key, (hash) => this.recordVariant(hash, staged, isAborted));
        } catch (err) {
          await unlinkQuietly(fs, target).catch(() => undefined);
          throw err;
        }
        for (const gone of removed) await table.unlinkBody(gone.bodyId);
      } finally {
        this.pendingBodies.delete(meta.bodyId);
        release();
      }
    } finally {
      // Unless the commit failed, it is in place by now and this does nothing.
      await table.discardStaged(staged);
    }
    // Only entries the scan loaded meanwhile can push it over; the reservation covered the rest.
    if (space.isOverBounds()) await space.trim(meta.bodyId);
    return structuredClone(meta);
  }

  /**
   * On the key's queue: the staged meta file into place, and what it displaced: the variant's
   * previous entry, or (a new variant) the key's least recently used beyond maxVariants.
   */
  private async recordVariant(hash: string, staged: StagedMeta, isAborted: () => boolean): Promise<EntryMeta[]> {
    if (isAborted()) throw aborted();
    const { table, space } = this.deps;
    const { meta } = staged;
    const old = table.index.find(meta.key, meta.variant);
    // A new variant makes room among its siblings first, so a lookup meanwhile never sees more
    // than maxVariants of them.
    const surplus =
      old === undefined ? table.index.surplusVariants(meta.key, this.deps.maxVariants - 1, meta.variant) : [];
    for (const victim of surplus) await table.deleteVariant(meta.key, hash, victim.variant);
    space.evictions += surplus.length;
    await table.writeVariant(meta.key, hash, meta, staged);
    return old === undefined ? surplus : [old];
  }
}

function aborted(): StoreError {
  return new StoreError('CACHE_ERR_WRITE_ABORTED', 'the write was aborted');
}
