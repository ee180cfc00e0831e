import type { EntryMeta } from '@simple-cache/common';
import type { RedisContext } from './redis-context.js';
import { hashKey } from './redis-keys.js';
import { MARK_USED } from './redis-scripts.js';

/** One stored body's hits since the last flush. */
export interface UsedBody {
  key: string;
  variant: string;
  bodyId: string;
  hits: number;
  /** Wall clock (ms) of the last hit. */
  lastAccess: number;
}

/**
 * Hits counted in memory and written to Redis once per interval (like Varnish's lru_interval and
 * the disk store's recency), instead of one Redis write per hit: a hit on a hot key then costs a
 * Map update. What a flush fails to write (Redis away) is dropped: it only loses counts. At most
 * `maxBodies` distinct bodies wait at a time; hits on others wait for the next interval.
 */
export class RecencyBatch {
  private pending = new Map<string, UsedBody>();

  constructor(private readonly maxBodies = 10_000) {}

  add(entry: Readonly<EntryMeta>, now: number): void {
    const used = this.pending.get(entry.bodyId);
    if (used !== undefined) {
      used.hits += 1;
      used.lastAccess = now;
      return;
    }
    if (this.pending.size >= this.maxBodies) return;
    this.pending.set(entry.bodyId, {
      key: entry.key,
      variant: entry.variant,
      bodyId: entry.bodyId,
      hits: 1,
      lastAccess: now,
    });
  }

  /** What waits for the next flush for this body (lookups add it to what Redis says). */
  pendingFor(bodyId: string): Readonly<UsedBody> | undefined {
    return this.pending.get(bodyId);
  }

  /** Everything counted since the last call. */
  take(): UsedBody[] {
    if (this.pending.size === 0) return [];
    const taken = [...this.pending.values()];
    this.pending = new Map();
    return taken;
  }
}

/** Writes a batch: one small script per body (redis-scripts.ts MARK_USED); failures only lose counts. */
export async function writeRecency(ctx: RedisContext, batch: readonly UsedBody[]): Promise<void> {
  await Promise.all(
    batch.map((used) => {
      const hash = hashKey(used.key);
      const metaKey = ctx.keys.meta(hash);
      if (!ctx.gate.isAvailable(metaKey)) return undefined;
      const args = [used.variant, used.bodyId, used.hits, used.lastAccess, ctx.keys.bodyPrefix(hash)];
      return ctx.script(metaKey, MARK_USED, [metaKey], args).catch(() => undefined);
    }),
  );
}
