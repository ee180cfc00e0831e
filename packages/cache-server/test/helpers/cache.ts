import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { CacheServerConfig } from '@simple-cache/common';
import { startCacheServer } from '../../src/app.js';

export type StartedCache = Awaited<ReturnType<typeof startCacheServer>>;

/** A temporary cache directory, removed by `cleanup`. */
export async function tempDir(prefix = 'simple-cache-test-'): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Starts a cache in front of `origin` on port 0 with a quiet logger (set LOG=debug to see it). */
export function startCache(
  origin: string,
  cacheDir: string,
  extra: Partial<CacheServerConfig> = {},
): Promise<StartedCache> {
  const logger = pino({ level: process.env.LOG ?? 'silent' });
  return startCacheServer({ origin, cacheDir, ...extra }, { logger });
}

/** Every file below `dir`, as absolute paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const item of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (item.isFile()) out.push(path.join(item.parentPath, item.name));
  }
  return out;
}
