import type { EntryMeta } from '@simple-cache/common';
import { EntryIndex } from './entry-index.js';
import { scanVariants } from './meta-scan.js';
import type { RedisContext } from './redis-context.js';

/** Deletions in flight at once while sweeping. */
const PARALLEL = 64;

/**
 * After a purge of everything (a new generation, entry-index.ts): deletes every variant written
 * under another generation, so that their memory is freed now (which matters under
 * `maxmemory-policy noeviction`) rather than when they expire. Runs in the background on the
 * purging node, one SCAN over every master; what it does not reach (the node stops, a variant
 * written meanwhile by a node that had not heard yet) is never served anyway and expires.
 * Resolves to how many variants it deleted; never rejects.
 */
export async function sweepGeneration(
  ctx: RedisContext,
  generation: string,
  remove: (entries: readonly EntryMeta[]) => Promise<void>,
  stopped: () => boolean,
): Promise<number> {
  const started = performance.now();
  let swept = 0;
  let batch: EntryMeta[] = [];
  const flush = async () => {
    // One batch at once (RedisStore.removeAll: the shared counters change once for it).
    await remove(batch);
    swept += batch.length;
    batch = [];
  };
  try {
    for await (const variants of scanVariants(ctx.client, ctx.gate, ctx.keys, Date.now)) {
      if (stopped()) break;
      for (const variant of variants) if (EntryIndex.generationOf(variant) !== generation) batch.push(variant.meta);
      if (batch.length >= PARALLEL) await flush();
    }
    if (!stopped()) await flush();
    ctx.logger.info({ swept, ms: Math.round(performance.now() - started) }, 'purge of everything: old entries deleted');
  } catch (err) {
    ctx.logger.warn({ err, swept }, 'purge of everything: the sweep stopped (the rest is never served and expires)');
  }
  return swept;
}
