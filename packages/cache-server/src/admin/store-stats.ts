import type { Store } from '../store/store.js';

export interface HotTierStats {
  size?: number;
  entries?: number;
  maxSize?: number;
  /** Bodies served from memory / that had to be read from the store behind it. */
  hits?: number;
  misses?: number;
}

export interface StoreReport {
  entries: number;
  size: number;
  maxSize: number;
  evictions: number;
  /** The memory tier in front of the disk, when the store reports one. */
  hotTier?: HotTierStats;
  /** Every other number the store reports, by its own name (new stores add their own). */
  other: Record<string, number>;
}

const CORE = new Set(['entries', 'size', 'maxSize', 'evictions']);
/** Where a memory tier may put its figures: a nested object, or flat prefixed fields. */
const TIER_OBJECTS = ['hotTier', 'hot', 'memory', 'memoryTier'];
const TIER_PREFIXES = ['hot', 'memory'];

/**
 * Store.stats() read defensively: the interface promises four numbers; tiered stores add more
 * (the memory tier reports through `memoryStats()`), and whatever shape they choose is shown
 * rather than guessed away.
 */
export function readStoreStats(store: Store): StoreReport {
  const raw = store.stats() as unknown as Record<string, unknown>;
  const report: StoreReport = {
    entries: numberOr0(raw.entries),
    size: numberOr0(raw.size),
    maxSize: numberOr0(raw.maxSize),
    evictions: numberOr0(raw.evictions),
    other: {},
  };
  for (const [name, value] of Object.entries(raw)) {
    if (!CORE.has(name) && typeof value === 'number' && Number.isFinite(value)) report.other[name] = value;
  }
  const memoryStats = (store as { memoryStats?: () => unknown }).memoryStats;
  const fromMethod =
    typeof memoryStats === 'function' ? pickTier(memoryStats.call(store) as Record<string, unknown>, '') : undefined;
  const hotTier = fromMethod ?? hotTierOf(raw);
  if (hotTier) report.hotTier = hotTier;
  return report;
}

function hotTierOf(raw: Record<string, unknown>): HotTierStats | undefined {
  for (const name of TIER_OBJECTS) {
    const value = raw[name];
    if (typeof value === 'object' && value !== null) return pickTier(value as Record<string, unknown>, '');
  }
  for (const prefix of TIER_PREFIXES) {
    const tier = pickTier(raw, prefix);
    if (tier) return tier;
  }
  return undefined;
}

/** `size`/`entries`/`maxSize` (or `hotSize`, `memoryEntries`, … with a prefix). */
function pickTier(source: Record<string, unknown>, prefix: string): HotTierStats | undefined {
  const field = (name: string) => source[prefix === '' ? name : `${prefix}${name[0]?.toUpperCase()}${name.slice(1)}`];
  const tier: HotTierStats = {};
  for (const name of ['size', 'entries', 'maxSize', 'hits', 'misses'] as const) {
    const value = field(name);
    if (typeof value === 'number' && Number.isFinite(value)) tier[name] = value;
  }
  return Object.keys(tier).length > 0 ? tier : undefined;
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
