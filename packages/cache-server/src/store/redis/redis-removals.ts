import type { EntryMeta } from '@simple-cache/common';
import type { EntryRef } from '../store.js';
import type { StoreErrorCode } from '../store-errors.js';
import type { MetaCache } from './meta-cache.js';
import type { RedisContext } from './redis-context.js';
import { removeVariants } from './redis-mutations.js';
import type { RedisStats } from './redis-stats.js';

/** Deletions sent together by deleteMany (as many as a purge reads metadata for at once: entry-index.ts). */
const DELETE_BATCH = 200;

/** One variant to delete (all of the key's without one); `bodyId` only when that body must be the current one. */
export interface Victim {
  key: string;
  variant: string | undefined;
  bodyId: string;
}

/**
 * Entries leaving Redis, and this node kept in step: its metadata forgets them, the shared
 * counters change once per batch, and listeners (a memory tier in front) hear of every body that
 * stops being current, here or, through `notify`, on another node.
 */
export class RedisRemovals {
  private readonly listeners = new Set<(bodyId: string) => void>();

  constructor(
    private readonly ctx: RedisContext,
    private readonly meta: MetaCache,
    private readonly counters: RedisStats,
  ) {}

  /** RedisStore.onBodyRemoved. */
  onBodyRemoved(listener: (bodyId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(bodyIds: readonly string[]): void {
    for (const bodyId of bodyIds) {
      for (const listener of this.listeners) {
        try {
          listener(bodyId);
        } catch (err) {
          this.ctx.logger.warn({ err }, 'a body-removed listener failed');
        }
      }
    }
  }

  close(): void {
    this.listeners.clear();
  }

  remove(key: string, variant: string | undefined, bodyId: string): Promise<void> {
    return this.removeAll([{ key, variant, bodyId }]);
  }

  /** RedisStore.deleteMany: DELETE_BATCH at a time. */
  async deleteMany(entries: readonly EntryRef[]): Promise<void> {
    for (let i = 0; i < entries.length; i += DELETE_BATCH) {
      await this.removeAll(
        entries.slice(i, i + DELETE_BATCH).map(({ key, variant }) => ({ key, variant, bodyId: '' })),
      );
    }
  }

  /**
   * removeVariants for each at once, and this node's own state in step (its metadata, its memory
   * tier, the counters: once). Rejects with the first failure after every one has settled.
   */
  async removeAll(victims: readonly Victim[]): Promise<void> {
    const settled = await Promise.allSettled(
      victims.map(({ key, variant, bodyId }) => removeVariants(this.ctx, key, variant, bodyId)),
    );
    let removed = 0;
    let bytes = 0;
    let failure: PromiseRejectedResult | undefined;
    settled.forEach((result, i) => {
      if (result.status === 'rejected') {
        failure ??= result;
        return;
      }
      this.meta.invalidate(victims[i]!.key);
      this.notify(result.value.bodyIds);
      removed += result.value.removed;
      bytes += result.value.bytes;
    });
    if (removed > 0) await this.counters.apply(-removed, -bytes);
    if (failure) throw failure.reason;
  }

  /**
   * A body found missing or corrupt: its entry is dropped, unless the variant was replaced
   * meanwhile. When a stream had started (`offset`), the line says how far it got: its reader
   * gets an error there, never a short body.
   */
  async dropLost(entry: EntryMeta, code: StoreErrorCode, offset?: number): Promise<void> {
    const { key, variant, size } = entry;
    if (offset === undefined) {
      this.ctx.logger.warn({ key, variant, code }, 'dropping an entry whose body is unusable');
    } else {
      this.ctx.logger.warn(
        { key, variant, code, offset, size },
        'a stored body ended in Redis before its end (chunks gone): the response stream fails; dropping the entry',
      );
    }
    await this.remove(entry.key, entry.variant, entry.bodyId).catch((err: unknown) =>
      this.ctx.logger.warn({ err }, 'delete failed'),
    );
  }
}
