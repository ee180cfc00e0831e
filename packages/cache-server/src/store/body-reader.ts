import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import { BodyFileStream, shrankError } from './body-file-stream.js';
import { readableOf, resolveRange } from './body-range.js';
import { hasErrorCode } from './fs-utils.js';
import type { ByteRange } from './store.js';
import type { StoreFs } from './store-fs.js';
import { StoreError } from './store-errors.js';

/**
 * Bodies up to this size are read whole and checked against their sha1 before a byte is
 * served: cheap integrity for the many small objects. Larger ones are streamed from the file
 * with only their length checked; verifying them would mean reading them twice.
 */
export const VERIFY_MAX_BYTES = 64 * 1024;

/**
 * Opens a body file for `entry`. Rejects with CACHE_ERR_ENTRY_GONE when the file is missing
 * and CACHE_ERR_CORRUPT_ENTRY when its length or checksum disagree with `entry` (the caller
 * deletes the entry then). The open descriptor, not the path, backs the stream: a replacement
 * or delete unlinking the file meanwhile does not disturb a reader that already started.
 */
export async function readBodyFile(fs: StoreFs, path: string, entry: EntryMeta, range?: ByteRange): Promise<Readable> {
  const { start, end } = resolveRange(entry.size, range);
  let handle: FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    if (hasErrorCode(err, 'ENOENT')) throw new StoreError('CACHE_ERR_ENTRY_GONE', 'the body file is gone');
    throw err;
  }
  try {
    const { size } = await handle.stat();
    if (size !== entry.size) {
      throw new StoreError('CACHE_ERR_CORRUPT_ENTRY', `body file has ${size} bytes, expected ${entry.size}`);
    }
    if (size <= VERIFY_MAX_BYTES) {
      const body = await readVerified(handle, entry);
      await handle.close();
      return readableOf(body.subarray(start, end + 1));
    }
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
  // The stream owns the handle from here and closes it when done or destroyed.
  return new BodyFileStream(handle, start, end);
}

async function readVerified(handle: FileHandle, entry: EntryMeta): Promise<Buffer> {
  const body = Buffer.alloc(entry.size);
  let offset = 0;
  while (offset < body.length) {
    const { bytesRead } = await handle.read(body, offset, body.length - offset, offset);
    if (bytesRead === 0) throw shrankError();
    offset += bytesRead;
  }
  if (entry.checksum !== undefined && createHash('sha1').update(body).digest('hex') !== entry.checksum) {
    throw new StoreError('CACHE_ERR_CORRUPT_ENTRY', 'body checksum mismatch');
  }
  return body;
}
