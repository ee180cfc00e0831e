import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { KiB } from './format.js';

/** The bodies of the hit-throughput scenario: path → size. Every server answers these paths. */
export const HIT_BODIES = [
  { label: '1 KiB', path: '/hit-1k.bin', size: KiB },
  { label: '16 KiB', path: '/hit-16k.bin', size: 16 * KiB },
  { label: '256 KiB', path: '/hit-256k.bin', size: 256 * KiB },
] as const;

export const LARGE_PATH = '/large.bin';
/** The Redis scenario's large body: served by the disk store and by the Redis store, compared. */
export const REDIS_LARGE = { label: '50 MiB', path: '/redis-large.bin', size: 50 * 1024 * KiB } as const;
/** Requested through the cache once to learn what a stored entry looks like on disk. */
export const TEMPLATE_PATH = '/entries/template.bin';
export const TEMPLATE_SIZE = KiB;

/**
 * Writes the origin's files into `root`. Random bytes, so nothing on the way can compress them;
 * the large file repeats one random MiB (generating a GiB of randomness would dominate the run).
 */
export async function writeOriginFiles(root: string, largeSize: number | undefined, redisLarge = false): Promise<void> {
  await mkdir(path.join(root, 'entries'), { recursive: true });
  for (const body of HIT_BODIES) await writeFile(path.join(root, body.path), randomBytes(body.size));
  await writeFile(path.join(root, TEMPLATE_PATH), randomBytes(TEMPLATE_SIZE));
  if (largeSize !== undefined) await writeRepeated(path.join(root, LARGE_PATH), largeSize);
  if (redisLarge) await writeRepeated(path.join(root, REDIS_LARGE.path), REDIS_LARGE.size);
}

async function writeRepeated(file: string, size: number): Promise<void> {
  const block = randomBytes(1024 * KiB);
  const out = createWriteStream(file);
  for (let written = 0; written < size; written += block.length) {
    const chunk = size - written < block.length ? block.subarray(0, size - written) : block;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
