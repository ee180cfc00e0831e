import { statfs } from 'node:fs/promises';
import { resolve } from 'node:path';

/**
 * Default of --max-entries. The disk store's index holds every entry's metadata in memory,
 * about 1.2 KB each with typical headers: some 120 MB at this bound. (With the default 1 GiB
 * --max-size, entries of 8 KiB, the least an entry takes on a 4 KiB-block file system, would
 * come to 131,072.) nginx bounds its keys the same way, by the size of its keys_zone.
 */
export const DEFAULT_MAX_ENTRIES = 100_000;

/**
 * Default of --max-variants. Fastly keeps 200 variants of an object; every lookup of a URL here
 * compares (and copies) each of its variants, so a smaller bound keeps that cost low, and 64 is
 * plenty for what Vary is meant for (encodings, languages).
 */
export const DEFAULT_MAX_VARIANTS = 64;

/**
 * Throws a RangeError naming the first bound that is not a whole number: maxSize and
 * maxObjectSize may be 0, the counts and the block size must be positive.
 */
export function checkBounds(options: {
  maxSize: number;
  maxObjectSize?: number;
  maxEntries?: number;
  maxVariants?: number;
  blockSize?: number;
}): void {
  const { maxSize, maxObjectSize = 0, maxEntries = 1, maxVariants = 1, blockSize = 1 } = options;
  for (const [name, value] of Object.entries({ maxSize, maxObjectSize })) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
    }
  }
  for (const [name, value] of Object.entries({ maxEntries, maxVariants, blockSize })) {
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

/** Used when statfs cannot tell (or tells something implausible): the common page and block size. */
const FALLBACK_BLOCK_SIZE = 4096;

/**
 * What an entry costs on disk, counted against --max-size: its body and its meta file, each
 * rounded up to whole file-system blocks (a 1-byte body takes a whole block, and so does its
 * meta file: 8 KiB per tiny entry on a 4 KiB-block file system; issue 12.9).
 */
export function entryCost(bodySize: number, metaBytes: number, blockSize: number): number {
  const blocks = (bytes: number) => Math.ceil(bytes / blockSize) * blockSize;
  return blocks(bodySize) + blocks(metaBytes);
}

/** The file system's block size at `dir` (or its nearest existing parent), else FALLBACK_BLOCK_SIZE. */
export async function blockSizeOf(dir: string): Promise<number> {
  for (let path = resolve(dir); ; path = resolve(path, '..')) {
    try {
      const { bsize } = await statfs(path);
      // A power of two from 512 B to 64 KiB; anything else is not an allocation unit we trust.
      return bsize >= 512 && bsize <= 65_536 && (bsize & (bsize - 1)) === 0 ? bsize : FALLBACK_BLOCK_SIZE;
    } catch {
      if (path === resolve(path, '..')) return FALLBACK_BLOCK_SIZE;
    }
  }
}
