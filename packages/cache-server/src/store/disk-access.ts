import type { Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import type { Logger } from 'pino';
import { readBodyFile } from './body-reader.js';
import type { DiskHealth } from './disk-health.js';
import { bodyPath, isBodyId, type Layout } from './layout.js';
import { createRejectedWriter } from './rejected-writer.js';
import type { ByteRange, EntryWriter } from './store.js';
import { StoreError } from './store-errors.js';
import type { StoreFs } from './store-fs.js';

/**
 * What the disk store and its replicas in other processes (disk-replica.ts) do alike: open a
 * stored body, and refuse a write before it starts.
 */

/**
 * Opens `entry`'s body file. A body found gone or corrupt is logged and `drop` asked to delete
 * the entry if it still holds that body; the error is rethrown either way.
 */
export async function openStoredBody(
  fs: StoreFs,
  layout: Layout,
  entry: EntryMeta,
  range: ByteRange | undefined,
  logger: Logger,
  drop: (entry: EntryMeta) => Promise<unknown>,
): Promise<Readable> {
  if (!isBodyId(entry.bodyId)) throw new StoreError('CACHE_ERR_ENTRY_GONE', 'not a body of this store');
  try {
    return await readBodyFile(fs, bodyPath(layout, entry.bodyId), entry, range);
  } catch (err) {
    if (err instanceof StoreError && (err.code === 'CACHE_ERR_CORRUPT_ENTRY' || err.code === 'CACHE_ERR_ENTRY_GONE')) {
      logger.warn({ key: entry.key, variant: entry.variant, code: err.code }, err.message);
      await drop(entry).catch((cause: unknown) => logger.warn({ err: cause }, 'delete failed'));
    }
    throw err;
  }
}

/** A writer refused up front (store closed or degraded, body announced too large), or undefined. */
export function refuseWrite(
  closed: boolean,
  size: number,
  maxObjectSize: number,
  health: Pick<DiskHealth, 'allowsWrite'>,
): EntryWriter | undefined {
  if (closed) return createRejectedWriter(new StoreError('CACHE_ERR_STORE_CLOSED', 'the store is closed'));
  if (size > maxObjectSize) {
    return createRejectedWriter(
      new StoreError('CACHE_ERR_ENTRY_TOO_LARGE', `${size} bytes exceed the largest object stored`),
    );
  }
  if (!health.allowsWrite()) {
    return createRejectedWriter(new StoreError('CACHE_ERR_STORE_DEGRADED', 'the cache directory cannot be written'));
  }
  return undefined;
}
