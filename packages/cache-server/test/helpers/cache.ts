import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import pino from 'pino';
import type { CacheServerConfig } from '@simple-cache/common';
import { startCacheServer } from '../../src/app.js';
import { startTestOrigin, type Route, type TestOrigin } from './test-origin.js';

export type StartedCache = Awaited<ReturnType<typeof startCacheServer>>;

/** A temporary cache directory, removed by `cleanup`. */
export async function tempDir(prefix = 'simple-cache-test-'): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * startCacheServer for a test: the cache shares its process (and event loop) with the test's
 * origin, its clients and jest, so the event-loop delay it would measure is theirs too. On a
 * loaded machine that delay passes `--max-event-loop-delay` and the cache answers `503
 * CACHE_ERR_OVERLOADED` to a test that has nothing to do with overload; so it is off here unless
 * the test sets it (limits.test.ts does). The access log (one line per request on stdout) is
 * off too unless the test sets it (access-log.test.ts does).
 */
export function startTestCache(
  config: Partial<CacheServerConfig>,
  options: Parameters<typeof startCacheServer>[1] = {},
): Promise<StartedCache> {
  return startCacheServer({ maxEventLoopDelay: 0, accessLog: 'off', ...config }, options);
}

/** Starts a cache in front of `origin` on port 0 with a quiet logger (set LOG=debug to see it). */
export function startCache(
  origin: string,
  cacheDir: string,
  extra: Partial<CacheServerConfig> = {},
): Promise<StartedCache> {
  const logger = pino({ level: process.env.LOG ?? 'silent' });
  return startTestCache({ origin, cacheDir, ...extra }, { logger });
}

/** Every file below `dir`, as absolute paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const item of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (item.isFile()) out.push(path.join(item.parentPath, item.name));
  }
  return out;
}

/**
 * One origin for a describe block and as many caches in front of it as its tests start, each
 * in its own directory; all stopped and removed after the block.
 */
export function useOriginAndCaches(routes: Record<string, Route>): {
  readonly origin: TestOrigin;
  readonly caches: StartedCache[];
  start(extra?: Partial<CacheServerConfig>): Promise<StartedCache>;
} {
  let origin: TestOrigin | undefined;
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  const caches: StartedCache[] = [];
  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin(routes);
  });
  afterAll(async () => {
    for (const cache of caches) await cache.close();
    await origin?.close();
    await dir?.cleanup();
  });
  return {
    get origin() {
      if (!origin) throw new Error('the origin starts in beforeAll');
      return origin;
    },
    caches,
    async start(extra = {}) {
      if (!origin || !dir) throw new Error('start caches inside tests or hooks');
      const cache = await startCache(origin.url, `${dir.dir}/${caches.length}`, extra);
      caches.push(cache);
      return cache;
    },
  };
}

/** The common case of useOriginAndCaches: one cache (with `extra` options), started in beforeAll. */
export function useOriginAndCache(
  routes: Record<string, Route>,
  extra: Partial<CacheServerConfig> = {},
): { readonly origin: TestOrigin; readonly cache: StartedCache } {
  const servers = useOriginAndCaches(routes);
  beforeAll(() => servers.start(extra));
  return {
    get origin() {
      return servers.origin;
    },
    get cache() {
      const cache = servers.caches[0];
      if (!cache) throw new Error('the cache starts in beforeAll');
      return cache;
    },
  };
}
