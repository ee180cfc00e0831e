import type { EntryMeta } from '@simple-cache/common';
import type { EntryIndex } from './entry-index.js';

export interface EvictionRun {
  index: EntryIndex;
  maxSize: number;
  /** The body just committed: it is never its own victim (it alone fits, commit checked that). */
  sparedBodyId: string;
  /** Deletes the victim unless it changed meanwhile; resolves with what was deleted. */
  remove(victim: EntryMeta): Promise<EntryMeta[]>;
}

/**
 * Deletes least-recently-used variants (by lastAccess, else responseTime) until the stored
 * body bytes fit in `maxSize` again; resolves with how many were deleted. Each victim goes
 * through the same locked delete as any other, so a victim being replaced concurrently is
 * skipped rather than corrupted, and the loop picks again from the updated index.
 */
export async function evictLeastRecentlyUsed(run: EvictionRun): Promise<number> {
  const { index, maxSize, sparedBodyId } = run;
  let evicted = 0;
  while (index.size > maxSize) {
    const victim = index.leastRecentlyUsed(sparedBodyId);
    if (victim === undefined) break;
    evicted += (await run.remove(victim)).length;
  }
  return evicted;
}
