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

/** The compression scenario's page: HTML text that compresses as real pages do (about 5:1). */
export const COMPRESS_PAGE = { label: '64 KiB HTML', path: '/page-64k.html', size: 64 * KiB } as const;

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
  await writeFile(path.join(root, COMPRESS_PAGE.path), htmlPage(COMPRESS_PAGE.size));
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

/** Markup with varied words and numbers, deterministic: compresses like a real page, not like zeros. */
function htmlPage(size: number): string {
  const words = ['cache', 'origin', 'stream', 'header', 'variant', 'entry', 'brotli', 'gzip', 'vary', 'etag', 'fresh'];
  let text = '<!doctype html><html><head><title>bench page</title></head><body>\n';
  let n = 1;
  while (text.length < size) {
    n = (n * 1103515245 + 12345) % 2 ** 31;
    text += `<p class="c${n % 7}"><a href="/p/${n.toString(36)}">${words[n % words.length]}</a> ${n % 9973}</p>\n`;
  }
  return text.slice(0, size);
}
