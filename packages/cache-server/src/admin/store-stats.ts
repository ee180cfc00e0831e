import { hasTierStats, type MemoryTierStats, type Store } from '../store/store.js';

export type HotTierStats = MemoryTierStats;

export interface StoreReport {
  entries: number;
  size: number;
  maxSize: number;
  evictions: number;
  /** The memory tier in front of the store, when the store has one (its TierStats capability). */
  hotTier?: HotTierStats;
  /** The store's other figures, by their StoreStats names (the disk store's bodySize, maxEntries). */
  other: Record<string, number>;
}

/**
 * Store.stats() and the tier's figures as the stats endpoint and the metrics show them. The core
 * four are the interface's; the hot tier is there only when the store has the TierStats
 * capability (store/store.ts): nothing is guessed from the shape of what a store returns.
 */
export function readStoreStats(store: Store): StoreReport {
  const { entries, size, maxSize, evictions, ...rest } = store.stats();
  const other: Record<string, number> = {};
  for (const [name, value] of Object.entries(rest)) if (typeof value === 'number') other[name] = value;
  const report: StoreReport = { entries, size, maxSize, evictions, other };
  if (hasTierStats(store)) report.hotTier = store.memoryStats();
  return report;
}
