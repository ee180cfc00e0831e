import type { EntryMeta } from '@simple-cache/common';
import type { LiveVariant } from './meta-cache.js';
import { parseLiveVariants } from './meta-fields.js';
import { masterNodes, type RedisClient } from './redis-connection.js';
import type { RedisGate } from './redis-gate.js';
import type { RedisKeys } from './redis-keys.js';

const SCAN_COUNT = 500;

/**
 * Every variant still useful at `now`, key by key: SCAN over every master (each cluster node
 * holds its own slots), then HGETALL per meta key. SCAN may return a key twice or miss one
 * written meanwhile; callers (listing, recounting) tolerate that.
 */
export async function* scanEntries(
  client: RedisClient,
  gate: RedisGate,
  keys: RedisKeys,
  now: () => number,
): AsyncGenerator<EntryMeta[]> {
  for await (const variants of scanVariants(client, gate, keys, now)) yield variants.map((variant) => variant.meta);
}

/** scanEntries with what Redis keeps beside each variant (useful-until, index record). */
export async function* scanVariants(
  client: RedisClient,
  gate: RedisGate,
  keys: RedisKeys,
  now: () => number,
): AsyncGenerator<LiveVariant[]> {
  for (const node of masterNodes(client)) {
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await gate.run(node, () =>
        node.scan(cursor, 'MATCH', keys.metaPattern, 'COUNT', SCAN_COUNT),
      );
      cursor = next;
      const fresh = batch.filter((metaKey) => !seen.has(metaKey));
      for (const metaKey of fresh) seen.add(metaKey);
      const hashes = await Promise.all(fresh.map((metaKey) => gate.run(metaKey, () => client.hgetall(metaKey))));
      for (const hash of hashes) {
        const variants = parseLiveVariants(hash, now());
        if (variants.length > 0) yield variants;
      }
    } while (cursor !== '0');
  }
}
