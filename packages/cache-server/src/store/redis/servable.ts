import type { EntryMeta } from '@simple-cache/common';
import type { Logger } from 'pino';
import type { EntryIndex } from './entry-index.js';
import type { LiveVariant } from './meta-cache.js';
import type { PurgeRecord } from './purge-record.js';

/**
 * What a lookup may serve of the variants Redis holds. Not those a purge this node heard of
 * selected (Redis brought them back from an older snapshot: purge-record.ts), nor those missing
 * from a purge index they were written into, or of an older generation (entry-index.ts: a purge
 * could not find them, or purged everything). Each is deleted (`remove`) rather than served.
 */
export async function servableVariants(
  live: LiveVariant[],
  purges: PurgeRecord,
  index: EntryIndex,
  logger: Logger,
  remove: (entry: EntryMeta) => Promise<void>,
): Promise<LiveVariant[]> {
  const drop = (entry: EntryMeta) => void remove(entry).catch((err: unknown) => logger.warn({ err }, 'delete failed'));
  const notPurged = purges.withoutPurged(live, (entry) => {
    logger.warn(
      { key: entry.key, variant: entry.variant },
      'an entry purged earlier is back in Redis (an older snapshot?): deleting it',
    );
    drop(entry);
  });
  const { indexed, lost } = await index.check(notPurged);
  for (const { meta } of lost) {
    logger.debug(
      { key: meta.key, variant: meta.variant },
      'an entry missing from its purge indexes (evicted? purged?): deleting it',
    );
    drop(meta);
  }
  return indexed;
}
