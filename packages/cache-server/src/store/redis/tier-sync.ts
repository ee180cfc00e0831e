import type { EntryMeta } from '@simple-cache/common';
import type { MemoryTier } from '../memory-tier.js';
import type { Invalidation, InvalidationBus } from './invalidation-bus.js';

/** What a purge removed, as the admin endpoints select it (the shape of admin's PurgeSelection). */
export type PurgeNotice =
  | { kind: 'url'; key: string }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'tag'; tags: readonly string[] }
  | { kind: 'all' };

/** The purge tags of a stored entry (`--tag-header`). */
export type TagsOf = (entry: EntryMeta) => readonly string[];

/**
 * Keeps a node's memory tier in step with what other nodes change in the shared store. Bodies
 * they replace or delete are already dropped by body id (RedisStore's onBodyRemoved); this adds
 * what a body id cannot say: a key changed elsewhere (its held metadata is outdated, e.g. soft
 * purged), a purge by prefix or tag, a purge of everything, and the resync after missed events.
 * Returns the unsubscribe.
 */
export function syncTierWithBus(tier: MemoryTier, bus: InvalidationBus, tagsOf: TagsOf): () => void {
  return bus.subscribe((event) => applyToTier(tier, event, tagsOf));
}

/** Drops from `tier` what `event` invalidates; returns how many bodies it dropped. */
export function applyToTier(tier: MemoryTier, event: Invalidation, tagsOf: TagsOf): number {
  switch (event.kind) {
    case 'key':
      return tier.dropKey(event.key, event.variant);
    case 'prefix':
      return tier.dropWhere((entry) => entry.key.startsWith(event.prefix));
    case 'tag':
      return tier.dropWhere((entry) => tagsOf(entry).includes(event.tag));
    case 'all':
      return tier.clear();
  }
}

/** Drops this node's memory copies of what a purge selects (the store itself could not be reached). */
export function dropPurgedCopies(tier: MemoryTier, notice: PurgeNotice, tagsOf: TagsOf): number {
  return invalidationsOf(notice).reduce((dropped, event) => dropped + applyToTier(tier, event, tagsOf), 0);
}

/** The bus events that tell every node about a purge. */
export function invalidationsOf(notice: PurgeNotice): Invalidation[] {
  switch (notice.kind) {
    case 'url':
      return [{ kind: 'key', key: notice.key, reason: 'delete' }];
    case 'prefix':
      return [{ kind: 'prefix', prefix: notice.prefix }];
    case 'tag':
      return notice.tags.map((tag) => ({ kind: 'tag', tag }));
    case 'all':
      return [{ kind: 'all', reason: 'purge' }];
  }
}

/**
 * After a purge: this node's tier drops what it names at once, then every other node is told.
 * The store already announced each entry it deleted; this also reaches copies of entries Redis
 * had already expired or evicted (a tier may still hold them and serve them while Redis is away).
 */
export function createPurgeAnnouncer(
  tier: MemoryTier | undefined,
  bus: InvalidationBus,
  tagsOf: TagsOf,
): (notice: PurgeNotice) => Promise<void> {
  return async (notice) => {
    if (tier) dropPurgedCopies(tier, notice, tagsOf);
    await Promise.all(invalidationsOf(notice).map((event) => bus.publish(event)));
  };
}
