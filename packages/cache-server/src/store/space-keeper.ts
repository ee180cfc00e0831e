import type { EntryMeta } from '@simple-cache/common';
import type { Logger } from 'pino';
import { recencyOf, type EntryIndex } from './entry-index.js';

/** Victims deleted concurrently: each is a meta rewrite and an unlink, mostly waiting on the disk. */
const EVICT_AT_ONCE = 16;

export interface SpaceKeeperOptions {
  index: EntryIndex;
  /** Bound on what the entries cost on disk (EntryIndex.size). */
  maxSize: number;
  /** Bound on the number of entries (EntryIndex.count), which bounds the index in memory. */
  maxEntries: number;
  /** Entries not used for this many ms are removed; 0 = never. */
  inactive: number;
  now(): number;
  logger: Logger;
  /** Deletes the victim unless it changed meanwhile; resolves with what was deleted. */
  remove(victim: EntryMeta): Promise<EntryMeta[]>;
}

/**
 * Keeps what the entries cost on disk within `maxSize` and their number within `maxEntries`,
 * and drops inactive entries. Every run (a reservation, a trim, an expiry sweep) is one link of
 * a single chain, so two commits never both evict for the same room and the bounds are
 * re-checked after every victim.
 *
 * The bounds hold *before* an entry becomes visible: a commit first reserves its cost (and one
 * entry, when its variant is new), which evicts least-recently-used entries until
 * `stored + reserved + cost <= maxSize` and `entries + reserved + 1 <= maxEntries`, and only
 * then renames its body into place. When the room is held by other commits still publishing,
 * it waits for them (their entries then become evictable like any other). So the entries never
 * take more than maxSize; what is not counted is the temp files of writes still receiving their
 * body, each at most the largest storable object.
 */
export class SpaceKeeper {
  evictions = 0;
  expirations = 0;
  private chain: Promise<void> = Promise.resolve();
  private reserved = 0;
  private reservedEntries = 0;
  /** One promise per reservation not yet released; resolved on release. */
  private readonly holds = new Set<Promise<void>>();

  constructor(private readonly options: SpaceKeeperOptions) {}

  /**
   * Makes room for `size` more bytes and `entries` (0 or 1) more entries; resolves with the
   * release function, to call once the entry is indexed (or has failed to be). Until released
   * they count as stored.
   */
  reserve(size: number, entries = 1): Promise<() => void> {
    let release: () => void = () => undefined;
    const step = this.enqueue(async () => {
      for (let over = this.overBy(size, entries); over.bytes > 0 || over.entries > 0;) {
        const victims = this.victimsFor(over);
        if (victims.length > 0) {
          if (!(await this.evict(victims))) break;
        } else if (this.holds.size > 0) {
          await Promise.race(this.holds);
        } else {
          break;
        }
        over = this.overBy(size, entries);
      }
      this.reserved += size;
      this.reservedEntries += entries;
      let resolveHold: () => void = () => undefined;
      const hold = new Promise<void>((resolve) => (resolveHold = resolve));
      this.holds.add(hold);
      let released = false;
      release = () => {
        if (released) return;
        released = true;
        this.reserved -= size;
        this.reservedEntries -= entries;
        this.holds.delete(hold);
        resolveHold();
      };
    });
    return step.then(() => release);
  }

  /** Evicts until the entries fit the bounds again (after the start-up scan, or as a safety net). */
  trim(sparedBodyId?: string): Promise<void> {
    return this.enqueue(async () => {
      for (let over = this.overBy(0, 0); over.bytes > 0 || over.entries > 0; over = this.overBy(0, 0)) {
        const victims = this.victimsFor(over, sparedBodyId);
        if (victims.length === 0 || !(await this.evict(victims))) break;
      }
    });
  }

  /** True when the stored entries exceed a bound (reservations aside): a trim is due. */
  isOverBounds(): boolean {
    const over = this.overBy(0, 0);
    return over.bytes + this.reserved > 0 || over.entries + this.reservedEntries > 0;
  }

  /** The least recently used entries that make up for `over`, at most EVICT_AT_ONCE. */
  private victimsFor(over: { bytes: number; entries: number }, sparedBodyId?: string): EntryMeta[] {
    if (over.entries <= 0) return this.options.index.leastRecentlyUsedMany(over.bytes, EVICT_AT_ONCE, sparedBodyId);
    // Over on entries: that many, whatever they free (the byte bound is re-checked after).
    return this.options.index.leastRecentlyUsedMany(Infinity, Math.min(EVICT_AT_ONCE, over.entries), sparedBodyId);
  }

  /** How far stored + reserved + the new entry would exceed each bound (≤ 0: within it). */
  private overBy(size: number, entries: number): { bytes: number; entries: number } {
    const { index, maxSize, maxEntries } = this.options;
    return {
      bytes: index.size + this.reserved + size - maxSize,
      entries: index.count + this.reservedEntries + entries - maxEntries,
    };
  }

  /** Removes every entry not used within `inactive`; least recently used first, so it stops at the first active one. */
  expireInactive(): Promise<void> {
    return this.enqueue(async () => {
      const cutoff = this.inactiveCutoff();
      if (cutoff === undefined) return;
      for (;;) {
        const candidates = this.options.index.leastRecentlyUsedMany(Infinity, EVICT_AT_ONCE);
        const victims = candidates.filter((entry) => recencyOf(entry) < cutoff);
        if (victims.length === 0) break;
        const removed = await Promise.all(victims.map((victim) => this.removeQuietly(victim)));
        for (const count of removed) this.expirations += count ?? 0;
        if (removed.includes(undefined) || victims.length < candidates.length) break;
      }
    });
  }

  /** True when `entry` has not been used within `inactive` (and so must not be served). */
  isInactive(entry: EntryMeta): boolean {
    const cutoff = this.inactiveCutoff();
    return cutoff !== undefined && recencyOf(entry) < cutoff;
  }

  /** Resolves when every run queued so far has finished. */
  idle(): Promise<void> {
    return this.chain;
  }

  private inactiveCutoff(): number | undefined {
    const { inactive, now } = this.options;
    return inactive > 0 ? now() - inactive : undefined;
  }

  /** Removes the victims concurrently; false when a delete failed (the run stops). */
  private async evict(victims: EntryMeta[]): Promise<boolean> {
    const removed = await Promise.all(victims.map((victim) => this.removeQuietly(victim)));
    for (const count of removed) this.evictions += count ?? 0;
    return !removed.includes(undefined);
  }

  /** The number removed, or undefined when the delete failed (the run stops: it would pick the same victim again). */
  private async removeQuietly(victim: EntryMeta): Promise<number | undefined> {
    try {
      return (await this.options.remove(victim)).length;
    } catch (err) {
      this.options.logger.warn({ err, key: victim.key }, 'cannot remove an entry to free space');
      return undefined;
    }
  }

  private enqueue(run: () => Promise<void>): Promise<void> {
    const step = this.chain.then(run);
    this.chain = step.catch(() => undefined);
    return step;
  }
}
