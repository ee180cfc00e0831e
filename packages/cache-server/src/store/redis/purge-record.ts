import type { EntryMeta } from '@simple-cache/common';
import type { Invalidation } from './invalidation-bus.js';

/** The purge tags of a stored entry (`--tag-header`). */
export type EntryTags = (entry: Pick<EntryMeta, 'headers'>) => readonly string[];

/** Keys (or key + variant) whose deletion is remembered; the oldest are forgotten first. */
const MAX_KEYS = 50_000;
/** Purges by prefix, tag or all that are remembered; the oldest are forgotten first. */
const MAX_SELECTIONS = 1_000;

interface SelectionPurge {
  /** Wall clock (ms) when this node heard of the purge. */
  at: number;
  selects: (entry: Pick<EntryMeta, 'key' | 'headers'>) => boolean;
}

/**
 * The purges this node has heard of (its own and other nodes', over the invalidation bus), so
 * that an entry stored before a purge that selects it is never served again — even when Redis
 * brings it back: a restart from an RDB snapshot or an AOF written before the purge restores
 * the deleted keys, and nothing in Redis itself could say they were purged (issue 16.6). An
 * entry's `responseTime` (when its response arrived) is compared with the time the node heard
 * of the purge: an older entry predates it.
 *
 * In memory and bounded (the latest 50,000 deletions by key and 1,000 purges by prefix, tag or
 * all), so it covers the purges of this node's lifetime up to those bounds; a node started
 * after a purge does not know it (docs/storage.md). Clocks of different nodes are compared, so
 * they are expected to agree to well under a response's transfer time (NTP).
 */
export class PurgeRecord {
  private readonly deleted = new Map<string, number>();
  private readonly selections: SelectionPurge[] = [];

  constructor(private readonly tagsOf: EntryTags = () => []) {}

  /**
   * Records what `event` purges, heard at `now` (a deletion says when it happened: that time
   * counts). Updates and resyncs are not purges.
   */
  record(event: Invalidation, now: number): void {
    switch (event.kind) {
      case 'key':
        if (event.reason !== 'delete') return;
        return this.remember(recordKey(event.key, event.variant), typeof event.at === 'number' ? event.at : now);
      case 'prefix':
        return this.select(now, (entry) => entry.key.startsWith(event.prefix));
      case 'tag':
        return this.select(now, (entry) => this.tagsOf(entry).includes(event.tag));
      case 'all':
        if (event.reason === 'purge') this.select(now, () => true);
    }
  }

  /** Whether `entry` was stored before a purge that selects it. */
  purged(entry: Pick<EntryMeta, 'key' | 'variant' | 'headers' | 'responseTime'>): boolean {
    const before = (at: number | undefined) => at !== undefined && entry.responseTime < at;
    if (
      before(this.deleted.get(recordKey(entry.key))) ||
      before(this.deleted.get(recordKey(entry.key, entry.variant)))
    ) {
      return true;
    }
    return this.selections.some((purge) => before(purge.at) && purge.selects(entry));
  }

  /** `live` without the variants `purged()` selects, each of which `onPurged` is told about. */
  withoutPurged<T extends { meta: EntryMeta }>(live: T[], onPurged: (entry: EntryMeta) => void): T[] {
    if (live.length === 0) return live;
    return live.filter((variant) => {
      if (!this.purged(variant.meta)) return true;
      onPurged(variant.meta);
      return false;
    });
  }

  private remember(name: string, now: number): void {
    this.deleted.delete(name);
    this.deleted.set(name, now);
    if (this.deleted.size > MAX_KEYS) this.deleted.delete(this.deleted.keys().next().value as string);
  }

  private select(at: number, selects: SelectionPurge['selects']): void {
    this.selections.push({ at, selects });
    if (this.selections.length > MAX_SELECTIONS) this.selections.shift();
  }
}

/** A deletion of every variant of `key` (variant undefined), or of one. */
function recordKey(key: string, variant?: string): string {
  return variant === undefined ? `${key}\n*` : `${key}\n=${variant}`;
}
