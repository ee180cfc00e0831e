import type { EntryMeta } from '@simple-cache/common';
import type { Logger } from 'pino';
import { recencyOf, type EntryIndex } from './entry-index.js';

/** Victims deleted concurrently: each is a meta rewrite and an unlink, mostly waiting on the disk. */
const EVICT_AT_ONCE = 16;

export interface SpaceKeeperOptions {
  index: EntryIndex;
  maxSize: number;
  /** Entries not used for this many ms are removed; 0 = never. */
  inactive: number;
  now(): number;
  logger: Logger;
  /** Deletes the victim unless it changed meanwhile; resolves with what was deleted. */
  remove(victim: EntryMeta): Promise<EntryMeta[]>;
}

/**
 * Keeps the stored body bytes within `maxSize` and drops inactive entries. Every run (a
 * reservation, a trim, an expiry sweep) is one link of a single chain, so two commits never
 * both evict for the same room and the size is re-checked after every victim.
 *
 * The bound holds *before* a body becomes visible: a commit first reserves its size, which
 * evicts least-recently-used entries until `stored + reserved + size <= maxSize`, and only
 * then renames its body into place. When the room is held by other commits still publishing,
 * it waits for them (their entries then become evictable like any other). So the bytes in
 * body/ never exceed maxSize; what is not counted is the temp files of writes still
 * receiving their body, each at most the largest storable object.
 */
export class SpaceKeeper {
  evictions = 0;
  expirations = 0;
  private chain: Promise<void> = Promise.resolve();
  private reserved = 0;
  /** One promise per reservation not yet released; resolved on release. */
  private readonly holds = new Set<Promise<void>>();

  constructor(private readonly options: SpaceKeeperOptions) {}

  /**
   * Makes room for `size` more bytes; resolves with the release function, to call once the
   * body is indexed (or has failed to be). Until released the bytes count as stored.
   */
  reserve(size: number): Promise<() => void> {
    let release: () => void = () => undefined;
    const step = this.enqueue(async () => {
      const { index, maxSize } = this.options;
      for (let over = index.size + this.reserved + size - maxSize; over > 0;) {
        const victims = index.leastRecentlyUsedMany(over, EVICT_AT_ONCE);
        if (victims.length > 0) {
          if (!(await this.evict(victims))) break;
        } else if (this.holds.size > 0) {
          await Promise.race(this.holds);
        } else {
          break;
        }
        over = index.size + this.reserved + size - maxSize;
      }
      this.reserved += size;
      let resolveHold: () => void = () => undefined;
      const hold = new Promise<void>((resolve) => (resolveHold = resolve));
      this.holds.add(hold);
      let released = false;
      release = () => {
        if (released) return;
        released = true;
        this.reserved -= size;
        this.holds.delete(hold);
        resolveHold();
      };
    });
    return step.then(() => release);
  }

  /** Evicts until the stored bytes fit again (after the start-up scan, or as a safety net). */
  trim(sparedBodyId?: string): Promise<void> {
    return this.enqueue(async () => {
      const { index, maxSize } = this.options;
      for (let over = index.size + this.reserved - maxSize; over > 0; over = index.size + this.reserved - maxSize) {
        const victims = index.leastRecentlyUsedMany(over, EVICT_AT_ONCE, sparedBodyId);
        if (victims.length === 0 || !(await this.evict(victims))) break;
      }
    });
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
