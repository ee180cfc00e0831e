import type { EntryMeta } from '@simple-cache/common';
import { parseMetaHash } from './meta-fields.js';
import { masterNodes, type RedisClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';

const SCAN_COUNT = 500;

/**
 * Every variant still useful at `now`, key by key: SCAN over every master (each cluster node
 * holds its own slots), then HGETALL per meta key. SCAN may return a key twice or miss one
 * written meanwhile; callers (listing, recounting) tolerate that.
 */
export async function* scanEntries(
  client: RedisClient,
  keys: RedisKeys,
  now: () => number,
): AsyncGenerator<EntryMeta[]> {
  for (const node of masterNodes(client)) {
    const seen = new Set<string>();
    for await (const batch of node.scanStream({ match: keys.metaPattern, count: SCAN_COUNT }) as AsyncIterable<
      string[]
    >) {
      const fresh = batch.filter((metaKey) => !seen.has(metaKey));
      for (const metaKey of fresh) seen.add(metaKey);
      const hashes = await Promise.all(fresh.map((metaKey) => client.hgetall(metaKey)));
      for (const hash of hashes) {
        const variants = parseMetaHash(hash, now());
        if (variants.length > 0) yield variants;
      }
    }
  }
}
